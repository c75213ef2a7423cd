package engine_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/forma3d/meshmetrics/pkg/engine"
	"github.com/forma3d/meshmetrics/tests/clickhouse/chtest"
)

// These tests run small queries whose answers can be worked out by hand;
// tests/promdiff compares the engine with the Prometheus engine at scale.

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// startServer starts the embedded ClickHouse with the exporter's tables.
func startServer(t *testing.T) driver.Conn {
	t.Helper()
	srv := chtest.Start(t)
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{srv.Addr}, Protocol: clickhouse.HTTP})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ctx := context.Background()
	exec(t, conn, "CREATE DATABASE IF NOT EXISTS otel")
	_, file, _, _ := runtime.Caller(0)
	for _, kind := range []string{"sum", "gauge", "histogram"} {
		ddl, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "tests", "clickhouse", "testdata", "otel_"+kind+"_table.sql"))
		if err != nil {
			t.Fatal(err)
		}
		if err := conn.Exec(ctx, stripComments(string(ddl))); err != nil {
			t.Fatalf("create otel_metrics_%s: %v", kind, err)
		}
	}
	return conn
}

func stripComments(sql string) string {
	var out []string
	for _, line := range strings.Split(sql, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

func exec(t *testing.T, conn driver.Conn, sql string, args ...any) {
	t.Helper()
	if err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// point is one sample of a sum or gauge series.
type point struct {
	at    time.Duration // after t0
	value float64
	stale bool
}

func insertPoints(t *testing.T, conn driver.Conn, table, metric string, attrs map[string]string, pts []point) {
	t.Helper()
	cols := "ResourceAttributes, ServiceName, MetricName, Attributes, StartTimeUnix, TimeUnix, Value, Flags"
	isSum := table == "otel_metrics_sum"
	if isSum {
		cols += ", AggregationTemporality, IsMonotonic"
	}
	batch, err := conn.PrepareBatch(context.Background(), fmt.Sprintf("INSERT INTO otel.%s (%s)", table, cols))
	if err != nil {
		t.Fatal(err)
	}
	res := map[string]string{"service.name": "mesh", "service.instance.id": "proxy-a:8080"}
	for _, p := range pts {
		flags := uint32(0)
		if p.stale {
			flags = 1
		}
		row := []any{res, "mesh", metric, attrs, time.Unix(0, 0), t0.Add(p.at), p.value, flags}
		if isSum {
			row = append(row, int32(2), true)
		}
		if err := batch.Append(row...); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
}

func TestEngineByHand(t *testing.T) {
	conn := startServer(t)
	// A counter growing by 3 every 15 s from 0 at t0, for 10 minutes.
	var counter []point
	for s := 0; s <= 600; s += 15 {
		counter = append(counter, point{at: time.Duration(s) * time.Second, value: float64(s / 5)})
	}
	insertPoints(t, conn, "otel_metrics_sum", "requests_total", map[string]string{"service": "api", "code": "200"}, counter)
	// A gauge: 7 at t0 and 9 at t0+1m, then a stale marker at t0+2m.
	insertPoints(t, conn, "otel_metrics_gauge", "open_connections", map[string]string{"service": "api"},
		[]point{{at: 0, value: 7}, {at: time.Minute, value: 9}, {at: 2 * time.Minute, stale: true}})

	e := engine.New(conn, engine.Config{})
	ctx := context.Background()
	cases := []struct {
		expr string
		at   time.Duration
		want map[string]float64 // series → value; absent → no series
	}{
		{`requests_total`, 5 * time.Minute, map[string]float64{`{__name__="requests_total", code="200", instance="proxy-a:8080", job="mesh", service="api"}`: 60}},
		// 20 increases of 3 over 5 minutes; the window (t-5m, t] holds 20
		// samples spanning 285 s, extrapolated to 300 s.
		{`rate(requests_total[5m])`, 10 * time.Minute, map[string]float64{`{code="200", instance="proxy-a:8080", job="mesh", service="api"}`: 0.2}},
		{`sum by (service) (increase(requests_total[5m]))`, 10 * time.Minute, map[string]float64{`{service="api"}`: 60}},
		{`open_connections`, 90 * time.Second, map[string]float64{`{__name__="open_connections", instance="proxy-a:8080", job="mesh", service="api"}`: 9}},
		// The stale marker ends the series at once, not 5 minutes later.
		{`open_connections`, 150 * time.Second, map[string]float64{}},
		{`max_over_time(open_connections[3m])`, 150 * time.Second, map[string]float64{`{instance="proxy-a:8080", job="mesh", service="api"}`: 9}},
		{`open_connections * 2 + 1`, time.Minute, map[string]float64{`{instance="proxy-a:8080", job="mesh", service="api"}`: 19}},
		{`open_connections > 8`, 30 * time.Second, map[string]float64{}},
		{`absent(nonexistent{job="x"})`, time.Minute, map[string]float64{`{job="x"}`: 1}},
	}
	for _, c := range cases {
		res, err := e.InstantQuery(ctx, c.expr, t0.Add(c.at))
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		got := map[string]float64{}
		for _, s := range res.Series {
			got[s.Labels.String()] = s.Points[0].V
		}
		if len(got) != len(c.want) {
			t.Errorf("%s at +%s: got %v, want %v\n%s", c.expr, c.at, got, c.want, res.SQL)
			continue
		}
		for k, w := range c.want {
			if g, ok := got[k]; !ok || math.Abs(g-w) > 1e-9*math.Abs(w) {
				t.Errorf("%s at +%s: got %v, want %v", c.expr, c.at, got, c.want)
			}
		}
	}
}
