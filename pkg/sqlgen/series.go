package sqlgen

import (
	"fmt"
	"strings"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/forma3d/meshmetrics/pkg/plan"
)

// Selectors read a stored series' points keyed by series, and its label
// set once per series.
//
// Building every point's label set (sorting and concatenating the attribute
// maps) and grouping points by those arrays was most of a query's time and
// memory: on 13.8 M points, seconds and gigabytes (docs/benchmarks.md). A
// point's series key (sid) is instead a hash of the columns its label set is
// built from, so windows and groups compare one UInt64; the label sets are
// built per series and joined to the per-series results.
//
// Two stored series can still carry one label set while their hashes
// differ: an attribute with an empty value, job or instance given as a point
// attribute, namespace, pod or node given as a point attribute in one and a
// resource attribute in the other. Prometheus would see one series;
// merging them would cost a join on every point, so such a statement fails
// with DuplicateSeries instead of answering with two (the flat sums' lookup
// returns the label sets, and the plugin refuses them there).
const DuplicateSeries = "two stored series have the same label set but different attribute columns (an empty attribute value, or a label given as both point and resource attribute); the dialect cannot merge them"

// selectorSQL is a selector's points and series.
type selectorSQL struct {
	// rows are the points: sid UInt64, t Int64 (Unix ms), v Float64, stale.
	rows string
	// series are the series: sid UInt64, slabels Array(Tuple(String,
	// String)) and stored UInt64, one row per sid. stored is the series'
	// row in the samples tables (sid hashes a histogram's bucket bound,
	// or its _count or _sum name, into it): the number slices cut
	// (Options.Slice).
	series string
}

// labels are the series, refused when two have one label set.
func (s selectorSQL) labels() string { return s.labelsWith("slabels") }

// labelsWith selects items (expressions over sid and slabels) from the
// series (and stored), refused when two have one label set.
func (s selectorSQL) labelsWith(items string) string {
	return fmt.Sprintf(`SELECT sid, %s FROM (
  SELECT sid, slabels, stored, count() OVER (PARTITION BY slabels) AS copies FROM (
%s
  )
)
WHERE throwIf(copies > 1, %s) = 0`, items, indent(indent(s.series)), quote(DuplicateSeries))
}

// samples renders the points of a selector in loMs < t <= hiMs and its
// series' label sets; stale is OTel's "no recorded value" flag, PromQL's
// stale marker. withStale=false drops stale points (range functions do
// not see stale markers).
func (b *builder) samples(sel plan.Selector, loMs, hiMs int64, withStale bool) (selectorSQL, error) {
	b.lastPos = sel.Pos
	var rows, series []string
	for _, src := range sel.Sources {
		r, s, ok, err := b.source(src, sel.Matchers, loMs, hiMs, withStale)
		if err != nil {
			return selectorSQL{}, err
		}
		if ok {
			rows, series = append(rows, r), append(series, s)
		}
	}
	if len(rows) == 0 {
		// Nothing can match: keep the shapes, return no rows.
		rows = []string{"SELECT toUInt64(0) AS sid, toInt64(0) AS t, toFloat64(0) AS v, toUInt8(0) AS stale WHERE 0"}
		series = []string{"SELECT toUInt64(0) AS sid, CAST([], 'Array(Tuple(String, String))') AS slabels, toUInt64(0) AS stored WHERE 0"}
	}
	return selectorSQL{rows: strings.Join(rows, "\nUNION ALL\n"), series: strings.Join(series, "\nUNION ALL\n")}, nil
}

// seriesStep is a selector or range function evaluated per series, before
// label sets are attached: rows (sid, i, v), the selector's series, and the
// step's label set as an expression over its series' slabels.
type seriesStep struct {
	prefix string // the CTE's name prefix: what the step is
	rows   string
	// grids, when set, are the same values as one row per series (sid,
	// grid): grid is an Array(Nullable(Float64)) with a cell per grid
	// index, NULL where rows has no row (the native strategy's ToGrid).
	grids  string
	sel    selectorSQL
	labels string
}

// addStep adds st as a vector step (labels, i, v): its rows joined to
// their series' label sets.
func (b *builder) addStep(st seriesStep) string {
	return b.add(st.prefix, fmt.Sprintf("SELECT %s AS labels, i, v\nFROM (\n%s\n) AS w\nINNER JOIN (\n%s\n) AS s USING (sid)",
		st.labels, indent(st.rows), indent(st.sel.labels())))
}

// seriesStepOf renders n as a seriesStep when it is a selector or a range
// function; ok is false for every other node.
func (b *builder) seriesStepOf(n plan.Node) (st seriesStep, ok bool, err error) {
	switch n := n.(type) {
	case *plan.InstantSelector:
		st, err = b.instantSelectorStep(n)
	case *plan.RangeFunction:
		st, err = b.rangeFunctionStep(n)
	default:
		return seriesStep{}, false, nil
	}
	return st, err == nil, err
}

