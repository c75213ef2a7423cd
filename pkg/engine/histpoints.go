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
// (asPart). A series with points that none of the lists holds makes a kept
// list be read again; one a fresh list lacks was stored after the lookup
// and is left out, as flat sums do, unless its stored series has a row
// without buckets that is not a stale marker: its _sum and _count could
// be in no list for want of a bucket, so the read is refused for a while
// and the sums run their statements.

// maxPointsBuckets is the most bucket series a histogram may have for
// its points to be read, or its buckets listed, whole: 200 services'
// request durations (12,060 buckets of 2,412 stored series, about
// 190,000 rows in 20 minutes) are.
const maxPointsBuckets = 4 * maxPointsSeries

// wholeRefusal is the key under which pointsRefused keeps a refused whole
// list of key (wholeList).
func wholeRefusal(key string) string { return "whole list " + key }

// readHistogramPoints reads f's histogram's recent points in (loMs,
// hiMs], as readPoints does a sum's or gauge's, base's settled points
// instead of reading them when base is not nil; key is the read's
// (sqlgen.PointsRead.Key).
func (e *Engine) readHistogramPoints(ctx context.Context, f *sqlgen.FlatSum, key string, loMs, hiMs int64, base *recentPoints) (*recentPoints, error) {
	began := time.Now()
	h, err := f.HistogramPointsSQL(loMs, hiMs, maxPointsBuckets+1)
	if err != nil {
		return nil, err
	}
	refuse := func() (*recentPoints, error) {
		e.pointsRefused.putNow(key, struct{}{}, 1)
		return nil, nil
	}
	key0 := h.BucketsKey(floorDiv(loMs, dayMs), floorDiv(hiMs, dayMs))
	if _, refused := e.pointsRefused.get(wholeRefusal(key0)); refused {
		// The whole bucket list over these days was refused (too many
		// buckets, or two of one label set): this read's lookup, the
		// same, would be.
		return refuse()
	}
	kept, _ := e.keptOverDays(loMs, hiMs, h.BucketsKey, func(l *seriesList) bool { return len(l.sids) <= maxPointsBuckets })
	lists, ok, err := e.histogramLists(ctx, h, key0, kept)
	if err != nil || !ok {
		if err != nil {
			return nil, err
		}
		return refuse()
	}
	var (
		points string
		rows   histogramRows
	)
	upToMs, counted, err := e.readAfterKept(ctx, f, base, loMs, func(fromMs int64) error {
		// The same lookup and lists; the points after those taken from
		// base.
		read, err := f.HistogramPointsSQL(fromMs, hiMs, maxPointsBuckets+1)
		if err != nil {
			return err
		}
		points = read.Points
		rows, ok, err = e.readHistogramRows(ctx, read)
		return err
	})
	if err != nil || !ok {
		if err != nil {
			return nil, err
		}
		return refuse()
	}
	rows.series = base.before(loMs, upToMs, rows.series)
	if base != nil {
		for sid := range base.rowSeries {
			rows.rowSeries[sid] = true
		}
	}
	if kept != nil && !listsAll(rows.series, lists...) {
		if lists, ok, err = e.histogramLists(ctx, h, key0, nil); err != nil || !ok {
			if err != nil {
				return nil, err
			}
			return refuse()
		}
	}
	if !rows.unlistedLeftOut(lists) {
		return refuse()
	}
	return &recentPoints{loMs: loMs, hiMs: hiMs, series: rows.series,
		parts:     map[string]*seriesList{h.Buckets.List: lists[0], h.Sum.List: lists[1], h.Count.List: lists[2]},
		rowSeries: rows.rowSeries, began: began, sql: h.Lookup + "\n\n-- and\n" + counted + points}, nil
}

// histogramLists are the lists of h's read: the buckets' (kept, or listed
// and kept under key when kept is nil), then _sum's and _count's, derived
// from it; ok is false when the histogram is not to be read whole.
func (e *Engine) histogramLists(ctx context.Context, h sqlgen.HistogramPoints, key string, kept *seriesList) (lists []*seriesList, ok bool, err error) {
	buckets := kept
	if buckets == nil {
		if buckets, ok, err = e.listUpTo(ctx, h.Lookup, maxPointsBuckets); err != nil || !ok {
			return nil, false, err
		}
		e.seriesLists.put(key, buckets, buckets.at, len(buckets.sids))
	}
	sums, ok := buckets.asPart(h.Sum.Name, true)
	if !ok {
		return nil, false, nil
	}
	counts, ok := buckets.asPart(h.Count.Name, true)
	if !ok {
		return nil, false, nil
	}
	return []*seriesList{buckets, sums, counts}, true, nil
}

