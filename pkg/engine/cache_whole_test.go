package engine

import (
	"fmt"
	"testing"

	"github.com/forma3d/meshmetrics/pkg/plan"
)

// TestAnswerWhole: an entry's whole answer is expanded once per grid and
// served again as the caller's own slice of series; another grid or a
// later servedTo expands again.
func TestAnswerWhole(t *testing.T) {
	grid := plan.Grid{StartMs: 60_000, StepMs: 60_000, N: 5}
	e := &cacheEntry{key: cacheKey{stepMs: 60_000}, fromMs: 0, toMs: 360_000, series: map[string]*keptSeries{}}
	for _, svc := range []string{"b", "a"} {
		ks := &keptSeries{labels: Labels{{"service", svc}}, values: make([]float64, 7), has: make([]bool, 7)}
		for k := range ks.values {
			ks.values[k], ks.has[k] = float64(k), k != 3
		}
		e.series[Labels{{"service", svc}}.String()] = ks
	}
	first := e.answerWhole(grid, grid.EndMs())
	first[0], first[1] = first[1], first[0] // the caller's to reorder
	again := e.answerWhole(grid, grid.EndMs())
	if fmt.Sprint(again) == fmt.Sprint(first) || again[0].Labels.Get("service") != "a" {
		t.Errorf("the second answer shares the first's order: %v", again)
	}
	if &again[0].Points[0] != &first[1].Points[0] {
		t.Errorf("the second answer expanded the entry again")
	}
	if n := len(again[0].Points); n != 4 {
		t.Errorf("%d points in the grid, want 4 (one missing)", n)
	}
	other := e.answerWhole(plan.Grid{StartMs: 0, StepMs: 60_000, N: 7}, 360_000)
	if len(other[0].Points) != 6 || &other[0].Points[0] == &again[0].Points[0] {
		t.Errorf("another grid: %v, want its own 6 points", other[0].Points)
	}
}
