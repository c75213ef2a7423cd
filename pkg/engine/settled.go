package engine

import (
	"sort"
	"time"
)

// Settled points: a refresh a minute on reads a source's recent points
// again, 20 minutes of them, though the older half was read a minute ago
// and was already older than the result cache's Freshness then: the
// immutable past, by the convention the cache keeps its evaluations by.
// So a read keeps its points (settledPoints, up to the cache's TTL after
// the oldest of them were read), and the next read of the source takes
// those at or before the kept read's settledMs from it and reads only the
// newer ones: 11 of the 20 minutes at a 1-minute refresh.
//
// The bound on late rows is the result cache's: a settled point is served
// for at most the TTL after it was read, so an answer reflects every row
// stored more than the TTL before it. What is computed from settled
// points ages from when they were read, not from when it was computed:
// Result.settledAt makes a result cache entry keeping such evaluations,
// or a window summaries store keeping such blocks, as old as the oldest
// settled point behind them.

// settledBase returns the kept read of key whose settled points a read
// of (loMs, hiMs] takes instead of reading them (nil when there is none,
// it does not reach back to loMs, or it settles nothing of the window),
// and what this read settles: the points at or before settledMs, read
// at readAt by the engine's clock.
func (e *Engine) settledBase(key string, loMs, hiMs int64) (base *recentPoints, settledMs int64, readAt time.Time) {
	if e.cache == nil {
		return nil, loMs, time.Time{}
	}
	readAt = e.now()
	settledMs = min(hiMs, readAt.Add(-e.cache.cfg.Freshness).UnixMilli())
	if p, ok := e.settledPoints.get(key); ok && p.loMs <= loMs && p.settledMs > loMs && p.settledMs < hiMs && p.settledMs <= settledMs {
		base = p
	}
	return base, settledMs, readAt
}

// settle dates p's settled points and keeps p for the source's next
// read: its points at or before settledMs, read at readAt, or earlier
// from base.
func (e *Engine) settle(key string, p *recentPoints, base *recentPoints, settledMs int64, readAt time.Time) {
	p.settledMs, p.settledAt = settledMs, readAt
	if base != nil {
		p.settledAt = base.settledAt
		p.sql = "-- the points at or before " + time.UnixMilli(base.settledMs).UTC().Format(time.RFC3339Nano) +
			" from an earlier read (settled points, docs/dialect.md); the newer ones read by:\n" + p.sql
	}
	if settledMs > p.loMs {
		e.settledPoints.put(key, p, p.settledAt, p.size())
	}
}

// recentFrom is when the recent points store starts serving p for
// CacheConfig.Recent: now, or earlier so that it serves p no longer than
// the TTL after its oldest settled points were read.
func (e *Engine) recentFrom(p *recentPoints) time.Time {
	at := e.now()
	if e.cache != nil && !p.settledAt.IsZero() {
		if limit := p.settledAt.Add(e.cache.cfg.TTL - e.cache.cfg.Recent); limit.Before(at) {
			at = limit
		}
	}
	return at
}

// before puts base's points in (loMs, base.settledMs] before each
// series' points in series, all of which are newer; series as it is
// when base is nil.
func (base *recentPoints) before(loMs int64, series map[uint64]seriesPoints) map[uint64]seriesPoints {
	if base == nil {
		return series
	}
	for sid, old := range base.series {
		from := sort.Search(len(old.ts), func(i int) bool { return old.ts[i] > loMs })
		to := sort.Search(len(old.ts), func(i int) bool { return old.ts[i] > base.settledMs })
		if from == to {
			continue
		}
		newer := series[sid]
		n := to - from + len(newer.ts)
		series[sid] = seriesPoints{
			ts:    append(append(make([]int64, 0, n), old.ts[from:to]...), newer.ts...),
			vs:    append(append(make([]float64, 0, n), old.vs[from:to]...), newer.vs...),
			stale: append(append(make([]bool, 0, n), old.stale[from:to]...), newer.stale...),
		}
	}
	return series
}