// histogramRows are a histogram read's points by sid, with what
// unlistedLeftOut needs: each sid's stored series, and the stored series
// with a row without buckets that is not a stale marker.
type histogramRows struct {
	series     map[uint64]seriesPoints
	baseOf     map[uint64]uint64
	bucketless map[uint64]bool
	rowSeries  map[uint64]bool // the _sum parts: a point per row
}

// unlistedLeftOut says whether the series that no list holds (stored
// after the lookup) may be left out of the answers, which take the lists'
// series: not when one of them could be in no list for want of a bucket
// (its stored series has a row without buckets). They stay in the read,
// whose next read may take their settled points (settled.go).
func (r histogramRows) unlistedLeftOut(lists []*seriesList) bool {
	listed := listedSids(lists)
	for sid := range r.series {
		if !listed[sid] && r.bucketless[r.baseOf[sid]] {
			return false
		}
	}
	return true
}

// readHistogramRows runs a histogram's points statement and expands each
// row into its buckets', _sum's and _count's points; ok is false when
// they are more than maxKeptPoints.
func (e *Engine) readHistogramRows(ctx context.Context, h sqlgen.HistogramPoints) (out histogramRows, ok bool, err error) {
	stmtCtx, release := e.statementContext(ctx, nil)
	defer release()
	rows, err := e.conn.Query(stmtCtx, h.Points)
	if err != nil {
		return out, false, e.timeoutError(queryError(err))
	}
	defer rows.Close()
	building := map[uint64]*seriesPoints{}
	out.baseOf, out.bucketless, out.rowSeries = map[uint64]uint64{}, map[uint64]bool{}, map[uint64]bool{}
	var (
		base        uint64
		bounds, pts string
	)
	// of is the series sid's points, made room for n more.
	of := func(sid uint64, n int) *seriesPoints {
		p := building[sid]
		if p == nil {
			p = &seriesPoints{}
			building[sid] = p
			out.baseOf[sid] = base
		}
		p.ts, p.vs, p.stale = slices.Grow(p.ts, n), slices.Grow(p.vs, n), slices.Grow(p.stale, n)
		return p
	}
	total := 0
	for rows.Next() {
		if err := rows.Scan(&base, &bounds, &pts); err != nil {
			return out, false, fmt.Errorf("read the recent points of a histogram: %w", err)
		}
		if len(bounds)%8 != 0 {
			return out, false, fmt.Errorf("read the recent points of a histogram: series %d has %d bytes of bounds, not a multiple of 8", base, len(bounds))
		}
		nb := len(bounds) / 8
		size := sqlgen.HistogramRowBytes(nb)
		if len(pts)%size != 0 {
			return out, false, fmt.Errorf("read the recent points of a histogram: series %d has %d bytes of points, not a multiple of %d (%d buckets)", base, len(pts), size, nb)
		}
		n := len(pts) / size
		if total += n * (nb + 2); total > maxKeptPoints {
			return out, false, nil
		}
		sumSid := sqlgen.PartSid(h.Sum.Name, base)
		out.rowSeries[sumSid] = true
		sum, count := of(sumSid, n), of(sqlgen.PartSid(h.Count.Name, base), n)
		buckets := make([]*seriesPoints, nb)
		for k := range buckets {
			buckets[k] = of(sqlgen.BucketSid(base, math.Float64frombits(leUint64(bounds[8*k:]))), n)
		}
		for i := range n {
			r := pts[i*size:]
			t, stale := int64(leUint64(r)), r[8] != 0
			if nb == 0 && !stale {
				out.bucketless[base] = true
			}
			sum.add(t, math.Float64frombits(leUint64(r[9:])), stale)
			count.add(t, float64(leUint64(r[17:])), stale)
			for k, p := range buckets {
				p.add(t, float64(leUint64(r[25+8*k:])), stale)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return out, false, e.timeoutError(queryError(err))
	}
	out.series = make(map[uint64]seriesPoints, len(building))
	for sid, p := range building {
		out.series[sid] = p.inOrder()
	}
	return out, true, nil
}

// add appends a point.
func (p *seriesPoints) add(t int64, v float64, stale bool) {
	p.ts, p.vs, p.stale = append(p.ts, t), append(p.vs, v), append(p.stale, stale)
}
