package sqlgen

import (
	"fmt"
	"math"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/forma3d/meshmetrics/pkg/plan"
)

// aggregation groups a vector at each grid index (sum, avg, …, topk).
func (b *builder) aggregation(a *plan.Aggregation) (string, error) {
	if name, ok, err := b.groupedAggregation(a); ok || err != nil {
		return name, err
	}
	in, err := b.node(a.Input)
	if err != nil {
		return "", err
	}
	group := groupOf(a, "labels")
	switch a.Op {
	case "topk", "bottomk":
		return b.topk(a, in, group)
	}
	agg := simpleAggregates[a.Op]
	if agg == "" {
		return "", fmt.Errorf("sqlgen: no SQL for aggregation %s", a.Op)
	}
	return b.add(a.Op, fmt.Sprintf(`SELECT grp AS labels, i, %s AS v
FROM (SELECT %s AS grp, i, v FROM %s)
GROUP BY grp, i`, agg, group, in)), nil
}

// meanSQL is a mean as Prometheus computes it: the sum divided by the
// count, unless the sum of finite values overflows, where Prometheus
// switches to an incremental mean. Scaling every value by 2^-512 (exact in
// binary floating point) keeps such a sum finite; the mean is scaled back.
func meanSQL(sum, count, scaledSum, nonFinite string) string {
	return fmt.Sprintf("if(isFinite(%[1]s) OR %[4]s > 0, %[1]s / %[2]s, %[3]s / %[2]s * pow(2, 512))", sum, count, scaledSum, nonFinite)
}

// topk keeps the k largest (bottomk: smallest) values of each group with
// their own labels; NaN ranks last in both, as in Prometheus.
func (b *builder) topk(a *plan.Aggregation, in, group string) (string, error) {
	if math.IsNaN(a.K) {
		return "", fmt.Errorf("parameter value of %s is NaN", a.Op)
	}
	if a.K < 1 {
		return b.add(a.Op, fmt.Sprintf("SELECT labels, i, v FROM %s WHERE 0", in)), nil
	}
	k := int64(math.Min(a.K, math.MaxInt32))
	dir := "DESC"
	if a.Op == "bottomk" {
		dir = "ASC"
	}
	return b.add(a.Op, fmt.Sprintf(`SELECT labels, i, v
FROM (
  SELECT labels, i, v, row_number() OVER (PARTITION BY %s, i ORDER BY isNaN(v), v %s) AS rank
  FROM %s
)
WHERE rank <= %d`, group, dir, in, k)), nil
}

// negate is unary minus; like arithmetic it drops the metric name.
func (b *builder) negate(n *plan.Negate) (string, error) {
	in, err := b.node(n.Input)
	if err != nil {
		return "", err
	}
	if n.Input.Scalar() {
		return b.add("negate", fmt.Sprintf("SELECT i, -v AS v FROM %s", in)), nil
	}
	return b.add("negate", fmt.Sprintf("SELECT %s AS labels, i, -v AS v FROM %s", withoutName("labels"), in)), nil
}

// comparisons are the filtering operators; with bool they yield 0 or 1.
var comparisons = map[string]string{"==": "=", "!=": "!=", ">": ">", "<": "<", ">=": ">=", "<=": "<="}

// opValue is the SQL of an arithmetic or comparison operator on two values.
func opValue(op, l, r string) string {
	if c, ok := comparisons[op]; ok {
		return fmt.Sprintf("(%s %s %s)", l, c, r)
	}
	switch op {
	case "^":
		return fmt.Sprintf("pow(%s, %s)", l, r)
	case "%":
		return fmt.Sprintf("(%s %% %s)", l, r)
	}
	return fmt.Sprintf("(%s %s %s)", l, op, r)
}

// binary renders an operator between two scalars, a vector and a scalar,
// or two vectors.
func (b *builder) binary(e *plan.Binary) (string, error) {
	lhs, err := b.node(e.LHS)
	if err != nil {
		return "", err
	}
	rhs, err := b.node(e.RHS)
	if err != nil {
		return "", err
	}
	_, isComparison := comparisons[e.Op]
	switch {
	case e.LHS.Scalar() && e.RHS.Scalar():
		v := opValue(e.Op, "l.v", "r.v")
		if isComparison {
			v = "toFloat64(" + v + ")"
		}
		return b.add("scalar_op", fmt.Sprintf("SELECT l.i AS i, %s AS v FROM %s AS l INNER JOIN %s AS r ON l.i = r.i", v, lhs, rhs)), nil
	case e.LHS.Scalar() || e.RHS.Scalar():
		return b.vectorScalar(e, lhs, rhs, isComparison)
	case e.Matching != nil && e.Matching.Card == plan.CardManyToMany:
		return b.setOperator(e, lhs, rhs)
	case e.Matching != nil:
		return b.vectorVector(e, lhs, rhs, isComparison)
	}
	return "", fmt.Errorf("sqlgen: binary %s between two vectors without matching", e.Op)
}

