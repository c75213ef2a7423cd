package engine

import (
	"sort"
	"time"

	"github.com/forma3d/meshmetrics/pkg/sqlgen"
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

// Verified points: the newer half, (settledMs, hiMs], was read again all
// the same, 11 minutes of a histogram's rows at 20 services (16,600 rows,
// 1.1 MB, 50–110 ms), though late rows are rare. So a read counts the
// rows stored in (settledMs, verifyMs] of the kept read, which ends
// verifyLag before that read's clock (rows still arriving then would
// make the counts differ every time), in the statement that reads the
// newer points; as many as the kept read holds points of there, it
// takes those from it. The tables only grow, but by their TTL (days, not
// minutes), so equal counts mean the same rows: what it takes is what a
// read would give, late rows included, not bounded by the TTL as
// settled points are. The counts differing, it reads again from
// settledMs.

// verifyLag is how long before a read's clock its points are counted
// again by the next read rather than read again: rows reach the tables
// seconds after their scrape (the collector's batches), and one stored
// after the read, in the range counted, makes the next read's counts
// differ.
const verifyLag = time.Minute

// readAfterKept reads a source's points after loMs with read, from when
// base's points serve up to (loMs without base): base's verifyMs when the
// rows stored in (base's settledMs, verifyMs], counted by the same
// statement (sqlgen.Counted), are as many as base holds points of there,
// else its settled time, read again. upToMs is the time base's points
// serve up to; sql is what read, for Result.SQL.
func readAfterKept(base *recentPoints, loMs int64, read func(fromMs int64, counted sqlgen.Counted) (sql string, stored uint64, err error)) (upToMs int64, sql string, err error) {
	if base == nil {
		sql, _, err = read(loMs, sqlgen.Counted{})
		return loMs, sql, err
	}
	if base.verifyMs <= base.settledMs {
		sql, _, err = read(base.settledMs, sqlgen.Counted{})
		return base.settledMs, sql, err
	}
	counted := sqlgen.Counted{LoMs: base.settledMs, HiMs: base.verifyMs}
	sql, stored, err := read(base.verifyMs, counted)
	if err != nil {
		return 0, "", err
	}
	if stored == uint64(base.rowsIn(counted.LoMs, counted.HiMs)) {
		return base.verifyMs, "-- the points up to " + time.UnixMilli(base.verifyMs).UTC().Format(time.RFC3339Nano) +
			" from an earlier read too, as many as the rows stored there, counted by the read of the newer ones (verified points, docs/dialect.md):\n" + sql, nil
	}
	again, _, err := read(base.settledMs, sqlgen.Counted{})
	return base.settledMs, "-- rows stored since an earlier read, counted by:\n" + sql + "\n\n-- so read again by:\n" + again, err
}

// rowsIn is how many rows of its statements p holds points of in
// (loMs, hiMs]: a point each, or of each row's _sum (rowSeries).
func (p *recentPoints) rowsIn(loMs, hiMs int64) int {
	n := 0
	for sid, s := range p.series {
		if p.rowSeries != nil && !p.rowSeries[sid] {
			continue
		}
		n += sort.Search(len(s.ts), func(i int) bool { return s.ts[i] > hiMs }) -
			sort.Search(len(s.ts), func(i int) bool { return s.ts[i] > loMs })
	}
	return n
}

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
	p.verifyMs = min(p.hiMs, readAt.Add(-verifyLag).UnixMilli())
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

// before puts base's points in (loMs, upToMs] before each series' points
// in series, all of which are newer; series as it is when base is nil.
// The merged points share three arrays, each series' capped at its
// length, and series that shared their times and stale flags (a
// histogram's parts, readHistogramRows) share them merged too: a
// refresh's merged histogram points (2,646 series at 20 services) were 4
// MB of fresh memory, and 13 ms.
func (base *recentPoints) before(loMs, upToMs int64, series map[uint64]seriesPoints) map[uint64]seriesPoints {
	if base == nil {
		return series
	}
	type merge struct {
		sid      uint64
		from, to int
		times    timesKey
	}
	merges := make([]merge, 0, len(base.series))
	values, times := 0, 0
	spans := map[timesKey][2]int{} // each merged times' place in ts and stale
	for sid, old := range base.series {
		from := sort.Search(len(old.ts), func(i int) bool { return old.ts[i] > loMs })
		to := sort.Search(len(old.ts), func(i int) bool { return old.ts[i] > upToMs })
		if from == to {
			continue
		}
		newer := series[sid]
		k := timesKeyOf(old, from, to, newer)
		merges = append(merges, merge{sid, from, to, k})
		n := to - from + len(newer.ts)
		values += n
		if _, ok := spans[k]; !ok {
			spans[k] = [2]int{-1, -1}
			times += n
		}
	}
	ts, stale, vs := make([]int64, 0, times), make([]bool, 0, times), make([]float64, 0, values)
	for _, m := range merges {
		old, newer := base.series[m.sid], series[m.sid]
		at := len(vs)
		vs = append(append(vs, old.vs[m.from:m.to]...), newer.vs...)
		span := spans[m.times]
		if span[0] < 0 {
			span[0] = len(ts)
			ts = append(append(ts, old.ts[m.from:m.to]...), newer.ts...)
			stale = append(append(stale, old.stale[m.from:m.to]...), newer.stale...)
			span[1] = len(ts)
			spans[m.times] = span
		}
		series[m.sid] = seriesPoints{ts: ts[span[0]:span[1]:span[1]], vs: vs[at:len(vs):len(vs)], stale: stale[span[0]:span[1]:span[1]]}
	}
	return series
}

// timesKey names the times and stale flags of a merge by the memory
// they are in, so that equal keys are equal points: old's from its
// first, n of them, then newer's.
type timesKey struct {
	oldTs, newTs       *int64
	oldStale, newStale *bool
	oldLen, newLen     int
}

// timesKeyOf is the timesKey of old's points from to to before newer's.
func timesKeyOf(old seriesPoints, from, to int, newer seriesPoints) timesKey {
	k := timesKey{oldTs: &old.ts[from], oldStale: &old.stale[from], oldLen: to - from, newLen: len(newer.ts)}
	if len(newer.ts) > 0 {
		k.newTs, k.newStale = &newer.ts[0], &newer.stale[0]
	}
	return k
}
