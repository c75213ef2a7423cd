package engine

import (
	"context"
	"fmt"
	"slices"
	"sync"
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

// runFlatSum runs a flat sum: the series lookup, the series' groups in
// Go, then the values statement with those groups; or, over flatMaxSeries
// series, the one nested statement.
func (e *Engine) runFlatSum(ctx context.Context, st statement, grid plan.Grid, want ValueType) (*Result, error) {
	began := time.Now()
	f := st.flat
	if st.sql != "" && e.manySeries.has(f.SeriesKey()) {
		// Its lookup listed too many series before: skip it.
		return e.runStatement(ctx, statement{sql: st.sql}, false, grid, want)
	}
	stmtCtx, release := e.statementContext(ctx, nil)
	defer release()
	res := &Result{Type: want, SQL: st.flatExplain()}

	rows, err := e.conn.Query(stmtCtx, f.LookupSQL())
	if err != nil {
		return nil, e.timeoutError(queryError(err))
	}
	var (
		sids   []uint64
		groups []uint32
		named  []Labels              // a group's labels, by group number - 1
		number = map[string]uint32{} // a group's number, by its labels' text
	)
	by, without := f.Grouping()
	for rows.Next() {
		var (
			sid           uint64
			names, values []string
		)
		if err := rows.Scan(&sid, &names, &values); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read the series of a sum: %w", err)
		}
		g := groupLabels(names, values, by, without)
		key := g.String()
		n, ok := number[key]
		if !ok {
			named = append(named, g)
			n = uint32(len(named))
			number[key] = n
		}
		sids, groups = append(sids, sid), append(groups, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, e.timeoutError(queryError(err))
	}
	if len(sids) == 0 {
		return res, nil
	}
	if len(sids) > flatMaxSeries && st.sql != "" {
		e.manySeries.add(f.SeriesKey())
		return e.runStatement(ctx, statement{sql: st.sql}, false, grid, want)
	}
	if len(named) > e.cfg.MaxSeries {
		return nil, fmt.Errorf("the query returns more than %d series (the max series limit): narrow the selector or aggregate", e.cfg.MaxSeries)
	}

	sql := f.ValuesSQL(sids, groups)
	var settings clickhouse.Settings
	if len(sql) > sqlgen.MaxQuerySize {
		// The literal arrays grow with the series; the server parses them
		// quickly, but by default refuses a statement this long.
		settings = clickhouse.Settings{"max_query_size": len(sql) + 1024}
	}
	valuesCtx, releaseValues := e.statementContext(ctx, settings)
	defer releaseValues()
	rows, err = e.conn.Query(valuesCtx, sql)
	if err != nil {
		return nil, e.timeoutError(queryError(err))
	}
	defer rows.Close()
	for rows.Next() {
		var (
			gi   uint32
			sums []*float64
		)
		if err := rows.Scan(&gi, &sums); err != nil {
			return nil, fmt.Errorf("read the sums of a sum: %w", err)
		}
		s := Series{Labels: named[gi-1]}
		for k, v := range sums {
			if v != nil {
				s.Points = append(s.Points, Point{T: grid.Time(k), V: *v})
			}
		}
		if len(s.Points) > 0 {
			res.Series = append(res.Series, s)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, e.timeoutError(queryError(err))
	}
	res.Stats.Elapsed = time.Since(began)
	return res, nil
}

// groupLabels is the group a series of these labels falls in: without
// __name__ (the range function dropped it), then only the by labels, or
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

// seriesHints are the selectors (by FlatSum.SeriesKey, whatever the time
// range) whose lookup listed more than flatMaxSeries series: later sums
// over them run the nested statement without the lookup, which over
// 12,000 bucket series costs about 1.3 s. It is only a choice between two
// exact ways, so it is kept without expiry; it forgets everything when
// full.
type seriesHints struct {
	mu   sync.Mutex
	keys map[string]bool
}

// maxSeriesHints bounds the selectors remembered.
const maxSeriesHints = 1000

func (h *seriesHints) has(key string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.keys[key]
}

func (h *seriesHints) add(key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.keys == nil || len(h.keys) >= maxSeriesHints {
		h.keys = map[string]bool{}
	}
	h.keys[key] = true
}
