package dashboards

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/forma3d/meshmetrics/pkg/plugin"
	"github.com/forma3d/meshmetrics/tests/otelfixture"
	"github.com/forma3d/meshmetrics/tests/pluginharness"
)

// meshEnv is the dashboard's data set in the embedded ClickHouse, the
// plugin binary pointed at it, and the Prometheus engine on the same
// samples.
type meshEnv struct {
	p  *pluginharness.Plugin
	ds backend.DataSourceInstanceSettings
	o  *oracle
	ch driver.Conn
}

func startMesh(t *testing.T, ss []*series) *meshEnv {
	t.Helper()
	srv, conn := otelfixture.Start(t)
	insert(t, conn, ss)
	host, port, err := net.SplitHostPort(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := pluginharness.Datasource("meshmetrics", map[string]any{"host": host, "port": port, "protocol": "http"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &meshEnv{p: pluginharness.Start(t), ds: ds, o: newOracle(promStorage(t, ss)), ch: conn}
}

func callCtx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// How Grafana asks for a 1 h dashboard range ending between two scrapes.
const (
	panelInterval = 15 * time.Second
	panelMaxData  = 1000
)

func dashboardRange() backend.TimeRange {
	return backend.TimeRange{From: meshEnd.Add(-time.Hour - 7*time.Second), To: meshEnd.Add(-7 * time.Second)}
}

// query sends one interpolated panel target as Grafana's panel query
// runner does.
func (e *meshEnv) query(t *testing.T, tg map[string]json.RawMessage, vars map[string]varValue, tr backend.TimeRange, headers map[string]string) (backend.DataResponse, map[string]string) {
	t.Helper()
	dq, fields := dataQuery(t, tg, vars, tr)
	resp, err := e.p.QueryData(callCtx(t), e.ds, headers, dq)
	if err != nil {
		t.Fatalf("QueryData: %v", err)
	}
	return resp.Responses[fields["refId"]], fields
}

// dataQuery interpolates a panel target into the query Grafana sends; the
// fields are its interpolated string fields.
func dataQuery(t *testing.T, tg map[string]json.RawMessage, vars map[string]varValue, tr backend.TimeRange) (backend.DataQuery, map[string]string) {
	t.Helper()
	fields := map[string]string{}
	body := map[string]any{}
	for k, raw := range tg {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			s = interpolate(s, vars)
			fields[k] = s
			body[k] = s
			continue
		}
		body[k] = raw
	}
	js, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return backend.DataQuery{RefID: fields["refId"], TimeRange: tr, Interval: panelInterval, MaxDataPoints: panelMaxData, JSON: js}, fields
}

// Every panel query of the dashboard, interpolated for three selections
// (each namespace and one of its services; All namespaces and an old
// service without destination labels), returns
// through the plugin binary what the Prometheus engine computes from the
// same samples, and no query comes back empty: the data set holds
// something for each.
func TestPanelsOnKnownData(t *testing.T) {
	ss := append(meshSeries(true), pairSeries(meshPairs)...)
	e := startMesh(t, ss)
	d := loadDashboard(t)
	t.Run("variables", func(t *testing.T) { e.checkVariables(t, d) })
	t.Run("service map on pairs", func(t *testing.T) { e.checkServiceMapPairs(t, d, ss) })
	t.Run("pair metrics in completion and label values", func(t *testing.T) { e.checkPairMetadata(t) })
	t.Run("top slow pairs", func(t *testing.T) { e.checkSlowPairs(t, d, ss) })
	t.Run("correlate logs", func(t *testing.T) { e.checkCorrelate(t, d) })
	t.Run("slowest services", func(t *testing.T) { e.checkSlowest(t, d) })
	base := defaultVars(t, d)
	selections := map[string]map[string]varValue{
		"forma3d/api": base,
		"forma3d-dev/slicer": withVars(base, map[string]varValue{
			"namespace":    {value: "forma3d-dev", multi: true},
			"service":      {value: "forma3d-dev-slicer-7000-traffic-split@http"},
			"service_name": {value: "slicer"},
		}),
		// All namespaces shows the old series without destination labels.
		"all/old": withVars(base, map[string]varValue{
			"namespace":    {value: ".*", all: true},
			"service":      {value: "forma3d-order-history-9000@http"},
			"service_name": {value: ""},
			"interval":     {value: "1m"},
		}),
	}
	tr := dashboardRange()
	checked := 0
	for name, vars := range selections {
		for _, p := range leafPanels(d) {
			for _, tg := range p.Targets {
				if targetDatasource(t, p, tg).Type != meshType {
					continue
				}
				t.Run(fmt.Sprintf("%s/%s/%s", name, p.Title, targetString(t, tg, "refId")), func(t *testing.T) {
					resp, q := e.query(t, tg, vars, tr, nil)
					if resp.Error != nil {
						t.Fatalf("%v\nquery %v", resp.Error, q)
					}
					if vars["service_name"].value == "" && strings.Contains(q["expr"], `source_workload=""`) {
						// An old service has no destination_service, so no
						// workload name to find its calls by: nothing to
						// show, in Prometheus too.
						if want := e.o.instant(t, expandForOracle(q["expr"], time.Minute, time.Hour, scrape), tr.To); len(want) != 0 || len(framesAnswer(t, resp.Frames, tr.To)) != 0 {
							t.Fatalf("outbound of a service without a name: plugin or prometheus has series (%v)", keys(want))
						}
						return
					}
					e.check(t, resp, q, tr)
				})
				checked++
			}
		}
	}
	if checked < 3*19 {
		t.Errorf("only %d panel queries run", checked)
	}
}

func withVars(base, over map[string]varValue) map[string]varValue {
	out := map[string]varValue{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

// check compares one answer with the oracle, by query type.
func (e *meshEnv) check(t *testing.T, resp backend.DataResponse, q map[string]string, tr backend.TimeRange) {
	t.Helper()
	step := plugin.Step(tr.From, tr.To, panelInterval, 0, panelMaxData)
	rng := tr.To.Sub(tr.From)
	expr := expandForOracle(q["expr"], step, rng, scrape)
	// Grafana's Prometheus datasource aligns range queries to the step.
	s := step.Milliseconds()
	start, end := time.UnixMilli(tr.From.UnixMilli()/s*s), time.UnixMilli(tr.To.UnixMilli()/s*s)
	switch q["queryType"] {
	case "range":
		want := e.o.rangeQuery(t, expr, start, end, step)
		compare(t, framesAnswer(t, resp.Frames, tr.To), want, expr)
		checkLegends(t, resp, q["legendFormat"])
	case "instant", "table":
		want := e.o.instant(t, expr, tr.To)
		compare(t, framesAnswer(t, resp.Frames, tr.To), want, expr)
		if q["queryType"] == "instant" {
			checkLegends(t, resp, q["legendFormat"])
		}
	case "heatmap":
		want := heatmapFromBuckets(t, e.o.rangeQuery(t, expr, start, end, step))
		compare(t, heatmapAnswer(t, resp.Frames), want, expr)
	case "serviceGraph":
		e.checkGraph(t, resp, q, tr, step, rng)
	default:
		t.Fatalf("query type %q not checked", q["queryType"])
	}
}

func compare(t *testing.T, got, want answer, expr string) {
	t.Helper()
	if len(want) == 0 {
		t.Fatalf("the data set gives this query nothing to show: %s", expr)
	}
	if err := sameAnswer(got, want); err != nil {
		t.Fatalf("%v\nexpr: %s", err, expr)
	}
}

var legendRef = regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`)

// checkLegends: each series is named by the legend format with its labels.
func checkLegends(t *testing.T, resp backend.DataResponse, legend string) {
	t.Helper()
	if legend == "" {
		return
	}
	for _, f := range resp.Frames {
		v := f.Fields[len(f.Fields)-1]
		if v.Len() == 0 {
			continue
		}
		want := legendRef.ReplaceAllStringFunc(legend, func(m string) string { return v.Labels[legendRef.FindStringSubmatch(m)[1]] })
		if v.Config == nil || v.Config.DisplayNameFromDS != want {
			t.Errorf("series %v: display name %+v, want %q", v.Labels, v.Config, want)
		}
	}
}
