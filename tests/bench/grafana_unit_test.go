package bench

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Plain `go test` runs these: the Grafana side of BenchmarkDashboard
// without ClickHouse.

func TestInterpolate(t *testing.T) {
	all := varValue{values: []string{".+"}, rawAll: true}
	one := func(v string) varValue { return varValue{values: []string{v}, regexy: true} }
	plain := func(v string) varValue { return varValue{values: []string{v}} }
	for _, tc := range []struct {
		name, expr string
		vars       map[string]varValue
		want       string
		// matches/rejects: label values the first matcher of the
		// interpolated selector must match / must not match.
		matches, rejects []string
		err              string
	}{
		{name: "custom all value goes in raw", expr: `up{service=~"$namespace-.+"}`,
			vars: map[string]varValue{"namespace": all}, want: `up{service=~".+-.+"}`,
			matches: []string{"forma3d-dev-web000-80@http"}},
		{name: "one value of an All variable is regex-escaped", expr: `up{service=~"$namespace-.+"}`,
			vars: map[string]varValue{"namespace": one("forma3d-dev")}, want: `up{service=~"forma3d-dev-.+"}`,
			matches: []string{"forma3d-dev-web000-80@http"}, rejects: []string{"forma3d-web000-80@http"}},
		{name: "metacharacters escaped, then escaped for the literal", expr: `up{ns=~"$namespace"}`,
			vars: map[string]varValue{"namespace": one("a.b+c")}, want: `up{ns=~"a\\.b\\+c"}`,
			matches: []string{"a.b+c"}, rejects: []string{"axbbc"}},
		{name: "All without all value: alternation of the options", expr: `up{destination_namespace=~"$namespace"}`,
			vars:    map[string]varValue{"namespace": {values: []string{"forma3d", "forma3d-dev"}, regexy: true}},
			want:    `up{destination_namespace=~"(forma3d|forma3d-dev)"}`,
			matches: []string{"forma3d", "forma3d-dev"}, rejects: []string{"forma3d-prod"}},
		{name: "single-value variable goes in as is", expr: `up{service="$service"}`,
			vars: map[string]varValue{"service": plain("forma3d-order-api-001-8080@http")}, want: `up{service="forma3d-order-api-001-8080@http"}`,
			matches: []string{"forma3d-order-api-001-8080@http"}},
		{name: "a quote cannot close the literal", expr: `up{service="$service"}`,
			vars: map[string]varValue{"service": plain(`a"b\c`)}, want: `up{service="a\"b\\c"}`,
			matches: []string{`a"b\c`}},
		{name: "single quotes", expr: `up{service='$service'}`,
			vars: map[string]varValue{"service": plain(`it's`)}, want: `up{service='it\'s'}`, matches: []string{"it's"}},
		{name: "raw strings have no escapes", expr: "up{service=~`$namespace`}",
			vars: map[string]varValue{"namespace": one("a.b`c")}, want: "up{service=~`a\\.b\\x60c`}",
			matches: []string{"a.b`c"}, rejects: []string{"axb`c"}},
		{name: "outside strings, braces and explicit formats", expr: `rate(up{a="${service}", b="[[service]]", c=~"${namespace:raw}"}[$interval])`,
			vars: map[string]varValue{"service": plain("x"), "namespace": one("a.b"), "interval": plain("5m")},
			want: `rate(up{a="x", b="x", c=~"a.b"}[5m])`, matches: []string{"x"}},
		{name: "grafana's macros are left for the plugin", expr: `rate(up[$__rate_interval]) * $__range_s`,
			vars: map[string]varValue{}, want: `rate(up[$__rate_interval]) * $__range_s`},
		{name: "capture groups are not variables", expr: `label_replace(up, "ns", "$1", "service", "(.+)-$namespace")`,
			vars: map[string]varValue{"namespace": plain("x")}, want: `label_replace(up, "ns", "$1", "service", "(.+)-x")`},
		{name: "unknown variable", expr: `up{a="$nope"}`, vars: map[string]varValue{}, err: "unknown variable nope"},
		{name: "unsupported format", expr: `up{a="${service:glob}"}`,
			vars: map[string]varValue{"service": plain("x")}, err: `format "glob" is not supported`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := interpolate(tc.expr, tc.vars)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("interpolate(%q) = %q, %v; want an error containing %q", tc.expr, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("interpolate(%q) = %q, %v; want %q", tc.expr, got, err, tc.want)
			}
			if len(tc.matches)+len(tc.rejects) == 0 {
				return
			}
			m := firstMatcher(t, got)
			for _, v := range tc.matches {
				if !m.Matches(v) {
					t.Errorf("%s does not match %q", m, v)
				}
			}
			for _, v := range tc.rejects {
				if m.Matches(v) {
					t.Errorf("%s matches %q", m, v)
				}
			}
		})
	}
}

