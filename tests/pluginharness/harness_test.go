package pluginharness

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/forma3d/meshmetrics/tests/otelfixture"
	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func datasource(t *testing.T, uid string, jsonData any, secure map[string]string) backend.DataSourceInstanceSettings {
	t.Helper()
	ds, err := Datasource(uid, jsonData, secure)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// A health check on bad settings is an error status naming the setting, not
// a crash and not a gRPC error.
func TestCheckHealthNamesTheBadSetting(t *testing.T) {
	p := Start(t)
	cases := []struct {
		name     string
		jsonData any
		secure   map[string]string
		want     string
	}{
		{"no settings at all", nil, nil, "jsonData.host"},
		{"host missing", `{"database":"otel"}`, nil, "jsonData.host"},
		{"malformed json", `{"host": "ch", `, nil, "jsonData"},
		{"port not a number", `{"host":"ch","port":"ninety"}`, nil, "jsonData.port"},
		{"protocol unknown", `{"host":"ch","protocol":"grpc"}`, nil, "jsonData.protocol"},
		{"lookback not a duration", `{"host":"ch","lookbackDelta":"a while"}`, nil, "jsonData.lookbackDelta"},
		{"CA certificate not PEM", `{"host":"ch","secure":true,"tlsAuthWithCACert":true}`, map[string]string{"tlsCACert": "not a certificate"}, "secureJsonData.tlsCACert"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ds := datasource(t, "bad-"+string(rune('a'+i)), c.jsonData, c.secure)
			res, err := p.CheckHealth(ctx(t), ds)
			if err != nil {
				t.Fatalf("CheckHealth returned a transport error: %v", err)
			}
			if res.Status != backend.HealthStatusError {
				t.Fatalf("status %v (%q), want ERROR", res.Status, res.Message)
			}
			if !strings.Contains(res.Message, c.want) {
				t.Fatalf("message %q does not name %s", res.Message, c.want)
			}
		})
	}
	if p.Exited() {
		t.Fatal("plugin process exited during the health checks")
	}
}

// Nothing answers on this port: the health check says the host cannot be
// reached, names the settings to check, and does not echo the password.
func TestCheckHealthUnreachableServer(t *testing.T) {
	p := Start(t)
	ds := datasource(t, "unreachable", map[string]any{"host": "127.0.0.1", "port": 1, "dialTimeout": "2s"}, map[string]string{"password": "s3cret-pw"})
	res, err := p.CheckHealth(ctx(t), ds)
	if err != nil {
		t.Fatalf("CheckHealth returned a transport error: %v", err)
	}
	if res.Status != backend.HealthStatusError || !strings.Contains(res.Message, "jsonData.host") {
		t.Fatalf("got %v %q, want an error naming jsonData.host", res.Status, res.Message)
	}
	if strings.Contains(res.Message, "s3cret-pw") || strings.Contains(p.Logs(), "s3cret-pw") {
		t.Fatal("the password appears in the health message or the plugin's logs")
	}
}

// An empty query is that query's error; the request and the plugin survive,
// and the other queries of the request get their own answers.
func TestQueryDataEmptyQueryIsAPerQueryError(t *testing.T) {
	p := Start(t)
	ds := datasource(t, "queries", map[string]any{"host": "127.0.0.1", "port": 1}, nil)
	now := time.Now()
	tr := backend.TimeRange{From: now.Add(-time.Hour), To: now}
	resp, err := p.QueryData(ctx(t), ds, nil,
		backend.DataQuery{RefID: "A", JSON: []byte(`{"refId":"A","expr":""}`), TimeRange: tr, Interval: 15 * time.Second, MaxDataPoints: 100},
		backend.DataQuery{RefID: "B", JSON: []byte(`{"refId":"B"}`), TimeRange: tr, Interval: 15 * time.Second, MaxDataPoints: 100},
		backend.DataQuery{RefID: "C", JSON: []byte(`{"refId":"C","expr":"up","queryType":"sideways"}`), TimeRange: tr},
	)
	if err != nil {
		t.Fatalf("QueryData failed as a whole: %v", err)
	}
	for _, ref := range []string{"A", "B"} {
		r, ok := resp.Responses[ref]
		if !ok {
			t.Fatalf("no response for query %s", ref)
		}
		if r.Error == nil || !strings.Contains(r.Error.Error(), "empty expression") {
			t.Errorf("query %s: error %v, want an empty-expression error", ref, r.Error)
		}
		if r.Status != backend.StatusBadRequest {
			t.Errorf("query %s: status %d, want 400", ref, r.Status)
		}
		if len(r.Frames) != 0 {
			t.Errorf("query %s: %d frames, want none beside an error", ref, len(r.Frames))
		}
	}
	if r := resp.Responses["C"]; r.Error == nil || !strings.Contains(r.Error.Error(), "queryType") {
		t.Errorf("query C: error %v, want one naming queryType", r.Error)
	}
	if p.Exited() {
		t.Fatal("plugin process exited")
	}
}

