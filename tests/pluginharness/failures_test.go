package pluginharness

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/forma3d/meshmetrics/tests/otelfixture"
)

// A query past the query timeout and a bad expression fail alone: the
// other queries of the same request answer. A datasource whose ClickHouse
// is down says so per query, and the plugin survives all of it.
func TestFailuresStayWithTheirQuery(t *testing.T) {
	srv, conn := otelfixture.Start(t)
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	// A day of 1 s samples: a range function over a 1-day window at a 10 s
	// step repeats each sample in thousands of windows and runs for
	// seconds, longer than the 1 s timeout below.
	if err := conn.Exec(context.Background(), `INSERT INTO otel.otel_metrics_gauge (ResourceAttributes, ServiceName, MetricName, Attributes, TimeUnix, Value)
		SELECT map('service.name', 'mesh'), 'mesh', 'busy', map('n', toString(number % 4)), toDateTime('2026-11-01 12:00:00', 'UTC') - number, number FROM numbers(345600)`); err != nil {
		t.Fatal(err)
	}
	otelfixture.Insert(t, conn, "otel_metrics_gauge", "quick", nil, []otelfixture.Point{{At: t0, Value: 42}})

	host, port, err := net.SplitHostPort(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	p := Start(t)
	ds := datasource(t, "timeouts", map[string]any{"host": host, "port": port, "protocol": "http", "queryTimeout": "1s"}, nil)
	tr := backend.TimeRange{From: t0.Add(-24 * time.Hour), To: t0}
	began := time.Now()
	resp, err := p.QueryData(ctx(t), ds, nil,
		backend.DataQuery{RefID: "SLOW", TimeRange: tr, Interval: 10 * time.Second, MaxDataPoints: 11000,
			JSON: []byte(`{"expr":"sum(count_over_time(busy[1d]))"}`)},
		backend.DataQuery{RefID: "BAD", TimeRange: tr, JSON: []byte(`{"expr":"rate(quick[5m]"}`)},
		backend.DataQuery{RefID: "OK", TimeRange: tr, JSON: []byte(`{"expr":"quick","queryType":"instant"}`)},
	)
	if err != nil {
		t.Fatalf("QueryData failed as a whole: %v", err)
	}
	if r := resp.Responses["SLOW"]; r.Error == nil || !strings.Contains(r.Error.Error(), "longer than the query timeout allows") || r.Status != backend.StatusTimeout {
		t.Errorf("slow query: status %d, error %v; want 504 about the query timeout", r.Status, r.Error)
	}
	if time.Since(began) > 30*time.Second {
		t.Errorf("the request took %s: the timeout did not stop the slow query", time.Since(began))
	}
	if r := resp.Responses["BAD"]; r.Error == nil || !strings.Contains(r.Error.Error(), "column 15: syntax error: unclosed left parenthesis") {
		t.Errorf("bad expression: error %v, want its position", r.Error)
	}
	if r := resp.Responses["OK"]; r.Error != nil || len(r.Frames) != 1 || r.Frames[0].Fields[0].At(0).(float64) != 42 {
		t.Errorf("the good query of the same request: error %v, frames %v", r.Error, r.Frames)
	}

	// ClickHouse down: a port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, deadPort, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	down := datasource(t, "down", map[string]any{"host": "127.0.0.1", "port": deadPort, "protocol": "http", "dialTimeout": "2s"}, nil)
	resp, err = p.QueryData(ctx(t), down, nil, backend.DataQuery{RefID: "A", TimeRange: tr, JSON: []byte(`{"expr":"quick","queryType":"instant"}`)})
	if err != nil {
		t.Fatalf("QueryData failed as a whole: %v", err)
	}
	if r := resp.Responses["A"]; r.Error == nil || !strings.Contains(r.Error.Error(), "connect") && !strings.Contains(r.Error.Error(), "refused") {
		t.Errorf("ClickHouse down: error %v, want a connection error", r.Error)
	}
	if p.Exited() {
		t.Fatal("plugin process exited")
	}
}
