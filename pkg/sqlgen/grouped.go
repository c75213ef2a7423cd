package sqlgen

import (
	"fmt"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/forma3d/meshmetrics/pkg/plan"
)

// Series-key grouping: an aggregation straight over a selector or a range
// function (sum by (service) (rate(…[5m])), and histogram_quantile over
// such a sum) groups its per-series rows by a 64-bit group key instead of
// by label arrays. Each series' group, and its key, is computed once per
// series from the series table; the rows carry only (sid, i, v) and a key
// joined by sid, and the group's labels are attached once per group and
// grid index at the end. Building and grouping a label array for every
// (series, step) row was most of such a query's time (docs/benchmarks.md).
//
// It is used on the series extension's tables only: there the series come
// from the small series table, read once more for the group labels. On
// the exporter's tables the series are a scan of the whole range, and a
// second one would cost more than the arrays.
//
// A group key is cityHash64 of the group's label set; two groups with one
// key (about 2^-64 per pair) would be summed together, so the statement
// refuses them instead (groupKeyCollision).
const groupKeyCollision = "two label sets of one aggregation have the same 64-bit group key; the dialect cannot tell them apart"

// simpleAggregates are the aggregations that are one aggregate function
// over the column v (series-key grouping renders these).
var simpleAggregates = map[string]string{
	"sum": "sum(v)", "avg": meanSQL("sum(v)", "count()", "sum(v * pow(2, -512))", "countIf(NOT isFinite(v))"), "count": "toFloat64(count())",
	// min and max skip NaN unless every value is NaN, as Prometheus does.
	"min": "min(v)", "max": "max(v)",
}

// groupOf is the label set an aggregation groups a series (or a row) into,
// from that series' labels expression.
func groupOf(a *plan.Aggregation, labelsExpr string) string {
	if a.Without {
		return keepLabels(labelsExpr, append([]string{labels.MetricName}, a.Grouping...), false)
	}
	return keepLabels(labelsExpr, a.Grouping, true)
}

// groupedAggregation renders a over st by group key; ok is false when a
// is not one series-key grouping renders.
func (b *builder) groupedAggregation(a *plan.Aggregation) (name string, ok bool, err error) {
	agg, known := simpleAggregates[a.Op]
	if !known || !b.schema.SeriesTables {
		return "", false, nil
	}
	st, ok, err := b.seriesStepOf(a.Input)
	if !ok || err != nil {
		return "", false, err
	}
	group := groupOf(a, st.labels)
	if a.Op == "sum" && st.grids != "" {
		// Whole grids summed per group: one row per series, not one per
		// series and grid index.
		return b.add(a.Op, fmt.Sprintf(`SELECT g.glabels AS labels, toUInt32(k - 1) AS i, assumeNotNull(cell) AS v
FROM (
%s
) AS a
INNER JOIN (
%s
) AS g USING (gk)
%s`, indent(gridSums(st, seriesGroupKeys(st, group, ""), "gk")), indent(groupLabels(st, group, "grp")), gridCells)), true, nil
	}
	return b.add(a.Op, fmt.Sprintf(`SELECT g.glabels AS labels, a.i AS i, a.v AS v
FROM (
  SELECT gk, i, %s AS v
  FROM (
%s
  ) AS w
  INNER JOIN (
%s
  ) AS s USING (sid)
  GROUP BY gk, i
) AS a
INNER JOIN (
%s
) AS g USING (gk)`, agg, indent(indent(st.rows)), indent(indent(seriesGroupKeys(st, group, ""))), indent(groupLabels(st, group, "grp")))), true, nil
}

// gridSums adds st's grids (the native strategy's) per group: the rows of
// keys (sid and the columns by) joined by sid, one row per value of by
// with sums, the element-wise sum of its series' grids (NULL where none
// has a value).
func gridSums(st seriesStep, keys, by string) string {
	return fmt.Sprintf(`SELECT %s, sumForEach(grid) AS sums
FROM (
%s
) AS w
INNER JOIN (
%s
) AS s USING (sid)
GROUP BY %s`, by, indent(st.grids), indent(keys), by)
}

