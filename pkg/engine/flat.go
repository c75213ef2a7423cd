package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/forma3d/meshmetrics/pkg/plan"
	"github.com/forma3d/meshmetrics/pkg/sqlgen"
)

// statement is one thing compile hands to ClickHouse: a statement's SQL,
// or a flat sum (sqlgen/flat.go), whose second statement needs the first
// one's answer, with the same query as one statement beside it.
type statement struct {
	sql  string
	flat *sqlgen.FlatSum
	// slice renders the flat sum over one slice of the stored series
	// (sqlgen.Options.Slice).
	slice func(sqlgen.SidSlice) (statement, error)
	// perSeries: a shared series leaf (shared.go), a group per series,
	// which the nested statement would answer row by row: it stays flat
	// over flatMaxSeries series too.
	perSeries bool
}

// flatMaxSeries is the most series a flat sum's lookup may list for one
// values statement to run; over more, the one nested statement runs
// instead, unless the sum runs in slices (slices.go). The values
// statement carries a number pair per series and maps every sample's
// series through them. In the dashboard benchmark the flat sums were
// faster over 378 series (15–25 %) and 1,800 bucket series (5–10 %), and
// slower over 2,400 series (25 %) and 14,400 bucket series than the
// nested statement, also in slices of at most 2,000 series (an instant
// p99 over 5 minutes: 2.1 s against 1.1 s); over 14,400 bucket series and
// 24 hours, the nested statement needs 4.2 GB (docs/dialect.md).
const flatMaxSeries = 2000

func (st statement) explain() string {
	if st.flat == nil {
		return st.sql
	}
	text := st.flatExplain()
	if _, ok := st.flat.Points(); ok {
		text += "\n\n-- with the recent tables in use, evaluated in the plugin from every point of the source in the last 20 minutes instead (recent points, docs/dialect.md)"
	}
	if _, ok := st.flat.Summarized(); ok {
		text += "\n\n-- with the result cache on, the listed series' points summarized per block instead (window summaries, docs/dialect.md)"
	}
	if st.sql != "" {
		text += fmt.Sprintf("\n\n-- when the lookup lists more than %d series and they fit one statement, this one instead:\n%s", flatMaxSeries, st.sql)
	}
	return text
}

func (st statement) flatExplain() string {
	return st.flat.LookupSQL() + "\n\n-- then, with each listed series' group (computed in the plugin) as literal arrays:\n" + st.flat.ValuesSQL(nil, nil)
}

// runFlatSum runs a flat sum: the series lookup (or its cached answer),
// the series' groups in Go, then the values statement with those groups,
// in slices of the series when they are many; or, over flatMaxSeries
// series that fit one statement, the nested statement.
func (e *Engine) runFlatSum(ctx context.Context, st statement, grid plan.Grid, want ValueType) (*Result, error) {
	if res, ok, err := e.pointsSum(ctx, st, grid, want); ok || err != nil {
		return res, err
	}
	began := time.Now()
	f := st.flat
	key := f.LookupKey()
	list, cached := e.seriesLists.get(key)
	if !cached {
		if list, cached = e.derivedList(f); cached {
			e.seriesLists.put(key, list, list.at, len(list.sids))
		}
	}
	for {
		if !cached {
			var err error
			if list, err = e.lookupSeries(ctx, f); err != nil {
				return nil, err
			}
			e.seriesLists.put(key, list, list.at, len(list.sids))
			if len(list.sids) == 0 {
				return &Result{Type: want, SQL: st.flatExplain(), Stats: Stats{Elapsed: time.Since(began)}}, nil
			}
		}
		if shape, ok := f.Summarized(); ok && e.summaries != nil && summaryCells(len(list.sids), shape.Range) <= maxSummaryCells {
			res, sql, unlisted, err := e.summarizedSum(ctx, st, shape, list, grid, want)
			if err != nil {
				return nil, err
			}
			if unlisted && cached {
				cached = false
				continue
			}
			res.SQL = f.LookupSQL() + "\n\n-- then the listed series' points summarized per block (pkg/engine/summaries.go):\n" + sql
			if cached {
				res.SQL = fmt.Sprintf("-- the series lookup from the cache (listed %s ago)\n%s", time.Since(list.at).Round(time.Second), res.SQL)
			}
			res.Stats.Elapsed = time.Since(began)
			return res, nil
		}
		k := e.flatSlices(len(list.sids), f)
		if len(list.sids) > flatMaxSeries && st.sql != "" && k == 1 && !st.perSeries {
			return e.runStatement(ctx, statement{sql: st.sql}, false, grid, want)
		}
		res, unlisted, err := e.flatValues(ctx, st, list, k, grid, want)
		if err != nil {
			return nil, err
		}
		if unlisted && cached {
			// A series the cached list lacks has values: list again. A
			// fresh list lacks only series stored after it, left out as
			// they would be had they come a moment later.
			cached = false
			continue
		}
		res.SQL = st.flatExplain()
		if k > 1 {
			res.SQL = fmt.Sprintf("-- the values statement ran %d times, each over a slice of the series (sid ranges), its sums added in the plugin\n%s", k, res.SQL)
		}
		if cached {
			res.SQL = fmt.Sprintf("-- the series lookup from the cache (listed %s ago)\n%s", time.Since(list.at).Round(time.Second), res.SQL)
		}
		res.Stats.Elapsed = time.Since(began)
		return res, nil
	}
}

