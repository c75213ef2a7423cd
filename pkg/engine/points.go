package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/forma3d/meshmetrics/pkg/plan"
	"github.com/forma3d/meshmetrics/pkg/sqlgen"
)

// Recent points (sqlgen/points.go): a flat sum over a short window near
// now is evaluated here, from every point of its source in the last
// sqlgen.RecentMaxSpan, read in one statement that the dashboard's other
// panels over the same metric share: a dashboard load or refresh reads
// each metric's recent points once instead of running a statement per
// panel. The functions are Prometheus' own (extrapolated, in
// summaries.go; the newest point of the lookback window unless it is a
// stale marker), over the same rows the statements read.
//
// The bound on late rows is the result cache's for recent evaluations: a
// read is served for CacheConfig.Recent after it ended, so an answer may
// miss rows stored since the read began, at most its run time plus
// Recent.

// recentPoints is every point of one source in (loMs, hiMs], by series,
// or of a histogram's three (histpoints.go).
type recentPoints struct {
	loMs, hiMs int64
	series     map[uint64]seriesPoints
	// all lists the series of the source on the window's days: every
	// series with points in series but those stored after it was read.
	all *seriesList
	// parts are a histogram's lists instead (histpoints.go): its
	// buckets', _sum's and _count's, by sqlgen.PointsRead.List.
	parts map[string]*seriesList
	// began is when the read began: an answer from it may miss rows
	// stored since (Result.dataAt).
	began time.Time
	// settledMs: the points at or before it were older than the result
	// cache's Freshness when read, and the next read of the source may
	// take them from here (settled.go); settledAt is when the oldest of
	// those were read, by the engine's clock.
	settledMs int64
	settledAt time.Time
	// verifyMs: the next read may take the points in (settledMs,
	// verifyMs] from here too, when as many rows are stored there as
	// these are points of (settled.go, verified points).
	verifyMs int64
	// rowSeries are the series with a point per row read (a histogram's
	// _sum parts); nil: every series.
	rowSeries map[uint64]bool
	sql       string // the statements that read them, for Result.SQL
}

// seriesPoints are one series' points in time order.
type seriesPoints struct {
	ts    []int64 // Unix ms
	vs    []float64
	stale []bool
}

const (
	// maxPointsSeries is the most series a source may have for its
	// points to be read whole: 200 services' request counters (2,412
	// series, about 190,000 points in 20 minutes) are. The lookup reads
	// one more at most.
	maxPointsSeries = 4000
	// maxKeptPoints bounds the points of one read and of all kept reads
	// (about 24 bytes each): a read of more is dropped, and its source's
	// sums run their statements.
	maxKeptPoints = 4_000_000
)

// pointsReads are the reads of recent points in flight, by source, so
// that panels started together read once.
type pointsReads struct {
	mu    sync.Mutex
	calls map[string]*pointsCall
}

type pointsCall struct {
	loMs, hiMs int64
	done       chan struct{} // closed when pts and err are set
	pts        *recentPoints
	err        error
}

// pointsSum answers a flat sum from its source's recent points; ok is
// false when it cannot (sqlgen.FlatSum.Points, or a source not read whole:
// pointsOf), and the sum runs its statements instead.
func (e *Engine) pointsSum(ctx context.Context, st statement, grid plan.Grid, want ValueType) (res *Result, ok bool, err error) {
	began := time.Now()
	f := st.flat
	sh, ok := f.Points()
	if !ok {
		return nil, false, nil
	}
	pts, shared, err := e.pointsOf(ctx, f, sh)
	if err != nil || pts == nil {
		return nil, false, err
	}
	list, ok := pts.matching(sh.List, f.Matchers())
	if !ok {
		return nil, false, nil
	}
	groups, named, err := e.flatGroups(f, list)
	if err != nil {
		return nil, false, err
	}
	sums := newPartialSums(grid, len(named))
	for k, sid := range list.sids {
		if p, ok := pts.series[sid]; ok {
			p.evaluate(sh, grid, func(i int, v float64) { sums.addAt(int(groups[k]-1), i, v) })
		}
	}
	res = &Result{Type: want}
	for gi, g := range named {
		if s := sums.series(gi, g); len(s.Points) > 0 {
			res.Series = append(res.Series, s)
		}
	}
	res.SQL = "-- evaluated in the plugin (pkg/engine/points.go) over every point of the source in the window, read by:\n" + pts.sql
	if shared {
		res.SQL = "-- the points from a read shared with the queries of the moment (the recent points, docs/dialect.md)\n" + res.SQL
	}
	res.dataAt, res.settledAt = pts.began, pts.settledAt
	res.Stats.Elapsed = time.Since(began)
	return res, true, nil
}

