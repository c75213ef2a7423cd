package engine

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/forma3d/meshmetrics/pkg/sqlgen"
)

// Histogram recent points (sqlgen/histpoints.go): one read of a
// histogram's rows in the window serves the recent sums over its buckets,
// its _sum and its _count. Each row becomes a point of each bucket (its
// cumulative count), of _sum and of _count, under the sids the statements
// give them (sqlgen.BucketSid, sqlgen.PartSid); the buckets' list is every
// bucket series of the histogram, the parts' lists are derived from it
// (asPart). A series with points that none of the lists has makes a kept
// list be read again; a fresh one that lacks it (stored after the lookup,
// or with no bucket on those days) refuses the read for a while, and the
// sums run their statements.

// maxPointsBuckets is the most bucket series a histogram may have for
// its points to be read, or its buckets listed, whole: 200 services'
// request durations (12,060 buckets of 2,412 stored series, about
// 190,000 rows in 20 minutes) are.
const maxPointsBuckets = 4 * maxPointsSeries

// readHistogramPoints reads f's histogram's recent points in (loMs,
// hiMs], as readPoints does a sum's or gauge's.
func (e *Engine) readHistogramPoints(ctx context.Context, f *sqlgen.FlatSum, source string, loMs, hiMs int64) (*recentPoints, error) {
	began := time.Now()
	h, err := f.HistogramPointsSQL(loMs, hiMs, maxPointsBuckets+1)
	if err != nil {
		return nil, err
	}
	if _, refused := e.pointsRefused.get("whole list " + h.BucketsKeys[0]); refused {
		return nil, nil // its lookup is the whole list's (wholeList)
	}
	var kept *seriesList
	cached := false
	for _, key := range h.BucketsKeys {
		if kept, cached = e.seriesLists.get(key); cached {
			break
		}
	}
	parts, ok, err := e.histogramLists(ctx, h, kept)
	if err == nil && ok {
		var series map[uint64]seriesPoints
		if series, ok, err = e.readHistogramRows(ctx, h); err == nil && ok && !partsListAll(parts, series) {
			ok = false
			if cached {
				if parts, ok, err = e.histogramLists(ctx, h, nil); err == nil && ok {
					ok = partsListAll(parts, series)
				}
			}
		}
		if err == nil && ok {
			return &recentPoints{loMs: loMs, hiMs: hiMs, series: series, parts: parts, began: began, sql: h.Lookup + "\n\n-- and\n" + h.Points}, nil
		}
	}
	if err != nil {
		return nil, err
	}
	e.pointsRefused.putNow(source, struct{}{}, 1)
	return nil, nil
}

// histogramLists are the lists of h's read, by part: the buckets' (kept,
// or listed and kept when kept is nil) and the parts' derived from it; ok
// is false when the histogram is not to be read whole.
func (e *Engine) histogramLists(ctx context.Context, h sqlgen.HistogramPoints, kept *seriesList) (parts map[string]*seriesList, ok bool, err error) {
	buckets := kept
	if buckets == nil {
		buckets, err = e.listSeries(ctx, h.Lookup)
		switch {
		case err != nil && err.Error() == sqlgen.DuplicateSeries:
			return nil, false, nil
		case err != nil:
			return nil, false, err
		case len(buckets.sids) > maxPointsBuckets:
			return nil, false, nil
		}
		e.seriesLists.put(h.BucketsKeys[0], buckets, buckets.at, len(buckets.sids))
	}
	sums, ok := buckets.asPart(h.Sum.Name, true)
	if !ok {
		return nil, false, nil
	}
	counts, ok := buckets.asPart(h.Count.Name, true)
	if !ok {
		return nil, false, nil
	}
	return map[string]*seriesList{h.Buckets.Part: buckets, h.Sum.Part: sums, h.Count.Part: counts}, true, nil
}

// partsListAll says whether the lists hold every series of series.
func partsListAll(parts map[string]*seriesList, series map[uint64]seriesPoints) bool {
	listed := map[uint64]bool{}
	for _, l := range parts {
		for _, sid := range l.sids {
			listed[sid] = true
		}
	}
	for sid := range series {
		if !listed[sid] {
			return false
		}
	}
	return true
}

// readHistogramRows runs a histogram's points statement and expands each
// row into its buckets', _sum's and _count's points; ok is false when
// they are more than maxKeptPoints.
func (e *Engine) readHistogramRows(ctx context.Context, h sqlgen.HistogramPoints) (series map[uint64]seriesPoints, ok bool, err error) {
	stmtCtx, release := e.statementContext(ctx, nil)
	defer release()
	rows, err := e.conn.Query(stmtCtx, h.Points)
	if err != nil {
		return nil, false, e.timeoutError(queryError(err))
	}
	defer rows.Close()
	building := map[uint64]*seriesPoints{}
	// of is the series sid's points, made room for n more.
	of := func(sid uint64, n int) *seriesPoints {
		p := building[sid]
		if p == nil {
			p = &seriesPoints{}
			building[sid] = p
		}
		p.ts, p.vs, p.stale = slices.Grow(p.ts, n), slices.Grow(p.vs, n), slices.Grow(p.stale, n)
		return p
	}
	var (
		base        uint64
		bounds, pts string
	)
	total := 0
	for rows.Next() {
		if err := rows.Scan(&base, &bounds, &pts); err != nil {
			return nil, false, fmt.Errorf("read the recent points of a histogram: %w", err)
		}
		nb := len(bounds) / 8
		size := sqlgen.HistogramRowBytes(nb)
		if len(bounds)%8 != 0 || len(pts)%size != 0 {
			return nil, false, fmt.Errorf("read the recent points of a histogram: series %d has %d bytes of bounds and %d of points, not %d-byte rows", base, len(bounds), len(pts), size)
		}
		n := len(pts) / size
		if total += n * (nb + 2); total > maxKeptPoints {
			return nil, false, nil
		}
		sum, count := of(sqlgen.PartSid(h.Sum.Name, base), n), of(sqlgen.PartSid(h.Count.Name, base), n)
		buckets := make([]*seriesPoints, nb)
		for k := range buckets {
			buckets[k] = of(sqlgen.BucketSid(base, math.Float64frombits(leUint64(bounds[8*k:]))), n)
		}
		for i := range n {
			r := pts[i*size:]
			t, stale := int64(leUint64(r)), r[8] != 0
			sum.add(t, math.Float64frombits(leUint64(r[9:])), stale)
			count.add(t, float64(leUint64(r[17:])), stale)
			for k, p := range buckets {
				p.add(t, float64(leUint64(r[25+8*k:])), stale)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, e.timeoutError(queryError(err))
	}
	series = make(map[uint64]seriesPoints, len(building))
	for sid, p := range building {
		series[sid] = p.inOrder()
	}
	return series, true, nil
}

// add appends a point.
func (p *seriesPoints) add(t int64, v float64, stale bool) {
	p.ts, p.vs, p.stale = append(p.ts, t), append(p.vs, v), append(p.stale, stale)
}
