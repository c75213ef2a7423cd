package engine

import (
	"slices"
	"testing"
)

// A merge of kept points with newer ones (recentPoints.before) gives each
// series its kept points in the window, then its newer ones, and series
// that share their times and stale flags (a histogram's parts) share
// them merged only when their newer ones are shared too.
func TestMergeSharesTimes(t *testing.T) {
	points := func(ts []int64, stale []bool, vs ...float64) seriesPoints {
		return seriesPoints{ts: ts, vs: vs, stale: stale}
	}
	oldTs, oldStale := []int64{10, 20, 30, 40}, []bool{false, false, true, false}
	newTs, newStale := []int64{50, 60}, []bool{false, false}
	base := &recentPoints{series: map[uint64]seriesPoints{
		1: points(oldTs, oldStale, 1, 2, 3, 4),                                            // a part
		2: points(oldTs, oldStale, 5, 6, 7, 8),                                            // its sibling: the same times
		3: points(oldTs, oldStale, 9, 9, 9, 9),                                            // same old times, newer of its own
		4: points([]int64{10, 20, 30, 40}, []bool{false, false, true, false}, 1, 1, 1, 1), // equal times, arrays of its own
		5: points([]int64{5}, []bool{false}, 7),                                           // nothing in the window
	}}
	series := map[uint64]seriesPoints{
		1: points(newTs, newStale, 11, 12),
		2: points(newTs, newStale, 13, 14),
		3: points([]int64{55, 65}, []bool{true, false}, 15, 19),
		4: points(newTs, newStale, 16, 17),
		6: points([]int64{60}, []bool{false}, 18), // new since
	}
	got := base.before(15, 40, series)
	want := map[uint64]struct {
		ts    []int64
		vs    []float64
		stale []bool
	}{
		1: {[]int64{20, 30, 40, 50, 60}, []float64{2, 3, 4, 11, 12}, []bool{false, true, false, false, false}},
		2: {[]int64{20, 30, 40, 50, 60}, []float64{6, 7, 8, 13, 14}, []bool{false, true, false, false, false}},
		3: {[]int64{20, 30, 40, 55, 65}, []float64{9, 9, 9, 15, 19}, []bool{false, true, false, true, false}},
		4: {[]int64{20, 30, 40, 50, 60}, []float64{1, 1, 1, 16, 17}, []bool{false, true, false, false, false}},
		6: {[]int64{60}, []float64{18}, []bool{false}},
	}
	if len(got) != len(want) {
		t.Errorf("%d series merged, want %d (series 5 has no kept point in the window and no newer one)", len(got), len(want))
	}
	for sid, w := range want {
		g := got[sid]
		if !slices.Equal(g.ts, w.ts) || !slices.Equal(g.vs, w.vs) || !slices.Equal(g.stale, w.stale) {
			t.Errorf("series %d: %v %v %v, want %v %v %v", sid, g.ts, g.vs, g.stale, w.ts, w.vs, w.stale)
		}
	}
	same := func(a, b uint64) bool { return &got[a].ts[0] == &got[b].ts[0] && &got[a].stale[0] == &got[b].stale[0] }
	if !same(1, 2) {
		t.Error("parts sharing their times and newer times do not share them merged")
	}
	if same(1, 3) || same(1, 4) {
		t.Error("a series shares merged times with one whose newer times, or kept arrays, are its own")
	}
	// Capped: appending to one series never writes into another's.
	if g := got[1]; cap(g.ts) != len(g.ts) || cap(g.vs) != len(g.vs) || cap(g.stale) != len(g.stale) {
		t.Errorf("series 1's merged arrays have room past their points (%d, %d, %d for %d)", cap(g.ts), cap(g.vs), cap(g.stale), len(g.ts))
	}
}