// pointsOf returns the recent points of f's source covering sh's window:
// a kept read, one in flight (shared says which of those), or a new one;
// nil when the source's points are not read whole (too many series or
// points, or two series of one label set).
func (e *Engine) pointsOf(ctx context.Context, f *sqlgen.FlatSum, sh sqlgen.PointsShape) (pts *recentPoints, shared bool, err error) {
	covers := func(lo, hi int64) bool { return lo <= sh.LoMs && sh.HiMs <= hi }
	if _, refused := e.pointsRefused.get(sh.Key); refused {
		return nil, false, nil
	}
	r := e.pointsReads
	for {
		if p, ok := e.recentPoints.get(sh.Key); ok && covers(p.loMs, p.hiMs) {
			return p, true, nil
		}
		r.mu.Lock()
		c, ok := r.calls[sh.Key]
		if !ok || !covers(c.loMs, c.hiMs) {
			break // with r.mu held
		}
		r.mu.Unlock()
		select {
		case <-c.done:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
		if c.err != nil && ctx.Err() == nil && (errors.Is(c.err, context.Canceled) || errors.Is(c.err, context.DeadlineExceeded)) {
			continue // its reader gave up; this one has not: look again
		}
		return c.pts, true, c.err
	}
	// Up to what a query may ask while the read is served (now and
	// Recent after), when that covers the sum: the instants at a
	// dashboard's "to" share the read of its range queries, which end a
	// step before it, and the queries of a panel that arrive a moment
	// later share it too. A point stored after the read began is missed
	// while it is served, which is the bound.
	hi := sh.HiMs
	if ahead := e.now().Add(e.cfg.Cache.Recent).UnixMilli(); ahead >= hi && f.PointsWindow(ahead) <= sh.LoMs {
		hi = ahead
	}
	// Should the read panic, its waiters get this error, not nothing.
	c := &pointsCall{hiMs: hi, loMs: f.PointsWindow(hi), done: make(chan struct{}),
		err: fmt.Errorf("the read of recent points this query waited for did not finish")}
	r.calls[sh.Key] = c
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		if r.calls[sh.Key] == c {
			delete(r.calls, sh.Key)
		}
		r.mu.Unlock()
		close(c.done)
	}()
	base, settledMs, readAt := e.settledBase(sh.Key, c.loMs, c.hiMs)
	if sh.Histogram {
		c.pts, c.err = e.readHistogramPoints(ctx, f, sh.Key, c.loMs, c.hiMs, base)
	} else {
		c.pts, c.err = e.readPoints(ctx, f, sh.Key, c.loMs, c.hiMs, base)
	}
	if c.err == nil && c.pts != nil {
		// Kept before the call is gone, so that no query in between
		// reads again.
		e.settle(sh.Key, c.pts, base, settledMs, readAt)
		if e.recentPoints.ttl > 0 {
			e.recentPoints.put(sh.Key, c.pts, e.recentFrom(c.pts), c.pts.size())
		}
	}
	return c.pts, false, c.err
}

// matching lists the series of the read's list (sqlgen.PointsRead.List)
// that the matchers select; ok is false when the read has no such list.
func (p *recentPoints) matching(list string, ms []*labels.Matcher) (matched *seriesList, ok bool) {
	if p.parts == nil {
		return p.all.filtered(ms), true
	}
	if l, ok := p.parts[list]; ok {
		return l.filtered(ms), true
	}
	return nil, false
}

