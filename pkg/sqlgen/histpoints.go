package sqlgen

import (
	"fmt"
	"math"
	"strings"

	"github.com/forma3d/meshmetrics/pkg/plan"
)

// Histogram recent points: a dashboard's latency panels read one
// histogram through its buckets (by service and le, by le for one
// service, p99 beside _sum / _count), each in statements of 30–120 ms at a
// refresh. The plugin reads the histogram's rows in the window once
// instead, a row per stored series and time with every bucket's count in
// it, and expands them into the buckets', _sum's and _count's points
// itself (pkg/engine/histpoints.go), as the statements do in SQL.

// HistogramPoints is the read of a histogram's recent points.
type HistogramPoints struct {
	// Lookup lists every bucket series of the histogram on the window's
	// days (LookupSQL's columns, at most maxSeries rows), the whole list
	// kept under BucketsKey of those days; one kept under BucketsKey of
	// more days holds it too.
	Lookup string
	// Points gives a row per stored series and bucket layout: base UInt64
	// (the series' sid in the samples tables), bounds String (the
	// layout's upper bounds as Float64, +Inf last, little-endian, as
	// bucketBounds has them) and pts String, each row of the window as
	// HistogramRowBytes(len(bounds)/8) bytes: t Int64 (Unix ms), stale UInt8,
	// Sum Float64, Count UInt64, then each bucket's cumulative count as
	// UInt64, little-endian; in no particular order. With a Counted, a
	// counted column too (Counted).
	Points string
	// Buckets, Sum and Count are the parts' lists (PointsRead.List) and
	// PromQL names.
	Buckets, Sum, Count PartRead
	buckets             plan.Source
}

// BucketsKey is the key (LookupKeyOf, no matchers) of the list of every
// bucket of the histogram over the days lo to hi, as a bucket selector's
// whole list (wholeList) is kept.
func (h HistogramPoints) BucketsKey(lo, hi int64) string {
	return LookupKeyOf([]plan.Source{h.buckets}, nil, lo, hi)
}

// PartRead is one part of a histogram read: its list among the read's
// (PointsRead.List), and its PromQL name.
type PartRead struct{ List, Name string }

// HistogramRowBytes is the size of one row in HistogramPoints.Points
// with buckets buckets.
func HistogramRowBytes(buckets int) int { return 8 + 1 + 8 + 8 + 8*buckets }

// HistogramPointsSQL renders the read of f's histogram in (loMs, hiMs]
// (f one of its parts, PointsSource's Histogram), without f's matchers,
// counting the rows in counted's window too. Bytes, not arrays, as
// PointsSQL's; each array element goes through concat, since
// arrayStringConcat of a FixedString drops its trailing zero bytes.
func (f *FlatSum) HistogramPointsSQL(loMs, hiMs int64, maxSeries int, counted Counted) (HistogramPoints, error) {
	src := f.sel.Sources[0]
	if src.Table != plan.TableHistogram {
		return HistogramPoints{}, fmt.Errorf("internal error: histogram points of %s, not a histogram's part", src.Name)
	}
	read := func(s plan.Source) PartRead { return PartRead{List: fmt.Sprintf("%v", s), Name: s.Name} }
	buckets := src.AsPart(plan.PartBucket)
	b, all, err := f.wholeSamples([]plan.Source{buckets}, loMs, hiMs)
	if err != nil {
		return HistogramPoints{}, err
	}
	h := HistogramPoints{
		Lookup:  lookupOf(all.series, maxSeries),
		Buckets: read(buckets), Sum: read(src.AsPart(plan.PartSum)), Count: read(src.AsPart(plan.PartCount)),
		buckets: buckets,
	}
	column, count, err := f.countedParts(counted, "0, '', ''")
	if err != nil {
		return HistogramPoints{}, err
	}
	h.Points = fmt.Sprintf(`SELECT base, bounds, arrayStringConcat(groupArray(row)) AS pts%s
FROM (
  SELECT sid AS base, arrayStringConcat(arrayMap(x -> concat(reinterpretAsFixedString(toFloat64(x)), ''), %s)) AS bounds,
    concat(reinterpretAsFixedString(toInt64(%s)), reinterpretAsFixedString(toUInt8(bitAnd(Flags, 1))), reinterpretAsFixedString(toFloat64(Sum)), reinterpretAsFixedString(toUInt64(Count)),
      arrayStringConcat(arrayMap(c -> concat(reinterpretAsFixedString(toUInt64(c)), ''), arrayCumSum(BucketCounts)))) AS row
  %s
)
GROUP BY base, bounds%s
SETTINGS allow_experimental_analyzer = 0`, column, bucketBounds, b.timeMs(), strings.ReplaceAll(b.samplesFrom(RecentTablePrefix+string(plan.TableHistogram), src.Metric, loMs, hiMs), "\n", "\n  "), count)
	return h, nil
}

// BucketSid is the sid the statements give the bucket of bound bound of
// the histogram series of stored sid base, cityHash64(base, bound) as
// ClickHouse computes it (bucketSource): a Float64 argument is hashed as
// intHash64 of its bits. Checked against the server by the engine's
// tests, as PartSid.
func BucketSid(base uint64, bound float64) uint64 {
	return hash128to64(intHash64(base), intHash64(math.Float64bits(bound)))
}
