package engine

import (
	"fmt"
	"time"

	"github.com/forma3d/meshmetrics/pkg/plan"
)

// A shared leaf's sums read its series as the cache keeps them, a value
// and a flag per grid time, instead of as points: at 200 services a
// served panel expanded 2,412 series × 1,080 grid times into points
// (83 MB, 20–180 ms) and then summed them through their timestamps.

// gridSeries is a series on a grid: values[k] at grid time k where has[k].
// A cache entry's series are read in place: never written.
type gridSeries struct {
	labels Labels
	values []float64
	has    []bool
}

// servedGrid is key's entry's series on grid when it serves all of grid
// now: a Result with its series in place (gridded) and the text saying
// so in a leaf's SQL.
func (c *resultCache) servedGrid(key cacheKey, grid plan.Grid) (*Result, bool) {
	if c == nil {
		return nil, false
	}
	now := c.cfg.Now()
	e, servedTo := c.lookup(key, grid, now)
	if e == nil || servedTo < grid.EndMs() || e.scalar {
		return nil, false
	}
	sql := fmt.Sprintf("-- every evaluation from the result cache (computed %s ago)", now.Sub(e.computed).Round(time.Second))
	return e.answer(&Result{Type: ValueMatrix, SQL: sql}, grid, true), true
}

// gridSeriesOf is series (points on grid) as gridSeries.
func gridSeriesOf(series []Series, grid plan.Grid) []gridSeries {
	out := make([]gridSeries, len(series))
	for i, s := range series {
		g := gridSeries{labels: s.Labels, values: make([]float64, grid.N), has: make([]bool, grid.N)}
		for _, p := range s.Points {
			k := grid.Index(p.T)
			g.values[k], g.has[k] = p.V, true
		}
		out[i] = g
	}
	return out
}

// seriesOfGrid is gridSeries as points on grid, without the series that
// have none.
func seriesOfGrid(gs []gridSeries, grid plan.Grid) []Series {
	out := make([]Series, 0, len(gs))
	for _, g := range gs {
		if pts := gridPoints(grid, g.values, g.has); len(pts) > 0 {
			out = append(out, Series{Labels: g.labels, Points: pts})
		}
	}
	return out
}

// gridPoints is the points of values on grid where has says so: values[k]
// at grid time k.
func gridPoints(grid plan.Grid, values []float64, has []bool) []Point {
	n := 0
	for _, ok := range has {
		if ok {
			n++
		}
	}
	pts := make([]Point, 0, n)
	for k, ok := range has {
		if ok {
			pts = append(pts, Point{T: grid.Time(k), V: values[k]})
		}
	}
	return pts
}
