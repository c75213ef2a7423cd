package sqlgen

import (
	"fmt"
	"time"

	"github.com/forma3d/meshmetrics/pkg/plan"
)

// The portable strategy evaluates selectors on the grid by window
// assignment: a sample at t lies in the window (T_i - offset - width,
// T_i - offset] of exactly the grid indexes i with
//
//	ceil((t + offset - start) / step) <= i < ceil((t + offset + width - start) / step)
//
// so each sample is repeated once per window that holds it (ARRAY JOIN)
// and every window is one GROUP BY (labels, i). The division is Float64:
// both operands are integers below 2^53, so a quotient that is a whole
// number is exact and ceil() never rounds a boundary sample across it.

// windowIndexes is the ARRAY JOIN expression of the grid indexes whose
// window of the given width holds the sample at column t.
func (b *builder) windowIndexes(offset, width time.Duration) string {
	o, w := offset.Milliseconds(), width.Milliseconds()
	g := b.grid
	return fmt.Sprintf("range(toUInt32(greatest(0, ceil((t + %d - %d) / %d))), toUInt32(greatest(0, least(%d, ceil((t + %d - %d) / %d)))))",
		o, g.StartMs, g.StepMs, g.N, o+w, g.StartMs, g.StepMs)
}

// windowStartMs is the exclusive start of grid index i's window.
func (b *builder) windowStartMs(offset, width time.Duration) string {
	return fmt.Sprintf("(%s - %d)", b.evalTimeMs("i"), offset.Milliseconds()+width.Milliseconds())
}

// sampleBounds are the bounds (lo, hi] of the samples any window of the
// grid can hold.
func (b *builder) sampleBounds(offset, width time.Duration) (int64, int64) {
	o := offset.Milliseconds()
	return b.grid.StartMs - o - width.Milliseconds(), b.grid.EndMs() - o
}

// instantSelector takes, at each grid time, every series' newest sample in
// the lookback window, unless that sample is a stale marker.
func (b *builder) instantSelector(s *plan.InstantSelector) (string, error) {
	st, err := b.instantSelectorStep(s)
	if err != nil {
		return "", err
	}
	return b.addStep(st), nil
}

func (b *builder) instantSelectorStep(s *plan.InstantSelector) (seriesStep, error) {
	lo, hi := b.sampleBounds(s.Offset, s.Lookback)
	rows, err := b.samples(s.Selector, lo, hi, true)
	if err != nil {
		return seriesStep{}, err
	}
	perSeries := fmt.Sprintf(`SELECT sid, i, newest.1 AS v
FROM (
  SELECT sid, i, argMax((v, stale), t) AS newest
  FROM (
%s
  )
  ARRAY JOIN %s AS i
  GROUP BY sid, i
  HAVING NOT newest.2
)`, indent(indent(rows.rows)), b.windowIndexes(s.Offset, s.Lookback))
	return seriesStep{prefix: "selector", rows: perSeries, sel: rows, labels: "slabels"}, nil
}

// windowAggregates are the per-window values the range functions need:
// count, first and last sample, and for counters the sum of the values
// before each reset inside the window. pt/pv are each sample's previous
// sample in its series; a previous sample before the window start is not
// in the window, so its reset does not count.
const windowAggregates = `count() AS n, min(t) AS ft, max(t) AS lt, argMin(v, t) AS fv, argMax(v, t) AS lv,
    sumIf(pv, pv > v AND pt > %[1]s) AS resets, argMax(pt, t) AS lpt, argMax(pv, t) AS lpv,
    sum(v) AS sv, min(v) AS minv, max(v) AS maxv, sum(v * pow(2, -512)) AS svs, countIf(NOT isFinite(v)) AS nonfinite`

// rangeFunction applies a range function to every window of a selector.
func (b *builder) rangeFunction(f *plan.RangeFunction) (string, error) {
	st, err := b.rangeFunctionStep(f)
	if err != nil {
		return "", err
	}
	return b.addStep(st), nil
}