// summarize adds to blocks the window summaries (summaries.go) of the
// points in (r.LoMs, r.HiMs] of list's series (matching), stale
// markers left out, as the summaries statement reads them: block k holds
// (k × blockMs, (k+1) × blockMs].
func (p *recentPoints) summarize(list *seriesList, r sqlgen.SummaryRange, blockMs int64, blocks map[int64]map[uint64]pointSummary) {
	for _, sid := range list.sids {
		sp, ok := p.series[sid]
		if !ok {
			continue
		}
		for i, t := range sp.ts {
			if sp.stale[i] || t <= r.LoMs || t > r.HiMs {
				continue
			}
			k := floorDiv(t-1, blockMs)
			if blocks[k] == nil {
				blocks[k] = map[uint64]pointSummary{}
			}
			blocks[k][sid] = blocks[k][sid].then(pointSummary{n: 1, firstT: t, lastT: t, firstV: sp.vs[i], lastV: sp.vs[i]})
		}
	}
}

// pointsBlocks summarizes a refresh's newest blocks (summaries.go) from
// f's source's recent points, which the dashboard's other panels over the
// metric share: nil when the call reads more than one range or raw
// points (the block where the range starts), or the source's points are
// not read whole.
func (e *Engine) pointsBlocks(ctx context.Context, f *sqlgen.FlatSum, ranges []sqlgen.SummaryRange, rawTo int64, blocks map[int64]map[uint64]pointSummary) (pts *recentPoints, err error) {
	if len(ranges) != 1 || rawTo > ranges[0].LoMs {
		return nil, nil
	}
	r := ranges[0]
	read, ok := f.PointsSource(r.LoMs, r.HiMs)
	if !ok {
		return nil, nil
	}
	if pts, _, err = e.pointsOf(ctx, f, sqlgen.PointsShape{PointsRead: read, LoMs: r.LoMs, HiMs: r.HiMs}); err != nil || pts == nil {
		return nil, err
	}
	list, ok := pts.matching(read.List, f.Matchers())
	if !ok {
		return nil, nil
	}
	pts.summarize(list, r, sqlgen.SummaryBlock.Milliseconds(), blocks)
	return pts, nil
}

// size is how many points p holds.
func (p *recentPoints) size() int {
	n := 0
	for _, s := range p.series {
		n += len(s.ts)
	}
	return n
}

// readPoints reads every series of f's source on the days of (loMs,
// hiMs] (a kept whole list when there is one, over a day more either side
// too: keptWhole) and every point in it, base's settled points
// (settled.go) instead of reading them when base is not nil. A series
// with points that a kept list lacks makes the list be read again; one a
// fresh list lacks was stored after it and is left out, as flat sums do.
// A source of more than maxPointsSeries series or maxKeptPoints points,
// or with two series of one label set (which only the selectors that
// select both must refuse), is not read whole for a while
// (pointsRefused): nil, and its sums run their statements.
func (e *Engine) readPoints(ctx context.Context, f *sqlgen.FlatSum, source string, loMs, hiMs int64, base *recentPoints) (*recentPoints, error) {
	began := time.Now()
	lookup, err := f.PointsLookupSQL(loMs, hiMs, maxPointsSeries+1)
	if err != nil {
		return nil, err
	}
	key := f.PointsLookupKey(loMs, hiMs)
	refuse := func() (*recentPoints, error) {
		e.pointsRefused.putNow(source, struct{}{}, 1)
		return nil, nil
	}
	list := func() (*seriesList, bool, error) {
		all, ok, err := e.listUpTo(ctx, lookup, maxPointsSeries)
		if err != nil || !ok {
			return nil, false, err
		}
		e.seriesLists.put(key, all, all.at, len(all.sids))
		return all, true, nil
	}
	all, cached := e.keptWhole(f, loMs, hiMs)
	if !cached {
		var ok bool
		if all, ok, err = list(); err != nil || !ok {
			if err != nil {
				return nil, err
			}
			return refuse()
		}
	}
	if len(all.sids) > maxPointsSeries {
		return refuse()
	}
	var (
		series map[uint64]seriesPoints
		ok     bool
	)
	upToMs, points, err := readAfterKept(base, loMs, func(fromMs int64, counted sqlgen.Counted) (sql string, stored uint64, err error) {
		if sql, err = f.PointsSQL(fromMs, hiMs, counted); err != nil {
			return "", 0, err
		}
		series, stored, ok, err = e.readSeriesPoints(ctx, sql)
		return sql, stored, err
	})
	if err != nil {
		return nil, err
	}
	if !ok {
		return refuse()
	}
	series = base.before(loMs, upToMs, series)
	if cached && !listsAll(series, all) {
		if all, ok, err = list(); err != nil || !ok {
			if err != nil {
				return nil, err
			}
			return refuse()
		}
	}
	return &recentPoints{loMs: loMs, hiMs: hiMs, series: series, all: all, began: began, sql: lookup + "\n\n-- and\n" + points}, nil
}

