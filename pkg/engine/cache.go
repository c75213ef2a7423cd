package engine

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/forma3d/meshmetrics/pkg/plan"
)

// CacheConfig bounds the range-answer cache. A range query is one
// evaluation per grid time, each independent of the others, so an answer
// can be cut at any grid time and continued later: the cache keeps a
// query's answer for the evaluation times that were already old when they
// were computed (the immutable past), and a later request for the same
// expression and step, its start on the same step grid, runs one statement
// only for the times after that (Mimir's query-frontend caches the past
// the same way). A dashboard refresh, its range moved forward by a minute,
// then reads minutes of samples instead of hours.
//
// The bound on late rows: every answer reflects every row stored more than
// TTL before it (a cached evaluation is at most TTL old, and then the whole
// entry is computed again). Rows the collector's queue replays after an
// outage are late by the outage's length: an outage under Freshness never
// reaches the cache, a longer one shows in cached answers after at most TTL.
type CacheConfig struct {
	// TTL is how long a cached evaluation is served; 0: no cache.
	TTL time.Duration
	// Freshness: evaluation times newer than now − Freshness are never
	// cached (samples of the last minutes may still be on their way).
	Freshness time.Duration
	// Recent is how long evaluations newer than Freshness are served
	// after the computation that made them ended (0: never): the queries
	// of one dashboard load, which share leaves and arrive within a second
	// or two of each other, compute the recent minutes once.
	Recent time.Duration
	// MaxPoints bounds the grid times all entries' series hold (from
	// each series' first kept time to the entry's last); the least
	// recently used entries go first.
	MaxPoints int
	// Now is the clock (tests set it); nil: time.Now.
	Now func() time.Time
}

// DefaultCache is the cache a datasource runs with: 10 minutes for both
// bounds, 8 million grid times (about 75 MB: 9 bytes each, plus labels).
// The bundled dashboard's range answers and leaves over 200 services and
// 24 hours (1,441 grid times, about 3,200 series) take about 5 million.
var DefaultCache = CacheConfig{TTL: 10 * time.Minute, Freshness: 10 * time.Minute, Recent: 5 * time.Second, MaxPoints: 8_000_000}

// cacheKey is what makes two range queries' evaluations the same: the
// expression and the grid's step and phase (start modulo step).
type cacheKey struct {
	expr            string
	stepMs, phaseMs int64
	strategy        string
}

// cacheEntry is one query's answer at every grid time in [fromMs, toMs],
// and the recent ones after it up to recentTo.
type cacheEntry struct {
	key          cacheKey
	fromMs, toMs int64
	computed     time.Time // when its oldest evaluation was computed
	// recentTo: the evaluations in (toMs, recentTo], newer than Freshness
	// when computed (at recentAt, the oldest of them), served only while
	// younger than Recent.
	recentTo int64
	recentAt time.Time
	scalar   bool
	series   map[string]*keptSeries
	points   int // cells of all series' arrays
	elem     *list.Element
}

// keptSeries is a series' kept evaluations, on its entry's grid from
// fromMs: values[k] at fromMs + k × step where has[k]. Nine bytes a grid
// time, against 32 for a Point.
type keptSeries struct {
	labels Labels
	values []float64
	has    []bool
}

// expand is the entry's series as points, up to toMs.
func (e *cacheEntry) expand(toMs int64) map[string]*Series {
	out := make(map[string]*Series, len(e.series))
	cells := int((toMs-e.fromMs)/e.key.stepMs) + 1
	grid := plan.Grid{StartMs: e.fromMs, StepMs: e.key.stepMs, N: cells}
	for k, ks := range e.series {
		out[k] = &Series{Labels: ks.labels, Points: gridPoints(grid, ks.values, ks.has[:min(cells, len(ks.has))])}
	}
	return out
}

type resultCache struct {
	cfg     CacheConfig
	mu      sync.Mutex
	entries map[cacheKey]*cacheEntry
	lru     *list.List // front: most recently used
	points  int
	flights map[flight]*flightCall // the evaluations running now
}

// flight is one key's evaluations over one grid, running for a caller.
type flight struct {
	key  cacheKey
	grid plan.Grid
}

type flightCall struct {
	done chan struct{} // closed when res and err are set
	res  *Result
	err  error
}

