package engine

import (
	"context"
	"fmt"
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
// make the counts differ every time), while it reads the newer points;
// as many as the kept read holds points of there, it takes those from
// it. The tables only grow, but by their TTL (days, not minutes), so
// equal counts mean the same rows: what it takes is what a read would
// give, late rows included, not bounded by the TTL as settled points
// are. The counts differing, it reads again from settledMs.

// verifyLag is how long before a read's clock its points are counted
// again by the next read rather than read again: rows reach the tables
// seconds after their scrape (the collector's batches), and one stored
// after the read, in the range counted, makes the next read's counts
// differ.
const verifyLag = time.Minute

// keptUpTo returns up to when a read of a source takes base's points:
// its settled points, and those up to its verifyMs when the rows stored
// there now are as many as base holds points of; counted is the count
// statement, for Result.SQL.
func (e *Engine) keptUpTo(ctx context.Context, f *sqlgen.FlatSum, base *recentPoints) (upToMs int64, counted string, err error) {
	sql, err := f.RowsSQL(base.settledMs, base.verifyMs)
	if err != nil {
		return 0, "", err
	}
	stmtCtx, release := e.statementContext(ctx, nil)
	defer release()
	rows, err := e.conn.Query(stmtCtx, sql)
	if err != nil {
		return 0, "", e.timeoutError(queryError(err))
	}
	defer rows.Close()
	var stored uint64
	for rows.Next() {
		if err := rows.Scan(&stored); err != nil {
			return 0, "", fmt.Errorf("count the rows of recent points: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return 0, "", e.timeoutError(queryError(err))
	}
	if stored != uint64(base.rowsIn(base.settledMs, base.verifyMs)) {
		return base.settledMs, "-- rows stored since an earlier read, counted by:\n" + sql + "\n\n-- and\n", nil
	}
	return base.verifyMs, "-- the points up to " + time.UnixMilli(base.verifyMs).UTC().Format(time.RFC3339Nano) +
		" from an earlier read too, as many as the rows stored there, counted by (verified points, docs/dialect.md):\n" + sql + "\n\n-- and\n", nil
}

// readAfterKept calls read with the time after which a read of (loMs,
// …] reads points itself, base's points serving up to it (loMs without
// base): base's verifyMs while the count runs beside it (keptUpTo), and
// again from its settled time when the counts differ. upToMs is the time
// base's points serve up to; counted says so for Result.SQL.
func (e *Engine) readAfterKept(ctx context.Context, f *sqlgen.FlatSum, base *recentPoints, loMs int64, read func(fromMs int64) error) (upToMs int64, counted string, err error) {
	if base == nil {
		return loMs, "", read(loMs)
	}
	if base.verifyMs <= base.settledMs {
		return base.settledMs, "", read(base.settledMs)
	}
	type answer struct {
		upToMs  int64
		counted string
		err     error
	}
	done := make(chan answer, 1) // the count never waits for the read
	go func() {
		var a answer
		a.upToMs, a.counted, a.err = e.keptUpTo(ctx, f, base)
		done <- a
	}()
	readErr := read(base.verifyMs)
	a := <-done
	switch {
	case a.err != nil:
		return 0, "", a.err
	case readErr != nil:
		return 0, "", readErr
	case a.upToMs != base.verifyMs:
		return a.upToMs, a.counted, read(a.upToMs)
	}
	return a.upToMs, a.counted, nil
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
func (base *recentPoints) before(loMs, upToMs int64, series map[uint64]seriesPoints) map[uint64]seriesPoints {
	if base == nil {
		return series
	}
	for sid, old := range base.series {
		from := sort.Search(len(old.ts), func(i int) bool { return old.ts[i] > loMs })
		to := sort.Search(len(old.ts), func(i int) bool { return old.ts[i] > upToMs })
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