func (b *builder) rangeFunctionStep(f *plan.RangeFunction) (seriesStep, error) {
	if st, ok, err := b.nativeRangeFunction(f); ok || err != nil {
		return st, err
	}
	lo, hi := b.sampleBounds(f.Offset, f.Range)
	rows, err := b.samples(f.Selector, lo, hi, false)
	if err != nil {
		return seriesStep{}, err
	}
	value, cond, err := rangeValue(f.Func, f.Range)
	if err != nil {
		return seriesStep{}, err
	}
	labels := withoutName("slabels")
	if f.Func == "last_over_time" {
		// It acts like an offset: Prometheus keeps the metric name.
		labels = "slabels"
	}
	ws := b.windowStartMs(f.Offset, f.Range)
	perSeries := fmt.Sprintf(`SELECT sid, i, %s
FROM (
  SELECT sid, i, %s AS ws,
    %s
  FROM (
    SELECT sid, t, v,
      lagInFrame(t, 1, toInt64(-1)) OVER w AS pt,
      lagInFrame(v, 1, nan) OVER w AS pv
    FROM (
%s
    )
    WINDOW w AS (PARTITION BY sid ORDER BY t ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
  )
  ARRAY JOIN %s AS i
  GROUP BY sid, i
)
WHERE %s`, value, ws, fmt.Sprintf(windowAggregates, ws),
		indent(indent(indent(rows.rows))), b.windowIndexes(f.Offset, f.Range), cond)
	return seriesStep{prefix: "range", rows: perSeries, sel: rows, labels: labels}, nil
}

// rangeValue is a range function's value over the window aggregates (the
// select list ending in "AS v"), and the condition for a window to have a
// value at all.
func rangeValue(fn string, rng time.Duration) (value, cond string, err error) {
	switch fn {
	case "rate", "increase", "delta":
		return extrapolated(fn, rng), "n >= 2", nil
	case "irate":
		// The last two samples; after a reset the last value is the increase.
		return "if(lv < lpv, lv, lv - lpv) / ((lt - lpt) / 1000) AS v", "n >= 2 AND lt != lpt", nil
	case "idelta":
		return "lv - lpv AS v", "n >= 2 AND lt != lpt", nil
	case "sum_over_time":
		return "sv AS v", "n >= 1", nil
	case "avg_over_time":
		return meanSQL("sv", "n", "svs", "nonfinite") + " AS v", "n >= 1", nil
	case "count_over_time":
		return "toFloat64(n) AS v", "n >= 1", nil
	case "min_over_time":
		return "minv AS v", "n >= 1", nil
	case "max_over_time":
		return "maxv AS v", "n >= 1", nil
	case "last_over_time":
		return "lv AS v", "n >= 1", nil
	}
	return "", "", fmt.Errorf("sqlgen: no SQL for range function %s", fn)
}

// extrapolated is Prometheus' extrapolatedRate (promql/functions.go) over
// the window aggregates: the change between the first and last sample
// (plus the values lost to counter resets), extrapolated towards the
// window's edges when the samples come close enough to them (1.1 × the
// average gap), never below a counter's zero point.
func extrapolated(fn string, rng time.Duration) string {
	change := "lv - fv"
	toStart := "to_start1"
	if fn != "delta" {
		change = "lv - fv + resets"
		// A counter is not extrapolated below zero.
		toStart = "if(change > 0 AND fv >= 0 AND sampled * (fv / change) < to_start1, sampled * (fv / change), to_start1)"
	}
	perSecond := ""
	if fn == "rate" {
		perSecond = " / " + float(rng.Seconds())
	}
	return fmt.Sprintf(`%[1]s AS change,
    (lt - ft) / 1000 AS sampled,
    sampled / (n - 1) AS avg_gap,
    (ft - ws) / 1000 AS to_start0,
    if(to_start0 >= avg_gap * 1.1, avg_gap / 2, to_start0) AS to_start1,
    %[2]s AS to_start,
    (ws + %[3]d - lt) / 1000 AS to_end0,
    if(to_end0 >= avg_gap * 1.1, avg_gap / 2, to_end0) AS to_end,
    if(sampled != 0, (sampled + to_start + to_end) / sampled, 1) AS factor,
    change * (factor%[4]s) AS v`, change, toStart, rng.Milliseconds(), perSecond)
}
