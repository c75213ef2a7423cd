package sqlgen

import (
	"fmt"
	"strings"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/forma3d/meshmetrics/pkg/plan"
)

// How the exporter's columns become Prometheus labels. The point's
// Attributes are the scraped series' labels. The Prometheus receiver puts
// job and instance in the resource (service.name, service.instance.id);
// Kubernetes discovery adds k8s.* resource attributes, named here as
// Prometheus users name them. A point attribute of the same name wins.
var resourceLabels = []struct{ label, column string }{
	{"job", "ServiceName"},
	{"instance", "ResourceAttributes['service.instance.id']"},
	{"namespace", "ResourceAttributes['k8s.namespace.name']"},
	{"pod", "ResourceAttributes['k8s.pod.name']"},
	{"node", "ResourceAttributes['k8s.node.name']"},
}

// reservedAttributes never become labels from Attributes: the metric name
// comes from MetricName, job and instance from the resource.
var reservedAttributes = []string{labels.MetricName, "job", "instance"}

// labelColumn is the SQL expression of one label's value in a table row
// ("" when absent, as Prometheus treats a missing label).
func labelColumn(name string) string {
	for _, r := range resourceLabels {
		if r.label != name {
			continue
		}
		if name == "job" || name == "instance" {
			return r.column
		}
		return fmt.Sprintf("if(mapContains(Attributes, %s), Attributes[%s], %s)", quote(name), quote(name), r.column)
	}
	return fmt.Sprintf("Attributes[%s]", quote(name))
}

// labelsColumn is the SQL expression of a row's full label set, sorted,
// without empty values. extra are further (name, value-expression) pairs.
func labelsColumn(metricName string, extra ...[2]string) string {
	pairs := []string{fmt.Sprintf("('__name__', %s)", quote(metricName))}
	for _, r := range resourceLabels {
		value := r.column
		if r.label != "job" && r.label != "instance" {
			// Present as a point attribute: that one is already in the set.
			value = fmt.Sprintf("if(mapContains(Attributes, %s), '', %s)", quote(r.label), r.column)
		}
		pairs = append(pairs, fmt.Sprintf("(%s, %s)", quote(r.label), value))
	}
	for _, e := range extra {
		pairs = append(pairs, fmt.Sprintf("(%s, %s)", quote(e[0]), e[1]))
	}
	attrs := fmt.Sprintf("arrayFilter(x -> NOT has(%s, x.1), CAST(arrayZip(mapKeys(Attributes), mapValues(Attributes)), 'Array(Tuple(String, String))'))",
		stringArray(reservedAttributes))
	return fmt.Sprintf("arraySort(arrayFilter(x -> x.2 != '', arrayConcat(\n      %s,\n      CAST([%s], 'Array(Tuple(String, String))'))))",
		attrs, strings.Join(pairs, ", "))
}

// timeMs is the SQL expression of a row's TimeUnix in Unix milliseconds.
func (b *builder) timeMs() string {
	if b.schema.TimeType == TimeDateTime64 {
		return "toUnixTimestamp64Milli(TimeUnix)"
	}
	return "toInt64(toUnixTimestamp(TimeUnix)) * 1000"
}

