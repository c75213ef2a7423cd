package dashboards

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

type option struct{ text, value string }

// variableOptions resolves a label_values variable as the plugin's
// frontend and Grafana do: the label-values resource for the interpolated
// selector over the time range, then the variable's regex (named groups
// text and value, else the first group; none: the value itself),
// de-duplicated, sorted by text.
func (e *meshEnv) variableOptions(t *testing.T, v variableJSON, vars map[string]varValue, tr backend.TimeRange) []option {
	t.Helper()
	sel, label := variableQuery(t, v)
	path := fmt.Sprintf("label-values?label=%s&match=%s&start=%d&end=%d", label, url.QueryEscape(interpolate(sel, vars)), tr.From.Unix(), tr.To.Unix())
	resp, err := e.p.CallResource(callCtx(t), e.ds, "GET", path, nil)
	if err != nil || resp.Status != 200 {
		t.Fatalf("$%s: label-values: %v %d %s", v.Name, err, resp.Status, resp.Body)
	}
	var body struct{ Data []string }
	if err := json.Unmarshal(resp.Body, &body); err != nil {
		t.Fatal(err)
	}
	re, err := jsRegex(v.Regex)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var out []option
	for _, raw := range body.Data {
		if v.Regex == "" { // no regex: the value as it is
			if !seen[raw] {
				seen[raw] = true
				out = append(out, option{raw, raw})
			}
			continue
		}
		m := re.FindStringSubmatch(raw)
		if m == nil {
			continue
		}
		o := option{m[0], m[0]}
		if i, j := re.SubexpIndex("value"), re.SubexpIndex("text"); i > 0 || j > 0 {
			if i > 0 {
				o.value = m[i]
			}
			o.text = o.value
			if j > 0 {
				o.text = m[j]
			}
		} else if len(m) > 1 {
			o = option{m[1], m[1]}
		}
		if !seen[o.value] {
			seen[o.value] = true
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].text < out[j].text })
	return out
}

// The namespace, service and service-name variables, resolved through the
// plugin on the data set: $namespace offers exactly the destination
// namespaces the relabelling wrote (forma3d-dev and forma3d, not the first
// word of the label), $service the services of the chosen namespace (All:
// every service, old series without the labels included), probe noise
// left out, and $service_name the chosen service's destination_service
// (nothing for an old series).
func (e *meshEnv) checkVariables(t *testing.T, d dashboardJSON) {
	var wantNS []string
	byNS := map[string][]option{}
	var every []option
	names := map[string]string{}
	for _, r := range meshRoutes {
		ns, name, _, ok := destination(r.service)
		if !ok && !r.old {
			continue // readiness@http: probe noise
		}
		o := option{text: strings.Split(r.service, "@")[0], value: r.service}
		if !slices.Contains(every, o) {
			every = append(every, o)
		}
		if r.old {
			names[r.service] = ""
			continue
		}
		names[r.service] = name
		if !slices.Contains(wantNS, ns) {
			wantNS = append(wantNS, ns)
		}
		if !slices.Contains(byNS[ns], o) {
			byNS[ns] = append(byNS[ns], o)
		}
	}
	sort.Strings(wantNS)
	if !slices.Equal(wantNS, []string{"forma3d", "forma3d-dev"}) {
		t.Fatalf("the data set's namespaces are %v", wantNS)
	}
	tr := dashboardRange()
	nsVar, _ := d.variable("namespace")
	var gotNS []string
	for _, o := range e.variableOptions(t, nsVar, nil, tr) {
		gotNS = append(gotNS, o.value)
	}
	if !slices.Equal(gotNS, wantNS) {
		t.Errorf("$namespace options %v, want %v", gotNS, wantNS)
	}
	svcVar, _ := d.variable("service")
	byText := func(os []option) []option {
		out := slices.Clone(os)
		sort.Slice(out, func(i, j int) bool { return out[i].text < out[j].text })
		return out
	}
	for _, ns := range wantNS {
		got := e.variableOptions(t, svcVar, map[string]varValue{"namespace": {value: ns, multi: true}}, tr)
		if want := byText(byNS[ns]); !slices.Equal(got, want) {
			t.Errorf("$service options for namespace %s: %v, want %v", ns, got, want)
		}
	}
	all := e.variableOptions(t, svcVar, map[string]varValue{"namespace": {value: nsVar.AllValue, all: true}}, tr)
	if want := byText(every); !slices.Equal(all, want) {
		t.Errorf("$service options for All namespaces: %v, want %v (old series included)", all, want)
	}
	nameVar, _ := d.variable("service_name")
	for service, want := range names {
		got := e.variableOptions(t, nameVar, map[string]varValue{"service": {value: service}}, tr)
		var values []string
		for _, o := range got {
			values = append(values, o.value)
		}
		if (want == "" && len(values) != 0) || (want != "" && !slices.Equal(values, []string{want})) {
			t.Errorf("$service_name for %s: %v, want %q", service, values, want)
		}
	}
}

// logsDDL is the clickhouse exporter's otel_logs table (v0.161.0,
// internal/sqltemplates/logs_table.sql) with the columns the correlate
// query reads, its partitioning and sorting key.
const logsDDL = `CREATE TABLE IF NOT EXISTS otel.otel_logs (
	Timestamp DateTime64(9), TraceId String, SeverityText LowCardinality(String),
	ServiceName LowCardinality(String), Body String
) ENGINE = MergeTree PARTITION BY toDate(Timestamp) ORDER BY (toStartOfFiveMinutes(Timestamp), ServiceName, Timestamp)`

