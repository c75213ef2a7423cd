package plan

// Empty reports whether a vector step certainly yields no rows, whatever
// is stored: a selector whose name resolved to no stored metric, and every
// step that keeps no rows without input rows (an aggregation of nothing,
// an operator with an empty side it needs, a function of nothing). absent()
// of nothing yields a row, so it is never empty; scalars never are.
//
// The engine answers such a query without a statement: the name lookups
// that found nothing are all it costs (a dashboard panel for a metric the
// mesh does not export, such as certificate expiry without TLS).
func Empty(n Node) bool {
	if n.Scalar() {
		return false
	}
	switch n := n.(type) {
	case *InstantSelector:
		return len(n.Sources) == 0
	case *RangeFunction:
		return len(n.Sources) == 0
	case *Aggregation:
		return Empty(n.Input)
	case *Negate:
		return Empty(n.Input)
	case *Call:
		switch n.Func {
		case "absent", "vector":
			return false
		}
		return n.Input != nil && Empty(n.Input)
	case *Binary:
		lhs, rhs := !n.LHS.Scalar() && Empty(n.LHS), !n.RHS.Scalar() && Empty(n.RHS)
		switch n.Op {
		case "or":
			return lhs && rhs
		case "unless":
			return lhs
		}
		// Arithmetic, comparisons and "and" need a row on each vector side.
		return lhs || rhs
	}
	return false
}