// lookupSeries runs a flat sum's series lookup: of every series of its
// source when it may (wholeList), else of its selector's.
func (e *Engine) lookupSeries(ctx context.Context, f *sqlgen.FlatSum) (*seriesList, error) {
	if list, ok, err := e.wholeList(ctx, f); ok || err != nil {
		return list, err
	}
	return e.listSeries(ctx, f.LookupSQL())
}

// listSeries runs a series lookup (sqlgen.FlatSum.LookupSQL's columns).
func (e *Engine) listSeries(ctx context.Context, sql string) (*seriesList, error) {
	stmtCtx, release := e.statementContext(ctx, nil)
	defer release()
	rows, err := e.conn.Query(stmtCtx, sql)
	if err != nil {
		return nil, e.timeoutError(queryError(err))
	}
	defer rows.Close()
	list := &seriesList{at: time.Now()}
	// The lookup leaves refusing two series of one label set to the
	// plugin (FlatSum.LookupSQL).
	seen := map[string]bool{}
	for rows.Next() {
		var (
			sid, stored uint64
			pairs       string
		)
		if err := rows.Scan(&sid, &stored, &pairs); err != nil {
			return nil, fmt.Errorf("read the series of a sum: %w", err)
		}
		names, values, err := decodeLabelPairs(pairs)
		if err != nil {
			return nil, fmt.Errorf("read the series of a sum: series %d: %w", sid, err)
		}
		key := labelSetKey(names, values)
		if seen[key] {
			return nil, errors.New(sqlgen.DuplicateSeries)
		}
		seen[key] = true
		list.sids = append(list.sids, sid)
		list.stored = append(list.stored, stored)
		list.names = append(list.names, names)
		list.values = append(list.values, values)
	}
	if err := rows.Err(); err != nil {
		return nil, e.timeoutError(queryError(err))
	}
	return list, nil
}

// labelSetKey is a label set's text, one per set: names and values
// each followed by 0xff, in no UTF-8 text.
func labelSetKey(names, values []string) string {
	var key strings.Builder
	for k := range names {
		key.WriteString(names[k])
		key.WriteByte(0xff)
		key.WriteString(values[k])
		key.WriteByte(0xff)
	}
	return key.String()
}

