package engine

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"slices"
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

// fill sets e's series: old's evaluations up to servedTo (old nil: none;
// it starts where e does), then fresh's points, on e's grid from fromMs to
// recentTo. Kept arrays are copied, not expanded into points: a refresh
// of the shared leaf over 200 services went through 2.6 million points.
func (e *cacheEntry) fill(old *cacheEntry, servedTo int64, fresh []Series) {
	step := e.key.stepMs
	cells := int((e.recentTo-e.fromMs)/step) + 1
	e.series = map[string]*keptSeries{}
	newSeries := func(labels Labels) *keptSeries {
		return &keptSeries{labels: labels, values: make([]float64, cells), has: make([]bool, cells)}
	}
	if old != nil {
		kept := min(int((servedTo-old.fromMs)/step)+1, cells)
		for k, os := range old.series {
			n := min(kept, len(os.has))
			if !slices.Contains(os.has[:n], true) {
				continue
			}
			ks := newSeries(os.labels)
			copy(ks.values, os.values[:n])
			copy(ks.has, os.has[:n])
			e.series[k] = ks
		}
	}
	for _, s := range fresh {
		k := s.Labels.String()
		for _, p := range s.Points {
			i := (p.T.UnixMilli() - e.fromMs) / step
			if i < 0 || i >= int64(cells) {
				continue
			}
			ks := e.series[k]
			if ks == nil {
				ks = newSeries(s.Labels)
				e.series[k] = ks
			}
			ks.values[i], ks.has[i] = p.V, true
		}
	}
	e.points = len(e.series) * cells
}

// on is e's series on grid (within what e holds), sorted by labels,
// read in place: never written.
func (e *cacheEntry) on(grid plan.Grid) []gridSeries {
	off := int((grid.StartMs - e.fromMs) / grid.StepMs)
	keys := make([]string, 0, len(e.series))
	for k := range e.series {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]gridSeries, 0, len(keys))
	for _, k := range keys {
		ks := e.series[k]
		out = append(out, gridSeries{labels: ks.labels, values: ks.values[off : off+grid.N], has: ks.has[off : off+grid.N]})
	}
	return out
}

// answer fills res with e's series on grid, as run would answer: points
// sorted by labels, and a scalar's one series even when it has no points;
// or, inPlace, the series as e holds them (Result.gridded).
func (e *cacheEntry) answer(res *Result, grid plan.Grid, inPlace bool) *Result {
	res.scalar = e.scalar
	res.settledAt = e.computed
	if grid.EndMs() > e.toMs {
		res.dataAt = e.recentAt
	}
	if inPlace {
		res.gridded = e.on(grid)
		return res
	}
	res.Series = seriesOfGrid(e.on(grid), grid)
	if e.scalar && len(res.Series) == 0 {
		res.Series = []Series{{Labels: Labels{}}}
	}
	return res
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
// inPlace: the answer is the entry's series as kept (Result.gridded), for
// a shared leaf's sums, which read them so (gridseries.go).
func (c *resultCache) cachedRange(ctx context.Context, key cacheKey, grid plan.Grid, ahead time.Duration, maxSeries int, inPlace bool,
	run func(context.Context, plan.Grid) (*Result, error)) (*Result, error) {
	now := c.cfg.Now()
	e, servedTo := c.lookup(key, grid, now)
	if e != nil && servedTo >= grid.EndMs() {
		sql := fmt.Sprintf("-- every evaluation from the result cache (computed %s ago)", now.Sub(e.computed).Round(time.Second))
		return e.answer(&Result{Type: ValueMatrix, SQL: sql}, grid, inPlace), nil
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
	}
	// Evaluations from rows read earlier (recent points shared by the
	// queries of a moment, a leaf's recent evaluations) are as old as
	// that read.
	recentAt = earlier(recentAt, fresh.dataAt)
	if e == nil {
		computed = earlier(computed, fresh.dataAt)
	}
	// So are evaluations from rows read before this computation: settled
	// points (settled.go), or a cached leaf's kept evaluations (an
	// entry's computed time, Result.settledAt, which answer sets).
	computed = earlier(computed, fresh.settledAt)
	// What is old enough now is kept: up to the last grid time at or
	// before now − Freshness whose samples (up to ahead after it) are too.
	// The rest is kept as recent, when Recent allows.
	keepTo := lastGridTime(grid, now.Add(-c.cfg.Freshness-ahead).UnixMilli())
	merged := &cacheEntry{key: key, fromMs: fromMs, toMs: keepTo, computed: computed, recentTo: grid.EndMs(), recentAt: recentAt, scalar: fresh.scalar}
	// fresh's series are shared with other callers (runOnce): only read.
	merged.fill(e, servedTo, fresh.Series)
	if len(merged.series) > maxSeries {
		return nil, maxSeriesError{maxSeries}
	}
	if keepTo >= fromMs || c.cfg.Recent > 0 {
		c.store(merged)
	}
	sql := fresh.SQL
	if e != nil {
		sql = fmt.Sprintf("-- evaluations before %s from the result cache (computed %s ago)\n%s",
			time.UnixMilli(runGrid.StartMs).UTC().Format(time.RFC3339), now.Sub(e.computed).Round(time.Second), fresh.SQL)
	}
	return merged.answer(&Result{Type: ValueMatrix, SQL: sql, Stats: fresh.Stats}, grid, inPlace), nil
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

// store makes e (filled) key's entry. Entries are never changed once
// stored: readers use them unlocked.
func (c *resultCache) store(e *cacheEntry) {
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
