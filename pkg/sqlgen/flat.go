package sqlgen

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/forma3d/meshmetrics/pkg/plan"
)

// A flat sum is sum by/without (…) over a selector or a range function of
// one (sum(open_connections), sum by (service) (rate(…[5m]))) on the
// series tables with the native strategy, run as two flat statements
// instead of one nested one: the lookup lists the selector's series and
// their label sets; the caller groups them (by/without is a few lines of
// Go over a few thousand label sets) and hands each series' group back as
// literal arrays, and the values statement adds the series' grids per
// group. ClickHouse plans the nested statement in 100–400 ms, most of such
// a query's time; each flat one in about 10 ms (docs/dialect.md, "Flat
// sums").

// FlatSum is a plan whose root is a flat sum.
type FlatSum struct {
	agg  *plan.Aggregation
	st   seriesStep
	grid plan.Grid
	// sel is the selector the sum reads, width how far before an
	// evaluation time (less its offset) it reads: the range, or the
	// lookback of an instant selector.
	sel   plan.Selector
	width time.Duration
	// schema and slice are what the statements read (the window
	// summaries render their own).
	schema Schema
	slice  *SidSlice
}

// FlatSumOf returns p as a flat sum; ok is false when p's root is not one
// (another shape, the exporter's tables or the portable strategy).
func FlatSumOf(p *plan.Plan, schema Schema, opts Options) (f *FlatSum, ok bool, err error) {
	a, isAgg := p.Root.(*plan.Aggregation)
	if !isAgg || a.Op != "sum" || !schema.SeriesTables || !opts.Native {
		return nil, false, nil
	}
	f = &FlatSum{agg: a, grid: p.Grid, schema: schema, slice: opts.Slice}
	switch in := a.Input.(type) {
	case *plan.RangeFunction:
		f.sel, f.width = in.Selector, in.Range
	case *plan.InstantSelector:
		f.sel, f.width = in.Selector, in.Lookback
	default:
		return nil, false, nil
	}
	b := &builder{schema: schema, grid: p.Grid, native: true, fold: opts.Fold, overAt: -1, slice: opts.Slice}
	st, ok, err := b.seriesStepOf(a.Input)
	if !ok || err != nil {
		return nil, false, err
	}
	if st.grids == "" {
		st.grids = gridsOfRows(st.rows, p.Grid.N)
	}
	f.st = st
	return f, true, nil
}

// gridsOfRows turns rows (sid, i, v), at most one per series and grid
// index, into one row per series (sid, grid) as the ToGrid functions give
// them: a cell per grid index, NULL where rows has none. (With a NULL
// default, groupArrayInsertAt would fill zeros: the presence goes apart.)
func gridsOfRows(rows string, n int) string {
	return fmt.Sprintf(`SELECT sid, arrayMap((x, p) -> if(p = 1, toNullable(x), NULL), groupArrayInsertAt(0, %[1]d)(v, i), groupArrayInsertAt(0, %[1]d)(toUInt8(1), i)) AS grid
FROM (
%[2]s
)
GROUP BY sid`, n, indent(rows))
}

// LookupKey identifies the lookup's answer: the selector (its metric
// sources and matchers), and the days
// (UTC) its range touches. A lookup cached under it may list series the
// values statement does not read (harmless) or miss some it does, which
// that statement returns apart (ValuesSQL), so a cached list is never
// silently short.
func (f *FlatSum) LookupKey() string {
	lo, hi := f.LookupDays()
	return f.LookupKeyWith(f.sel.Matchers, lo, hi)
}

// LookupDays are the first and last days (UTC, from the epoch) the
// lookup lists the series of.
func (f *FlatSum) LookupDays() (lo, hi int64) {
	return floorDiv(f.grid.StartMs-(f.sel.Offset+f.width).Milliseconds(), dayMs), floorDiv(f.grid.EndMs()-f.sel.Offset.Milliseconds(), dayMs)
}

// LookupKeyWith is the key of the lookup of the selector with only the
// matchers ms (some of its own, in their order) over the days lo to hi:
// with days that include LookupDays', a list kept under it holds every
// series this lookup lists, and some more, which the selector's matchers
// (Matchers) leave out.
func (f *FlatSum) LookupKeyWith(ms []*labels.Matcher, lo, hi int64) string {
	return LookupKeyOf(f.sel.Sources, ms, lo, hi)
}

// LookupKeyOf is the key of the lookup of a selector of sources with the
// matchers ms over the days lo to hi (LookupKeyWith of a flat sum over
// sources).
func LookupKeyOf(sources []plan.Source, ms []*labels.Matcher, lo, hi int64) string {
	return fmt.Sprintf("%v %v days %d-%d", sources, ms, lo, hi)
}

