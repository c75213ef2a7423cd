package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/forma3d/meshmetrics/pkg/dialect"
	"github.com/forma3d/meshmetrics/pkg/plan"
)

// A query with operators or functions above its selectors is split: each
// leaf (a selector, a range function of one, or one aggregation of
// either) runs as a statement of its own, and what lies above the leaves
// is evaluated in the plugin by Prometheus' own engine over the leaves'
// answers. Why: ClickHouse's analyzer plans a statement in time that grows
// with the square of its subquery depth, and every operator nests both its
// sides one level deeper (docs/dialect.md, "Split queries"). The leaves
// hold what is large (samples, windows, the aggregation across series);
// above them are a few series per group, cheap to evaluate anywhere.

// leafLabel is the matcher a leaf's stand-in selector carries: the only
// thing leafStorage answers.
const leafLabel = "__meshmetrics_leaf__"

// leaf is one subexpression evaluated by ClickHouse.
type leaf struct {
	expr string // its text in the (macro-expanded) expression
	// node is its tree, with the whole expression's positions (a shared
	// leaf's are its own text's).
	node parser.Expr
	// shared: a shared series leaf (shared.go), not part of the text.
	shared bool
}

// splitQuery returns expr with each leaf replaced by a stand-in selector,
// and the leaves in order; ok is false when the query runs as one
// statement: it is a leaf itself (and no shared leaf), it has no selector,
// or it uses absent(), whose labels come from its selector's matchers.
// share, when not nil, says which aggregations read a shared series leaf
// instead (shared.go): the leaf's text and the matchers that select the
// aggregation's series among the leaf's.
func splitQuery(expr string, share func(*parser.AggregateExpr) (string, []*labels.Matcher, bool)) (upper parser.Expr, leaves []leaf, ok bool) {
	// A tree of its own: its leaves are replaced in place.
	ast, err := dialect.Parse(expr)
	if err != nil {
		return nil, nil, false
	}
	whole := isLeaf(dialect.Unparen(ast))
	ok = true
	shared := map[string]int{} // a shared leaf's index, by its text
	var replace func(e parser.Expr) parser.Expr
	replace = func(e parser.Expr) parser.Expr {
		if a, isAgg := dialect.Unparen(e).(*parser.AggregateExpr); isAgg && share != nil && isLeaf(a) {
			if text, matchers, yes := share(a); yes {
				i, seen := shared[text]
				if !seen {
					node, err := dialect.Parse(text)
					if err != nil {
						ok = false
						return e
					}
					i = len(leaves)
					shared[text] = i
					leaves = append(leaves, leaf{expr: text, node: node, shared: true})
				}
				a.Expr = &parser.VectorSelector{LabelMatchers: append([]*labels.Matcher{
					labels.MustNewMatcher(labels.MatchEqual, leafLabel, strconv.Itoa(i))}, matchers...)}
				return e
			}
		}
		if isLeaf(dialect.Unparen(e)) {
			pr := e.PositionRange()
			leaves = append(leaves, leaf{expr: expr[pr.Start:pr.End], node: e})
			return &parser.VectorSelector{LabelMatchers: []*labels.Matcher{
				labels.MustNewMatcher(labels.MatchEqual, leafLabel, strconv.Itoa(len(leaves)-1))}}
		}
		switch n := e.(type) {
		case *parser.ParenExpr:
			n.Expr = replace(n.Expr)
		case *parser.UnaryExpr:
			n.Expr = replace(n.Expr)
		case *parser.BinaryExpr:
			n.LHS, n.RHS = replace(n.LHS), replace(n.RHS)
		case *parser.AggregateExpr:
			n.Expr = replace(n.Expr)
		case *parser.Call:
			if n.Func.Name == "absent" {
				ok = false
			}
			for i := range n.Args {
				n.Args[i] = replace(n.Args[i])
			}
		case *parser.NumberLiteral, *parser.StringLiteral:
		default:
			// The dialect has nothing else above a selector; should it
			// grow, such a query runs as one statement.
			ok = false
		}
		return e
	}
	upper = replace(ast)
	if whole && len(shared) == 0 {
		return nil, nil, false
	}
	return upper, leaves, ok && len(leaves) > 0
}