// source reads one source: its points (sid, t, v, stale), without stale
// markers unless withStale, and its series (sid, slabels). ok is false when
// the matchers can never match its rows (a __name__ or le matcher decided
// without reading).
func (b *builder) source(src plan.Source, matchers []*labels.Matcher, loMs, hiMs int64, withStale bool) (rows, series string, ok bool, err error) {
	table, value := b.schema.TableOf(src.Table), "Value"
	if src.Table == plan.TableHistogram {
		value = map[plan.Part]string{plan.PartCount: "toFloat64(Count)", plan.PartSum: "Sum"}[src.Part]
	}
	where := []string{
		"MetricName = " + quote(src.Metric),
		b.timeBounds(loMs, hiMs),
	}
	var leConds []*labels.Matcher
	for _, m := range matchers {
		switch {
		case m.Name == labels.MetricName:
			if !m.Matches(src.Name) {
				return "", "", false, nil
			}
		case m.Name == "le" && src.Part == plan.PartBucket:
			leConds = append(leConds, m)
		case m.Name == "le" && src.Table == plan.TableHistogram:
			// _count and _sum carry no le.
			if !m.Matches("") {
				return "", "", false, nil
			}
		default:
			where = append(where, matcherSQL(m, labelColumn(m.Name)))
		}
	}
	if b.schema.SeriesTables {
		return b.narrowSource(src, value, where[2:], loMs, hiMs, withStale, leConds)
	}
	t := b.timeMs()
	from := fmt.Sprintf("FROM %s.%s\nWHERE %s\n  AND %s > %d AND %s <= %d",
		ident(b.schema.Database), ident(table), strings.Join(where, "\n  AND "), t, loMs, t, hiMs)
	if !withStale {
		from += "\n  AND bitAnd(Flags, 1) = 0"
	}
	hash := seriesHash(src.Name)
	if src.Part != plan.PartBucket {
		rows = fmt.Sprintf("SELECT %s AS sid, %s AS t, %s AS v, bitAnd(Flags, 1) = 1 AS stale\n%s", hash, t, value, from)
		series = fmt.Sprintf("SELECT %s AS sid, %s AS slabels, sid AS stored\n%s\nGROUP BY sid", hash, labelsColumn(src.Name, seriesLabels), from)
		return rows, series, true, nil
	}
	layouts := fmt.Sprintf("SELECT %s AS base, %s AS eb, any(ServiceName) AS s0, any(ResourceAttributes) AS r0, any(Attributes) AS a0\n  %s\n  GROUP BY base, eb",
		hash, bucketBounds, strings.ReplaceAll(from, "\n", "\n  "))
	return b.bucketSource(src, hash, t, from, layouts, leConds)
}

// seriesDays is the series table's condition on the days of points in
// (loMs, hiMs], as the views that fill it take a point's day (toDate, in
// the server's time zone).
func seriesDays(loMs, hiMs int64) string {
	// toDateTime wraps a negative second count around: windows that
	// reach before 1970 start at its first day.
	return fmt.Sprintf("Day >= toDate(toDateTime(%d)) AND Day <= toDate(toDateTime(%d))", max(0, floorDiv(loMs, 1000)), max(0, floorDiv(hiMs, 1000)))
}

// HeldNamesSQL lists the metric names the series table holds on the days
// of points in (loMs, hiMs], at most limit of them: a name it does not
// list has no point there in the series extension's tables, which are
// what the plugin reads when they are in use.
func (s Schema) HeldNamesSQL(loMs, hiMs int64, limit int) string {
	return fmt.Sprintf("SELECT DISTINCT MetricName AS name\nFROM %s\nWHERE %s\nLIMIT %d", s.Table(SeriesTable), seriesDays(loMs, hiMs), limit)
}