// gridCells turns a row of gridSums into one row per grid index k (1-based)
// holding a value, cell.
const gridCells = "ARRAY JOIN sums AS cell, arrayEnumerate(sums) AS k\nWHERE cell IS NOT NULL"

// seriesGroupKeys maps each of st's series to its group's key (sid, gk),
// with further select items extra (", … AS x") over its labels, slabels.
func seriesGroupKeys(st seriesStep, group, extra string) string {
	return st.sel.labelsWith(fmt.Sprintf("cityHash64(%s) AS gk%s", group, extra))
}

// groupLabels are the groups (gk, glabels) of st's series: the key of
// group and the labels the result shows for it, shown (an expression over
// the group's labels, grp). The series are read without the duplicate
// label set check: seriesGroupKeys, in the same statement, makes it.
func groupLabels(st seriesStep, group, shown string) string {
	return fmt.Sprintf(`SELECT gk, any(%s) AS glabels
FROM (SELECT %s AS grp FROM (
%s
))
GROUP BY cityHash64(grp) AS gk
HAVING throwIf(uniqExact(grp) > 1, %s) = 0`, shown, group, indent(st.sel.series), quote(groupKeyCollision))
}

// groupedHistogramQuantile renders histogram_quantile(q, sum by (…, le)
// (step)) by group key: each series' bucket bound is read from its le
// label once per series, and the buckets are summed by (group key, grid
// index, bound) straight from the per-series rows. ok is false for every
// other input.
func (b *builder) groupedHistogramQuantile(q float64, in plan.Node) (name string, ok bool, err error) {
	a, isAgg := in.(*plan.Aggregation)
	if !isAgg || a.Op != "sum" || !b.schema.SeriesTables {
		return "", false, nil
	}
	st, ok, err := b.seriesStepOf(a.Input)
	if !ok || err != nil {
		return "", false, err
	}
	// The quantile's groups: the sum's groups less le, as Prometheus groups
	// the sum's output; a series without a numeric le has no bound and
	// drops out, as there.
	sumGroup := groupOf(a, st.labels)
	group := keepLabels(sumGroup, []string{"le"}, false)
	keys := fmt.Sprintf("SELECT sid, gk, assumeNotNull(bound) AS ub\nFROM (\n%s\n)\nWHERE bound IS NOT NULL AND NOT isNaN(bound)",
		indent(seriesGroupKeys(st, group, fmt.Sprintf(", toFloat64OrNull(%s) AS bound", labelValue(sumGroup, "le")))))
	counts := fmt.Sprintf(`SELECT gk, i, ub, sum(v) AS c
FROM (
%s
) AS w
INNER JOIN (
%s
) AS s USING (sid)
GROUP BY gk, i, ub`, indent(st.rows), indent(keys))
	if st.grids != "" {
		// Whole grids summed per group and bound.
		counts = fmt.Sprintf("SELECT gk, toUInt32(k - 1) AS i, ub, assumeNotNull(cell) AS c\nFROM (\n%s\n)\n%s",
			indent(gridSums(st, keys, "gk, ub")), gridCells)
	}
	buckets := fmt.Sprintf(`SELECT gk, i, arraySort(x -> x.1, groupArray((ub, c))) AS buckets
FROM (
%s
)
GROUP BY gk, i`, indent(counts))
	return b.add("histogram_quantile", fmt.Sprintf("SELECT g.glabels AS labels, q.i AS i, q.v AS v\nFROM (\n%s\n) AS q\nINNER JOIN (\n%s\n) AS g USING (gk)",
		indent(b.quantileOfBuckets(q, buckets)), indent(groupLabels(st, group, withoutName("grp"))))), true, nil
}