// listUpTo runs a lookup that reads at most most+1 series; ok is false
// when it lists more than most, or two series of one label set (which
// only the selectors that select both must refuse).
func (e *Engine) listUpTo(ctx context.Context, sql string, most int) (list *seriesList, ok bool, err error) {
	list, err = e.listSeries(ctx, sql)
	switch {
	case err != nil && err.Error() == sqlgen.DuplicateSeries:
		return nil, false, nil
	case err != nil:
		return nil, false, err
	}
	return list, len(list.sids) <= most, nil
}

// listsAll says whether the lists hold every series of series.
func listsAll(series map[uint64]seriesPoints, lists ...*seriesList) bool {
	for sid := range series {
		if !anyLists(lists, sid) {
			return false
		}
	}
	return true
}

// anyLists says whether one of the lists holds sid.
func anyLists(lists []*seriesList, sid uint64) bool {
	for _, l := range lists {
		if l.has(sid) {
			return true
		}
	}
	return false
}

// readSeriesPoints runs a points statement (sqlgen.FlatSum.PointsSQL);
// stored is the rows it counted (sqlgen.Counted), ok false when it holds
// more than maxKeptPoints points.
func (e *Engine) readSeriesPoints(ctx context.Context, sql string) (series map[uint64]seriesPoints, stored uint64, ok bool, err error) {
	stmtCtx, release := e.statementContext(ctx, nil)
	defer release()
	rows, err := e.conn.Query(stmtCtx, sql)
	if err != nil {
		return nil, 0, false, e.timeoutError(queryError(err))
	}
	defer rows.Close()
	series = map[uint64]seriesPoints{}
	n := 0
	for rows.Next() {
		var (
			sid     uint64
			pts     string
			counted uint64
		)
		if err := scanCounted(rows, &counted, &sid, &pts); err != nil {
			return nil, 0, false, fmt.Errorf("read the recent points of a sum: %w", err)
		}
		if stored += counted; pts == "" {
			continue // the count's row
		}
		if len(pts)%sqlgen.PointBytes != 0 {
			return nil, 0, false, fmt.Errorf("read the recent points of a sum: series %d has %d bytes of points, not a multiple of %d", sid, len(pts), sqlgen.PointBytes)
		}
		if n += len(pts) / sqlgen.PointBytes; n > maxKeptPoints {
			return nil, 0, false, nil
		}
		series[sid] = decodePoints(pts)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, false, e.timeoutError(queryError(err))
	}
	return series, stored, true, nil
}

// scanCounted scans a row of a read of recent points into dest, and its
// counted column, when the read has one (sqlgen.Counted), into counted.
func scanCounted(rows driver.Rows, counted *uint64, dest ...any) error {
	if len(rows.Columns()) > len(dest) {
		dest = append(dest, counted)
	}
	return rows.Scan(dest...)
}