// clickhouseMacros expands the grafana-clickhouse-datasource macro the
// correlate query uses, as that plugin does ($__timeFilter(col) is col
// between the range's bounds in seconds).
func clickhouseMacros(sql string, tr backend.TimeRange) string {
	return strings.ReplaceAll(sql, "$__timeFilter(Timestamp)",
		fmt.Sprintf("Timestamp >= toDateTime(%d) AND Timestamp <= toDateTime(%d)", tr.From.Unix(), tr.To.Unix()))
}

// The correlate panel's SQL, run on the exporter's logs table, returns
// the logs of the service the mesh label names, in the time range only,
// newest first; its Explore links open the same query on the logs
// datasource for the same range.
func (e *meshEnv) checkCorrelate(t *testing.T, d dashboardJSON) {
	ctx := context.Background()
	if err := e.ch.Exec(ctx, logsDDL); err != nil {
		t.Fatal(err)
	}
	tr := dashboardRange()
	type logLine struct {
		at      time.Time
		service string
		body    string
	}
	lines := []logLine{
		{tr.From.Add(-time.Minute), "api-gateway", "before the range"},
		{tr.From.Add(time.Minute), "api-gateway", "GET /orders 500"},
		{tr.From.Add(30 * time.Minute), "web", "GET / 200"},
		{tr.From.Add(31 * time.Minute), "gateway", "the first word's guess"},
		{tr.From.Add(32 * time.Minute), "slicer", "slice 42 done"},
		{tr.From.Add(33 * time.Minute), "order-history", "order 7 archived"},
		{tr.To.Add(-time.Minute), "api-gateway", "POST /orders 201"},
		{tr.To.Add(time.Minute), "api-gateway", "after the range"},
	}
	batch, err := e.ch.PrepareBatch(ctx, "INSERT INTO otel.otel_logs (Timestamp, TraceId, SeverityText, ServiceName, Body)")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		if err := batch.Append(l.at, "", "INFO", l.service, l.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	var panel *panelJSON
	for _, p := range leafPanels(d) {
		if p.Type == "logs" {
			panel = &p
		}
	}
	if panel == nil || len(panel.Targets) != 1 {
		t.Fatal("no logs panel with one query")
	}
	// The service name from the destination_service label; for an old
	// series (no label: $service_name is empty) read out of the service
	// label with the namespaces longest first.
	cases := []struct{ service, name, wantService string }{
		{"forma3d-api-gateway-8080@http", "api-gateway", "api-gateway"},
		{"forma3d-dev-api-gateway-8080@http", "", "api-gateway"},
		{"forma3d-dev-slicer-7000-traffic-split@http", "", "slicer"},
		{"forma3d-order-history-9000@http", "", "order-history"},
	}
	var sql string
	var vars map[string]varValue
	for _, c := range cases {
		var want []string
		for i := len(lines) - 1; i >= 0; i-- {
			if l := lines[i]; l.service == c.wantService && !l.at.Before(tr.From) && !l.at.After(tr.To) {
				want = append(want, l.body)
			}
		}
		vars = withVars(defaultVars(t, d), map[string]varValue{
			"service": {value: c.service}, "service_name": {value: c.name},
			"__from": {value: fmt.Sprint(tr.From.UnixMilli())}, "__to": {value: fmt.Sprint(tr.To.UnixMilli())}, "__org": {value: "1"},
			"__data.fields.service": {value: c.service}, "__data.fields.destination_service": {value: c.name},
		})
		sql = interpolate(targetString(t, panel.Targets[0], "rawSql"), vars)
		rows, err := e.ch.Query(ctx, clickhouseMacros(sql, tr))
		if err != nil {
			t.Fatalf("correlate query: %v\n%s", err, sql)
		}
		var got []string
		for rows.Next() {
			var (
				ts                            time.Time
				level, body, service, traceID string
			)
			if err := rows.Scan(&ts, &level, &body, &service, &traceID); err != nil {
				t.Fatal(err)
			}
			got = append(got, body)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s (service_name %q): correlate query returned %q, want %q\n%s", c.service, c.name, got, want, sql)
		}
	}

	// Explore links: the panel's and the slow-services table's data link.
	links := []string{}
	for _, l := range panel.Links {
		links = append(links, l.URL)
	}
	for _, p := range leafPanels(d) {
		for _, o := range p.FieldConfig.Overrides {
			for _, prop := range o.Properties {
				var ls []linkJSON
				if prop.ID == "links" && json.Unmarshal(prop.Value, &ls) == nil {
					for _, l := range ls {
						links = append(links, l.URL)
					}
				}
			}
		}
	}
	if len(links) != 2 {
		t.Fatalf("%d Explore links to the logs, want the logs panel's and the slow-services table's", len(links))
	}
	for _, link := range links {
		u, err := url.Parse(interpolate(link, vars))
		if err != nil || u.Path != "/explore" {
			t.Fatalf("link %q: %v", link, err)
		}
		var panes map[string]struct {
			Datasource string `json:"datasource"`
			Queries    []struct {
				Datasource dsRef  `json:"datasource"`
				RawSQL     string `json:"rawSql"`
			} `json:"queries"`
			Range struct{ From, To string } `json:"range"`
		}
		if err := json.Unmarshal([]byte(u.Query().Get("panes")), &panes); err != nil {
			t.Fatalf("link %q: panes: %v", link, err)
		}
		pane := panes["logs"]
		if pane.Datasource != "clickhouse-logs" || len(pane.Queries) != 1 || pane.Queries[0].Datasource != (dsRef{logsType, "clickhouse-logs"}) {
			t.Errorf("link opens %+v, want the logs datasource", pane)
			continue
		}
		if pane.Queries[0].RawSQL != sql || pane.Range.From != vars["__from"].value || pane.Range.To != vars["__to"].value {
			t.Errorf("link query %q over %+v; want the correlate query %q over the panel's range", pane.Queries[0].RawSQL, pane.Range, sql)
		}
	}
}