func newResultCache(cfg CacheConfig) *resultCache {
	if cfg.TTL <= 0 {
		return nil
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &resultCache{cfg: cfg, entries: map[cacheKey]*cacheEntry{}, lru: list.New(), flights: map[flight]*flightCall{}}
}

// cachedRange answers a range query from the cache where it can and runs
// the rest with run, which evaluates expr over a grid; ahead is how far
// after an evaluation time the expression reads (a negative offset).
func (c *resultCache) cachedRange(ctx context.Context, key cacheKey, grid plan.Grid, ahead time.Duration, maxSeries int,
	run func(context.Context, plan.Grid) (*Result, error)) (*Result, error) {
	now := c.cfg.Now()
	e, servedTo := c.lookup(key, grid, now)
	if e != nil && servedTo >= grid.EndMs() {
		sql := fmt.Sprintf("-- every evaluation from the result cache (computed %s ago)", now.Sub(e.computed).Round(time.Second))
		return answer(&Result{Type: ValueMatrix, SQL: sql}, e.expand(servedTo), grid, e.scalar), nil
	}
	runGrid := grid
	if e != nil {
		first := servedTo + grid.StepMs
		runGrid = plan.Grid{StartMs: first, StepMs: grid.StepMs, N: int((grid.EndMs()-first)/grid.StepMs) + 1}
	}
	fresh, err := c.runOnce(ctx, key, runGrid, run)
	if err != nil {
		return nil, err
	}
	merged := map[string]*Series{}
	// The recent evaluations are served for Recent after this computation
	// ended, not began: the bundled p99 leaf over 200 services takes 9 s,
	// and the p95 and p50 queries that follow it would otherwise compute
	// its newest minutes again.
	fromMs, computed, recentAt := grid.StartMs, now, c.cfg.Now()
	if e != nil {
		fromMs, computed = e.fromMs, e.computed
		if servedTo > e.toMs {
			recentAt = e.recentAt
		}
		merged = e.expand(servedTo)
	}
	for _, s := range fresh.Series {
		k := s.Labels.String()
		if old, ok := merged[k]; ok {
			// expand made old's points for this request alone; fresh's
			// are shared with other callers (runOnce) and only read.
			old.Points = append(old.Points, s.Points...)
		} else {
			merged[k] = &Series{Labels: s.Labels, Points: s.Points}
		}
	}
	if len(merged) > maxSeries {
		return nil, maxSeriesError{maxSeries}
	}
	// What is old enough now is kept: up to the last grid time at or
	// before now − Freshness whose samples (up to ahead after it) are too.
	// The rest is kept as recent, when Recent allows.
	if keepTo := lastGridTime(grid, now.Add(-c.cfg.Freshness-ahead).UnixMilli()); keepTo >= fromMs || c.cfg.Recent > 0 {
		c.store(&cacheEntry{key: key, fromMs: fromMs, toMs: keepTo, computed: computed, recentTo: grid.EndMs(), recentAt: recentAt, scalar: fresh.scalar}, merged)
	}
	sql := fresh.SQL
	if e != nil {
		sql = fmt.Sprintf("-- evaluations before %s from the result cache (computed %s ago)\n%s",
			time.UnixMilli(runGrid.StartMs).UTC().Format(time.RFC3339), now.Sub(e.computed).Round(time.Second), fresh.SQL)
	}
	return answer(&Result{Type: ValueMatrix, SQL: sql, Stats: fresh.Stats}, merged, grid, fresh.scalar), nil
}

// runOnce runs key's evaluations over grid, or, when they are running
// already for another caller, waits for that answer: a panel's queries
// arrive together and run in parallel, and those sharing a leaf would
// otherwise each read it whole. The answer is shared: callers only read it.
func (c *resultCache) runOnce(ctx context.Context, key cacheKey, grid plan.Grid,
	run func(context.Context, plan.Grid) (*Result, error)) (*Result, error) {
	f := flight{key: key, grid: grid}
	c.mu.Lock()
	if call, ok := c.flights[f]; ok {
		c.mu.Unlock()
		select {
		case <-call.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if call.err != nil && ctx.Err() == nil && (errors.Is(call.err, context.Canceled) || errors.Is(call.err, context.DeadlineExceeded)) {
			// The other caller gave up; this one has not.
			return run(ctx, grid)
		}
		return call.res, call.err
	}
	// Should run panic, the callers waiting get this error, not nothing.
	call := &flightCall{done: make(chan struct{}), err: fmt.Errorf("the evaluation of %q this query waited for did not finish", key.expr)}
	c.flights[f] = call
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.flights, f)
		c.mu.Unlock()
		close(call.done)
	}()
	call.res, call.err = run(ctx, grid)
	return call.res, call.err
}

