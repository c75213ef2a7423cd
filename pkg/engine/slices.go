package engine

import (
	"math"
	"time"

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
// hours. Each slice reads only its series' granules, so the slices
// together read what the one statement did.

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
// the seconds of samples each, the grid's span plus the range), at most
// maxSlices.
func (e *Engine) flatSlices(n int, f *sqlgen.FlatSum) int { return e.slicesFor(n, f.ReadSpan()) }

// slicesFor is how many statements reading span of n series run in.
func (e *Engine) slicesFor(n int, span time.Duration) int {
	k := math.Ceil(float64(n) * span.Seconds() / e.cfg.SliceSeriesSeconds)
	return int(min(max(k, 1), maxSlices))
}

// partialSums adds slices' sums per group and grid index.
type partialSums struct {
	grid   plan.Grid
	values [][]float64 // by group, then grid index
	has    [][]bool
}

func newPartialSums(grid plan.Grid, groups int) *partialSums {
	return &partialSums{grid: grid, values: make([][]float64, groups), has: make([][]bool, groups)}
}

// add adds group g's cells (sqlgen.FlatSum.ValuesSQL's sums), one per
// grid index.
func (p *partialSums) add(g int, cells string) {
	if p.values[g] == nil {
		p.values[g], p.has[g] = make([]float64, p.grid.N), make([]bool, p.grid.N)
	}
	v, has := p.values[g], p.has[g]
	for k := 0; k < len(cells)/sqlgen.CellBytes && k < len(v); k++ {
		c := cells[k*sqlgen.CellBytes:]
		if c[0] != 0 {
			v[k] += math.Float64frombits(leUint64(c[1:]))
			has[k] = true
		}
	}
}

// addAt adds v to group g's sum at grid index k.
func (p *partialSums) addAt(g, k int, v float64) {
	if p.values[g] == nil {
		p.values[g], p.has[g] = make([]float64, p.grid.N), make([]bool, p.grid.N)
	}
	p.values[g][k] += v
	p.has[g][k] = true
}

// series is group g's sums as a series of labels ls.
func (p *partialSums) series(g int, ls Labels) Series {
	return Series{Labels: ls, Points: gridPoints(p.grid, p.values[g], p.has[g])}
}