// PartSiblings are, for a flat sum over one histogram's _count or _sum
// alone, the sources whose lookups list the same stored series with the
// same matchers: the histogram's buckets (one series per bound of each)
// and its other part. A sibling's list gives this sum's, each stored
// series once under its PartSid; name is the part's PromQL name. None
// for other sums.
func (f *FlatSum) PartSiblings() (name string, siblings []plan.Source) {
	if len(f.sel.Sources) != 1 {
		return "", nil
	}
	src := f.sel.Sources[0]
	if !src.NamedPart() || src.Part == plan.PartBucket {
		return "", nil
	}
	other := plan.PartSum
	if src.Part == plan.PartSum {
		other = plan.PartCount
	}
	return src.Name, []plan.Source{src.AsPart(plan.PartBucket), src.AsPart(other)}
}

// Matchers are the selector's label matchers, those of its metric name
// apart.
func (f *FlatSum) Matchers() []*labels.Matcher { return f.sel.Matchers }

// ReadSpan is how far back from its last evaluation time the sum reads
// samples: the grid's span plus the range or lookback.
func (f *FlatSum) ReadSpan() time.Duration {
	return time.Duration(f.grid.EndMs()-f.grid.StartMs)*time.Millisecond + f.width
}

// Grouping is the sum's by (or, with without, without) label names, and
// whether the series it sums still carry __name__: an instant selector's
// and last_over_time's do, so that by (__name__) groups by it; other
// range functions drop it, and without always does.
func (f *FlatSum) Grouping() (names []string, without, keepsName bool) {
	keepsName = true
	if rf, ok := f.agg.Input.(*plan.RangeFunction); ok && rf.Func != "last_over_time" {
		keepsName = false
	}
	return f.agg.Grouping, f.agg.Without, keepsName
}

// LookupSQL lists the series: sid UInt64, stored UInt64 (its row's
// number in the samples tables, which slices cut), and its label set,
// sorted by name, as label_pairs (labelPairs). Two series of one label set are
// the caller's to refuse (DuplicateSeries), as the nested statement
// refuses them: the window function that finds them in SQL took about
// half of the statement's time (12 of 27 ms for 90 series, 40 of 80 ms
// for 1,800 bucket series).
func (f *FlatSum) LookupSQL() string { return lookupOf(f.st.sel.series, 0) }

// lookupOf lists series (a selectorSQL's) as LookupSQL does, at most
// limit of them (0: all).
func lookupOf(series string, limit int) string {
	limitSQL := ""
	if limit > 0 {
		limitSQL = fmt.Sprintf("\nLIMIT %d", limit)
	}
	return fmt.Sprintf(`SELECT sid, stored, %s
FROM (
%s
)%s
SETTINGS allow_experimental_analyzer = 0`, labelPairs("slabels"), indent(series), limitSQL)
}

// dayMs is a day in milliseconds: lookups are keyed by UTC days.
const dayMs = 24 * 60 * 60 * 1000

// labelPairs is the column label_pairs, a label set (an array of (name,
// value) tuples) as bytes: each name and value as its length (UInt32)
// then its bytes, little-endian. Bytes, not two arrays: the client
// library reads an array element by element through reflection, several
// milliseconds a lookup.
func labelPairs(set string) string {
	return fmt.Sprintf("arrayStringConcat(arrayMap(x -> concat(reinterpretAsFixedString(toUInt32(length(x.1))), x.1, reinterpretAsFixedString(toUInt32(length(x.2))), x.2), %s)) AS label_pairs", set)
}

// CellBytes is the size of a cell in ValuesSQL's sums.
const CellBytes = 9

// ValuesSQL adds the grids of the series in sids per group, groups[k]
// being sids[k]'s (1-based): one row per group with a value, gi UInt32,
// unlisted 0 and sums String, a cell of CellBytes per grid index: 1 when
// a series has a value there, else 0, then the sum (Float64, 0 where
// none), little-endian. Bytes, not an array: the client library reads an
// array element by element through reflection (a 20-service leaf of 180
// series over 6 hours is 194,000 cells). A series with values that sids does
// not list (stored after the lookup, or missing from a cached one) comes
// as a row of its own: gi 0, unlisted its sid.
func (f *FlatSum) ValuesSQL(sids []uint64, groups []uint32) string {
	var ks, gs strings.Builder
	for k, sid := range sids {
		if k > 0 {
			ks.WriteString(", ")
			gs.WriteString(", ")
		}
		ks.WriteString(strconv.FormatUint(sid, 10))
		gs.WriteString(strconv.FormatUint(uint64(groups[k]), 10))
	}
	return fmt.Sprintf(`SELECT transform(sid, CAST([%s], 'Array(UInt64)'), CAST([%s], 'Array(UInt32)'), toUInt32(0)) AS gi, if(gi = 0, sid, toUInt64(0)) AS unlisted,
  arrayStringConcat(arrayMap(x -> concat(reinterpretAsFixedString(toUInt8(isNotNull(x))), reinterpretAsFixedString(toFloat64(ifNull(x, 0)))), sumForEach(grid))) AS sums
FROM (
%s
)
GROUP BY gi, unlisted
SETTINGS allow_experimental_analyzer = 0, allow_experimental_ts_to_grid_aggregate_function = 1`, ks.String(), gs.String(), indent(f.st.grids))
}
