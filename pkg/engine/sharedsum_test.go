package engine

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/forma3d/meshmetrics/pkg/plan"
)

// TestSharedSumsInGo: a sum over a shared leaf computed in Go is Prometheus'
// engine's answer over the same leaf bit for bit: grouping by and without,
// matchers, sums under operators, and values whose sum depends on the
// order and on the compensation (large and small magnitudes, NaN, ±Inf,
// -0, gaps). Other aggregations are left to the engine.
func TestSharedSumsInGo(t *testing.T) {
	grid := plan.Grid{StartMs: 1_700_000_000_000, StepMs: 30_000, N: 120}
	rng := rand.New(rand.NewPCG(1, 2))
	odd := []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 1e16, -1e16, 1e-16}
	var in []Series
	for _, svc := range []string{"api", "web", "db"} {
		for _, code := range []string{"200", "404", "500"} {
			for _, pod := range []string{"a", "b"} {
				s := Series{Labels: Labels{{"code", code}, {"pod", pod}, {"service", svc}}}
				if pod == "b" { // a name, which without drops
					s.Labels = append(Labels{{"__name__", "requests"}}, s.Labels...)
				}
				for k := range grid.N {
					if rng.IntN(7) == 0 {
						continue // a gap
					}
					v := rng.Float64() * math.Pow(10, float64(rng.IntN(33)-16))
					if rng.IntN(40) == 0 {
						v = odd[rng.IntN(len(odd))]
					}
					s.Points = append(s.Points, Point{T: grid.Time(k), V: v})
				}
				in = append(in, s)
			}
		}
	}
	leaves := []leaf{{shared: true}, {}}
	for _, c := range []struct {
		upper string
		folds int
	}{
		{`sum by (service) ({__meshmetrics_leaf__="0"})`, 1},
		{`sum({__meshmetrics_leaf__="0"})`, 1},
		{`sum without (pod) ({__meshmetrics_leaf__="0", code!~"2.."})`, 1},
		{`sum by (service, nothing) ({__meshmetrics_leaf__="0", service=~"api|db"})`, 1},
		{`sum by (service) ({__meshmetrics_leaf__="0", code=~"5.."}) / sum by (service) ({__meshmetrics_leaf__="0"})`, 2},
		{`-(sum by (code) ({__meshmetrics_leaf__="0"})) > bool 0`, 1},
		{`clamp_min(sum by (pod) ({__meshmetrics_leaf__="0", service="none"}), 0)`, 1},
		{`avg by (service) ({__meshmetrics_leaf__="0"})`, 0},
		{`sum by (service) ({__meshmetrics_leaf__="1"})`, 0}, // not a shared leaf
	} {
		eval := func(fold, asGrid bool) (string, int) {
			store := &leafStorage{grid: grid}
			if asGrid {
				// Leaf 0 as the cache serves a shared leaf (servedGrid).
				store.add(nil, gridSeriesOf(in, grid))
			} else {
				store.add(in, nil)
			}
			store.add(in, nil)
			upper, err := parser.NewParser(parser.Options{}).ParseExpr(c.upper)
			if err != nil {
				t.Fatal(err)
			}
			if fold {
				upper = foldSharedSums(upper, leaves, store)
			}
			eng := newUpperEngine(Config{Lookback: 5 * time.Minute})
			q, err := eng.NewRangeQuery(context.Background(), store, nil, upper.String(),
				time.UnixMilli(grid.StartMs), time.UnixMilli(grid.EndMs()), time.Duration(grid.StepMs)*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			out := q.Exec(context.Background())
			if out.Err != nil {
				t.Fatal(out.Err)
			}
			// Rendered before Close, which returns the points to a pool.
			return bits(out.Value.(promql.Matrix)), len(store.leaves) - 2
		}
		want, _ := eval(false, false)
		for _, asGrid := range []bool{false, true} {
			got, folds := eval(true, asGrid)
			if folds != c.folds {
				t.Errorf("%s: %d sums computed in Go, want %d", c.upper, folds, c.folds)
			}
			if got != want {
				t.Errorf("%s (leaf as grid %v): differs from Prometheus' engine:\n got %s\nwant %s", c.upper, asGrid, got, want)
			}
		}
	}
}

// bits renders a matrix with every value's bits, sorted by labels.
func bits(m promql.Matrix) string {
	m = append(promql.Matrix(nil), m...)
	sort.Sort(m)
	s := ""
	for _, ser := range m {
		s += ser.Metric.String() + ":"
		for _, p := range ser.Floats {
			s += fmt.Sprintf(" %d=%x", p.T, math.Float64bits(p.F))
		}
		s += "\n"
	}
	return s
}
