package engine

import (
	"errors"
	"fmt"
	mathbits "math/bits"
	"slices"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/forma3d/meshmetrics/pkg/dialect"
	"github.com/forma3d/meshmetrics/pkg/plan"
)

// Shared series leaves: the bundled dashboard's counter panels sum one
// range function of one metric by different labels and over different
// matchers ("Request rate by service", "by proxy → service", "Errors by
// service and status code", the 5xx ratio, a service's inbound rate and
// methods). Each ran its own statement, and each statement's cost is the
// per-series ToGrid over the same samples. A range query's aggregation
// sum/avg/min/max/count by/without (…) (f(name{matchers}[r] offset o))
// with f one of ClickHouse's ToGrid functions is therefore split into the
// leaf f(name[r] offset o), every series of the metric, which goes
// through the result cache under that text like any leaf, and the
// aggregation over {leaf, matchers} evaluated in the plugin by
// Prometheus' engine (split.go): the matchers select among the leaf's
// series by their labels as they would among the stored series (f drops
// only __name__).
//
// When: the selector's other matchers only exclude (!=, !~, or =~".*"),
// so the leaf reads about what the query would; or, when no matcher names
// one value (service="x": a few series, cheaper on their own), a leaf
// over some of its matchers is in the cache already for this step and
// phase, so the query reads at most its newest minutes, or the query
// starts one over its matchers on labels it does not group by (scoped
// leaves, below); when one names one value, only a scoped leaf over such
// matchers (oneValueLeaf). Otherwise the query keeps its own statement;
// a leaf over more series than the max series limit makes the query run
// unshared (run).

// sharedFuncs are the range functions whose leaves are shared: those
// ClickHouse evaluates with timeSeries*ToGrid per series.
var sharedFuncs = map[string]bool{"rate": true, "increase": true, "delta": true, "irate": true, "idelta": true}

// sharedOps are the aggregations Prometheus' engine evaluates over the
// leaf's series with the answer of the statement they replace.
var sharedOps = map[parser.ItemType]bool{parser.SUM: true, parser.AVG: true, parser.MIN: true, parser.MAX: true, parser.COUNT: true}

// maxSeriesError is a query's answer over the max series limit.
type maxSeriesError struct{ limit int }

func (e maxSeriesError) Error() string {
	return fmt.Sprintf("the query returns more than %d series (the max series limit): narrow the selector or aggregate", e.limit)
}

// isMaxSeries says whether err is an answer over the max series limit.
func isMaxSeries(err error) bool {
	var m maxSeriesError
	return errors.As(err, &m)
}

// sharedShape is an aggregation of the shape whose leaf is shared: the
// range function's call, the metric's name matcher, and the selector's
// other matchers.
type sharedShape struct {
	call     *parser.Call
	ms       *parser.MatrixSelector
	name     *labels.Matcher
	matchers []*labels.Matcher
}

// sharedShapeOf returns a's shape; ok is false when a is not of it.
func sharedShapeOf(a *parser.AggregateExpr) (sh sharedShape, ok bool) {
	if !sharedOps[a.Op] || a.Param != nil {
		return sh, false
	}
	call, isCall := dialect.Unparen(a.Expr).(*parser.Call)
	if !isCall || !sharedFuncs[call.Func.Name] || len(call.Args) != 1 {
		return sh, false
	}
	ms, isMatrix := dialect.Unparen(call.Args[0]).(*parser.MatrixSelector)
	if !isMatrix {
		return sh, false
	}
	vs := ms.VectorSelector.(*parser.VectorSelector)
	if vs.Timestamp != nil || vs.StartOrEnd != 0 {
		return sh, false
	}
	sh.call, sh.ms = call, ms
	for _, m := range vs.LabelMatchers {
		switch {
		case m.Name == labels.MetricName && m.Type == labels.MatchEqual && sh.name == nil:
			sh.name = m
		case m.Name == labels.MetricName:
			return sh, false
		default:
			sh.matchers = append(sh.matchers, m)
		}
	}
	// Buckets: a metric's bucket series are many times its series, and
	// the dashboard's bucket sums share no grid.
	return sh, sh.name != nil && !strings.HasSuffix(sh.name.Value, "_bucket")
}

// leafExpr is the text of the shared leaf over the metric's series that
// scope accepts (every series when scope is empty). sum without () of the
// function is the function, series by series (it drops only __name__,
// which the function drops too), and runs as a flat sum: a lookup and one
// statement of per-series grids.
func (sh sharedShape) leafExpr(scope []*labels.Matcher) string {
	vs := sh.ms.VectorSelector.(*parser.VectorSelector)
	leaf := &parser.AggregateExpr{Op: parser.SUM, Without: true, Expr: &parser.Call{Func: sh.call.Func, Args: parser.Expressions{&parser.MatrixSelector{
		VectorSelector: &parser.VectorSelector{Name: sh.name.Value, LabelMatchers: append([]*labels.Matcher{sh.name}, scope...), OriginalOffset: vs.OriginalOffset},
		Range:          sh.ms.Range,
	}}}}
	return leaf.String()
}

