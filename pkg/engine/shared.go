package engine

import (
	"errors"
	"fmt"
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
// so the leaf reads about what the query would; or the leaf is in the
// cache already for this step and phase, so the query reads at most its
// newest minutes, and no matcher names one value (service="x": a few
// series, cheaper on their own). Otherwise the query keeps its own
// statement; a leaf over more series than the max series limit makes the
// query run unshared (run).

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

// sharedLeafOf returns the text of the shared leaf a would read, and the
// matchers that select a's series among its series; ok is false when a
// is not of the shape.
func sharedLeafOf(a *parser.AggregateExpr) (text string, matchers []*labels.Matcher, ok bool) {
	if !sharedOps[a.Op] || a.Param != nil {
		return "", nil, false
	}
	call, isCall := dialect.Unparen(a.Expr).(*parser.Call)
	if !isCall || !sharedFuncs[call.Func.Name] || len(call.Args) != 1 {
		return "", nil, false
	}
	ms, isMatrix := dialect.Unparen(call.Args[0]).(*parser.MatrixSelector)
	if !isMatrix {
		return "", nil, false
	}
	vs := ms.VectorSelector.(*parser.VectorSelector)
	if vs.Timestamp != nil || vs.StartOrEnd != 0 {
		return "", nil, false
	}
	var name *labels.Matcher
	for _, m := range vs.LabelMatchers {
		switch {
		case m.Name == labels.MetricName && m.Type == labels.MatchEqual && name == nil:
			name = m
		case m.Name == labels.MetricName:
			return "", nil, false
		default:
			matchers = append(matchers, m)
		}
	}
	// Buckets: a metric's bucket series are many times its series, and
	// the dashboard's bucket sums share no grid.
	if name == nil || strings.HasSuffix(name.Value, "_bucket") {
		return "", nil, false
	}
	// sum without () of the function is the function, series by series
	// (it drops only __name__, which the function drops too), and runs as
	// a flat sum: a lookup and one statement of per-series grids.
	leaf := &parser.AggregateExpr{Op: parser.SUM, Without: true, Expr: &parser.Call{Func: call.Func, Args: parser.Expressions{&parser.MatrixSelector{
		VectorSelector: &parser.VectorSelector{Name: name.Value, LabelMatchers: []*labels.Matcher{name}, OriginalOffset: vs.OriginalOffset},
		Range:          ms.Range,
	}}}}
	return leaf.String(), matchers, true
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
// from it against 62 ms on its own).
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
	return func(a *parser.AggregateExpr) (string, []*labels.Matcher, bool) {
		text, matchers, ok := sharedLeafOf(a)
		if !ok {
			return "", nil, false
		}
		if excludesOnly(matchers) {
			return text, matchers, true
		}
		if namesOne(matchers) {
			return "", nil, false
		}
		key := cacheKey{expr: text, stepMs: grid.StepMs, phaseMs: grid.StartMs % grid.StepMs, strategy: strategy}
		if e.cache.covers(key, grid) {
			return text, matchers, true
		}
		return "", nil, false
	}
}
