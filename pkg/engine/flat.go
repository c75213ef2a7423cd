package engine

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/forma3d/meshmetrics/pkg/plan"
	"github.com/forma3d/meshmetrics/pkg/sqlgen"
)

// statement is one thing compile hands to ClickHouse: a statement's SQL,
// or a flat sum (sqlgen/flat.go), whose second statement needs the first
// one's answer, with the same query as one statement beside it.
type statement struct {
	sql  string
	flat *sqlgen.FlatSum
	// slice renders the same statement(s) over one slice of the stored
	// series (sqlgen.Options.Slice); set with flat.
	slice func(sqlgen.SidSlice) (statement, error)
}

// flatMaxSeries is the most series a flat sum's lookup may list for the
// values statement to run; over more, the one nested statement runs
// instead. The values statement carries a number pair per series and maps
// every sample's series through them. In the dashboard benchmark the flat
// sums were faster over 378 series (15–25 %) and 1,800 bucket series
// (5–10 %), and slower over 2,400 series (25 %) and 12,000 bucket series
// (8 %) than the nested statement (docs/benchmarks.md).
const flatMaxSeries = 2000

func (st statement) explain() string {
	if st.flat == nil {
		return st.sql
	}
	text := st.flatExplain()
	if st.sql != "" {
		text += fmt.Sprintf("\n\n-- when the lookup lists more than %d series, this one statement instead:\n%s", flatMaxSeries, st.sql)
	}
	return text
}

func (st statement) flatExplain() string {
	return st.flat.LookupSQL() + "\n\n-- then, with each listed series' group (computed in the plugin) as literal arrays:\n" + st.flat.ValuesSQL(nil, nil)
}

// runFlatSum runs a flat sum: the series lookup (or its cached answer),
// the series' groups in Go, then the values statement with those groups;
// or, over flatMaxSeries series, the one nested statement.
func (e *Engine) runFlatSum(ctx context.Context, st statement, grid plan.Grid, want ValueType) (*Result, error) {
	began := time.Now()
	f := st.flat
	if n, many := e.manySeries.get(f.SeriesKey()); many && st.sql != "" {
		// Its lookup listed too many series before: skip it.
		return e.runNestedSlices(ctx, st, n, grid, want)
	}
	key := f.LookupKey()
	list, cached := e.seriesLists.get(key)
	for {
		if !cached {
			var err error
			if list, err = e.lookupSeries(ctx, f); err != nil {
				return nil, err
			}
			if len(list.sids) > flatMaxSeries && st.sql != "" {
				e.manySeries.putNow(f.SeriesKey(), len(list.sids), 1)
				return e.runNestedSlices(ctx, st, len(list.sids), grid, want)
			}
			e.seriesLists.put(key, list, list.at, len(list.sids))
			if len(list.sids) == 0 {
				return &Result{Type: want, SQL: st.flatExplain(), Stats: Stats{Elapsed: time.Since(began)}}, nil
			}
		}
		res, unlisted, err := e.flatValues(ctx, st, list, grid, want)
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
		if k := e.sliceCount(len(list.sids), f.ReadSpan()); k > 1 {
			res.SQL = fmt.Sprintf("-- the values statement ran %d times, each over a slice of the series (sid ranges), its sums added in the plugin\n%s", k, res.SQL)
		}
		if cached {
			res.SQL = fmt.Sprintf("-- the series lookup from the cache (listed %s ago)\n%s", time.Since(list.at).Round(time.Second), res.SQL)
		}
		res.Stats.Elapsed = time.Since(began)
		return res, nil
	}
}

// lookupSeries runs a flat sum's series lookup.
func (e *Engine) lookupSeries(ctx context.Context, f *sqlgen.FlatSum) (*seriesList, error) {
	stmtCtx, release := e.statementContext(ctx, nil)
	defer release()
	rows, err := e.conn.Query(stmtCtx, f.LookupSQL())
	if err != nil {
		return nil, e.timeoutError(queryError(err))
	}
	defer rows.Close()
	list := &seriesList{at: time.Now()}
	for rows.Next() {
		var (
			sid           uint64
			names, values []string
		)
		if err := rows.Scan(&sid, &names, &values); err != nil {
			return nil, fmt.Errorf("read the series of a sum: %w", err)
		}
		list.sids = append(list.sids, sid)
		list.names = append(list.names, names)
		list.values = append(list.values, values)
	}
	if err := rows.Err(); err != nil {
		return nil, e.timeoutError(queryError(err))
	}
	return list, nil
}

// flatValues groups the listed series in Go and runs the values
// statement, once per slice of the series when they are many
// (sliceCount); unlisted says whether a series the list lacks has values.
func (e *Engine) flatValues(ctx context.Context, st statement, list *seriesList, grid plan.Grid, want ValueType) (res *Result, unlisted bool, err error) {
	var (
		groups []uint32
		named  []Labels              // a group's labels, by group number - 1
		number = map[string]uint32{} // a group's number, by its labels' text
	)
	by, without := st.flat.Grouping()
	for k := range list.sids {
		g := groupLabels(list.names[k], list.values[k], by, without)
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
		return nil, false, fmt.Errorf("the query returns more than %d series (the max series limit): narrow the selector or aggregate", e.cfg.MaxSeries)
	}
	sums := newPartialSums(grid)
	slices := sqlgen.SidSlices(e.sliceCount(len(list.sids), st.flat.ReadSpan()))
	if slices == nil {
		unlisted, err = e.flatSlice(ctx, st.flat, list.sids, groups, sums)
	}
	for _, s := range slices {
		sliced, rerr := st.slice(s)
		if rerr != nil {
			return nil, false, rerr
		}
		u, serr := e.flatSlice(ctx, sliced.flat, list.sids, groups, sums)
		if err = serr; err != nil {
			break
		}
		unlisted = unlisted || u
	}
	if err != nil {
		return nil, false, err
	}
	res = &Result{Type: want}
	for gi, g := range named {
		if s := sums.series(fmt.Sprint(gi), g); len(s.Points) > 0 {
			res.Series = append(res.Series, s)
		}
	}
	return res, unlisted, nil
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
			cells []*float64
		)
		if err := rows.Scan(&gi, &other, &cells); err != nil {
			return false, fmt.Errorf("read the sums of a sum: %w", err)
		}
		if gi == 0 {
			unlisted = true
			continue
		}
		sums.addCells(fmt.Sprint(gi-1), cells)
	}
	if err := rows.Err(); err != nil {
		return false, e.timeoutError(queryError(err))
	}
	return unlisted, nil
}

// groupLabels is the group a series of these labels falls in: without
// __name__ (an aggregation drops it), then only the by labels, or
// all but the without ones.
func groupLabels(names, values, by []string, without bool) Labels {
	g := make(Labels, 0, len(names))
	for i, name := range names {
		if name == "__name__" || slices.Contains(by, name) == without {
			continue
		}
		g = append(g, Label{Name: name, Value: values[i]})
	}
	return g
}

// The selectors (by FlatSum.SeriesKey, whatever the time range) whose
// lookup listed more than flatMaxSeries series, with that number: later
// sums over them run the nested statement without the lookup, which over
// 12,000 bucket series costs about 1.3 s. It is only a choice between two
// exact ways (and of how many slices), so they are kept without expiry,
// at most maxSeriesHints of them.
const maxSeriesHints = 1000

// seriesList is a flat sum's lookup answer: each series' sid and label
// names and values.
type seriesList struct {
	sids          []uint64
	names, values [][]string
	at            time.Time // when it was listed
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