// flatValues groups the listed series in Go and runs the values
// statement, once per slice of the series when slices (flatSlices) is
// over 1; unlisted says whether a series the list lacks has values.
func (e *Engine) flatValues(ctx context.Context, st statement, list *seriesList, slices int, grid plan.Grid, want ValueType) (res *Result, unlisted bool, err error) {
	groups, named, err := e.flatGroups(st.flat, list)
	if err != nil {
		return nil, false, err
	}
	sums := newPartialSums(grid, len(named))
	if slices <= 1 {
		if unlisted, err = e.flatSlice(ctx, st.flat, list.sids, groups, sums); err != nil {
			return nil, false, err
		}
	}
	for _, s := range sqlgen.SidSlices(slices) {
		sliced, err := st.slice(s)
		if err != nil {
			return nil, false, err
		}
		// Only the slice's series go in its literal arrays. A slice
		// without listed series runs too: it returns any the list lacks.
		var sids []uint64
		var gs []uint32
		for k, stored := range list.stored {
			if stored >= s.Lo && stored <= s.Hi {
				sids, gs = append(sids, list.sids[k]), append(gs, groups[k])
			}
		}
		u, err := e.flatSlice(ctx, sliced.flat, sids, gs, sums)
		if err != nil {
			return nil, false, err
		}
		unlisted = unlisted || u
	}
	res = &Result{Type: want}
	for gi, g := range named {
		if s := sums.series(gi, g); len(s.Points) > 0 {
			res.Series = append(res.Series, s)
		}
	}
	return res, unlisted, nil
}

// flatGroups are the listed series' groups: groups[k] is series k's
// group number (1-based), named[n-1] group n's labels.
func (e *Engine) flatGroups(f *sqlgen.FlatSum, list *seriesList) (groups []uint32, named []Labels, err error) {
	number := map[string]uint32{} // a group's number, by its labels' text
	by, without, keepsName := f.Grouping()
	for k := range list.sids {
		g := groupLabels(list.names[k], list.values[k], by, without, keepsName)
		key := g.String()
		n, ok := number[key]
		if !ok {
			named = append(named, g)
			n = uint32(len(named))
			number[key] = n
		}
		groups = append(groups, n)
	}
	if len(named) > e.cfg.MaxSeries {
		return nil, nil, maxSeriesError{e.cfg.MaxSeries}
	}
	return groups, named, nil
}

// flatSlice runs f's values statement with the series' groups and adds
// its sums to sums; unlisted says whether a series the list lacks has
// values.
func (e *Engine) flatSlice(ctx context.Context, f *sqlgen.FlatSum, sids []uint64, groups []uint32, sums *partialSums) (unlisted bool, err error) {
	sql := f.ValuesSQL(sids, groups)
	var settings clickhouse.Settings
	if len(sql) > sqlgen.MaxQuerySize {
		// The literal arrays grow with the series; the server parses them
		// quickly, but by default refuses a statement this long.
		settings = clickhouse.Settings{"max_query_size": len(sql) + 1024}
	}
	valuesCtx, release := e.statementContext(ctx, settings)
	defer release()
	rows, err := e.conn.Query(valuesCtx, sql)
	if err != nil {
		return false, e.timeoutError(queryError(err))
	}
	defer rows.Close()
	for rows.Next() {
		var (
			gi    uint32
			other uint64
			cells string
		)
		if err := rows.Scan(&gi, &other, &cells); err != nil {
			return false, fmt.Errorf("read the sums of a sum: %w", err)
		}
		if len(cells)%sqlgen.CellBytes != 0 {
			return false, fmt.Errorf("read the sums of a sum: group %d has %d bytes of sums, not a multiple of %d", gi, len(cells), sqlgen.CellBytes)
		}
		if gi == 0 {
			unlisted = true
			continue
		}
		if int(gi) > len(sums.values) {
			return false, fmt.Errorf("read the sums of a sum: group %d of %d", gi, len(sums.values))
		}
		sums.add(int(gi-1), cells)
	}
	if err := rows.Err(); err != nil {
		return false, e.timeoutError(queryError(err))
	}
	return unlisted, nil
}

// groupLabels is the group a series of these labels falls in: only the
// by labels, or all but the without ones and __name__; __name__ only when
// the summed series keep it (keepsName) and by names it.
func groupLabels(names, values, by []string, without, keepsName bool) Labels {
	g := make(Labels, 0, len(names))
	for i, name := range names {
		if name == "__name__" && (without || !keepsName) || slices.Contains(by, name) == without {
			continue
		}
		g = append(g, Label{Name: name, Value: values[i]})
	}
	return g
}

// seriesList is a flat sum's lookup answer: each series' sid and label
// names and values.
type seriesList struct {
	sids          []uint64
	stored        []uint64 // each series' row number in the samples tables
	names, values [][]string
	at            time.Time // when it was listed

	// listed is sids as a set (has), made once: a kept list is not
	// changed, and a refresh's reads of recent points ask it of every
	// series they read.
	listed     map[uint64]struct{}
	listedOnce sync.Once
	derived    derivedLists // asPart's and filtered's
}