// isLeaf says whether e (unparenthesized) is evaluated by one flat
// statement: a selector, a range function of one, or an aggregation of
// either with at most a number parameter.
func isLeaf(e parser.Expr) bool {
	switch n := e.(type) {
	case *parser.VectorSelector:
		return true
	case *parser.Call:
		if len(n.Args) != 1 {
			return false
		}
		_, ok := dialect.Unparen(n.Args[0]).(*parser.MatrixSelector)
		return ok
	case *parser.AggregateExpr:
		if n.Param != nil {
			if _, ok := dialect.Unparen(n.Param).(*parser.NumberLiteral); !ok {
				return false
			}
		}
		switch in := dialect.Unparen(n.Expr).(type) {
		case *parser.VectorSelector:
			return true
		case *parser.Call:
			return isLeaf(in)
		}
	}
	return false
}

// runSplit runs a split query's leaf statements, then evaluates what lies
// above them.
func (e *Engine) runSplit(ctx context.Context, expr string, c *compiled, grid plan.Grid, want ValueType) (*Result, error) {
	store := &leafStorage{grid: grid}
	res := &Result{Type: want}
	// What ran: each leaf's statement, or what of it the cache answered.
	ran := make([]string, 0, len(c.stmts)+1)
	for i := range c.stmts {
		// A shared leaf is read as the cache keeps it: served whole, or
		// just computed (and kept).
		inPlace := c.leaves[i].shared && want == ValueMatrix
		var (
			lr     *Result
			served bool
		)
		if inPlace {
			lr, served = e.cache.servedGrid(leafKey(c, i, grid), grid)
		}
		if !served {
			var err error
			if lr, err = e.runLeaf(ctx, expr, c, i, grid, want, inPlace); err != nil {
				return nil, err
			}
		}
		ran = append(ran, leafText(i, len(c.stmts), c.leaves[i].expr, lr.SQL))
		res.Stats.RowsRead += lr.Stats.RowsRead
		res.Stats.BytesRead += lr.Stats.BytesRead
		res.Stats.Elapsed += lr.Stats.Elapsed
		res.dataAt = earlier(res.dataAt, lr.dataAt)
		res.settledAt = earlier(res.settledAt, lr.settledAt)
		if lr.gridded != nil {
			store.add(nil, lr.gridded)
			continue
		}
		store.add(lr.Series, nil)
	}
	res.SQL = strings.Join(append(ran, upperText(c.upper)), "\n\n")
	upper := foldSharedSums(c.upper, c.leaves, store)
	var (
		q   promql.Query
		err error
	)
	if want == ValueMatrix {
		q, err = e.upperEngine.NewRangeQuery(ctx, store, nil, upper.String(),
			time.UnixMilli(grid.StartMs), time.UnixMilli(grid.EndMs()), time.Duration(grid.StepMs)*time.Millisecond)
	} else {
		q, err = e.upperEngine.NewInstantQuery(ctx, store, nil, upper.String(), time.UnixMilli(grid.StartMs))
	}
	if err != nil {
		return nil, fmt.Errorf("evaluate the operators above the selectors of %q: %w", expr, err)
	}
	defer q.Close()
	out := q.Exec(ctx)
	if out.Err != nil {
		return nil, upperError(out.Err)
	}
	scalar := upper.Type() == parser.ValueTypeScalar
	res.scalar = scalar
	if scalar && want == ValueVector {
		res.Type = ValueScalar
	}
	switch v := out.Value.(type) {
	case promql.Matrix:
		for _, s := range v {
			points := make([]Point, len(s.Floats))
			for i, f := range s.Floats {
				points[i] = Point{T: time.UnixMilli(f.T).UTC(), V: f.F}
			}
			res.Series = append(res.Series, Series{Labels: fromLabels(s.Metric), Points: points})
		}
	case promql.Vector:
		for _, s := range v {
			res.Series = append(res.Series, Series{Labels: fromLabels(s.Metric), Points: []Point{{T: time.UnixMilli(s.T).UTC(), V: s.F}}})
		}
	case promql.Scalar:
		res.Series = []Series{{Labels: Labels{}, Points: []Point{{T: time.UnixMilli(v.T).UTC(), V: v.V}}}}
	default:
		return nil, fmt.Errorf("the operators above the selectors of %q gave a %s, expected a vector or a scalar", expr, out.Value.Type())
	}
	if len(res.Series) > e.cfg.MaxSeries {
		return nil, maxSeriesError{e.cfg.MaxSeries}
	}
	if scalar && len(res.Series) == 0 {
		res.Series = []Series{{Labels: Labels{}}}
	}
	return res, nil
}

