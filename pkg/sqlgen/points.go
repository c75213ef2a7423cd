package sqlgen

import (
	"fmt"
	"time"

	"github.com/forma3d/meshmetrics/pkg/plan"
)

// Recent points: a flat sum over a short window near now (a dashboard's
// instant panels over [5m], a refresh's newest minutes) reads a few
// thousand rows, yet each statement costs 10–60 ms to plan and run, and a
// dashboard's panels read the same metric through different matchers in a
// statement each. So the plugin may instead read every point of the sum's
// source in the last RecentMaxSpan once (PointsSQL, from the recent
// tables), and evaluate each panel's selector and function over them
// itself (pkg/engine/points.go).

// PointsShape is what the plugin evaluates per series of a flat sum from
// its source's points: Func ("rate" or "increase", or "" for an instant
// selector) over Width (the range, or the lookback), Offset before each
// grid time; the sum reads points in (LoMs, HiMs].
type PointsShape struct {
	Func          string
	Width, Offset time.Duration
	LoMs, HiMs    int64
	PointsRead
}

// PointsRead names a read of recent points: Key, what the read is kept
// and shared under (a sum's or gauge's source, or a histogram, whose one
// read gives its buckets, _sum and _count: HistogramPointsSQL), and List,
// the read's series list the sum selects from (its source's).
type PointsRead struct {
	Key, List string
	Histogram bool
}

// Points says whether the plugin can evaluate f from its source's recent
// points: one source, rate or increase of it or the selector itself, and
// a window the recent tables serve (Schema.RecentFromMs, RecentMaxSpan).
func (f *FlatSum) Points() (PointsShape, bool) {
	sh := PointsShape{Offset: f.sel.Offset, Width: f.width}
	switch in := f.agg.Input.(type) {
	case *plan.RangeFunction:
		if in.Func != "rate" && in.Func != "increase" {
			return PointsShape{}, false
		}
		sh.Func = in.Func
	case *plan.InstantSelector:
	default:
		return PointsShape{}, false
	}
	sh.LoMs = f.grid.StartMs - (f.sel.Offset + f.width).Milliseconds()
	sh.HiMs = f.grid.EndMs() - f.sel.Offset.Milliseconds()
	var ok bool
	sh.PointsRead, ok = f.PointsSource(sh.LoMs, sh.HiMs)
	return sh, ok
}

// PointsSource names the read of f's one source when the plugin may read
// its points in (loMs, hiMs] whole: the recent tables in use and serving
// that window. A histogram's parts share one read of its rows
// (HistogramPointsSQL): read a series per bucket, as the statements do,
// the 20-service buckets (1,890 series, 150,000 points in 20 minutes)
// took 105–135 ms, more than the statements of the panels sharing the
// read; a row per stored series and time, the buckets expanded in the
// plugin, take 70–100 ms (docs/dialect.md, "Recent points").
func (f *FlatSum) PointsSource(loMs, hiMs int64) (PointsRead, bool) {
	if len(f.sel.Sources) != 1 || !f.schema.SeriesTables || f.schema.RecentFromMs <= 0 {
		return PointsRead{}, false
	}
	if loMs < f.schema.RecentFromMs || hiMs-loMs > RecentMaxSpan.Milliseconds() {
		return PointsRead{}, false
	}
	src := f.sel.Sources[0]
	if src.Table == plan.TableHistogram {
		if !src.NamedPart() {
			return PointsRead{}, false // not a part HistogramPointsSQL reads
		}
		return PointsRead{Key: "histogram " + quote(src.Metric), List: fmt.Sprintf("%v", src), Histogram: true}, true
	}
	return PointsRead{Key: fmt.Sprintf("%v", src), List: fmt.Sprintf("%v", src)}, true
}

// PointBytes is the size of a point in PointsSQL's pts.
const PointBytes = 17

// PointsWindow is the window the plugin reads for a sum reading up to
// hiMs: the RecentMaxSpan before it, within the recent tables' reach.
func (f *FlatSum) PointsWindow(hiMs int64) (loMs int64) {
	return max(hiMs-RecentMaxSpan.Milliseconds(), f.schema.RecentFromMs)
}

// PointsLookupKey is the key (LookupKey's) of the lookup of every series
// of f's source on the days of (loMs, hiMs].
func (f *FlatSum) PointsLookupKey(loMs, hiMs int64) string {
	return f.LookupKeyWith(nil, floorDiv(loMs, dayMs), floorDiv(hiMs, dayMs))
}

// PointsLookupSQL lists every series of f's source on the days of
// (loMs, hiMs], without f's matchers, at most maxSeries of them, as
// LookupSQL does: the list a read of its points (PointsSQL) selects from.
func (f *FlatSum) PointsLookupSQL(loMs, hiMs int64, maxSeries int) (string, error) {
	_, all, err := f.wholeSamples(f.sel.Sources, loMs, hiMs)
	if err != nil {
		return "", err
	}
	return lookupOf(all.series, maxSeries), nil
}

