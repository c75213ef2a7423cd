package engine

import (
	"math"

	"github.com/forma3d/meshmetrics/pkg/plan"
	"github.com/forma3d/meshmetrics/pkg/sqlgen"
)

// A flat sum over many series runs its values statement several times,
// each over a slice of the stored series (a range of sid, the samples
// tables' second key column) with only that slice's series in its literal
// arrays; the plugin adds the slices' sums. Why: ClickHouse's ToGrid
// states keep every sample of a series until the grid is computed, about
// 77 bytes each, so a statement over all series holds them all at once:
// 4.5 GB for the bundled dashboard's p99 leaf over 200 services and 24
// hours. And the values statement maps every sample's series through its
// literal arrays, which costs more the longer they are. Each slice reads
// only its series' granules, so the slices together read what the one
// statement did.

// defaultSliceSeriesSeconds bounds what one statement of a sum reads
// (Config.SliceSeriesSeconds): its series times the seconds of samples
// each (the grid's span plus the range). At 15-second scrapes that is
// about 4.3 million samples, some 330 MB of ToGrid states.
const defaultSliceSeriesSeconds = 64e6

// maxSlices bounds the statements of one sum: past it, each statement
// holds more.
const maxSlices = 32

// flatSlices is how many statements a flat sum over n listed series runs
// in: enough for each to read at most SliceSeriesSeconds (series times
// the seconds of samples each, the grid's span plus the range) and to
// carry at most about flatMaxSeries series in its literal arrays.
func (e *Engine) flatSlices(n int, f *sqlgen.FlatSum) int {
	byMemory := math.Ceil(float64(n) * f.ReadSpan().Seconds() / e.cfg.SliceSeriesSeconds)
	return int(min(max(byMemory, 1, float64((n+flatMaxSeries-1)/flatMaxSeries)), maxSlices))
}

// partialSums adds slices' sums per series key and grid index.
type partialSums struct {
	grid   plan.Grid
	values map[string][]float64
	has    map[string][]bool
}

func newPartialSums(grid plan.Grid) *partialSums {
	return &partialSums{grid: grid, values: map[string][]float64{}, has: map[string][]bool{}}
}

func (p *partialSums) cells(key string) ([]float64, []bool) {
	v, ok := p.values[key]
	if !ok {
		v = make([]float64, p.grid.N)
		p.values[key] = v
		p.has[key] = make([]bool, p.grid.N)
	}
	return v, p.has[key]
}

// addCells adds a grid's cells (nil: no value).
func (p *partialSums) addCells(key string, cells []*float64) {
	v, has := p.cells(key)
	for k, c := range cells {
		if c != nil && k < len(v) {
			v[k] += *c
			has[k] = true
		}
	}
}

// addPoints adds points on the grid.
func (p *partialSums) addPoints(key string, pts []Point) {
	v, has := p.cells(key)
	for _, pt := range pts {
		k := 0
		if p.grid.StepMs > 0 {
			k = int((pt.T.UnixMilli() - p.grid.StartMs) / p.grid.StepMs)
		}
		if k >= 0 && k < len(v) {
			v[k] += pt.V
			has[k] = true
		}
	}
}

// series is key's sums as a series of labels ls.
func (p *partialSums) series(key string, ls Labels) Series {
	s := Series{Labels: ls}
	v, has := p.values[key], p.has[key]
	for k := range v {
		if has[k] {
			s.Points = append(s.Points, Point{T: p.grid.Time(k), V: v[k]})
		}
	}
	return s
}
