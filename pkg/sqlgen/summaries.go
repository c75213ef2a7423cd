package sqlgen

import (
	"fmt"
	"strings"
	"time"

	"github.com/forma3d/meshmetrics/pkg/plan"
)

// Window summaries: an instant sum of increase or rate over a long range
// (the dashboard's "Mesh requests (24 h)", sum(increase(…[24h]))) reads
// every point of its range at every call, and the dashboard's refresh
// calls it every minute over a range a minute further on. What
// Prometheus' extrapolatedRate needs of a run of a counter's points is
// their count, the first and the last point, and the sum of the values
// before each decrease (the counter resets). The engine keeps that per
// series and SummaryBlock of the immutable past, and the points of the
// block where the range starts one by one (pkg/engine/summaries.go); a
// call reads only the blocks it lacks and its newest minutes.

const (
	// SummaryBlock is the length of a summarized block: block k holds the
	// points in (k×SummaryBlock, (k+1)×SummaryBlock] (Unix ms). Ten
	// minutes keeps a refresh's read (its newest, not yet immutable,
	// blocks) within the recent tables' span (RecentMaxSpan).
	SummaryBlock = 10 * time.Minute
	// MinSummaryRange is the shortest range summarized: shorter ones
	// read little at each call anyway.
	MinSummaryRange = time.Hour
)

// SummaryShape is what a summarized sum evaluates per series.
type SummaryShape struct {
	Func          string // increase or rate
	Range, Offset time.Duration
}

// Summarized says whether f evaluates at one time an increase or rate of
// counters of the sum table (not a histogram's parts) over at least
// MinSummaryRange, which window summaries can answer.
func (f *FlatSum) Summarized() (SummaryShape, bool) {
	rf, ok := f.agg.Input.(*plan.RangeFunction)
	if !ok || f.grid.N != 1 || (rf.Func != "increase" && rf.Func != "rate") || rf.Range < MinSummaryRange {
		return SummaryShape{}, false
	}
	for _, src := range f.sel.Sources {
		if src.Table != plan.TableSum || src.Part != plan.PartValue {
			return SummaryShape{}, false
		}
	}
	return SummaryShape{Func: rf.Func, Range: rf.Range, Offset: f.sel.Offset}, true
}

// SelectorKey identifies what the summaries summarize: the selector's
// metric sources and matchers.
func (f *FlatSum) SelectorKey() string { return fmt.Sprintf("%v %v", f.sel.Sources, f.sel.Matchers) }

// SummaryRange is one time range a summaries statement reads, (LoMs,
// HiMs] in Unix ms.
type SummaryRange struct{ LoMs, HiMs int64 }

// SummariesSQL summarizes the selector's points (stale markers left
// out, as range functions leave them) in ranges, per series: those at or
// before rawToMs one row each (raw 1, blk the point's time), the others
// one row per series and block (raw 0, blk intDiv(t - 1, SummaryBlock)).
// Columns: sid UInt64, raw UInt8, blk Int64, n UInt64, first_t Int64,
// first_v Float64, last_t Int64, last_v Float64, resets Float64. Points
// with one series and time count as the other statements count them
// (docs/dialect.md, "Known divergences"). A sliced flat sum's statement
// reads its slice of the series.
func (f *FlatSum) SummariesSQL(ranges []SummaryRange, rawToMs int64) (string, error) {
	b := &builder{schema: f.schema, native: true, slice: f.slice}
	parts := make([]string, 0, len(ranges))
	for _, r := range ranges {
		s, err := b.samples(f.sel, r.LoMs, r.HiMs, false)
		if err != nil {
			return "", err
		}
		parts = append(parts, s.rows)
	}
	// Each series' points sorted once and split into runs (a block's
	// points, or one raw point): grouping by series and block instead,
	// 52,000 groups at 20 services over a day, took 1.5–2× as long.
	return fmt.Sprintf(`SELECT sid, toUInt8(run[1].1 <= %[1]d) AS raw, if(raw = 1, run[1].1, intDiv(run[1].1 - 1, %[2]d)) AS blk, length(run) AS n,
  run[1].1 AS first_t, run[1].2 AS first_v, run[-1].1 AS last_t, run[-1].2 AS last_v,
  arraySum(arrayMap((p, c) -> if(c.2 < p.2, p.2, 0), arrayPopBack(run), arrayPopFront(run))) AS resets
FROM (
  SELECT sid, arraySort(groupArray((t, v))) AS pts,
    arraySplit((p, prev) -> intDiv(p.1 - 1, %[2]d) != intDiv(prev - 1, %[2]d) OR p.1 <= %[1]d, pts, arrayPushFront(arrayPopBack(arrayMap(x -> x.1, pts)), toInt64(0))) AS runs
  FROM (
%[3]s
  )
  GROUP BY sid
)
ARRAY JOIN runs AS run
SETTINGS allow_experimental_analyzer = 0`, rawToMs, SummaryBlock.Milliseconds(), indent(indent(strings.Join(parts, "\nUNION ALL\n")))), nil
}
