package dialect

import (
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// rangeFunctions take a range selector: their SQL reads each window's
// samples.
var rangeFunctions = map[string]bool{
	"rate": true, "increase": true, "irate": true, "delta": true, "idelta": true,
	"sum_over_time": true, "avg_over_time": true, "min_over_time": true,
	"max_over_time": true, "count_over_time": true, "last_over_time": true,
}

// argShape says what one function argument must be beyond its PromQL type.
type argShape int

const (
	anyArg    argShape = iota // whatever the PromQL type allows
	numberArg                 // a number literal, possibly negated
	rangeArg                  // a range selector
	labelArg                  // a string literal that is a valid label name
	stringArg                 // a string literal
	regexArg                  // a string literal that compiles as RE2
)

// functions lists every function of the dialect and the shape of its
// arguments; a function missing here is rejected.
var functions = map[string][]argShape{
	"rate": {rangeArg}, "increase": {rangeArg}, "irate": {rangeArg},
	"delta": {rangeArg}, "idelta": {rangeArg},
	"sum_over_time": {rangeArg}, "avg_over_time": {rangeArg}, "min_over_time": {rangeArg},
	"max_over_time": {rangeArg}, "count_over_time": {rangeArg}, "last_over_time": {rangeArg},
	"histogram_quantile": {numberArg, anyArg},
	"abs":                {anyArg}, "ceil": {anyArg}, "floor": {anyArg},
	"round":     {anyArg, numberArg},
	"clamp_min": {anyArg, numberArg}, "clamp_max": {anyArg, numberArg},
	// Like Prometheus 3, only the destination label name is checked.
	"label_replace": {anyArg, labelArg, stringArg, stringArg, regexArg},
	"vector":        {anyArg},
	"scalar":        {anyArg},
	"absent":        {anyArg},
	"time":          {},
}

// Functions lists the dialect's function names, sorted, for documentation
// and the query editor.
func Functions() []string {
	names := make([]string, 0, len(functions))
	for name := range functions {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func checkCall(expr string, c *parser.Call) error {
	shapes, ok := functions[c.Func.Name]
	if !ok {
		return unsupported(expr, c.PosRange.Start, "function %s is not supported (supported: %s)", c.Func.Name, strings.Join(Functions(), ", "))
	}
	for i, arg := range c.Args {
		if i >= len(shapes) {
			break // the parser has checked the argument count already
		}
		if err := checkArg(expr, c, arg, shapes[i]); err != nil {
			return err
		}
	}
	return nil
}

func checkArg(expr string, c *parser.Call, arg parser.Expr, shape argShape) error {
	pos := arg.PositionRange().Start
	inner := Unparen(arg)
	switch shape {
	case numberArg:
		if _, ok := NumberValue(inner); !ok {
			return unsupported(expr, pos, "argument of %s must be a number literal", c.Func.Name)
		}
	case rangeArg:
		if _, ok := inner.(*parser.SubqueryExpr); ok {
			return unsupported(expr, pos, "subqueries (expr[range:step]) are not supported")
		}
		if _, ok := inner.(*parser.MatrixSelector); !ok {
			return unsupported(expr, pos, "%s takes a range selector such as metric[5m]", c.Func.Name)
		}
	case labelArg, stringArg, regexArg:
		s, ok := inner.(*parser.StringLiteral)
		if !ok {
			return unsupported(expr, pos, "argument of %s must be a string literal", c.Func.Name)
		}
		if shape == labelArg && !validLabelName(s.Val) {
			return unsupported(expr, pos, "%q is not a valid label name: expected a non-empty UTF-8 string", s.Val)
		}
		if shape == regexArg {
			if _, err := labels.NewFastRegexMatcher(s.Val); err != nil {
				return unsupported(expr, pos, "invalid regular expression %q: %v", s.Val, err)
			}
		}
	}
	return nil
}

// NumberValue reads a number literal, allowing a leading minus.
func NumberValue(e parser.Expr) (float64, bool) {
	switch n := Unparen(e).(type) {
	case *parser.NumberLiteral:
		return n.Val, true
	case *parser.UnaryExpr:
		v, ok := NumberValue(n.Expr)
		if !ok {
			return 0, false
		}
		if n.Op == parser.SUB {
			return -v, true
		}
		return v, true
	}
	return 0, false
}

// validLabelName accepts what Prometheus 3 accepts (UTF-8 names).
func validLabelName(s string) bool {
	return s != "" && utf8.ValidString(s)
}
