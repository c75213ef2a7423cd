package engine

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/forma3d/meshmetrics/pkg/plan"
)

// TestServedGrid: a cached leaf read in place serves a grid within what
// the entry serves now, as its points would, and nothing beyond it.
func TestServedGrid(t *testing.T) {
	const step = 60_000
	t0 := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	now := t0.Add(3 * time.Hour)
	c := newResultCache(CacheConfig{TTL: 10 * time.Minute, Freshness: 10 * time.Minute, Recent: 5 * time.Second, MaxPoints: 1e6, Now: func() time.Time { return now }})
	computed := plan.Grid{StartMs: t0.UnixMilli(), StepMs: step, N: 171} // to now − 10 min
	var in []Series
	for k, svc := range []string{"web", "api", "db"} {
		s := Series{Labels: Labels{{Name: "service", Value: svc}}}
		for i := range computed.N {
			if (i+k)%4 != 0 { // holes, at different times per series
				s.Points = append(s.Points, Point{T: computed.Time(i), V: float64(i*10 + k)})
			}
		}
		in = append(in, s)
	}
	key := cacheKey{expr: "leaf", stepMs: step, phaseMs: 0}
	if _, err := c.cachedRange(context.Background(), key, computed, 0, 100, false, func(context.Context, plan.Grid) (*Result, error) {
		return &Result{Type: ValueMatrix, Series: in}, nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		grid plan.Grid
		ok   bool
	}{
		{computed, true},
		{plan.Grid{StartMs: computed.StartMs + 5*step, StepMs: step, N: 100}, true},
		{plan.Grid{StartMs: computed.StartMs + 5*step, StepMs: step, N: 200}, false}, // past the entry
		{plan.Grid{StartMs: computed.StartMs - step, StepMs: step, N: 10}, false},    // before it
	} {
		served, ok := c.servedGrid(key, tc.grid)
		if ok != tc.ok {
			t.Fatalf("grid from +%d steps, %d times: served %v, want %v", (tc.grid.StartMs-computed.StartMs)/step, tc.grid.N, ok, tc.ok)
		}
		if !ok {
			continue
		}
		// What the cache answers as points, its keys the labels' text.
		byLabels := map[string]*Series{}
		for i := range in {
			byLabels[in[i].Labels.String()] = &in[i]
		}
		want := clip(byLabels, tc.grid.StartMs, tc.grid.EndMs())
		if got, w := fmt.Sprint(seriesOfGrid(served.gridded, tc.grid)), fmt.Sprint(want); got != w {
			t.Errorf("grid from +%d steps: got\n%s\nwant\n%s", (tc.grid.StartMs-computed.StartMs)/step, got, w)
		}
	}
}

// clip is the series' points in [fromMs, toMs], series without any left
// out, sorted by labels as run sorts them. The series are keyed by their
// labels' text, which orders them without rendering it at every
// comparison.
func clip(series map[string]*Series, fromMs, toMs int64) []Series {
	keys := make([]string, 0, len(series))
	for k, s := range series {
		if len(clipPoints(s.Points, fromMs, toMs)) > 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]Series, len(keys))
	for i, k := range keys {
		s := series[k]
		out[i] = Series{Labels: s.Labels, Points: clipPoints(s.Points, fromMs, toMs)}
	}
	return out
}

// clipPoints is the points (in time order) with fromMs <= T <= toMs.
func clipPoints(pts []Point, fromMs, toMs int64) []Point {
	lo := sort.Search(len(pts), func(i int) bool { return pts[i].T.UnixMilli() >= fromMs })
	hi := sort.Search(len(pts), func(i int) bool { return pts[i].T.UnixMilli() > toMs })
	return pts[lo:hi]
}