// firstMatcher parses expr with Prometheus' parser and returns the first
// label matcher that is not on the metric name.
func firstMatcher(t *testing.T, expr string) *labels.Matcher {
	t.Helper()
	ast, err := promParser.ParseExpr(expr)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	var found *labels.Matcher
	parser.Inspect(ast, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok && found == nil {
			for _, m := range vs.LabelMatchers {
				if m.Name != labels.MetricName {
					found = m
					break
				}
			}
		}
		return nil
	})
	if found == nil {
		t.Fatalf("%s: no label matcher", expr)
	}
	return found
}

func TestTiming(t *testing.T) {
	to := time.Unix(1768089510, 0).UTC()
	for _, tc := range []struct {
		rng      time.Duration
		panel    dashboardQuery
		wantStep time.Duration
		wantExpr string
	}{
		// The steps for a ~1,000 px panel.
		{6 * time.Hour, dashboardQuery{}, 20 * time.Second, "rate(x[1m]) 6h"},
		{24 * time.Hour, dashboardQuery{}, time.Minute, "rate(x[1m15s]) 1d"},
		{7 * 24 * time.Hour, dashboardQuery{}, 10 * time.Minute, "rate(x[10m15s]) 1w"},
		// A panel's min interval and maxDataPoints.
		{6 * time.Hour, dashboardQuery{interval: time.Minute}, time.Minute, "rate(x[1m15s]) 6h"},
		{6 * time.Hour, dashboardQuery{maxDataPoints: 100}, 5 * time.Minute, "rate(x[5m15s]) 6h"},
	} {
		tm := timingOf(tc.panel, "rate(x[$__rate_interval]) $__range", to.Add(-tc.rng), to, 15*time.Second)
		if tm.step != tc.wantStep || tm.expr != tc.wantExpr {
			t.Errorf("%v %+v: step %v, expr %q; want %v, %q", tc.rng, tc.panel, tm.step, tm.expr, tc.wantStep, tc.wantExpr)
		}
		if tm.start.UnixMilli()%tm.step.Milliseconds() != 0 || tm.end.UnixMilli()%tm.step.Milliseconds() != 0 ||
			tm.end.After(to) || to.Sub(tm.end) >= tm.step {
			t.Errorf("%v: grid %v..%v not aligned to %v below %v", tc.rng, tm.start, tm.end, tm.step, to)
		}
	}
}