// timeBounds is the WHERE condition for loMs < t <= hiMs on TimeUnix, in
// a form the primary key and partition pruning can use.
func (b *builder) timeBounds(loMs, hiMs int64) string {
	if b.schema.TimeType == TimeDateTime64 {
		return fmt.Sprintf("TimeUnix > fromUnixTimestamp64Milli(toInt64(%d)) AND TimeUnix <= fromUnixTimestamp64Milli(toInt64(%d))", loMs, hiMs)
	}
	// DateTime holds whole seconds: t > lo ⇔ sec*1000 > lo ⇔ sec > floor(lo/1000).
	return fmt.Sprintf("TimeUnix > toDateTime(%d) AND TimeUnix <= toDateTime(%d)", floorDiv(loMs, 1000), floorDiv(hiMs, 1000))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// samples renders the raw samples of a selector in loMs < t <= hiMs as
// rows (labels, t, v, stale); stale is OTel's "no recorded value" flag,
// PromQL's stale marker. withStale=false drops stale rows (range
// functions do not see stale markers).
func (b *builder) samples(sel plan.Selector, loMs, hiMs int64, withStale bool) (string, error) {
	var parts []string
	for _, src := range sel.Sources {
		part, ok, err := b.sourceRows(src, sel.Matchers, loMs, hiMs)
		if err != nil {
			return "", err
		}
		if ok {
			parts = append(parts, part)
		}
	}
	if len(parts) == 0 {
		// Nothing can match: keep the shape, return no rows.
		parts = append(parts, "SELECT CAST([], 'Array(Tuple(String, String))') AS labels, toInt64(0) AS t, toFloat64(0) AS v, toUInt8(0) AS stale WHERE 0")
	}
	sql := strings.Join(parts, "\nUNION ALL\n")
	if !withStale {
		sql = "SELECT labels, t, v, stale FROM (\n" + indent(sql) + "\n) WHERE NOT stale"
	}
	return sql, nil
}

// sourceRows reads one source. ok is false when the matchers can never
// match its rows (a __name__ or le matcher decided without reading).
func (b *builder) sourceRows(src plan.Source, matchers []*labels.Matcher, loMs, hiMs int64) (string, bool, error) {
	table, value := b.schema.Gauge, "Value"
	switch src.Table {
	case plan.TableSum:
		table = b.schema.Sum
	case plan.TableHistogram:
		table = b.schema.Histogram
		value = map[plan.Part]string{plan.PartCount: "toFloat64(Count)", plan.PartSum: "Sum", plan.PartBucket: "bucket.2"}[src.Part]
	}
	where := []string{
		"MetricName = " + quote(src.Metric),
		b.timeBounds(loMs, hiMs),
	}
	var post []string // conditions on the expanded bucket rows
	for _, m := range matchers {
		switch {
		case m.Name == labels.MetricName:
			if !m.Matches(src.Name) {
				return "", false, nil
			}
		case m.Name == "le" && src.Part == plan.PartBucket:
			post = append(post, matcherSQL(m, "le"))
		case m.Name == "le" && src.Table == plan.TableHistogram:
			// _count and _sum carry no le.
			if !m.Matches("") {
				return "", false, nil
			}
		default:
			where = append(where, matcherSQL(m, labelColumn(m.Name)))
		}
	}
	t := b.timeMs()
	cond := strings.Join(where, "\n  AND ")
	if src.Part != plan.PartBucket {
		sql := fmt.Sprintf("SELECT %s AS labels, %s AS t, %s AS v, bitAnd(Flags, 1) = 1 AS stale\nFROM %s.%s\nWHERE %s\n  AND %s > %d AND %s <= %d",
			labelsColumn(src.Name), t, value, ident(b.schema.Database), ident(table), cond, t, loMs, t, hiMs)
		return sql, true, nil
	}
	// A classic histogram row holds per-bucket counts and the finite upper
	// bounds; PromQL sees one cumulative series per bucket, +Inf last.
	// le is formatted as Prometheus 3 formats it (1 → "1.0").
	le := "if(bucket.1 = inf, '+Inf', if(match(toString(bucket.1), '[.e]'), toString(bucket.1), concat(toString(bucket.1), '.0')))"
	postCond := ""
	if len(post) > 0 {
		postCond = "\nWHERE " + strings.Join(post, " AND ")
	}
	sql := fmt.Sprintf(`SELECT %s AS labels, t, v, stale FROM (
  SELECT Attributes, ServiceName, ResourceAttributes, %s AS le, %s AS t, %s AS v, bitAnd(Flags, 1) = 1 AS stale
  FROM %s.%s
  ARRAY JOIN arrayMap(k -> (if(k <= length(ExplicitBounds), ExplicitBounds[k], inf), toFloat64(arrayCumSum(BucketCounts)[k])), arrayEnumerate(BucketCounts)) AS bucket
  WHERE %s
    AND %s > %d AND %s <= %d
)%s`, labelsColumn(src.Name, [2]string{"le", "le"}), le, t, value, ident(b.schema.Database), ident(table),
		strings.ReplaceAll(cond, "\n", "\n  "), t, loMs, t, hiMs, postCond)
	return sql, true, nil
}

// matcherSQL renders a label matcher on a value expression. Regexes are
// anchored as Prometheus anchors them; ClickHouse's match() is RE2 too.
func matcherSQL(m *labels.Matcher, value string) string {
	switch m.Type {
	case labels.MatchEqual:
		return fmt.Sprintf("%s = %s", value, quote(m.Value))
	case labels.MatchNotEqual:
		return fmt.Sprintf("%s != %s", value, quote(m.Value))
	case labels.MatchRegexp:
		return fmt.Sprintf("match(%s, %s)", value, quote(anchored(m.Value)))
	default:
		return fmt.Sprintf("NOT match(%s, %s)", value, quote(anchored(m.Value)))
	}
}
