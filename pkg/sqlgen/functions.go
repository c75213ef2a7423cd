package sqlgen

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/forma3d/meshmetrics/pkg/plan"
)

// call renders the instant-vector and scalar functions of the dialect.
func (b *builder) call(c *plan.Call) (string, error) {
	if c.Func == "time" {
		return b.add("time", fmt.Sprintf("SELECT toUInt32(number) AS i, %s / 1000 AS v FROM numbers(%d)", b.evalTimeMs("number"), b.grid.N)), nil
	}
	if c.Func == "histogram_quantile" {
		if name, ok, err := b.groupedHistogramQuantile(c.Number, c.Input); ok || err != nil {
			return name, err
		}
	}
	in, err := b.node(c.Input)
	if err != nil {
		return "", err
	}
	simple := func(value string) (string, error) {
		// Functions that compute a new value drop the metric name.
		return b.add(c.Func, fmt.Sprintf("SELECT %s AS labels, i, %s AS v FROM %s", withoutName("labels"), value, in)), nil
	}
	switch c.Func {
	case "abs", "ceil", "floor":
		return simple(c.Func + "(v)")
	case "round":
		// Prometheus: floor(v / to_nearest + 0.5) * to_nearest, computed
		// with the inverse (ties round up).
		inv := 1 / c.Number
		return simple(fmt.Sprintf("floor(v * %s + 0.5) / %s", float(inv), float(inv)))
	case "clamp_min", "clamp_max":
		if math.IsNaN(c.Number) {
			return simple("nan")
		}
		fn := map[string]string{"clamp_min": "greatest", "clamp_max": "least"}[c.Func]
		// greatest/least would drop a NaN value; math.Max/Min keep it.
		return simple(fmt.Sprintf("if(isNaN(v), v, %s(v, %s))", fn, float(c.Number)))
	case "vector":
		return b.add("vector", fmt.Sprintf("SELECT CAST([], 'Array(Tuple(String, String))') AS labels, i, v FROM %s", in)), nil
	case "scalar":
		// The single series' value; NaN when there is none or more than one.
		return b.add("scalar", fmt.Sprintf(`SELECT toUInt32(number) AS i, if(g.n = 1, g.v, nan) AS v
FROM numbers(%d) AS grid
LEFT JOIN (SELECT i, count() AS n, any(v) AS v FROM %s GROUP BY i) AS g ON g.i = toUInt32(grid.number)`, b.grid.N, in)), nil
	case "absent":
		return b.add("absent", fmt.Sprintf(`SELECT %s AS labels, toUInt32(number) AS i, toFloat64(1) AS v
FROM numbers(%d)
WHERE toUInt32(number) NOT IN (SELECT i FROM %s)`, labelsLiteral(c.AbsentLabels), b.grid.N, in)), nil
	case "label_replace":
		return b.labelReplace(c, in)
	case "histogram_quantile":
		return b.histogramQuantile(c.Number, in), nil
	}
	return "", fmt.Errorf("sqlgen: no SQL for function %s", c.Func)
}

// labelsLiteral renders a fixed label set.
func labelsLiteral(ls labels.Labels) string {
	var pairs []string
	ls.Range(func(l labels.Label) {
		pairs = append(pairs, fmt.Sprintf("(%s, %s)", quote(l.Name), quote(l.Value)))
	})
	return "CAST([" + strings.Join(pairs, ", ") + "], 'Array(Tuple(String, String))')"
}