// vectorScalar applies an operator between each series and a scalar.
func (b *builder) vectorScalar(e *plan.Binary, lhs, rhs string, isComparison bool) (string, error) {
	vec, sc, l, r := lhs, rhs, "x.v", "s.v"
	if e.LHS.Scalar() {
		vec, sc, l, r = rhs, lhs, "s.v", "x.v"
	}
	labelsExpr, value, where := withoutName("x.labels"), opValue(e.Op, l, r), ""
	switch {
	case isComparison && e.ReturnBool:
		value = "toFloat64(" + value + ")"
	case isComparison:
		// A filter: the vector's own sample passes unchanged, name and all.
		labelsExpr, where, value = "x.labels", "\nWHERE "+value, "x.v"
	}
	return b.add("op", fmt.Sprintf("SELECT %s AS labels, x.i AS i, %s AS v\nFROM %s AS x INNER JOIN %s AS s ON s.i = x.i%s",
		labelsExpr, value, vec, sc, where)), nil
}

// signature is the label subset two vectors are matched on: on(…) keeps
// the listed labels, ignoring(…) (and no modifier) drops them and the name.
func signature(labelsExpr string, m *plan.Matching) string {
	if m.On {
		return keepLabels(labelsExpr, m.Labels, true)
	}
	return keepLabels(labelsExpr, append([]string{labels.MetricName}, m.Labels...), false)
}

// setOperator renders and, or and unless: series are compared by
// signature at each grid index; values are never combined.
func (b *builder) setOperator(e *plan.Binary, lhs, rhs string) (string, error) {
	sig := signature("labels", e.Matching)
	switch e.Op {
	case "and", "unless":
		in := "IN"
		if e.Op == "unless" {
			in = "NOT IN"
		}
		return b.add(e.Op, fmt.Sprintf("SELECT labels, i, v FROM %s\nWHERE (%s, i) %s (SELECT %s, i FROM %s)", lhs, sig, in, sig, rhs)), nil
	case "or":
		// Each side is referenced once: a CTE is planned and run again at
		// every reference, and a NOT IN over the left side would be a
		// second one. A right-hand row stays unless a left-hand row has its
		// signature at its grid index.
		return b.add("or", fmt.Sprintf(`SELECT labels, i, v
FROM (
  SELECT labels, i, v, side, max(side = 0) OVER (PARTITION BY %s, i) AS left_has
  FROM (
    SELECT labels, i, v, 0 AS side FROM %s
    UNION ALL
    SELECT labels, i, v, 1 AS side FROM %s
  )
)
WHERE side = 0 OR NOT left_has`, sig, lhs, rhs)), nil
	}
	return "", fmt.Errorf("sqlgen: no SQL for set operator %s", e.Op)
}

// vectorVector renders an arithmetic or comparison operator between two
// vectors, matched one-to-one or many-to-one (group_left; group_right
// swaps the sides), with Prometheus' errors for ambiguous matches.
func (b *builder) vectorVector(e *plan.Binary, lhs, rhs string, isComparison bool) (string, error) {
	m := e.Matching
	// m is the "many" side (for one-to-one either), o the "one" side. The
	// value is always op(original LHS, original RHS).
	many, one, lv, rv := lhs, rhs, "m.v", "o.v"
	if m.Card == plan.CardOneToMany {
		many, one, lv, rv = rhs, lhs, "o.v", "m.v"
	}

	// checked comes first in WHERE: ClickHouse evaluates AND lazily, and the
	// ambiguity checks must run on every matched pair, also those the
	// comparison filters out (Prometheus checks before filtering).

	// Result labels: the many side's, less the name for arithmetic and
	// bool, reduced to on(…) / less ignoring(…) for one-to-one, plus the
	// group_x labels copied from the one side.
	res := "m.labels"
	if !isComparison || e.ReturnBool {
		res = withoutName(res)
	}
	if m.Card == plan.CardOneToOne {
		if m.On {
			res = keepLabels(res, m.Labels, true)
		} else {
			res = keepLabels(res, m.Labels, false)
		}
	}
	if len(m.Include) > 0 {
		res = fmt.Sprintf("arraySort(arrayFilter(x -> x.2 != '', arrayConcat(%s, arrayMap(n -> (n, arrayFirst(x -> x.1 = n, o.labels).2), %s))))",
			keepLabels(res, m.Include, false), stringArray(m.Include))
	}

	value, keep := opValue(e.Op, lv, rv), "1"
	switch {
	case isComparison && e.ReturnBool:
		value = "toFloat64(" + value + ")"
	case isComparison:
		value, keep = lv, value
	}
	oneSide, manyErr := "right", "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
	if m.Card == plan.CardOneToMany {
		oneSide = "left"
	}
	if m.Card != plan.CardOneToOne {
		manyErr = "multiple matches for labels: grouping labels must ensure unique matches"
	}
	dupKey := "m.sig"
	if m.Card != plan.CardOneToOne {
		dupKey = "res"
	}
	sig := signature("labels", m)
	return b.add("op", fmt.Sprintf(`SELECT res AS labels, i, v
FROM (
  SELECT %s AS res, m.i AS i, %s AS v, %s AS keep,
    throwIf(o.dup > 1, %s) + throwIf(count() OVER (PARTITION BY %s, m.i) > 1, %s) AS checked
  FROM (SELECT labels, i, v, %s AS sig FROM %s) AS m
  INNER JOIN (SELECT labels, i, v, %s AS sig, count() OVER (PARTITION BY sig, i) AS dup FROM %s) AS o
    ON m.sig = o.sig AND m.i = o.i
)
WHERE checked = 0 AND keep`, res, value, keep,
		quote("found duplicate series for the match group on the "+oneSide+" hand-side of the operation; many-to-many matching not allowed: matching labels must be unique on one side"),
		dupKey, quote(manyErr), sig, many, sig, one)), nil
}
