package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/forma3d/meshmetrics/tests/meshstack"
)

// The users' logs pipeline still does its job in the merged collector:
// OTLP logs reach otel_logs with the resource attributes, and debug
// records are dropped by filter/drop-debug.
func TestLogsPipelineStillDeliversLogs(t *testing.T) {
	ch := startClickHouse(t)
	rec := &scrapeRecorder{body: func(int) []byte { return []byte("traefik_config_reloads_total 1\n") }}
	target, err := rec.start(t, "")
	if err != nil {
		t.Fatal(err)
	}
	col, err := meshstack.StartCollector(meshstack.CollectorOptions{ClickHouseAddr: ch.Addr, Targets: []string{target},
		ScrapeInterval: scrapeInterval, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("collector output:\n%s", col.Output())
		}
		_ = col.Stop(30 * time.Second)
	})
	now := time.Now().UnixNano()
	body := fmt.Sprintf(`{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"order-service"}}]},
		"scopeLogs":[{"logRecords":[
		{"timeUnixNano":"%d","severityNumber":9,"severityText":"INFO","body":{"stringValue":"order 1234 placed"}},
		{"timeUnixNano":"%d","severityNumber":5,"severityText":"DEBUG","body":{"stringValue":"cache lookup"}},
		{"timeUnixNano":"%d","severityNumber":17,"severityText":"ERROR","body":{"stringValue":"payment declined"}}]}]}]}`, now, now, now)
	res, err := http.Post("http://"+col.OTLPHTTP+"/v1/logs", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("OTLP/HTTP logs: status %d", res.StatusCode)
	}

	conn := chConn(t, ch.Addr)
	deadline := time.Now().Add(60 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		got = got[:0]
		rows, err := conn.Query(testCtx(t, 10*time.Second), `SELECT SeverityText, Body, ResourceAttributes['deployment.environment'], ResourceAttributes['host.name'] != ''
			FROM otel.otel_logs WHERE ServiceName = 'order-service' ORDER BY SeverityNumber`)
		if err == nil {
			for rows.Next() {
				var sev, msg, env string
				var host bool
				if err := rows.Scan(&sev, &msg, &env, &host); err != nil {
					t.Fatal(err)
				}
				got = append(got, fmt.Sprintf("%s %s env=%s host=%v", sev, msg, env, host))
			}
			rows.Close()
		}
		if len(got) >= 2 {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	want := []string{"INFO order 1234 placed env=local host=true", "ERROR payment declined env=local host=true"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("otel_logs holds\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