// leafText and upperText are how a split query's SQL reads: each leaf's
// expression and statement, then what the plugin evaluates above them.
func leafText(i, n int, expr, sql string) string {
	return fmt.Sprintf("-- leaf %d of %d: %s\n%s", i+1, n, expr, sql)
}

func upperText(upper parser.Expr) string {
	return "-- above the leaves, in the plugin (Prometheus' engine): " + upper.String()
}

// runLeaf runs leaf i of a split query on grid. A range query's leaves go
// through the result cache under their own text, as a query of that text
// does (its answer is the leaf's): queries sharing a leaf
// (a panel's p50, p95 and p99 of one sum of buckets; a ratio whose
// denominator is another panel's query) share its immutable past, and a
// query arriving while the same leaf runs for another waits for that
// answer (cachedRange). An instant query's leaves always run. inPlace:
// a cached leaf's answer is its series as the cache keeps them
// (Result.gridded).
func (e *Engine) runLeaf(ctx context.Context, expr string, c *compiled, i int, grid plan.Grid, want ValueType, inPlace bool) (*Result, error) {
	st := c.stmts[i]
	if e.cache == nil || want != ValueMatrix || st.sql == noStatement {
		return e.runStatement(ctx, st, false, grid, ValueMatrix)
	}
	l := c.leaves[i]
	_, ahead := reach(l.node)
	return e.cache.cachedRange(ctx, leafKey(c, i, grid), grid, ahead, e.cfg.MaxSeries, inPlace, func(ctx context.Context, g plan.Grid) (*Result, error) {
		if g == grid {
			return e.runStatement(ctx, st, false, g, ValueMatrix)
		}
		rest, err := e.compileLeaf(ctx, expr, l, g)
		if err != nil {
			return nil, err
		}
		return e.runStatement(ctx, rest, false, g, ValueMatrix)
	})
}

// leafKey is leaf i's result cache key on grid.
func leafKey(c *compiled, i int, grid plan.Grid) cacheKey {
	return cacheKey{expr: c.leaves[i].expr, stepMs: grid.StepMs, phaseMs: grid.StartMs % grid.StepMs, strategy: c.strategy}
}

// upperError turns an error of Prometheus' engine into the plugin's
// words; its messages (duplicate series, many-to-many matching) already
// say what was wrong.
func upperError(err error) error {
	var ce promql.ErrQueryCanceled
	if errors.As(err, &ce) {
		return context.Canceled
	}
	return err
}

func fromLabels(ls labels.Labels) Labels {
	out := make(Labels, 0, ls.Len())
	ls.Range(func(l labels.Label) { out = append(out, Label{Name: l.Name, Value: l.Value}) })
	return out
}

func toLabels(ls Labels) labels.Labels {
	b := labels.NewScratchBuilder(len(ls))
	for _, l := range ls {
		b.Add(l.Name, l.Value)
	}
	b.Sort()
	return b.Labels()
}

// newUpperEngine is the engine that evaluates above the leaves. Its
// lookback never reaches past a grid point: every leaf series has a value
// or a stale marker at each one.
func newUpperEngine(cfg Config) *promql.Engine {
	return promql.NewEngine(promql.EngineOpts{
		MaxSamples:    math.MaxInt,
		Timeout:       24 * time.Hour, // the caller's context bounds it
		LookbackDelta: cfg.Lookback,
	})
}

// sortAnswer orders an answer as the one-statement path does: by labels,
// and an instant topk/bottomk by group and value.
func sortAnswer(expr string, res *Result, want ValueType) {
	sort.SliceStable(res.Series, func(i, j int) bool { return res.Series[i].Labels.String() < res.Series[j].Labels.String() })
	if want == ValueVector {
		orderTopK(expr, res.Series)
	}
}

// staleAt is the value a leaf series has at a grid point where it has
// none: a stale marker, so that Prometheus' lookback finds nothing there.
var staleAt = math.Float64frombits(value.StaleNaN)