func TestVariableOptions(t *testing.T) {
	found := []string{"forma3d-svc004-80@http", "forma3d-dev-web000-80@http", "forma3d-dev-order-api-002-5000@http", "readiness@http", "zz-alpha-80@http"}
	for _, tc := range []struct {
		name string
		v    variableJSON
		want []string
	}{
		{"no regex, no sort", variableJSON{}, found},
		{"sorted", variableJSON{Sort: 1}, []string{"forma3d-dev-order-api-002-5000@http", "forma3d-dev-web000-80@http", "forma3d-svc004-80@http", "readiness@http", "zz-alpha-80@http"}},
		{"first group, unique", variableJSON{Regex: `/^([^-@]+)-[^@]+@.+$/`, Sort: 1}, []string{"forma3d", "zz"}},
		{"value and text groups, sorted by text", variableJSON{Regex: `/^(?<value>[^-@]+-(?<text>[^@]+)@.+)$/`, Sort: 1},
			// texts: alpha-80, dev-order-api-002-5000, dev-web000-80, svc004-80
			[]string{"zz-alpha-80@http", "forma3d-dev-order-api-002-5000@http", "forma3d-dev-web000-80@http", "forma3d-svc004-80@http"}},
		{"descending, case-insensitive", variableJSON{Regex: `/^(forma3d(-dev)?)-/`, Sort: 6}, []string{"forma3d-dev", "forma3d"}},
	} {
		got, err := variableOptions(tc.v, found)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

// TestDashboardVariables resolves a dashboard's variables against the
// generator's label sets (label_values answered in Go with Prometheus'
// matchers) and interpolates every plugin query: each must parse, under
// both selections, whatever the dashboard's queries are. Besides the
// bundled dashboard, a variant on the destination labels (no regex, a
// service variable with an All option and no all value).
func TestDashboardVariables(t *testing.T) {
	bundled, err := readDashboard(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var variant dashboardFile
	if err := json.Unmarshal([]byte(destinationDashboard), &variant); err != nil {
		t.Fatal(err)
	}
	s := dashboardScales[0].s
	sets := generatedLabelSets(s)
	for _, tc := range []struct {
		name string
		d    dashboardFile
		// want: the first query's interpolation under each selection:
		// All is every service of the 20 sorted; one is the first
		// namespace (forma3d sorts before forma3d-dev) and its first
		// service (odd i: web001, order-api-003, svc005, …).
		want [2]string
	}{
		{"bundled", bundled, [2]string{}},
		{"destination labels", variant, [2]string{
			`sum(rate(traefik_service_requests_total{destination_namespace=~".+", destination_service=~"(order-api-002|order-api-003|order-api-008|order-api-009|order-api-014|order-api-015|svc004|svc005|svc010|svc011|svc016|svc017|web000|web001|web006|web007|web012|web013|web018|web019)"}[5m]))`,
			`sum(rate(traefik_service_requests_total{destination_namespace=~"forma3d", destination_service=~"order-api-003"}[5m]))`,
		}},
	} {
		qs, err := tc.d.queries()
		if err != nil {
			t.Fatal(err)
		}
		if len(qs) == 0 {
			t.Fatalf("%s: no plugin queries in the dashboard", tc.name)
		}
		for _, sel := range []selection{selectAll, selectOne} {
			asked := 0
			vars, err := resolveVariables(tc.d, sel, func(v variableJSON, label, selector string) ([]string, error) {
				asked++
				return generatedLabelValues(sets, label, selector)
			})
			if err != nil {
				t.Fatalf("%s %v: %v", tc.name, sel, err)
			}
			if asked == 0 {
				t.Errorf("%s %v: no variable query ran", tc.name, sel)
			}
			for i, q := range qs {
				expr, err := interpolate(q.expr, vars)
				if err != nil {
					t.Fatalf("%s %v: %s: %v", tc.name, sel, q.name(), err)
				}
				if i == 0 && tc.want[sel] != "" && expr != tc.want[sel] {
					t.Errorf("%s %v: %s:\n got %s\nwant %s", tc.name, sel, q.name(), expr, tc.want[sel])
				}
				tm := timingOf(q, expr, s.end().Add(-6*time.Hour), s.end(), 15*time.Second)
				if strings.Contains(tm.expr, "$") {
					t.Errorf("%s %v: %s: %q still has a variable", tc.name, sel, q.name(), tm.expr)
				}
				if _, err := promParser.ParseExpr(tm.expr); err != nil {
					t.Errorf("%s %v: %s: %q: %v", tc.name, sel, q.name(), tm.expr, err)
				}
			}
		}
	}
}

// destinationDashboard is a dashboard whose variables read the
// destination labels.
const destinationDashboard = `{"templating": {"list": [
  {"type": "datasource", "name": "datasource", "query": "forma3d-meshmetrics-datasource"},
  {"type": "query", "name": "namespace", "includeAll": true, "allValue": ".+", "sort": 1,
   "query": {"query": "label_values(traefik_service_requests_total, destination_namespace)"}},
  {"type": "query", "name": "service", "includeAll": true, "sort": 1,
   "query": "label_values(traefik_service_requests_total{destination_namespace=~\"$namespace\"}, destination_service)"},
  {"type": "interval", "name": "interval", "query": "1m,5m", "current": {"value": "5m"}}]},
 "panels": [{"type": "row", "panels": [{"type": "stat", "title": "requests",
   "datasource": {"type": "forma3d-meshmetrics-datasource"},
   "targets": [{"refId": "A", "queryType": "instant",
     "expr": "sum(rate(traefik_service_requests_total{destination_namespace=~\"$namespace\", destination_service=~\"$service\"}[$interval]))"},
    {"refId": "B", "datasource": {"type": "grafana-clickhouse-datasource"}, "rawSql": "SELECT ${service:sqlstring}"}]}]}]}`

// generatedLabelValues answers label_values(selector, label) from sets.
func generatedLabelValues(sets []labels.Labels, label, selector string) ([]string, error) {
	ms, err := promParser.ParseMetricSelector(selector)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, ls := range sets {
		if matchAll(ms, ls) && ls.Get(label) != "" {
			seen[ls.Get(label)] = true
		}
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	return out, nil
}

func matchAll(ms []*labels.Matcher, ls labels.Labels) bool {
	for _, m := range ms {
		if !m.Matches(ls.Get(m.Name)) {
			return false
		}
	}
	return true
}

// generatedLabelSets are the series label sets of the counter, histogram
// buckets, gauge and entrypoint counter of s (without job and instance).
func generatedLabelSets(s shape) []labels.Labels {
	var out []labels.Labels
	add := func(name string, pairs ...[2]string) {
		b := labels.NewScratchBuilder(len(pairs) + 1)
		b.Add(labels.MetricName, name)
		for _, p := range pairs {
			b.Add(p[0], p[1])
		}
		b.Sort()
		out = append(out, b.Labels())
	}
	for k := 0; k < s.series(); k++ {
		svc, code, method, _ := s.seriesLabels(k)
		attrs := append(svc.attrs(), [2]string{"code", code}, [2]string{"method", method})
		add(counter, attrs...)
		add(histName+"_bucket", append(attrs, [2]string{"le", "+Inf"})...)
	}
	for g := 0; g < s.gaugeSeries(); g++ {
		add(gaugeName, [2]string{"service", s.serviceOf(g / s.proxies).label})
	}
	for e := 0; e < s.entrySeries(); e++ {
		ep, code, method, _ := s.entryLabels(e)
		add(entryCounter, [2]string{"entrypoint", ep}, [2]string{"code", code}, [2]string{"method", method})
	}
	return out
}

func TestDashboardGoals(t *testing.T) {
	for _, c := range []struct {
		expr string
		one  bool
	}{
		{`sum by (code) (rate(x{service="$service"}[5m]))`, true},
		{`x{service="${service}"}`, true},
		{`x{service=~"${service:regex}"}`, true},
		{`x{source_workload="$service_name"}`, true},
		{`x{destination_service=~"$services"}`, false},
		{`x{destination_namespace=~"$namespace"}`, false},
	} {
		if got := serviceVariable.MatchString(c.expr); got != c.one {
			t.Errorf("%s: on one service %v, want %v", c.expr, got, c.one)
		}
	}
	ms := time.Millisecond
	g := goalsOf([]queryLine{
		{name: "empty fast", ours: 20 * ms},
		{name: "empty slow", ours: 21 * ms},
		{name: "one", ours: 90 * ms, series: 3, oneService: true},
		{name: "one slower", ours: 120 * ms, series: 3, oneService: true},
		{name: "many", ours: 900 * ms, series: 30},
	})
	want := dashboardGoals{empty: 2, emptyFast: 1, slowestEmpty: 21 * ms, slowestOne: 120 * ms, slowestOneName: "one slower"}
	if g != want {
		t.Errorf("goals %+v, want %+v", g, want)
	}
}