// decodePoints reads a series' points (sqlgen.FlatSum.PointsSQL's bytes)
// and puts them in time order.
func decodePoints(raw string) seriesPoints {
	n := len(raw) / sqlgen.PointBytes
	p := seriesPoints{ts: make([]int64, n), vs: make([]float64, n), stale: make([]bool, n)}
	for i := range n {
		b := raw[i*sqlgen.PointBytes:]
		p.ts[i] = int64(leUint64(b))
		p.vs[i] = math.Float64frombits(leUint64(b[8:]))
		p.stale[i] = b[16] != 0
	}
	return p.inOrder()
}

// inOrder is p in time order, then by value, as the summaries statement
// sorts them: two points of one time (a row stored twice) count the same
// resets either way.
func (p seriesPoints) inOrder() seriesPoints {
	n := len(p.ts)
	less := func(a, b int) bool { return p.ts[a] < p.ts[b] || p.ts[a] == p.ts[b] && p.vs[a] < p.vs[b] }
	sorted := true
	for i := 1; i < n && sorted; i++ {
		sorted = !less(i, i-1)
	}
	if sorted {
		return p
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return less(order[a], order[b]) })
	out := seriesPoints{ts: make([]int64, n), vs: make([]float64, n), stale: make([]bool, n)}
	for i, o := range order {
		out.ts[i], out.vs[i], out.stale[i] = p.ts[o], p.vs[o], p.stale[o]
	}
	return out
}

// leUint64 reads 8 little-endian bytes.
func leUint64(b string) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// evaluate calls put with the series' value at each grid index where it
// has one: sh.Func of its points in each window (t-offset-width,
// t-offset], stale markers left out, or with no Func the newest point of
// the window unless it is a stale marker, as the statements compute them.
// A window's summary is read off its ends and the counter resets inside
// it (found once, not window by window), added in time order as
// pointSummary.then adds them, so it is the same to the last bit.
func (p seriesPoints) evaluate(sh sqlgen.PointsShape, grid plan.Grid, put func(i int, v float64)) {
	width, off := sh.Width.Milliseconds(), sh.Offset.Milliseconds()
	if sh.Func == "" {
		for i := range grid.N {
			end := grid.StartMs + int64(i)*grid.StepMs - off
			lo := sort.Search(len(p.ts), func(k int) bool { return p.ts[k] > end-width })
			hi := sort.Search(len(p.ts), func(k int) bool { return p.ts[k] > end })
			if hi > lo && !p.stale[hi-1] {
				put(i, p.vs[hi-1])
			}
		}
		return
	}
	ts, vs := p.withoutStale()
	// resets are the indices k where a counter reset: vs[k-1] is added.
	var resets []int
	for k := 1; k < len(vs); k++ {
		if vs[k] < vs[k-1] {
			resets = append(resets, k)
		}
	}
	for i := range grid.N {
		end := grid.StartMs + int64(i)*grid.StepMs - off
		lo := sort.Search(len(ts), func(k int) bool { return ts[k] > end-width })
		hi := sort.Search(len(ts), func(k int) bool { return ts[k] > end })
		if hi-lo < 2 {
			continue
		}
		s := pointSummary{n: int64(hi - lo), firstT: ts[lo], lastT: ts[hi-1], firstV: vs[lo], lastV: vs[hi-1]}
		for r := sort.SearchInts(resets, lo+1); r < len(resets) && resets[r] < hi; r++ {
			s.resets += vs[resets[r]-1]
		}
		if v, ok := extrapolated(s, end-width, end, sh.Width, sh.Func == "rate"); ok {
			put(i, v)
		}
	}
}

// withoutStale are the series' times and values but its stale markers'.
func (p seriesPoints) withoutStale() (ts []int64, vs []float64) {
	if !slices.Contains(p.stale, true) {
		return p.ts, p.vs
	}
	for k, stale := range p.stale {
		if !stale {
			ts, vs = append(ts, p.ts[k]), append(vs, p.vs[k])
		}
	}
	return ts, vs
}