// labelReplace sets dst to the expanded replacement wherever the anchored
// regex matches the src label's value; an empty result removes dst.
func (b *builder) labelReplace(c *plan.Call, in string) (string, error) {
	dst, repl, src, re := c.Strings[0], c.Strings[1], c.Strings[2], c.Strings[3]
	pattern := anchored(re)
	compiled, err := regexp.Compile(pattern)
	if err != nil {
		return "", fmt.Errorf("invalid regular expression in label_replace(): %s", re)
	}
	template, err := replacementTemplate(repl, compiled)
	if err != nil {
		return "", err
	}
	srcValue := labelValue("labels", src)
	newValue := fmt.Sprintf("if(match(%s, %s), replaceRegexpOne(%s, %s, %s), %s)",
		srcValue, quote(pattern), srcValue, quote(pattern), quote(template), labelValue("labels", dst))
	return b.add("label_replace", fmt.Sprintf(
		"SELECT arraySort(arrayFilter(x -> x.2 != '', arrayConcat(arrayFilter(x -> x.1 != %s, labels), [(%s, %s)]))) AS labels, i, v FROM %s",
		quote(dst), quote(dst), newValue, in)), nil
}

// replacementTemplate turns a Go regexp replacement ($1, ${1}, $name,
// ${name}, $$) into ClickHouse's (\1 … \9, \\ for a backslash). Like Go,
// a reference to a group that does not exist expands to nothing.
func replacementTemplate(repl string, re *regexp.Regexp) (string, error) {
	var out strings.Builder
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		if c == '\\' {
			out.WriteString(`\\`)
			continue
		}
		if c != '$' || i+1 >= len(repl) {
			out.WriteByte(c)
			continue
		}
		if repl[i+1] == '$' {
			out.WriteByte('$')
			i++
			continue
		}
		name, rest, ok := groupRef(repl[i+1:])
		if !ok {
			out.WriteByte(c)
			continue
		}
		i = len(repl) - len(rest) - 1
		idx, err := strconv.Atoi(name)
		if err != nil {
			idx = re.SubexpIndex(name)
		}
		if idx < 0 || idx > re.NumSubexp() {
			continue // no such group: expands to ""
		}
		if idx > 9 {
			return "", fmt.Errorf("label_replace: replacement %q refers to group %d; only groups 0 to 9 are supported", repl, idx)
		}
		fmt.Fprintf(&out, `\%d`, idx)
	}
	return out.String(), nil
}

// groupRef reads a group name after '$' as Go's Regexp.Expand does: {name}
// or the longest run of letters, digits and underscores.
func groupRef(s string) (name, rest string, ok bool) {
	if strings.HasPrefix(s, "{") {
		end := strings.IndexByte(s, '}')
		if end < 2 || !isGroupName(s[1:end]) {
			return "", s, false
		}
		return s[1:end], s[end+1:], true
	}
	n := 0
	for n < len(s) && isGroupNameByte(s[n]) {
		n++
	}
	if n == 0 {
		return "", s, false
	}
	return s[:n], s[n:], true
}

func isGroupName(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isGroupNameByte(s[i]) {
			return false
		}
	}
	return s != ""
}

func isGroupNameByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// histogramQuantile is Prometheus' BucketQuantile (promql/quantile.go) over
// the classic buckets of each series group: buckets with equal bounds
// merged, counts forced monotonic (ignoring differences within 1e-12, as
// Prometheus does, so float noise in summed rates cannot move a quantile
// to another bucket), linear interpolation inside the bucket that holds
// the rank, the +Inf bucket required.
func (b *builder) histogramQuantile(q float64, in string) string {
	// Series are grouped by all labels but le, as in Prometheus; the name
	// is dropped from the result only afterwards.
	group := keepLabels("labels", []string{"le"}, false)
	buckets := fmt.Sprintf(`SELECT grp AS labels, i, arraySort(x -> x.1, groupArray((ub, c))) AS buckets
FROM (
  SELECT grp, i, assumeNotNull(bound) AS ub, sum(v) AS c
  FROM (
    SELECT %s AS grp, i, toFloat64OrNull(%s) AS bound, v
    FROM %s
  )
  WHERE bound IS NOT NULL AND NOT isNaN(bound)
  GROUP BY grp, i, ub
)
GROUP BY grp, i`, group, labelValue("labels", "le"), in)
	return b.add("histogram_quantile", fmt.Sprintf("SELECT %s AS labels, i, v\nFROM (\n%s\n)", withoutName("labels"), indent(b.quantileOfBuckets(q, buckets))))
}

