package sqlgen

import (
	"fmt"

	"github.com/forma3d/meshmetrics/pkg/plan"
)

// The native strategy hands a series' samples to one of ClickHouse's
// timeSeries*ToGrid aggregate functions (25.6+, exact since 25.9), which
// evaluate a PromQL range function at every point of a grid in one pass,
// instead of repeating each sample once per window.

// nativeFunctions maps range functions onto their ToGrid aggregate and a
// factor applied to its value: increase is rate × range, as in Prometheus
// (both come from extrapolatedRate).
var nativeFunctions = map[string]string{
	"rate":     "timeSeriesRateToGrid",
	"increase": "timeSeriesRateToGrid",
	"delta":    "timeSeriesDeltaToGrid",
	"irate":    "timeSeriesInstantRateToGrid",
	"idelta":   "timeSeriesInstantDeltaToGrid",
}

// wholeSeconds reports whether every duration is a whole number of seconds.
func wholeSeconds(ms ...int64) bool {
	for _, m := range ms {
		if m%1000 != 0 {
			return false
		}
	}
	return true
}

// nativeRangeFunction renders f with a ToGrid aggregate; ok is false when
// f has none or the grid is not in whole seconds, and the caller falls back
// to window assignment.
func (b *builder) nativeRangeFunction(f *plan.RangeFunction) (st seriesStep, ok bool, err error) {
	fn, has := nativeFunctions[f.Func]
	g := b.grid
	if !b.native || !has || !wholeSeconds(g.StartMs, g.StepMs, f.Range.Milliseconds(), f.Offset.Milliseconds()) {
		return seriesStep{}, false, nil
	}
	lo, hi := b.sampleBounds(f.Offset, f.Range)
	rows, err := b.samples(f.Selector, lo, hi, false)
	if err != nil {
		return seriesStep{}, false, err
	}
	// The grid of the window ends: evaluation times shifted by the offset.
	startSec := (g.StartMs - f.Offset.Milliseconds()) / 1000
	endSec := startSec + int64(g.N-1)*g.StepMs/1000
	grid := fmt.Sprintf("%s(%d, %d, %d, %d)(%s, v)", fn, startSec, endSec, g.StepMs/1000, int64(f.Range.Seconds()), b.sampleTimeSeconds())
	if f.Func == "increase" {
		grid = fmt.Sprintf("arrayMap(x -> x * %s, %s)", float(f.Range.Seconds()), grid)
	}
	b.usesToGrid = true
	grids := fmt.Sprintf("SELECT sid, %s AS grid\nFROM (\n%s\n)\nGROUP BY sid", grid, indent(rows.rows))
	perSeries := fmt.Sprintf(`SELECT sid, toUInt32(k - 1) AS i, assumeNotNull(cell) AS v
FROM (
%s
)
ARRAY JOIN grid AS cell, arrayEnumerate(grid) AS k
WHERE cell IS NOT NULL`, indent(grids))
	return seriesStep{prefix: "native_" + f.Func, rows: perSeries, grids: grids, sel: rows, labels: withoutName("slabels")}, true, nil
}

// sampleTimeSeconds is the sample time column t (Unix ms) as the ToGrid
// functions take it: DateTime64(3) keeps sub-second timestamps exact.
func (b *builder) sampleTimeSeconds() string {
	return "fromUnixTimestamp64Milli(t, 'UTC')"
}
