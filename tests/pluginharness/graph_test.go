package pluginharness

import (
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/forma3d/meshmetrics/tests/otelfixture"
)

// Heatmap and service graph queries through the real binary: bucket
// counts per time as heatmap rows, and a node graph of proxy → service
// edges whose numbers come from the stored points.
func TestHeatmapAndServiceGraph(t *testing.T) {
	srv, conn := otelfixture.Start(t)
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	var hist []otelfixture.HistogramPoint
	for s := 0; s <= 300; s += 15 {
		hist = append(hist, otelfixture.HistogramPoint{At: t0.Add(time.Duration(s) * time.Second), Bounds: []float64{0.1, 0.3}, Counts: []uint64{5, 3, 2}, Sum: 1})
	}
	otelfixture.InsertHistogram(t, conn, "traefik_service_request_duration_seconds", map[string]string{"service": "api@http"}, hist)
	for _, e := range []struct {
		pod, service, code string
		n                  float64
	}{{"proxy-a", "api@http", "200", 90}, {"proxy-a", "api@http", "500", 10}, {"proxy-b", "api@http", "200", 50}, {"proxy-b", "web@http", "200", 30}} {
		otelfixture.Insert(t, conn, "otel_metrics_sum", "traefik_service_requests_total",
			map[string]string{"pod": e.pod, "service": e.service, "code": e.code}, []otelfixture.Point{{At: t0.Add(4 * time.Minute), Value: e.n}})
	}

	host, port, err := net.SplitHostPort(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	p := Start(t)
	ds := datasource(t, "graph", map[string]any{"host": host, "port": port, "protocol": "http"}, nil)
	tr := backend.TimeRange{From: t0.Add(time.Minute), To: t0.Add(5 * time.Minute)}
	resp, err := p.QueryData(ctx(t), ds, nil,
		backend.DataQuery{RefID: "H", TimeRange: tr, Interval: time.Minute, MaxDataPoints: 100,
			JSON: []byte(`{"expr":"traefik_service_request_duration_seconds_bucket","queryType":"heatmap"}`)},
		backend.DataQuery{RefID: "G", TimeRange: tr, Interval: time.Minute,
			JSON: []byte(`{"queryType":"serviceGraph","sourceLabel":"pod","expr":"sum by (pod, service) (traefik_service_requests_total)","errorExpr":"sum by (pod, service) (traefik_service_requests_total{code=~\"5..\"})"}`)},
		backend.DataQuery{RefID: "BADH", TimeRange: tr, Interval: time.Minute,
			JSON: []byte(`{"expr":"traefik_service_requests_total","queryType":"heatmap"}`)},
		backend.DataQuery{RefID: "BADG", TimeRange: tr, Interval: time.Minute,
			JSON: []byte(`{"queryType":"serviceGraph","expr":"sum(traefik_service_requests_total)"}`)},
	)
	if err != nil {
		t.Fatal(err)
	}

	h := resp.Responses["H"]
	if h.Error != nil || len(h.Frames) != 1 || h.Frames[0].Meta.Type != "heatmap-rows" {
		t.Fatalf("heatmap: error %v, frames %v", h.Error, h.Frames)
	}
	var names []string
	for _, f := range h.Frames[0].Fields {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, ","); got != "Time,0.1,0.3,+Inf" {
		t.Fatalf("heatmap fields %s", got)
	}
	if rows := h.Frames[0].Rows(); rows != 5 {
		t.Fatalf("heatmap has %d rows, want one per minute from 12:01 to 12:05", rows)
	}
	for i, want := range []float64{5, 3, 2} {
		if v := h.Frames[0].Fields[i+1].At(2).(float64); v != want {
			t.Errorf("heatmap bucket %s = %v, want %v (that bucket alone, not cumulative)", names[i+1], v, want)
		}
	}

	g := resp.Responses["G"]
	if g.Error != nil || len(g.Frames) != 2 {
		t.Fatalf("service graph: error %v, %d frames", g.Error, len(g.Frames))
	}
	nodes, edges := g.Frames[0], g.Frames[1]
	if nodes.Name != "nodes" || edges.Name != "edges" || nodes.Meta.PreferredVisualization != data.VisTypeNodeGraph {
		t.Fatalf("frames %q %q %+v", nodes.Name, edges.Name, nodes.Meta)
	}
	wantEdges := map[string][2]float64{"proxy-a → api@http": {100, 0.1}, "proxy-b → api@http": {50, 0}, "proxy-b → web@http": {30, 0}}
	if edges.Rows() != len(wantEdges) {
		t.Fatalf("%d edges, want %d", edges.Rows(), len(wantEdges))
	}
	for i := 0; i < edges.Rows(); i++ {
		id := edges.Fields[0].At(i).(string)
		want, ok := wantEdges[id]
		rate, ratio := edges.Fields[3].At(i).(float64), edges.Fields[4].At(i).(float64)
		if !ok || rate != want[0] || math.Abs(ratio-want[1]) > 1e-12 {
			t.Errorf("edge %s: rate %v, error ratio %v; want %v", id, rate, ratio, want)
		}
	}
	node := map[string]int{}
	for i := 0; i < nodes.Rows(); i++ {
		node[nodes.Fields[0].At(i).(string)] = i
	}
	api := node["api@http"]
	if v := nodes.Fields[3].At(api).(float64); v != 150 {
		t.Errorf("api@http mainstat %v, want 150 requests", v)
	}
	if v := nodes.Fields[6].At(api).(float64); math.Abs(v-10.0/150) > 1e-12 {
		t.Errorf("api@http arc__errors %v, want 10/150", v)
	}
	if v := nodes.Fields[7].At(node["proxy-a"]).(string); !strings.Contains(v, "no source service") {
		t.Errorf("detail__source %q does not say the mesh has no source service", v)
	}

	if r := resp.Responses["BADH"]; r.Error == nil || !strings.Contains(r.Error.Error(), "no numeric le label") {
		t.Errorf("heatmap of a counter: %v", r.Error)
	}
	if r := resp.Responses["BADG"]; r.Error == nil || !strings.Contains(r.Error.Error(), `source label "instance"`) {
		t.Errorf("graph without edge labels: %v", r.Error)
	}
}
