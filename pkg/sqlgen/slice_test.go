package sqlgen

import (
	"math"
	"testing"
)

// The slices cover the whole sid space, in order, without gap or overlap.
func TestSidSlices(t *testing.T) {
	for _, tc := range []struct{ n, want int }{{0, 0}, {1, 0}, {2, 2}, {3, 3}, {32, 32}} {
		got := SidSlices(tc.n)
		if len(got) != tc.want {
			t.Fatalf("SidSlices(%d): %d slices, want %d", tc.n, len(got), tc.want)
		}
		for k, s := range got {
			if s.Lo > s.Hi {
				t.Errorf("SidSlices(%d)[%d] = %v: empty", tc.n, k, s)
			}
			if k == 0 && s.Lo != 0 || k == len(got)-1 && s.Hi != math.MaxUint64 {
				t.Errorf("SidSlices(%d)[%d] = %v: the space's ends are not covered", tc.n, k, s)
			}
			if k > 0 && got[k-1].Hi+1 != s.Lo {
				t.Errorf("SidSlices(%d)[%d] = %v after %v: a gap or an overlap", tc.n, k, s, got[k-1])
			}
		}
	}
}
