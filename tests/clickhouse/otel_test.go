package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column/orderedmap"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// TestOTelExporterMetrics replays what the OpenTelemetry Collector's
// clickhouse exporter v0.161.0 does for metrics, without depending on it:
// the same DSN handling (exporter config.go buildDSN: async_insert and lz4
// by default), connecting to "default" to create the schema, its CREATE
// DATABASE and metrics CREATE TABLE statements and its INSERT statements
// (rendered into testdata/), batches appended with the same Go types, and
// the five inserts sent concurrently on one connection (InsertMetrics).

var otelKinds = []string{"sum", "gauge", "histogram", "exp_histogram", "summary"}

// readSQL returns a testdata statement without its provenance comments.
func readSQL(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read testdata: %v", err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			lines = append(lines, l)
		}
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// exporterConn opens a connection the way the exporter does with
// endpoint http://<addr>/otel and connection_params wait_for_async_insert=1.
func exporterConn(t *testing.T, addr string) driver.Conn {
	t.Helper()
	params := url.Values{}
	params.Set("wait_for_async_insert", "1")
	params.Set("async_insert", "true")
	params.Set("compress", "lz4")
	params.Set("client_info_product", "otelcol/v0.161.0")
	dsn := "http://" + addr + "/otel?" + params.Encode()
	opt, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("parse exporter-style DSN %q: %v", dsn, err)
	}
	if opt.Protocol != clickhouse.HTTP || opt.Compression == nil || opt.Compression.Method != clickhouse.CompressionLZ4 {
		t.Fatalf("DSN %q parsed to protocol %v compression %+v, want HTTP with lz4", dsn, opt.Protocol, opt.Compression)
	}
	// NewClickhouseClientFromOptions: schema creation connects to default.
	opt.Auth.Database = "default"
	conn, err := clickhouse.Open(opt)
	if err != nil {
		t.Fatalf("open exporter-style connection: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func attrs(kv ...string) *orderedmap.Map[string, string] {
	return orderedmap.CollectN(func(yield func(string, string) bool) {
		for i := 0; i+1 < len(kv); i += 2 {
			if !yield(kv[i], kv[i+1]) {
				return
			}
		}
	}, len(kv)/2)
}

// otelRow returns the arguments the exporter appends for data point i of a
// metric kind; exemplars are present on odd points, nil (as the exporter
// sends when there are none) on even ones.
func otelRow(kind string, i int, ts time.Time) []any {
	res := attrs("service.name", "checkout", "host.name", fmt.Sprintf("node-%d", i%3))
	scope := attrs("scope.attr", "s")
	common := []any{res, "https://schema/res", "meter", "1.0.0", scope, uint32(0), "https://schema/scope",
		"checkout", "requests_" + kind, "request count", "1", attrs("route", fmt.Sprintf("/r%d", i%4)),
		ts.Add(-time.Minute), ts}
	var exAttrs, exTimes, exValues, exSpans, exTraces clickhouse.ArraySet
	if i%2 == 1 {
		exAttrs = clickhouse.ArraySet{attrs("ex", "1")}
		exTimes = clickhouse.ArraySet{ts}
		exValues = clickhouse.ArraySet{float64(i)}
		exSpans = clickhouse.ArraySet{"00f067aa0ba902b7"}
		exTraces = clickhouse.ArraySet{"4bf92f3577b34da6a3ce929d0e0e4736"}
	}
	exemplars := []any{exAttrs, exTimes, exValues, exSpans, exTraces}
	switch kind {
	case "sum":
		return append(append(append(common, float64(i), uint32(0)), exemplars...), int32(2), true)
	case "gauge":
		return append(append(common, float64(i)*0.5, uint32(0)), exemplars...)
	case "histogram":
		row := append(common, uint64(i+3), float64(i)*3, clickhouse.ArraySet{uint64(1), uint64(i), uint64(2)}, clickhouse.ArraySet{0.5, 1.5})
		return append(append(row, exemplars...), uint32(0), 0.1, float64(i)+1, int32(2))
	case "exp_histogram":
		row := append(common, uint64(i+1), float64(i), int32(2), uint64(1), int32(-1), clickhouse.ArraySet{uint64(i)}, int32(0), clickhouse.ArraySet{})
		return append(append(row, exemplars...), uint32(0), 0.0, float64(i), int32(1))
	case "summary":
		return append(common, uint64(i), float64(i)*2, clickhouse.ArraySet{0.5, 0.99}, clickhouse.ArraySet{float64(i), float64(i) * 1.5}, uint32(0))
	}
	panic("unknown metric kind " + kind)
}

func TestOTelExporterMetrics(t *testing.T) {
	srv := sharedServer(t)
	conn := exporterConn(t, srv.Addr)
	ctx := context.Background()

	// internal.CreateDatabase with no cluster.
	must(t, conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE IF NOT EXISTS %q %s", "otel", "")))
	t.Cleanup(func() { _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS otel") })
	for _, kind := range otelKinds {
		ddl := readSQL(t, "otel_"+kind+"_table.sql")
		must(t, conn.Exec(ctx, ddl))
		// The exporter runs its DDL on every start: it must be idempotent.
		must(t, conn.Exec(ctx, ddl))
	}

	const points = 1500
	ts := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, len(otelKinds))
	for _, kind := range otelKinds {
		insertSQL := readSQL(t, "otel_"+kind+"_insert.sql")
		wg.Add(1)
		go func(kind string) {
			defer wg.Done()
			batch, err := conn.PrepareBatch(ctx, insertSQL)
			if err != nil {
				errs <- fmt.Errorf("%s: prepare batch: %w", kind, err)
				return
			}
			for i := 0; i < points; i++ {
				if err := batch.Append(otelRow(kind, i, ts.Add(time.Duration(i)*time.Second))...); err != nil {
					errs <- fmt.Errorf("%s: append point %d: %w", kind, i, err)
					return
				}
			}
			if err := batch.Send(); err != nil {
				errs <- fmt.Errorf("%s: send: %w", kind, err)
			}
		}(kind)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}

	tables := map[string]string{"sum": "otel_metrics_sum", "gauge": "otel_metrics_gauge", "histogram": "otel_metrics_histogram",
		"exp_histogram": "otel_metrics_exponential_histogram", "summary": "otel_metrics_summary"}
	for kind, table := range tables {
		var n, withExemplars, hostsOK uint64
		var service string
		q := fmt.Sprintf(`SELECT count(), any(ServiceName), countIf(ResourceAttributes['host.name'] = concat('node-', toString(toUInt64(toUnixTimestamp(TimeUnix) - %d) %% 3)))
			FROM otel.%s`, ts.Unix(), table)
		must(t, conn.QueryRow(ctx, q).Scan(&n, &service, &hostsOK))
		if n != points || service != "checkout" || hostsOK != points {
			t.Errorf("%s: %d rows (service %q, %d with the right host attribute), want %d rows of checkout", table, n, service, hostsOK, points)
		}
		if kind == "summary" {
			var sum float64
			must(t, conn.QueryRow(ctx, "SELECT sum(ValueAtQuantiles.Value[2]) FROM otel."+table).Scan(&sum))
			if want := 1.5 * float64(points*(points-1)/2); sum != want {
				t.Errorf("%s: sum of the p99 values is %v, want %v", table, sum, want)
			}
			continue
		}
		must(t, conn.QueryRow(ctx, fmt.Sprintf("SELECT countIf(length(Exemplars.TraceId) = 1 AND Exemplars.TraceId[1] = '4bf92f3577b34da6a3ce929d0e0e4736' AND Exemplars.FilteredAttributes[1]['ex'] = '1') FROM otel.%s", table)).Scan(&withExemplars))
		if withExemplars != points/2 {
			t.Errorf("%s: %d rows with the expected exemplar, want %d", table, withExemplars, points/2)
		}
	}
	var buckets []uint64
	must(t, conn.QueryRow(ctx, "SELECT BucketCounts FROM otel.otel_metrics_histogram WHERE TimeUnix = toDateTime(?, 'UTC') ", ts.Add(7*time.Second).Unix()).Scan(&buckets))
	if fmt.Sprint(buckets) != "[1 7 2]" {
		t.Errorf("histogram bucket counts for point 7 are %v, want [1 7 2]", buckets)
	}
}