// answer fills res with the series' points on grid, as run would: sorted
// by labels, and a scalar's one series even when it has no points.
func answer(res *Result, series map[string]*Series, grid plan.Grid, scalar bool) *Result {
	res.Series = clip(series, grid.StartMs, grid.EndMs())
	res.scalar = scalar
	if scalar && len(res.Series) == 0 {
		res.Series = []Series{{Labels: Labels{}}}
	}
	return res
}

// lastGridTime is grid's last time at or before ms (below StartMs when
// there is none).
func lastGridTime(grid plan.Grid, ms int64) int64 {
	if ms >= grid.EndMs() {
		return grid.EndMs()
	}
	if ms < grid.StartMs {
		return grid.StartMs - grid.StepMs
	}
	return grid.StartMs + (ms-grid.StartMs)/grid.StepMs*grid.StepMs
}

// lookup returns the entry of key when it is younger than TTL and covers
// the grid's start (so it holds a prefix of the request), and the last
// grid time it serves now: toMs, or recentTo while the recent evaluations
// are younger than Recent.
func (c *resultCache) lookup(key cacheKey, grid plan.Grid, now time.Time) (*cacheEntry, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return nil, 0
	}
	if now.Sub(e.computed) >= c.cfg.TTL {
		c.remove(e)
		return nil, 0
	}
	servedTo := e.toMs
	if e.recentTo > e.toMs && now.Sub(e.recentAt) < c.cfg.Recent {
		servedTo = e.recentTo
	}
	if grid.StartMs < e.fromMs || grid.StartMs > servedTo {
		return nil, 0
	}
	c.lru.MoveToFront(e.elem)
	return e, servedTo
}

// covers says whether key's entry serves grid's start now: a query over
// grid reads at most the evaluations after what it serves.
func (c *resultCache) covers(key cacheKey, grid plan.Grid) bool {
	if c == nil {
		return false
	}
	e, _ := c.lookup(key, grid, c.cfg.Now())
	return e != nil
}

// store makes e, with the series' points in [e.fromMs, e.recentTo],
// key's entry. Entries are never changed once stored: readers use them
// unlocked.
func (c *resultCache) store(e *cacheEntry, series map[string]*Series) {
	e.series = map[string]*keptSeries{}
	cells := int((e.recentTo-e.fromMs)/e.key.stepMs) + 1
	for k, s := range series {
		pts := clipPoints(s.Points, e.fromMs, e.recentTo)
		if len(pts) == 0 {
			continue
		}
		ks := &keptSeries{labels: s.Labels, values: make([]float64, cells), has: make([]bool, cells)}
		for _, p := range pts {
			i := (p.T.UnixMilli() - e.fromMs) / e.key.stepMs
			ks.values[i], ks.has[i] = p.V, true
		}
		e.series[k] = ks
		e.points += cells
	}
	if e.points > c.cfg.MaxPoints {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.entries[e.key]; ok {
		if old.toMs > e.toMs && e.computed.Sub(old.computed) < c.cfg.TTL {
			// A request before the cached span was computed whole: the
			// older entry still reaches further, keep it.
			return
		}
		c.remove(old)
	}
	e.elem = c.lru.PushFront(e)
	c.entries[e.key] = e
	c.points += e.points
	for c.points > c.cfg.MaxPoints {
		c.remove(c.lru.Back().Value.(*cacheEntry))
	}
}

func (c *resultCache) remove(e *cacheEntry) {
	c.lru.Remove(e.elem)
	delete(c.entries, e.key)
	c.points -= e.points
}

// clip is the series' points in [fromMs, toMs], series without any left
// out, sorted by labels as run sorts them. The series are keyed by their
// labels' text, which orders them without rendering it at every
// comparison.
func clip(series map[string]*Series, fromMs, toMs int64) []Series {
	keys := make([]string, 0, len(series))
	for k, s := range series {
		if len(clipPoints(s.Points, fromMs, toMs)) > 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]Series, len(keys))
	for i, k := range keys {
		s := series[k]
		out[i] = Series{Labels: s.Labels, Points: clipPoints(s.Points, fromMs, toMs)}
	}
	return out
}

// clipPoints is the points (in time order) with fromMs <= T <= toMs.
func clipPoints(pts []Point, fromMs, toMs int64) []Point {
	lo := sort.Search(len(pts), func(i int) bool { return pts[i].T.UnixMilli() >= fromMs })
	hi := sort.Search(len(pts), func(i int) bool { return pts[i].T.UnixMilli() > toMs })
	return pts[lo:hi]
}