// narrowSource reads one source from the series extension's tables
// (provisioning/clickhouse/002): the selector's series from the series
// table, by name, day and label matchers, and only their numbers from the
// samples table, whose order (MetricName, sid, TimeUnix) makes that a range
// read per series; a short window near now reads the recent table instead
// (RecentFromMs), which holds the same rows ordered by time. The series table holds a series once per day it has
// points (and bucket layout): a series with no point in loMs < t <= hiMs is
// in series but in no row, and drops out where results join label sets.
func (b *builder) narrowSource(src plan.Source, value string, labelConds []string, loMs, hiMs int64, withStale bool, leConds []*labels.Matcher) (rows, series string, ok bool, err error) {
	seriesWhere := append([]string{
		"MetricName = " + quote(src.Metric),
		seriesDays(loMs, hiMs),
	}, labelConds...)
	seriesFrom := fmt.Sprintf("FROM %s.%s\nWHERE %s", ident(b.schema.Database), ident(SeriesTable), strings.Join(seriesWhere, "\n  AND "))
	t := b.timeMs()
	samples := SamplesTablePrefix + string(src.Table)
	if b.schema.RecentFromMs > 0 && loMs >= b.schema.RecentFromMs && hiMs-loMs <= RecentMaxSpan.Milliseconds() {
		samples = RecentTablePrefix + string(src.Table)
	}
	from := b.samplesFrom(samples, src.Metric, loMs, hiMs)
	if len(labelConds) > 0 {
		from += fmt.Sprintf("\n  AND sid IN (\n    SELECT sid\n    %s\n  )", strings.ReplaceAll(seriesFrom, "\n", "\n    "))
	}
	if !withStale {
		from += "\n  AND bitAnd(Flags, 1) = 0"
	}
	if b.slice != nil {
		from += fmt.Sprintf("\n  AND sid >= %d AND sid <= %d", b.slice.Lo, b.slice.Hi)
	}
	if src.Part == plan.PartBucket {
		layouts := fmt.Sprintf("SELECT sid AS base, Bounds AS eb, any(ServiceName) AS s0, any(ResourceAttributes) AS r0, any(Attributes) AS a0\n  %s\n  GROUP BY base, eb",
			strings.ReplaceAll(seriesFrom, "\n", "\n  "))
		return b.bucketSource(src, "sid", t, from, layouts, leConds)
	}
	rows = fmt.Sprintf("SELECT %%s, %s AS t, %s AS v, bitAnd(Flags, 1) = 1 AS stale\n%s", t, value, from)
	series = fmt.Sprintf("SELECT %%s, %s AS slabels%%s\n%s\nGROUP BY %%s", labelsColumn(src.Name, seriesLabels), seriesFrom)
	if src.Name == src.Metric {
		return fmt.Sprintf(rows, "sid"), fmt.Sprintf(series, "sid", ", sid AS stored", "sid"), true, nil
	}
	// The stored sid hashes the MetricName column, which a histogram's
	// _count and _sum share: a source named otherwise hashes its name in,
	// one level up, since ClickHouse would read sid in the WHERE and GROUP
	// BY of the same level as the alias.
	hash := fmt.Sprintf("cityHash64(%s, stored)", quote(src.Name))
	rows = fmt.Sprintf("SELECT %s AS sid, t, v, stale\nFROM (\n%s\n)", hash, indent(fmt.Sprintf(rows, "sid AS stored")))
	series = fmt.Sprintf("SELECT %s AS sid, slabels, stored\nFROM (\n%s\n)", hash, indent(fmt.Sprintf(series, "sid AS stored", "", "stored")))
	return rows, series, true, nil
}

// samplesFrom is the FROM and WHERE of a read of metric's rows in (loMs,
// hiMs] from the series extension's table samples.
func (b *builder) samplesFrom(samples, metric string, loMs, hiMs int64) string {
	t := b.timeMs()
	return fmt.Sprintf("FROM %s.%s\nWHERE MetricName = %s\n  AND %s\n  AND %s > %d AND %s <= %d",
		ident(b.schema.Database), ident(samples), quote(metric), b.timeBounds(loMs, hiMs), t, loMs, t, hiMs)
}

// bucketBounds are a histogram row's bucket upper bounds, +Inf last (the
// series extension's Bounds column is this expression too).
const bucketBounds = "arrayMap(k -> if(k <= length(ExplicitBounds), ExplicitBounds[k], inf), arrayEnumerate(BucketCounts))"

// bucketSource reads a classic histogram's buckets. A row holds per-bucket
// counts and the finite upper bounds; PromQL sees one cumulative series per
// bucket, +Inf last. A bucket's sid adds its bound to its row's hash, which
// is computed once per row, before the buckets are expanded.
func (b *builder) bucketSource(src plan.Source, hash, t, from, layouts string, leConds []*labels.Matcher) (rows, series string, ok bool, err error) {
	from = strings.ReplaceAll(from, "\n", "\n  ")
	rows = fmt.Sprintf(`SELECT cityHash64(base, bucket.1) AS sid, t, bucket.2 AS v, stale
FROM (
  SELECT %s AS base, %s AS t, bitAnd(Flags, 1) = 1 AS stale, %s AS eb, arrayMap(c -> toFloat64(c), arrayCumSum(BucketCounts)) AS counts
  %s
)
ARRAY JOIN arrayZip(eb, counts) AS bucket`, hash, t, bucketBounds, from)
	// The series: each series' bucket layouts, then one series per bound.
	var conds []string
	for _, m := range leConds {
		conds = append(conds, matcherSQL(m, leLabel("bound")))
	}
	where := ""
	if len(conds) > 0 {
		where = "\nWHERE " + strings.Join(conds, " AND ")
	}
	series = fmt.Sprintf("SELECT cityHash64(base, bound) AS sid, %s AS slabels, any(base) AS stored\nFROM (\n  %s\n)\nARRAY JOIN eb AS bound%s\nGROUP BY sid",
		labelsColumn(src.Name, labelSource{"any(s0)", "any(r0)", "any(a0)"}, [2]string{"le", leLabel("any(bound)")}), layouts, where)
	return rows, series, true, nil
}

// leLabel formats a bucket bound as Prometheus 3 writes le (1 → "1.0").
func leLabel(bound string) string {
	return fmt.Sprintf("if(%[1]s = inf, '+Inf', if(match(toString(%[1]s), '[.e]'), toString(%[1]s), concat(toString(%[1]s), '.0')))", bound)
}