// quantileOfBuckets computes v, the q-quantile, over the rows of buckets:
// a group's sorted (upper bound, count) pairs at one grid index, as
// buckets, beside whatever columns identify the group.
func (b *builder) quantileOfBuckets(q float64, buckets string) string {
	switch {
	case math.IsNaN(q):
		return layered(buckets, "nan AS v")
	case q < 0:
		return layered(buckets, "-inf AS v")
	case q > 1:
		return layered(buckets, "inf AS v")
	}
	return layered(buckets,
		"arrayMap(x -> x.1, buckets) AS ub, arrayMap(x -> x.2, buckets) AS raw, length(buckets) AS nb",
		b.monotonicCounts("raw")+" AS cs",
		"cs[nb] AS obs, "+float(q)+" * obs AS rank",
		// The first bucket (1-based, +Inf excluded) whose count reaches
		// the rank; 0 if none.
		"arrayFirstIndex(x -> x >= rank, arraySlice(cs, 1, nb - 1)) AS bk",
		"if(bk > 1, ub[bk - 1], 0) AS lower, if(bk > 1, cs[bk - 1], 0) AS below",
		`multiIf(
  ub[nb] != inf OR nb < 2 OR obs = 0, nan,
  bk = 0, ub[nb - 1],
  bk = 1 AND ub[1] <= 0, ub[1],
  lower + (ub[bk] - lower) * ((rank - below) / (cs[bk] - below))) AS v`)
}

// monotonicCounts is Prometheus' ensureMonotonicAndIgnoreSmallDeltas over
// an array of bucket counts: a count below the last accepted one, or within
// 1e-12 of it, becomes that count. It is a left fold; without arrayFold
// (ClickHouse before 23.10) a running maximum stands in, which can differ
// from Prometheus only where counts differ by less than 1e-12.
func (b *builder) monotonicCounts(raw string) string {
	step := "if(x > acc.1 AND NOT " + almostEqual("acc.1", "x") + ", (x, arrayPushBack(acc.2, x)), (acc.1, arrayPushBack(acc.2, acc.1)))"
	init := fmt.Sprintf("(%[1]s[1], [%[1]s[1]])", raw)
	switch b.fold {
	case FoldAccFirst:
		return fmt.Sprintf("arrayFold((acc, x) -> %s, arraySlice(%s, 2), %s).2", step, raw, init)
	case FoldAccLast:
		return fmt.Sprintf("arrayFold((x, acc) -> %s, arraySlice(%s, 2), %s).2", step, raw, init)
	}
	return fmt.Sprintf("arrayMap(k -> arrayMax(arraySlice(%[1]s, 1, k)), arrayEnumerate(%[1]s))", raw)
}

// almostEqual is Prometheus' almost.Equal(a, b, 1e-12) (util/almost).
func almostEqual(a, b string) string {
	const minNormal = "2.2250738585072014e-308"
	return fmt.Sprintf("(%[1]s = %[2]s OR if(%[1]s = 0 OR %[2]s = 0 OR abs(%[1]s) + abs(%[2]s) < %[3]s, abs(%[1]s - %[2]s) < 1e-12 * %[3]s, abs(%[1]s - %[2]s) / least(abs(%[1]s) + abs(%[2]s), 1.7976931348623157e308) < 1e-12))",
		a, b, minNormal)
}

// layered nests select lists so that the aliases of each list are columns
// of the next. ClickHouse's analyzer copies an alias's whole expression
// into every place that uses it, so a chain of aliases inside one SELECT
// grows exponentially (seconds of planning for histogram_quantile); a
// subquery's columns are computed once.
func layered(from string, lists ...string) string {
	sql := from
	for _, l := range lists {
		sql = fmt.Sprintf("SELECT *, %s\nFROM (\n%s\n)", l, indent(sql))
	}
	return sql
}