// excludesOnly says whether matchers only leave series out: a query with
// only these reads about every series of its metric anyway.
func excludesOnly(matchers []*labels.Matcher) bool {
	for _, m := range matchers {
		if m.Type != labels.MatchNotEqual && m.Type != labels.MatchNotRegexp && !(m.Type == labels.MatchRegexp && m.Value == ".*") {
			return false
		}
	}
	return true
}

// namesOne says whether a matcher asks for one value of a label
// (service="x"): such a query selects a few series, and its own statement
// costs less than taking them from the leaf's every series (the cached
// leaf is expanded whole: at 200 services a one-service panel took 0.97 s
// from it against 62 ms on its own); a leaf over those few serves.
func namesOne(matchers []*labels.Matcher) bool {
	for _, m := range matchers {
		if m.Type == labels.MatchEqual && m.Value != "" {
			return true
		}
	}
	return false
}

// sharer decides, for one range query on one grid, which aggregations
// read a shared leaf (splitQuery's share).
func (e *Engine) sharer(grid plan.Grid, strategy string) func(*parser.AggregateExpr) (string, []*labels.Matcher, bool) {
	kept := func(text string) bool {
		return e.cache.covers(cacheKey{expr: text, stepMs: grid.StepMs, phaseMs: grid.StartMs % grid.StepMs, strategy: strategy}, grid)
	}
	return func(a *parser.AggregateExpr) (string, []*labels.Matcher, bool) {
		sh, ok := sharedShapeOf(a)
		if !ok {
			return "", nil, false
		}
		if excludesOnly(sh.matchers) {
			return sh.leafExpr(nil), sh.matchers, true
		}
		if namesOne(sh.matchers) {
			return sh.oneValueLeaf(a, kept)
		}
		for _, scope := range scopesOf(selecting(sh.matchers)) {
			if text := sh.leafExpr(scope); kept(text) {
				return text, sh.matchers, true
			}
		}
		if scope := viewScope(a, sh.matchers); len(scope) > 0 {
			return sh.leafExpr(scope), sh.matchers, true
		}
		return "", nil, false
	}
}

// oneValueLeaf is the leaf of an aggregation whose matchers name one
// value (a service's inbound rate by code, its requests by method): never
// the metric's every series, but a scoped leaf over matchers naming one
// value, kept or started by a's view (viewScope), that the view's other
// panels over the same few series read (at 20 services the second panel
// took 26–54 ms by its own statement).
func (sh sharedShape) oneValueLeaf(a *parser.AggregateExpr, kept func(string) bool) (string, []*labels.Matcher, bool) {
	for _, scope := range scopesOf(selecting(sh.matchers)) {
		if text := sh.leafExpr(scope); namesOne(scope) && kept(text) {
			return text, sh.matchers, true
		}
	}
	if scope := viewScope(a, sh.matchers); namesOne(scope) {
		return sh.leafExpr(scope), sh.matchers, true
	}
	return "", nil, false
}

// Scoped leaves: a dashboard at one value of a variable (one namespace:
// destination_namespace=~"forma3d") selects with it in every panel, beside
// each panel's own filter (code=~"5..") and grouping. At 200 services the
// four panels over the request counter ran four statements over the same
// samples, 2.2 s. A query that selects with matchers on labels it does
// not group by starts a leaf over those matchers alone (viewScope), and a
// later query on the same grid reads the kept leaf whose matchers are
// among its own (scopesOf), its other matchers applied in the plugin. The
// leaf returns its series' grids, not their sums: a query alone pays that
// once (at 20 services about twice its own statement), and its refresh
// reads the kept leaf.

// maxScopeMatchers bounds the selecting matchers whose every combination
// is looked for among the kept leaves.
const maxScopeMatchers = 4

// selecting is matchers without those that only leave series out.
func selecting(matchers []*labels.Matcher) []*labels.Matcher {
	var out []*labels.Matcher
	for _, m := range matchers {
		if !excludesOnly([]*labels.Matcher{m}) {
			out = append(out, m)
		}
	}
	return out
}

// scopesOf is every subset of ms, the largest (fewest series) first, the
// empty one (every series) last; over maxScopeMatchers, ms and the empty
// set only.
func scopesOf(ms []*labels.Matcher) [][]*labels.Matcher {
	if len(ms) > maxScopeMatchers {
		return [][]*labels.Matcher{ms, nil}
	}
	var out [][]*labels.Matcher
	for size := len(ms); size >= 0; size-- {
		for mask := (1 << len(ms)) - 1; mask >= 0; mask-- {
			if mathbits.OnesCount(uint(mask)) != size {
				continue
			}
			var scope []*labels.Matcher
			for i, m := range ms {
				if mask&(1<<i) != 0 {
					scope = append(scope, m)
				}
			}
			out = append(out, scope)
		}
	}
	return out
}

// viewScope is the selecting matchers of a's selector on labels a does
// not group by (by (…) only): those a panel shares with the view's other
// panels, where a grouped label's matcher is the panel's own choice.
func viewScope(a *parser.AggregateExpr, matchers []*labels.Matcher) []*labels.Matcher {
	if a.Without {
		return nil
	}
	var out []*labels.Matcher
	for _, m := range selecting(matchers) {
		if !slices.Contains(a.Grouping, m.Name) {
			out = append(out, m)
		}
	}
	return out
}
