package main

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/forma3d/meshmetrics/tests/otelfixture"
)

func TestQueryPrintsPrometheusAPIJSON(t *testing.T) {
	srv, conn := otelfixture.Start(t)
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	otelfixture.Insert(t, conn, "otel_metrics_gauge", "open_connections", map[string]string{"service": "api"},
		[]otelfixture.Point{{At: t0, Value: 7}, {At: t0.Add(time.Minute), Value: 9.5}})
	url := "http://" + srv.Addr
	sec := func(d time.Duration) string { return strconv.FormatInt(t0.Add(d).Unix(), 10) }

	var out, errOut bytes.Buffer
	if code := run([]string{"query", "--url", url, "--time", sec(90 * time.Second), `open_connections{service="api"}`}, &out, &errOut); code != 0 {
		t.Fatalf("instant query exited %d: %s %s", code, out.String(), errOut.String())
	}
	want := `{"data":{"result":[{"metric":{"__name__":"open_connections","instance":"proxy-a:8080","job":"mesh","service":"api"},"value":[` + sec(90*time.Second) + `,"9.5"]}],"resultType":"vector"},"status":"success"}`
	if got := strings.TrimSpace(out.String()); got != want {
		t.Errorf("instant query printed\n%s\nwant\n%s", got, want)
	}

	out.Reset()
	if code := run([]string{"query", "--url", url, "--start", t0.Format(time.RFC3339), "--end", sec(time.Minute), "--step", "30s", `sum(open_connections)`}, &out, &errOut); code != 0 {
		t.Fatalf("range query exited %d: %s %s", code, out.String(), errOut.String())
	}
	var matrix struct {
		Status string
		Data   struct {
			ResultType string
			Result     []struct {
				Metric map[string]string
				Values [][2]any
			}
		}
	}
	if err := json.Unmarshal(out.Bytes(), &matrix); err != nil {
		t.Fatal(err)
	}
	if matrix.Data.ResultType != "matrix" || len(matrix.Data.Result) != 1 || len(matrix.Data.Result[0].Values) != 3 {
		t.Fatalf("range query printed %s", out.String())
	}
	if v := matrix.Data.Result[0].Values[2][1]; v != "9.5" {
		t.Errorf("value at the end is %v, want \"9.5\"", v)
	}

	out.Reset()
	code := run([]string{"query", "--url", url, "--time", sec(0), `rate(open_connections[5m]`}, &out, &errOut)
	if code != 1 || !strings.Contains(out.String(), `"errorType":"bad_data"`) || !strings.Contains(out.String(), "column 26") {
		t.Errorf("bad query: exit %d, printed %s", code, out.String())
	}
}

func TestExplainNeedsNoServer(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"explain", "--time", "1700000000", `histogram_quantile(0.99, sum by (le) (rate(traefik_service_request_duration_seconds_bucket[5m])))`}, &out, &errOut); code != 0 {
		t.Fatalf("explain exited %d: %s %s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "FROM `otel`.`otel_metrics_histogram`") || !strings.Contains(out.String(), "MetricName = 'traefik_service_request_duration_seconds'") {
		t.Errorf("explain printed:\n%s", out.String())
	}
	if code := run([]string{"explain", "--time", "1", "--step", "1m", "up"}, &out, &errOut); code != 2 {
		t.Errorf("--time with --step: exit %d, want 2", code)
	}
}
