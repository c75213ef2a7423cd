package plan

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/forma3d/meshmetrics/pkg/dialect"
)

// Catalog says where metrics are stored.
type Catalog interface {
	// Resolve returns the sources of every metric whose PromQL name the
	// matcher on __name__ accepts; none when no such metric is stored.
	Resolve(ctx context.Context, name *labels.Matcher) ([]Source, error)
}

// Options are the evaluation settings a plan needs.
type Options struct {
	// Lookback is how far back an instant selector looks (Prometheus'
	// lookback delta, 5 minutes by default).
	Lookback time.Duration
}

// Build turns a parsed expression (checked by package dialect) into a plan.
func Build(ctx context.Context, expr parser.Expr, grid Grid, opts Options, catalog Catalog) (*Plan, error) {
	if opts.Lookback <= 0 {
		opts.Lookback = 5 * time.Minute
	}
	b := builder{ctx: ctx, opts: opts, catalog: catalog}
	root, err := b.node(expr)
	if err != nil {
		return nil, err
	}
	return &Plan{Root: root, Grid: grid}, nil
}

type builder struct {
	ctx     context.Context
	opts    Options
	catalog Catalog
}

func (b *builder) node(e parser.Expr) (Node, error) {
	switch n := e.(type) {
	case *parser.NumberLiteral:
		return &Number{Value: n.Val}, nil
	case *parser.ParenExpr:
		return b.node(n.Expr)
	case *parser.UnaryExpr:
		inner, err := b.node(n.Expr)
		if err != nil || n.Op != parser.SUB {
			return inner, err
		}
		return &Negate{Input: inner}, nil
	case *parser.VectorSelector:
		sel, err := b.selector(n)
		if err != nil {
			return nil, err
		}
		return &InstantSelector{Selector: sel, Lookback: b.opts.Lookback}, nil
	case *parser.AggregateExpr:
		return b.aggregation(n)
	case *parser.BinaryExpr:
		return b.binary(n)
	case *parser.Call:
		return b.call(n)
	}
	return nil, fmt.Errorf("cannot plan %T (%s): the dialect check should have rejected it", e, e)
}

func (b *builder) selector(vs *parser.VectorSelector) (Selector, error) {
	sel := Selector{Offset: vs.OriginalOffset, Pos: int(vs.PosRange.Start)}
	var name *labels.Matcher
	for _, m := range vs.LabelMatchers {
		if m.Name == labels.MetricName && name == nil {
			name = m
			continue
		}
		if matchesAll(m) {
			// Grafana's "All" of a variable: filtering by it reads the
			// label on every row for nothing, and selectors differing
			// only by it would not share kept lookups.
			continue
		}
		sel.Matchers = append(sel.Matchers, m)
	}
	if name == nil {
		return sel, fmt.Errorf("selector %s has no metric name", vs)
	}
	sources, err := b.catalog.Resolve(b.ctx, name)
	if err != nil {
		return sel, err
	}
	sel.Sources = sources
	return sel, nil
}

// matchesAll says whether m accepts every value, the empty one (an
// absent label) included: l=~".*" ("." matches a newline too, as in
// Prometheus 3).
func matchesAll(m *labels.Matcher) bool {
	return m.Type == labels.MatchRegexp && m.Value == ".*"
}

func (b *builder) aggregation(a *parser.AggregateExpr) (Node, error) {
	input, err := b.node(a.Expr)
	if err != nil {
		return nil, err
	}
	agg := &Aggregation{Op: a.Op.String(), Grouping: a.Grouping, Without: a.Without, Input: input}
	if a.Param != nil {
		k, ok := dialect.NumberValue(a.Param)
		if !ok {
			return nil, fmt.Errorf("the parameter of %s must be a number", a.Op)
		}
		agg.K = k
	}
	return agg, nil
}

func (b *builder) binary(e *parser.BinaryExpr) (Node, error) {
	lhs, err := b.node(e.LHS)
	if err != nil {
		return nil, err
	}
	rhs, err := b.node(e.RHS)
	if err != nil {
		return nil, err
	}
	bin := &Binary{Op: e.Op.String(), LHS: lhs, RHS: rhs, ReturnBool: e.ReturnBool}
	if vm := e.VectorMatching; vm != nil && !lhs.Scalar() && !rhs.Scalar() {
		m := &Matching{On: vm.On, Labels: vm.MatchingLabels, Include: vm.Include}
		switch {
		case e.Op.IsSetOperator():
			m.Card = CardManyToMany
		case vm.Card == parser.CardManyToOne:
			m.Card = CardManyToOne
		case vm.Card == parser.CardOneToMany:
			m.Card = CardOneToMany
		default:
			m.Card = CardOneToOne
		}
		bin.Matching = m
	}
	return bin, nil
}

func (b *builder) call(c *parser.Call) (Node, error) {
	name := c.Func.Name
	if ms, ok := dialect.Unparen(firstArg(c)).(*parser.MatrixSelector); ok {
		vs := ms.VectorSelector.(*parser.VectorSelector)
		sel, err := b.selector(vs)
		if err != nil {
			return nil, err
		}
		return &RangeFunction{Func: name, Selector: sel, Range: ms.Range}, nil
	}
	call := &Call{Func: name}
	if name == "time" {
		return call, nil
	}
	if name == "histogram_quantile" {
		phi, _ := dialect.NumberValue(c.Args[0])
		call.Number = phi
		input, err := b.node(c.Args[1])
		call.Input = input
		return call, err
	}
	input, err := b.node(c.Args[0])
	if err != nil {
		return nil, err
	}
	call.Input = input
	switch name {
	case "round":
		call.Number = 1
		if len(c.Args) > 1 {
			call.Number, _ = dialect.NumberValue(c.Args[1])
		}
	case "clamp_min", "clamp_max":
		call.Number, _ = dialect.NumberValue(c.Args[1])
	case "label_replace":
		for _, a := range c.Args[1:] {
			call.Strings = append(call.Strings, dialect.Unparen(a).(*parser.StringLiteral).Val)
		}
	case "absent":
		call.AbsentLabels = absentLabels(c.Args[0])
	}
	return call, nil
}

// absentLabels are the labels absent() gives its 1: the selector's equality
// matchers, except names matched more than once (Prometheus' historic rule).
func absentLabels(arg parser.Expr) labels.Labels {
	vs, ok := arg.(*parser.VectorSelector)
	if !ok {
		return labels.EmptyLabels()
	}
	lb := labels.NewBuilder(labels.EmptyLabels())
	seen := map[string]bool{}
	for _, m := range vs.LabelMatchers {
		if m.Name == labels.MetricName {
			continue
		}
		if m.Type == labels.MatchEqual && !seen[m.Name] {
			lb.Set(m.Name, m.Value)
			seen[m.Name] = true
		} else {
			lb.Del(m.Name)
		}
	}
	return lb.Labels()
}

func firstArg(c *parser.Call) parser.Expr {
	if len(c.Args) == 0 {
		return nil
	}
	return c.Args[0]
}
