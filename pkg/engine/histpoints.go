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
	h, err := f.HistogramPointsSQL(loMs, hiMs, maxPointsBuckets+1, sqlgen.Counted{})
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
	var rows histogramRows
	upToMs, points, err := readAfterKept(base, loMs, func(fromMs int64, counted sqlgen.Counted) (string, uint64, error) {
		// The same lookup and lists; the points after those taken from
		// base.
		read, err := f.HistogramPointsSQL(fromMs, hiMs, maxPointsBuckets+1, counted)
		if err != nil {
			return "", 0, err
		}
		rows, ok, err = e.readHistogramRows(ctx, read, len(lists[0].sids)+len(lists[1].sids)+len(lists[2].sids))
		return read.Points, rows.stored, err
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
		rowSeries: rows.rowSeries, began: began, sql: h.Lookup + "\n\n-- and\n" + points}, nil
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
	stored     uint64          // the rows the read counted (sqlgen.Counted)
}

// unlistedLeftOut says whether the series that no list holds (stored
// after the lookup) may be left out of the answers, which take the lists'
// series: not when one of them could be in no list for want of a bucket
// (its stored series has a row without buckets). They stay in the read,
// whose next read may take their settled points (settled.go).
func (r histogramRows) unlistedLeftOut(lists []*seriesList) bool {
	for sid := range r.series {
		if r.bucketless[r.baseOf[sid]] && !anyLists(lists, sid) {
			return false
		}
	}
	return true
}

// readHistogramRows runs a histogram's points statement and expands each
// row into its buckets', _sum's and _count's points, of about series
// series (the lists'); ok is false when they are more than
// maxKeptPoints.
func (e *Engine) readHistogramRows(ctx context.Context, h sqlgen.HistogramPoints, series int) (out histogramRows, ok bool, err error) {
	stmtCtx, release := e.statementContext(ctx, nil)
	defer release()
	rows, err := e.conn.Query(stmtCtx, h.Points)
	if err != nil {
		return out, false, e.timeoutError(queryError(err))
	}
	defer rows.Close()
	// Sized up front from the lists: thousands of series, whose maps
	// would otherwise be rehashed as they grow.
	building := make(map[uint64]*seriesPoints, series)
	out.baseOf, out.bucketless, out.rowSeries = make(map[uint64]uint64, series), map[uint64]bool{}, map[uint64]bool{}
	var (
		base        uint64
		bounds, pts string
	)
	total := 0
	for rows.Next() {
		var counted uint64
		if err := scanCounted(rows, &counted, &base, &bounds, &pts); err != nil {
			return out, false, fmt.Errorf("read the recent points of a histogram: %w", err)
		}
		if out.stored += counted; pts == "" {
			continue // the count's row
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
		// The row's parts share its times and stale flags, and so do
		// their merged points (recentPoints.before); values: _sum,
		// _count, then each bucket.
		ts, stale, values := make([]int64, n), make([]bool, n), make([]float64, n*(nb+2))
		for i := range n {
			r := pts[i*size:]
			ts[i], stale[i] = int64(leUint64(r)), r[8] != 0
			if nb == 0 && !stale[i] {
				out.bucketless[base] = true
			}
			values[i] = math.Float64frombits(leUint64(r[9:]))
			values[n+i] = float64(leUint64(r[17:]))
			for k := range nb {
				values[(k+2)*n+i] = float64(leUint64(r[25+8*k:]))
			}
		}
		sumSid := sqlgen.PartSid(h.Sum.Name, base)
		out.rowSeries[sumSid] = true
		for k := range nb + 2 {
			sid := sumSid
			switch {
			case k == 1:
				sid = sqlgen.PartSid(h.Count.Name, base)
			case k > 1:
				sid = sqlgen.BucketSid(base, math.Float64frombits(leUint64(bounds[8*(k-2):])))
			}
			vs := values[k*n : (k+1)*n : (k+1)*n]
			p := building[sid]
			if p == nil {
				building[sid] = &seriesPoints{ts: ts, vs: vs, stale: stale}
				out.baseOf[sid] = base
				continue
			}
			// A part of rows of another bucket layout too: arrays of its
			// own (capped, appending copies).
			p.ts, p.vs, p.stale = append(slices.Clip(p.ts), ts...), append(slices.Clip(p.vs), vs...), append(slices.Clip(p.stale), stale...)
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
