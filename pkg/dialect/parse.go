package dialect

import (
	"errors"
	"fmt"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/parser/posrange"
)

// Error is a problem with an expression, at a byte offset into it.
type Error struct {
	// Pos is the 0-based byte offset where the problem starts.
	Pos  int
	Msg  string
	Expr string
}

func (e *Error) Error() string {
	line, col := lineCol(e.Expr, e.Pos)
	return fmt.Sprintf("at line %d, column %d: %s", line, col, e.Msg)
}

// lineCol converts a byte offset into a 1-based line and column.
func lineCol(s string, pos int) (int, int) {
	if pos > len(s) {
		pos = len(s)
	}
	if pos < 0 {
		pos = 0
	}
	before := s[:pos]
	line := strings.Count(before, "\n") + 1
	col := pos - strings.LastIndexByte(before, '\n')
	return line, col
}

var promParser = parser.NewParser(parser.Options{})

// Parse parses an expression (macros already expanded) and checks that it
// stays inside the dialect.
func Parse(expr string) (parser.Expr, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, &Error{Pos: 0, Msg: "empty expression", Expr: expr}
	}
	ast, err := promParser.ParseExpr(expr)
	if err != nil {
		return nil, parseError(expr, err)
	}
	if err := check(expr, ast); err != nil {
		return nil, err
	}
	return ast, nil
}

func parseError(expr string, err error) error {
	var errs parser.ParseErrors
	if errors.As(err, &errs) && len(errs) > 0 {
		first := errs[0]
		return &Error{Pos: int(first.PositionRange.Start), Msg: "syntax error: " + first.Err.Error(), Expr: expr}
	}
	return &Error{Pos: 0, Msg: "syntax error: " + err.Error(), Expr: expr}
}

func unsupported(expr string, pos posrange.Pos, format string, args ...any) error {
	return &Error{Pos: int(pos), Msg: fmt.Sprintf(format, args...), Expr: expr}
}

// check walks the tree and rejects what the SQL translation does not
// implement. Rejecting is the contract: a construct outside this list must
// never produce a number.
func check(expr string, node parser.Node) error {
	var walk func(n parser.Node, parent parser.Node) error
	walk = func(n parser.Node, parent parser.Node) error {
		if err := checkNode(expr, n, parent); err != nil {
			return err
		}
		for _, child := range parser.Children(n) {
			if err := walk(child, n); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(node, nil)
}

func checkNode(expr string, n parser.Node, parent parser.Node) error {
	switch e := n.(type) {
	case *parser.NumberLiteral, *parser.ParenExpr:
		return nil
	case *parser.StringLiteral:
		if _, ok := parent.(*parser.Call); !ok {
			return unsupported(expr, e.PosRange.Start, "a string is only accepted as a function argument (label_replace)")
		}
		return nil
	case *parser.UnaryExpr:
		return nil
	case *parser.VectorSelector:
		return checkSelector(expr, e)
	case *parser.MatrixSelector:
		return checkMatrix(expr, e, parent)
	case *parser.SubqueryExpr:
		return unsupported(expr, e.PositionRange().Start, "subqueries (expr[range:step]) are not supported")
	case *parser.AggregateExpr:
		return checkAggregate(expr, e)
	case *parser.BinaryExpr:
		return checkBinary(expr, e)
	case *parser.Call:
		return checkCall(expr, e)
	case *parser.DurationExpr:
		return unsupported(expr, e.PositionRange().Start, "duration arithmetic is not supported: write a plain duration such as 5m")
	default:
		return unsupported(expr, n.PositionRange().Start, "%T is not supported", n)
	}
}

func checkSelector(expr string, vs *parser.VectorSelector) error {
	start := vs.PosRange.Start
	switch {
	case vs.Timestamp != nil || vs.StartOrEnd != 0:
		return unsupported(expr, start, "the @ modifier is not supported")
	case vs.Anchored || vs.Smoothed:
		return unsupported(expr, start, "anchored and smoothed selectors are not supported")
	case vs.OriginalOffsetExpr != nil:
		return unsupported(expr, start, "duration arithmetic in offset is not supported: write a plain duration")
	}
	if vs.Name == "" && nameMatcher(vs) == nil {
		return unsupported(expr, start, "a selector needs a metric name: write name{…} or {__name__=\"name\"}")
	}
	return nil
}

// nameMatcher is the selector's matcher on the metric name, if any.
func nameMatcher(vs *parser.VectorSelector) *MatcherRef {
	for _, m := range vs.LabelMatchers {
		if m.Name == "__name__" {
			return &MatcherRef{m.Type.String(), m.Value}
		}
	}
	return nil
}

// MatcherRef is a matcher's operator and value, for messages.
type MatcherRef struct{ Op, Value string }

func checkMatrix(expr string, ms *parser.MatrixSelector, parent parser.Node) error {
	if ms.RangeExpr != nil {
		return unsupported(expr, ms.PositionRange().Start, "duration arithmetic in a range is not supported: write a plain duration such as [5m]")
	}
	call, ok := parent.(*parser.Call)
	if !ok || !rangeFunctions[call.Func.Name] {
		return unsupported(expr, ms.PositionRange().Start, "a range selector must be the argument of a range function (rate, increase, …_over_time)")
	}
	if ms.Range <= 0 {
		return unsupported(expr, ms.PositionRange().Start, "a range must be positive")
	}
	return nil
}

var aggregations = map[parser.ItemType]bool{
	parser.SUM: true, parser.AVG: true, parser.MIN: true, parser.MAX: true,
	parser.COUNT: true, parser.TOPK: true, parser.BOTTOMK: true,
}

func checkAggregate(expr string, a *parser.AggregateExpr) error {
	if !aggregations[a.Op] {
		return unsupported(expr, a.PosRange.Start, "aggregation %s is not supported (supported: sum, avg, min, max, count, topk, bottomk)", a.Op)
	}
	if a.Param != nil {
		if _, ok := NumberValue(a.Param); !ok {
			return unsupported(expr, a.Param.PositionRange().Start, "the parameter of %s must be a number", a.Op)
		}
	}
	return nil
}

var binaryOps = map[parser.ItemType]bool{
	parser.ADD: true, parser.SUB: true, parser.MUL: true, parser.DIV: true, parser.MOD: true, parser.POW: true,
	parser.EQLC: true, parser.NEQ: true, parser.GTR: true, parser.LSS: true, parser.GTE: true, parser.LTE: true,
	parser.LAND: true, parser.LOR: true, parser.LUNLESS: true,
}

func checkBinary(expr string, b *parser.BinaryExpr) error {
	pos := b.PositionRange().Start
	if !binaryOps[b.Op] {
		return unsupported(expr, b.LHS.PositionRange().End, "operator %s is not supported", b.Op)
	}
	if vm := b.VectorMatching; vm != nil {
		fv := vm.FillValues
		if fv.LHS != nil || fv.RHS != nil {
			return unsupported(expr, pos, "fill modifiers are not supported")
		}
	}
	return nil
}

// Unparen strips the parentheses around an expression.
func Unparen(e parser.Expr) parser.Expr {
	for {
		p, ok := e.(*parser.ParenExpr)
		if !ok {
			return e
		}
		e = p.Expr
	}
}
