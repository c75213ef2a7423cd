// Package otelfixture gives tests an embedded ClickHouse holding the
// collector's clickhouse exporter tables (v0.161.0 DDL, database "otel"),
// and a way to write sum and gauge points into them as the exporter does.
package otelfixture

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/forma3d/meshmetrics/tests/clickhouse/chtest"
)

// Start starts the embedded ClickHouse with the exporter's tables and
// returns the server and a clickhouse-go (HTTP) connection to it.
func Start(t testing.TB) (*chtest.Server, driver.Conn) {
	t.Helper()
	srv := chtest.Start(t)
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{srv.Addr}, Protocol: clickhouse.HTTP})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ctx := context.Background()
	exec(t, conn, "CREATE DATABASE IF NOT EXISTS otel")
	for _, kind := range []string{"sum", "gauge", "histogram"} {
		if err := conn.Exec(ctx, ExporterSQL(t, "otel_"+kind+"_table.sql")); err != nil {
			t.Fatalf("create otel_metrics_%s: %v", kind, err)
		}
	}
	return srv, conn
}

// ExporterSQL is one of the clickhouse exporter's statements as rendered
// for v0.161.0 in tests/clickhouse/testdata (e.g. "otel_sum_table.sql"),
// without its provenance comments.
func ExporterSQL(t testing.TB, name string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "clickhouse", "testdata", name))
	if err != nil {
		t.Fatalf("read exporter statement: %v", err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			out = append(out, line)
		}
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

func exec(t testing.TB, conn driver.Conn, sql string, args ...any) {
	t.Helper()
	if err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// Point is one sample of a sum or gauge series.
type Point struct {
	At    time.Time
	Value float64
	// Stale marks OTel's "no recorded value" flag, PromQL's stale marker.
	Stale bool
}

// Insert writes points of one series into a table ("otel_metrics_sum" or
// "otel_metrics_gauge") from job "mesh", instance "proxy-a:8080".
func Insert(t *testing.T, conn driver.Conn, table, metric string, attrs map[string]string, pts []Point) {
	t.Helper()
	InsertTemporality(t, conn, table, metric, attrs, pts, 2)
}

// InsertTemporality is Insert with the sum's AggregationTemporality
// (1 delta, 2 cumulative).
func InsertTemporality(t *testing.T, conn driver.Conn, table, metric string, attrs map[string]string, pts []Point, temporality int32) {
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
		if p.Stale {
			flags = 1
		}
		row := []any{res, "mesh", metric, attrs, time.Unix(0, 0), p.At, p.Value, flags}
		if isSum {
			row = append(row, temporality, true)
		}
		if err := batch.Append(row...); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
}

// HistogramPoint is one classic histogram point: per-bucket (not
// cumulative) counts, one more than the finite bounds, as the exporter
// stores them.
type HistogramPoint struct {
	At     time.Time
	Bounds []float64
	Counts []uint64
	Sum    float64
	// Stale marks OTel's "no recorded value" flag, PromQL's stale
	// marker; its counts and bounds are what the point holds.
	Stale bool
}

// InsertHistogram writes points of one histogram series into
// otel_metrics_histogram from job "mesh", instance "proxy-a:8080".
func InsertHistogram(t *testing.T, conn driver.Conn, metric string, attrs map[string]string, pts []HistogramPoint) {
	t.Helper()
	batch, err := conn.PrepareBatch(context.Background(),
		"INSERT INTO otel.otel_metrics_histogram (ResourceAttributes, ServiceName, MetricName, Attributes, StartTimeUnix, TimeUnix, Count, Sum, BucketCounts, ExplicitBounds, Flags, AggregationTemporality)")
	if err != nil {
		t.Fatal(err)
	}
	res := map[string]string{"service.name": "mesh", "service.instance.id": "proxy-a:8080"}
	for _, p := range pts {
		var count uint64
		for _, c := range p.Counts {
			count += c
		}
		flags := uint32(0)
		if p.Stale {
			flags = 1
		}
		if err := batch.Append(res, "mesh", metric, attrs, time.Unix(0, 0), p.At, count, p.Sum, p.Counts, p.Bounds, flags, int32(2)); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
}
