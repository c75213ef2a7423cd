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

// Range, instant and table queries through the real binary return the
// data-plane frames Grafana's panels and alerting read, with values
// computed from known points; a bad expression in the same request is its
// query's own error.
func TestQueryDataFramesOnKnownData(t *testing.T) {
	srv, conn := otelfixture.Start(t)
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	var counter []otelfixture.Point
	for s := 0; s <= 1200; s += 15 {
		counter = append(counter, otelfixture.Point{At: t0.Add(time.Duration(s) * time.Second), Value: float64(s / 5)})
	}
	otelfixture.Insert(t, conn, "otel_metrics_sum", "traefik_service_requests_total",
		map[string]string{"service": "forma3d-api-8080@http", "code": "200"}, counter)

	host, port, err := net.SplitHostPort(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	p := Start(t)
	ds := datasource(t, "frames", map[string]any{"host": host, "port": port, "protocol": "http"}, nil)
	tr := backend.TimeRange{From: t0.Add(10 * time.Minute), To: t0.Add(20 * time.Minute)}
	resp, err := p.QueryData(ctx(t), ds, map[string]string{"FromAlert": "true"},
		backend.DataQuery{RefID: "R", TimeRange: tr, Interval: time.Minute, MaxDataPoints: 1000,
			JSON: []byte(`{"expr":"sum by (service) (rate(traefik_service_requests_total[$__rate_interval]))","legendFormat":"{{service}} rps"}`)},
		backend.DataQuery{RefID: "I", TimeRange: tr, Interval: time.Minute,
			JSON: []byte(`{"expr":"increase(traefik_service_requests_total[5m])","queryType":"instant"}`)},
		backend.DataQuery{RefID: "T", TimeRange: tr, Interval: time.Minute,
			JSON: []byte(`{"expr":"traefik_service_requests_total","queryType":"table"}`)},
		backend.DataQuery{RefID: "BAD", TimeRange: tr, Interval: time.Minute,
			JSON: []byte(`{"expr":"sum(rate(traefik_service_requests_total[5m])"}`)},
	)
	if err != nil {
		t.Fatalf("QueryData: %v", err)
	}

	// Range: one timeseries-multi frame, 11 points on the minute, each
	// 0.2 req/s ($__rate_interval = max(1m + 15s, 4 × 15s) = 75s).
	r := resp.Responses["R"]
	if r.Error != nil || len(r.Frames) != 1 {
		t.Fatalf("range query: error %v, %d frames", r.Error, len(r.Frames))
	}
	f := r.Frames[0]
	if f.Meta == nil || f.Meta.Type != data.FrameTypeTimeSeriesMulti {
		t.Fatalf("range frame type %+v, want timeseries-multi", f.Meta)
	}
	if f.Rows() != 11 {
		t.Fatalf("range frame has %d rows, want 11", f.Rows())
	}
	value := f.Fields[1]
	if value.Labels["service"] != "forma3d-api-8080@http" || value.Config.DisplayNameFromDS != "forma3d-api-8080@http rps" {
		t.Errorf("value field labels %v, display name %q", value.Labels, value.Config.DisplayNameFromDS)
	}
	for i := 0; i < f.Rows(); i++ {
		if ts := f.Fields[0].At(i).(time.Time); !ts.Equal(t0.Add(time.Duration(10+i) * time.Minute)) {
			t.Errorf("point %d at %s", i, ts)
		}
		if v := value.At(i).(float64); math.Abs(v-0.2) > 1e-9 {
			t.Errorf("point %d: %v req/s, want 0.2", i, v)
		}
	}
	// Alerting's converter reads each frame of a timeseries-multi answer
	// as one wide series: a time field and one numeric field.
	if schema := f.TimeSeriesSchema(); schema.Type != data.TimeSeriesTypeWide || len(schema.ValueIndices) != 1 {
		t.Errorf("alerting would not read the range frame as a series: %+v", schema)
	}

	// Instant: numeric-multi, 60 requests in 5 minutes.
	i := resp.Responses["I"]
	if i.Error != nil || len(i.Frames) != 1 || i.Frames[0].Meta.Type != data.FrameTypeNumericMulti {
		t.Fatalf("instant query: error %v, frames %v", i.Error, i.Frames)
	}
	if v := i.Frames[0].Fields[0].At(0).(float64); math.Abs(v-60) > 1e-9 {
		t.Errorf("instant increase = %v, want 60", v)
	}

	// Table: Time, one column per label, Value.
	tab := resp.Responses["T"]
	if tab.Error != nil || len(tab.Frames) != 1 {
		t.Fatalf("table query: error %v", tab.Error)
	}
	var cols []string
	for _, fl := range tab.Frames[0].Fields {
		cols = append(cols, fl.Name)
	}
	if got := strings.Join(cols, ","); got != "Time,__name__,code,instance,job,service,Value" {
		t.Errorf("table columns %s", got)
	}

	bad := resp.Responses["BAD"]
	if bad.Error == nil || !strings.Contains(bad.Error.Error(), "column") || bad.Status != backend.StatusBadRequest {
		t.Errorf("bad expression: status %d, error %v; want 400 with its position", bad.Status, bad.Error)
	}
}
