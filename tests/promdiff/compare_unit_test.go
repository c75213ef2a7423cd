package promdiff

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/forma3d/meshmetrics/pkg/engine"
)

// TestCompare proves that the comparison catches each kind of difference,
// so that a passing differential test means agreement, not blindness.
func TestCompare(t *testing.T) {
	t0 := dataStart
	ms := t0.UnixMilli()
	want := &answer{typ: "matrix", series: []answerSeries{
		{key: `{a="1"}`, points: []answerPoint{{ms, 1}, {ms + 1000, math.NaN()}, {ms + 2000, math.Inf(1)}}},
		{key: `{a="2"}`, points: []answerPoint{{ms, 1e6}}},
	}}
	res := func(mut func(r *engine.Result)) *answer {
		r := &engine.Result{Type: engine.ValueMatrix, Series: []engine.Series{
			{Labels: engine.Labels{{Name: "a", Value: "2"}}, Points: []engine.Point{{T: t0, V: 1e6 * (1 + 1e-12)}}},
			{Labels: engine.Labels{{Name: "a", Value: "1"}}, Points: []engine.Point{
				{T: t0, V: 1}, {T: t0.Add(time.Second), V: math.NaN()}, {T: t0.Add(2 * time.Second), V: math.Inf(1)}}},
		}}
		if mut != nil {
			mut(r)
		}
		return fromEngine(r)
	}
	if d := compare(want, res(nil)); len(d) != 0 {
		t.Fatalf("equal answers (series order, NaN, +Inf, 1e-12 relative) differ: %v", d)
	}
	for _, c := range []struct {
		name, wantDiff string
		mut            func(r *engine.Result)
	}{
		{"type", "result type vector", func(r *engine.Result) { r.Type = engine.ValueVector }},
		{"missing series", `missing series {a="2"}`, func(r *engine.Result) { r.Series = r.Series[1:] }},
		{"extra series", `extra series {a="3"}`, func(r *engine.Result) {
			r.Series = append(r.Series, engine.Series{Labels: engine.Labels{{Name: "a", Value: "3"}}})
		}},
		{"duplicate series", `duplicate series {a="2"}`, func(r *engine.Result) { r.Series = append(r.Series, r.Series[0]) }},
		{"empty label value", `empty label value`, func(r *engine.Result) {
			r.Series[0].Labels = append(r.Series[0].Labels, engine.Label{Name: "b", Value: ""})
		}},
		{"unsorted labels", `labels not sorted`, func(r *engine.Result) {
			r.Series[0].Labels = engine.Labels{{Name: "b", Value: "x"}, {Name: "a", Value: "2"}}
		}},
		{"value", "1 wrong values", func(r *engine.Result) { r.Series[0].Points[0].V = 1e6 * (1 + 1e-8) }},
		{"NaN for a number", "1 wrong values", func(r *engine.Result) { r.Series[1].Points[0].V = math.NaN() }},
		{"-Inf for +Inf", "1 wrong values", func(r *engine.Result) { r.Series[1].Points[2].V = math.Inf(-1) }},
		{"missing point", "1 missing points", func(r *engine.Result) { r.Series[1].Points = r.Series[1].Points[:2] }},
		{"shifted point", "1 extra points", func(r *engine.Result) { r.Series[1].Points[2].T = t0.Add(3 * time.Second) }},
		{"order", "not in increasing time order", func(r *engine.Result) {
			p := r.Series[1].Points
			p[0], p[1] = p[1], p[0]
		}},
	} {
		d := compare(want, res(c.mut))
		if !strings.Contains(strings.Join(d, "\n"), c.wantDiff) {
			t.Errorf("%s: differences %q do not mention %q", c.name, d, c.wantDiff)
		}
	}
}