// has says whether l lists sid.
func (l *seriesList) has(sid uint64) bool {
	l.listedOnce.Do(func() {
		l.listed = make(map[uint64]struct{}, len(l.sids))
		for _, s := range l.sids {
			l.listed[s] = struct{}{}
		}
	})
	_, ok := l.listed[sid]
	return ok
}

// Flat sums' lookups are kept (by FlatSum.LookupKey): the panels of a
// dashboard and its refreshes read the same selectors over the same
// days. A kept list is exact to use: the values statement returns apart
// any series with values that the list lacks, and the lookup runs again
// (runFlatSum); a series it lists that has no values in the range adds
// nothing. Lists older than seriesListTTL go, so that series no longer
// stored stop weighing on the values statement.
const (
	seriesListTTL = 10 * time.Minute
	// maxListedSeries bounds the series all kept lists hold (a few
	// hundred bytes each).
	maxListedSeries = 100_000
)

// Derived lookups: a dashboard's selectors of one metric differ by a
// matcher or two (the noise filter alone, with one service, with 5xx
// codes) and by the days they read (a day's stat beside 6-hour panels),
// and each lookup took 12–40 ms. A lookup whose selector's matchers
// include all of a kept list's, over days within the list's, is that
// list filtered by the selector's matchers in the plugin, on the label
// sets the list holds. Exact as a kept list is (seriesLists): a series the
// derived list lacks but the values statement finds comes back apart,
// and the lookup runs; one it lists without values there (stored on a
// day the sum does not read) adds nothing.

// maxDerivedMatchers bounds the matchers whose subsets are looked for
// (2^n keys for each of 4 day spans).
const maxDerivedMatchers = 4

// derivedList is f's series list filtered from a kept list of f's
// selector with fewer of its matchers, or over a day more either side, or
// of a sibling part of its histogram (partlists.go); ok is false when
// none is kept.
func (e *Engine) derivedList(f *sqlgen.FlatSum) (list *seriesList, ok bool) {
	ms := f.Matchers()
	if len(ms) > maxDerivedMatchers {
		return nil, false
	}
	lo, hi := f.LookupDays()
	partName, siblings := f.PartSiblings()
	for wider := range 4 {
		for mask := range 1 << len(ms) { // every subset, none first
			var sub []*labels.Matcher
			for i, m := range ms {
				if mask&(1<<i) != 0 {
					sub = append(sub, m)
				}
			}
			from, to := lo-int64(wider&1), hi+int64(wider>>1)
			own := wider == 0 && mask == 1<<len(ms)-1 // f's own key, not kept
			if broad, kept := e.seriesLists.get(f.LookupKeyWith(sub, from, to)); kept && !own && broad.filters(ms) {
				return broad.filtered(ms), true
			}
			for _, sib := range siblings {
				if sib.Part == plan.PartBucket && namesLe(sub) {
					continue // le picks bounds among buckets, not series
				}
				broad, kept := e.seriesLists.get(sqlgen.LookupKeyOf([]plan.Source{sib}, sub, from, to))
				if !kept {
					continue
				}
				if part, ok := broad.asPart(partName, sib.Part == plan.PartBucket); ok {
					return part.filtered(ms), true
				}
			}
		}
	}
	return nil, false
}

// filter is filtered, derived.
func (l *seriesList) filter(ms []*labels.Matcher) *seriesList {
	out := &seriesList{at: l.at}
	for k := range l.sids {
		if matchesNamed(ms, l.names[k], l.values[k]) {
			out.sids = append(out.sids, l.sids[k])
			out.stored = append(out.stored, l.stored[k])
			out.names = append(out.names, l.names[k])
			out.values = append(out.values, l.values[k])
		}
	}
	return out
}

// matchesNamed says whether every matcher accepts its label's value ("" when
// absent) in the label set names, values.
func matchesNamed(ms []*labels.Matcher, names, values []string) bool {
	return matchersAccept(ms, func(name string) string {
		if i := slices.Index(names, name); i >= 0 {
			return values[i]
		}
		return ""
	})
}
