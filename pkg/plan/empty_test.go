package plan

import (
	"testing"

	"github.com/prometheus/prometheus/model/labels"
)

func TestEmpty(t *testing.T) {
	none := &InstantSelector{}
	some := &InstantSelector{Selector: Selector{Sources: []Source{{Name: "up", Table: TableGauge, Metric: "up", Part: PartValue}}}}
	noneRange := &RangeFunction{Func: "rate"}
	one := &Number{Value: 1}
	vv := func(op string, l, r Node) Node {
		return &Binary{Op: op, LHS: l, RHS: r, Matching: &Matching{Card: CardOneToOne}}
	}
	for _, c := range []struct {
		name string
		node Node
		want bool
	}{
		{"selector without sources", none, true},
		{"selector with a source", some, false},
		{"rate of nothing", noneRange, true},
		{"sum of nothing", &Aggregation{Op: "sum", Input: noneRange}, true},
		{"count of nothing", &Aggregation{Op: "count", Input: none}, true},
		{"sum of something", &Aggregation{Op: "sum", Input: some}, false},
		{"nothing minus time()", &Binary{Op: "-", LHS: &Aggregation{Op: "min", Input: none}, RHS: &Call{Func: "time"}}, true},
		{"time() minus nothing", &Binary{Op: "-", LHS: &Call{Func: "time"}, RHS: none}, true},
		{"something times nothing", vv("*", some, none), true},
		{"nothing or something", vv("or", none, some), false},
		{"nothing or nothing", vv("or", none, &Aggregation{Op: "sum", Input: none}), true},
		{"something unless nothing", vv("unless", some, none), false},
		{"nothing unless something", vv("unless", none, some), true},
		{"something and nothing", vv("and", some, none), true},
		{"absent of nothing", &Call{Func: "absent", Input: none, AbsentLabels: labels.FromStrings("job", "x")}, false},
		{"vector(1)", &Call{Func: "vector", Input: one}, false},
		{"scalar of nothing", &Call{Func: "scalar", Input: none}, false},
		{"histogram_quantile of nothing", &Call{Func: "histogram_quantile", Number: 0.9, Input: &Aggregation{Op: "sum", Input: noneRange}}, true},
		{"negated nothing", &Negate{Input: none}, true},
		{"a number", one, false},
		{"(nothing or vector(0)) / nothing", vv("/", vv("or", none, &Call{Func: "vector", Input: one}), none), true},
	} {
		if got := Empty(c.node); got != c.want {
			t.Errorf("%s: Empty = %v, want %v", c.name, got, c.want)
		}
	}
}
