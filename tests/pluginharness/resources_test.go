package pluginharness

import (
	"encoding/json"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/forma3d/meshmetrics/tests/otelfixture"
)

// The resources the query editor and template variables call, through the
// real binary: metric names, label names and values scoped by a selector
// and the time range, and the SQL of an expression.
func TestResources(t *testing.T) {
	srv, conn := otelfixture.Start(t)
	now := time.Now().Truncate(time.Second)
	for _, s := range []struct{ service, code string }{{"forma3d-api-8080@http", "200"}, {"forma3d-api-8080@http", "500"}, {"forma3d-web-3000@http", "200"}} {
		otelfixture.Insert(t, conn, "otel_metrics_sum", "traefik_service_requests_total",
			map[string]string{"service": s.service, "code": s.code}, []otelfixture.Point{{At: now.Add(-time.Minute), Value: 1}})
	}
	otelfixture.Insert(t, conn, "otel_metrics_gauge", "traefik_service_open_connections",
		map[string]string{"service": "forma3d-db-5432@http"}, []otelfixture.Point{{At: now.Add(-time.Minute), Value: 3}})
	// Outside the time range asked for: must not show.
	otelfixture.Insert(t, conn, "otel_metrics_gauge", "old_metric", nil, []otelfixture.Point{{At: now.Add(-48 * time.Hour), Value: 1}})

	host, port, err := net.SplitHostPort(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	p := Start(t)
	ds := datasource(t, "resources", map[string]any{"host": host, "port": port, "protocol": "http"}, nil)
	rng := "start=" + strconv.FormatInt(now.Add(-time.Hour).Unix(), 10) + "&end=" + strconv.FormatInt(now.Unix(), 10)
	call := func(path string) (int, string) {
		t.Helper()
		res, err := p.CallResource(ctx(t), ds, "GET", path, nil)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return res.Status, string(res.Body)
	}
	cases := []struct{ path, want string }{
		{"metrics?" + rng, `{"data":[{"name":"traefik_service_open_connections","type":"gauge"},{"name":"traefik_service_requests_total","type":"counter"}]}`},
		{"metrics?match=.*connections&" + rng, `{"data":[{"name":"traefik_service_open_connections","type":"gauge"}]}`},
		{"labels?match=traefik_service_requests_total&" + rng, `{"data":["__name__","code","instance","job","service"]}`},
		{"label-values?label=service&" + rng, `{"data":["forma3d-api-8080@http","forma3d-db-5432@http","forma3d-web-3000@http"]}`},
		{"label-values?label=service&match=" + url.QueryEscape(`traefik_service_requests_total{code="500"}`) + "&" + rng, `{"data":["forma3d-api-8080@http"]}`},
	}
	for _, c := range cases {
		if status, body := call(c.path); status != 200 || body != c.want {
			t.Errorf("%s: %d %s\nwant %s", c.path, status, body, c.want)
		}
	}

	status, body := call("explain?expr=" + url.QueryEscape(`sum(rate(traefik_service_requests_total[$__rate_interval]))`) + "&" + rng)
	var explained struct{ Data string }
	if err := json.Unmarshal([]byte(body), &explained); status != 200 || err != nil || !strings.Contains(explained.Data, "MetricName = 'traefik_service_requests_total'") {
		t.Errorf("explain: %d %s", status, body)
	}
	for path, want := range map[string]string{
		"label-values?" + rng: "label name is empty",
		"labels?match=" + url.QueryEscape("rate(x[5m])") + "&" + rng: "expected a series selector",
		"labels?start=nope": "start: expected Unix seconds",
		"nothing-here":      "no resource",
	} {
		if status, body := call(path); status < 400 || !strings.Contains(body, want) {
			t.Errorf("%s: %d %s, want an error containing %q", path, status, body, want)
		}
	}
}