// Queries against a datasource with invalid settings say which setting.
func TestQueryDataWithBadSettingsNamesTheSetting(t *testing.T) {
	p := Start(t)
	ds := datasource(t, "bad-settings", `{"host":"ch","maxSeries":0}`, nil)
	resp, err := p.QueryData(ctx(t), ds, nil, backend.DataQuery{RefID: "A", JSON: []byte(`{"expr":"up"}`)})
	if err != nil {
		t.Fatalf("QueryData failed as a whole: %v", err)
	}
	if r := resp.Responses["A"]; r.Error == nil || !strings.Contains(r.Error.Error(), "jsonData.maxSeries") {
		t.Fatalf("error %v, want one naming jsonData.maxSeries", r.Error)
	}
}

// Against a live ClickHouse the health check walks from the connection to
// the data: the exporter's tables, then fresh mesh metrics; it reports the
// server version, the SQL strategy and the tables' TTL.
func TestCheckHealthAgainstEmbeddedClickHouse(t *testing.T) {
	ch, conn := otelfixture.Start(t)
	host, port, err := net.SplitHostPort(ch.Addr)
	if err != nil {
		t.Fatal(err)
	}
	p := Start(t)
	health := func(uid, database, want string, status backend.HealthStatus) {
		t.Helper()
		ds := datasource(t, uid, map[string]any{"host": host, "port": port, "protocol": "http", "database": database}, nil)
		res, err := p.CheckHealth(ctx(t), ds)
		if err != nil {
			t.Fatalf("CheckHealth: %v", err)
		}
		if res.Status != status || !strings.Contains(res.Message, want) {
			t.Fatalf("got %v %q, want %v containing %q", res.Status, res.Message, status, want)
		}
	}
	health("no-tables", "default", "table default.otel_metrics_sum does not exist", backend.HealthStatusError)
	health("no-mesh", "otel", "no Traefik Mesh metrics", backend.HealthStatusError)

	otelfixture.Insert(t, conn, "otel_metrics_sum", "traefik_service_requests_total", map[string]string{"service": "a@http", "code": "200"},
		[]otelfixture.Point{{At: time.Now().Add(-30 * time.Second), Value: 5}})
	health("mesh", "otel", "mesh metrics present, newest sample 3", backend.HealthStatusOk)
	health("mesh-2", "otel", "ClickHouse 26.5", backend.HealthStatusOk)
	health("mesh-3", "otel", "SQL strategy native; TTL otel_metrics_gauge: none", backend.HealthStatusOk)
	if err := conn.Exec(context.Background(), "ALTER TABLE otel.otel_metrics_sum MODIFY TTL toDateTime(TimeUnix) + INTERVAL 90 DAY"); err != nil {
		t.Fatal(err)
	}
	health("mesh-ttl", "otel", "otel_metrics_sum: toDateTime(TimeUnix) + toIntervalDay(90)", backend.HealthStatusOk)

	missing := datasource(t, "missing-db", map[string]any{"host": host, "port": port, "protocol": "http", "database": "nope"}, nil)
	res, err := p.CheckHealth(ctx(t), missing)
	if err != nil {
		t.Fatalf("CheckHealth: %v", err)
	}
	if res.Status != backend.HealthStatusError || !strings.Contains(res.Message, "jsonData.database") {
		t.Fatalf("got %v %q, want an error naming jsonData.database", res.Status, res.Message)
	}
}
