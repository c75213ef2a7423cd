package engine

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/forma3d/meshmetrics/pkg/plan"
	"github.com/forma3d/meshmetrics/pkg/sqlgen"
)

// A sum over many series runs as several statements, each reading a slice
// of the stored series (a range of sid, the samples tables' second key
// column), whose partial sums the plugin adds. Why: ClickHouse's ToGrid
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

// sliceCount is how many statements a sum over n series that reads span
// of samples runs in.
func (e *Engine) sliceCount(n int, span time.Duration) int {
	k := math.Ceil(float64(n) * span.Seconds() / e.cfg.SliceSeriesSeconds)
	return int(min(max(k, 1), maxSlices))
}

// runNestedSlices runs a sum's one nested statement, once per slice when
// its n series are many.
func (e *Engine) runNestedSlices(ctx context.Context, st statement, n int, grid plan.Grid, want ValueType) (*Result, error) {
	slices := sqlgen.SidSlices(e.sliceCount(n, st.flat.ReadSpan()))
	if slices == nil {
		return e.runStatement(ctx, statement{sql: st.sql}, false, grid, want)
	}
	began := time.Now()
	sums := newPartialSums(grid)
	var (
		first string
		stats Stats
		order []Labels
		seen  = map[string]bool{}
	)
	for _, s := range slices {
		sliced, err := st.slice(s)
		if err != nil {
			return nil, err
		}
		if sliced.sql == "" {
			return nil, fmt.Errorf("the sum has no statement of its own for a slice of its series")
		}
		res, err := e.runStatement(ctx, statement{sql: sliced.sql}, false, grid, want)
		if err != nil {
			return nil, err
		}
		if first == "" {
			first = res.SQL
		}
		stats.RowsRead += res.Stats.RowsRead
		stats.BytesRead += res.Stats.BytesRead
		for _, series := range res.Series {
			key := series.Labels.String()
			if !seen[key] {
				seen[key] = true
				order = append(order, series.Labels)
			}
			sums.addPoints(key, series.Points)
		}
	}
	out := &Result{Type: want, Stats: stats,
		SQL: fmt.Sprintf("-- ran %d times, each over a slice of the series (sid ranges; this is the first), the sums added in the plugin\n%s", len(slices), first)}
	for _, ls := range order {
		out.Series = append(out.Series, sums.series(ls.String(), ls))
	}
	out.Stats.Elapsed = time.Since(began)
	return out, nil
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
