package sqlgen

import (
	"fmt"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
)

// How the exporter's columns become Prometheus labels. The point's
// Attributes are the scraped series' labels. The Prometheus receiver puts
// job and instance in the resource (service.name, service.instance.id);
// Kubernetes discovery adds k8s.* resource attributes, named here as
// Prometheus users name them. A point attribute of the same name wins.
var resourceLabels = []struct{ label, attribute string }{
	{"job", ""}, // the ServiceName column
	{"instance", "service.instance.id"},
	{"namespace", "k8s.namespace.name"},
	{"pod", "k8s.pod.name"},
	{"node", "k8s.node.name"},
}

// reservedAttributes never become labels from Attributes: the metric name
// comes from MetricName, job and instance from the resource.
var reservedAttributes = []string{labels.MetricName, "job", "instance"}

// labelSource names the SQL expressions label sets are built from: the
// table's columns in a row, or aggregates of them over a series' rows.
type labelSource struct{ service, resource, attributes string }

var (
	rowLabels    = labelSource{"ServiceName", "ResourceAttributes", "Attributes"}
	seriesLabels = labelSource{"any(ServiceName)", "any(ResourceAttributes)", "any(Attributes)"}
)

// resourceValue is the value of one of resourceLabels.
func (c labelSource) resourceValue(attribute string) string {
	if attribute == "" {
		return c.service
	}
	return fmt.Sprintf("%s[%s]", c.resource, quote(attribute))
}

// labelColumn is the SQL expression of one label's value in a table row
// ("" when absent, as Prometheus treats a missing label).
func labelColumn(name string) string {
	c := rowLabels
	for _, r := range resourceLabels {
		if r.label != name {
			continue
		}
		if name == "job" || name == "instance" {
			return c.resourceValue(r.attribute)
		}
		return fmt.Sprintf("if(mapContains(%[1]s, %[2]s), %[1]s[%[2]s], %[3]s)", c.attributes, quote(name), c.resourceValue(r.attribute))
	}
	return fmt.Sprintf("%s[%s]", c.attributes, quote(name))
}

// labelsColumn is the SQL expression of a full label set, sorted, without
// empty values. extra are further (name, value-expression) pairs.
func labelsColumn(metricName string, c labelSource, extra ...[2]string) string {
	pairs := []string{fmt.Sprintf("('__name__', %s)", quote(metricName))}
	for _, r := range resourceLabels {
		pairs = append(pairs, fmt.Sprintf("(%s, %s)", quote(r.label), resourceLabelValue(c, r.label, r.attribute)))
	}
	for _, e := range extra {
		pairs = append(pairs, fmt.Sprintf("(%s, %s)", quote(e[0]), e[1]))
	}
	attrs := fmt.Sprintf("arrayFilter(x -> NOT has(%s, x.1), CAST(arrayZip(mapKeys(%[2]s), mapValues(%[2]s)), 'Array(Tuple(String, String))'))",
		stringArray(reservedAttributes), c.attributes)
	return fmt.Sprintf("arraySort(arrayFilter(x -> x.2 != '', arrayConcat(\n      %s,\n      CAST([%s], 'Array(Tuple(String, String))'))))",
		attrs, strings.Join(pairs, ", "))
}

// seriesHash is a row's series key (sid): a hash of its metric's
// Prometheus name and of the values its label set is built from. The
// attribute map is hashed as its sorted (key, value) pairs, since the
// exporter's maps keep whatever order a producer gave them; resource
// attributes that labels do not show are left out, so a collector restart
// with another host.name does not split a series. A collision of two of a
// selector's series (about 2^-64 per pair) would merge them. Label sets
// that hashing cannot tell equal are refused (see DuplicateSeries).
func seriesHash(name string) string {
	parts := []string{quote(name), "arraySort(arrayZip(mapKeys(Attributes), mapValues(Attributes)))"}
	for _, r := range resourceLabels {
		parts = append(parts, resourceLabelValue(rowLabels, r.label, r.attribute))
	}
	return fmt.Sprintf("cityHash64(%s)", strings.Join(parts, ", "))
}

// resourceLabelValue is the value a resource label takes in a label set:
// none where a point attribute of the same name gives it.
func resourceLabelValue(c labelSource, label, attribute string) string {
	if label == "job" || label == "instance" {
		return c.resourceValue(attribute)
	}
	return fmt.Sprintf("if(mapContains(%s, %s), '', %s)", c.attributes, quote(label), c.resourceValue(attribute))
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