// wholeSamples renders the samples of sources in (loMs, hiMs] without
// f's matchers, stale markers kept: what whole lookups and reads of
// recent points read; b renders the rest of their statements.
func (f *FlatSum) wholeSamples(sources []plan.Source, loMs, hiMs int64) (b *builder, all selectorSQL, err error) {
	b = f.wholeBuilder()
	all, err = b.samples(plan.Selector{Sources: sources, Pos: f.sel.Pos}, loMs, hiMs, true)
	return b, all, err
}

// wholeBuilder renders the statements of whole lookups and reads of
// recent points.
func (f *FlatSum) wholeBuilder() *builder {
	return &builder{schema: f.schema, grid: f.grid, native: true, overAt: -1}
}

// PointsSQL renders the read of f's source in (loMs, hiMs], without f's
// matchers: each series' points, a row per series: sid UInt64 and pts
// String, each point PointBytes bytes in no particular order (the recent
// tables are ordered by time, so mostly in order): t Int64 (Unix ms), v
// Float64, stale UInt8, little-endian. Bytes, not arrays: the client
// library reads an array element by element through reflection, 120 of
// 300 ms of a refresh's samples; and one value per point, since
// ClickHouse 26.5 puts a groupArray of a sparse column (the stale flag is
// 0 on almost every row) out of row order, so separate arrays would not
// line up. With counted, the rows stored in its window are counted too
// (Counted).
func (f *FlatSum) PointsSQL(loMs, hiMs int64, counted Counted) (string, error) {
	_, all, err := f.wholeSamples(f.sel.Sources, loMs, hiMs)
	if err != nil {
		return "", err
	}
	column, count, err := f.countedParts(counted, "0, ''")
	if err != nil {
		return "", err
	}
	return fmt.Sprintf(`SELECT sid, arrayStringConcat(groupArray(concat(reinterpretAsFixedString(toInt64(t)), reinterpretAsFixedString(toFloat64(v)), reinterpretAsFixedString(toUInt8(stale))))) AS pts%s
FROM (
%s
)
GROUP BY sid%s
SETTINGS allow_experimental_analyzer = 0`, column, indent(all.rows), count), nil
}

// Counted is a window (LoMs, HiMs] in which a read of recent points
// (PointsSQL, HistogramPointsSQL) counts the rows stored, beside reading
// its points: as many as an earlier read holds there say that no row has
// been stored there since (the tables only grow but by their TTL), and
// the plugin takes that read's points instead of reading them again
// (pkg/engine/settled.go). The read then has a column more, counted
// UInt64: 0 on each series' row, and the count on a row of its own whose
// points are empty. In one statement, not a count beside the read: the
// count as a statement of its own took 7–10 ms, about as much as the
// read of a refresh's newest points, and adds about 1 ms to it. The
// zero Counted counts nothing and adds no column.
type Counted struct{ LoMs, HiMs int64 }

// Counts says whether c counts any rows.
func (c Counted) Counts() bool { return c.HiMs > c.LoMs }

// countedParts are what a read of f's source (PointsSQL, or
// HistogramPointsSQL for a histogram's part) adds to count the rows it
// reads in c's window: its counted column, and the row of the count
// after its GROUP BY, whose columns before counted are empty; none
// when c counts nothing.
func (f *FlatSum) countedParts(c Counted, empty string) (column, row string, err error) {
	if !c.Counts() {
		return "", "", nil
	}
	if len(f.sel.Sources) != 1 {
		return "", "", fmt.Errorf("internal error: the rows of %d sources counted as one read's", len(f.sel.Sources))
	}
	column, row = ", toUInt64(0) AS counted", "\nUNION ALL\nSELECT "+empty+", count()\n"
	if src := f.sel.Sources[0]; src.Table == plan.TableHistogram {
		// The histogram's rows themselves, one per stored series and
		// time: no samples to render.
		return column, row + f.wholeBuilder().samplesFrom(RecentTablePrefix+string(plan.TableHistogram), src.Metric, c.LoMs, c.HiMs), nil
	}
	_, all, err := f.wholeSamples(f.sel.Sources, c.LoMs, c.HiMs)
	if err != nil {
		return "", "", err
	}
	return column, row + "FROM (\n" + indent(all.rows) + "\n)", nil
}

// WholeSource says whether f's lookups may list every series
// of it instead of its selector's: the series tables in use, and a sum or
// gauge source or a histogram's buckets (whose list gives its _sum's and
// _count's: derived lists). A whole list serves every selector of the
// source, filtered by its matchers in the plugin, and the source's recent
// points. buckets says which.
func (f *FlatSum) WholeSource() (buckets, ok bool) {
	if len(f.sel.Sources) != 1 || !f.schema.SeriesTables {
		return false, false
	}
	src := f.sel.Sources[0]
	buckets = src.Table == plan.TableHistogram
	if buckets && (src.Part != plan.PartBucket || !src.NamedPart()) {
		return false, false
	}
	return buckets, true
}

// WholeLookupSQL lists every series of f's source on its lookup days
// (LookupDays), at most maxSeries, as LookupSQL does without the
// selector's matchers: the list kept under LookupKeyWith(nil, days).
func (f *FlatSum) WholeLookupSQL(maxSeries int) (string, error) {
	return f.PointsLookupSQL(f.grid.StartMs-(f.sel.Offset+f.width).Milliseconds(), f.grid.EndMs()-f.sel.Offset.Milliseconds(), maxSeries)
}
