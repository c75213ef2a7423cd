package promdiff

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/forma3d/meshmetrics/tests/otelfixture"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/forma3d/meshmetrics/tests/clickhouse/chtest"
)

// otelDatabase is the exporter's default database.
const otelDatabase = "otel"

// tableKinds are the exporter's tables that the data set fills: counters
// (cumulative monotonic sums), gauges and classic histograms.
var tableKinds = map[kind]string{counter: "sum", gauge: "gauge", histogram: "histogram"}

// startClickHouse starts the embedded ClickHouse, loads the data set in the
// exporter's schema, checks it reads back, and returns a connection to the
// otel database configured as the plugin configures its own (HTTP, lz4).
func startClickHouse(t testing.TB, ds *dataset) driver.Conn {
	t.Helper()
	srv := chtest.Start(t)
	open := func(db string) driver.Conn {
		conn, err := clickhouse.Open(&clickhouse.Options{
			Addr:        []string{srv.Addr},
			Protocol:    clickhouse.HTTP,
			Auth:        clickhouse.Auth{Database: db},
			Compression: &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
		})
		if err != nil {
			t.Fatalf("open clickhouse connection: %v", err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		return conn
	}
	ctx := context.Background()
	admin := open("default")
	if err := admin.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+otelDatabase); err != nil {
		t.Fatalf("create database: %v", err)
	}
	for _, k := range []kind{counter, gauge, histogram} {
		if err := admin.Exec(ctx, otelfixture.ExporterSQL(t, "otel_"+tableKinds[k]+"_table.sql")); err != nil {
			t.Fatalf("create %s table: %v", tableKinds[k], err)
		}
	}
	// The series extension, as production has it, before the data: its
	// views fill its tables from the exporter's inserts; runs that read the
	// exporter's tables ignore it (engine.Config.IgnoreSeriesTables).
	chtest.InstallSeriesTables(t, admin, otelDatabase, false)
	if err := insertRows(ctx, t, admin, ds); err != nil {
		t.Fatalf("load clickhouse: %v", err)
	}
	if err := checkClickHouse(ctx, admin, ds); err != nil {
		t.Fatalf("clickhouse read-back: %v", err)
	}
	return open(otelDatabase)
}

// batchSpan is how much data one INSERT carries. The collector sends
// small batches in time order; several batches make several parts, so a
// query cannot rely on one part's sort order.
const batchSpan = 30 * 60

type chRow struct {
	k    kind
	t    int64
	args []any
}

// insertRows sends every point, in time order, with the exporter's INSERT
// statements.
func insertRows(ctx context.Context, t testing.TB, conn driver.Conn, ds *dataset) error {
	var rows []chRow
	for _, s := range ds.series {
		for _, p := range s.points {
			rows = append(rows, chRow{s.kind, p.t, rowArgs(s, p)})
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].t < rows[j].t })
	for len(rows) > 0 {
		end := sort.Search(len(rows), func(i int) bool { return rows[i].t >= rows[0].t+batchSpan })
		for _, k := range []kind{counter, gauge, histogram} {
			batch, err := conn.PrepareBatch(ctx, otelfixture.ExporterSQL(t, "otel_"+tableKinds[k]+"_insert.sql"))
			if err != nil {
				return err
			}
			for _, r := range rows[:end] {
				if r.k != k {
					continue
				}
				if err := batch.Append(r.args...); err != nil {
					return fmt.Errorf("append %s row @%d: %w", tableKinds[k], r.t, err)
				}
			}
			if err := batch.Send(); err != nil {
				return fmt.Errorf("send %s batch: %w", tableKinds[k], err)
			}
		}
		rows = rows[end:]
	}
	return nil
}

// rowArgs are the values the exporter appends for one data point, in the
// column order of its INSERT statement.
func rowArgs(s *series, p point) []any {
	resource := map[string]string{
		"service.name":        s.target.job,
		"service.instance.id": s.target.instance,
		"server.port":         s.target.port,
		"url.scheme":          s.target.scheme,
	}
	attrs := map[string]string{}
	for _, a := range s.attrs {
		attrs[a[0]] = a[1]
	}
	var flags uint32
	if p.stale {
		flags = 1 // pmetric.DataPointFlags NoRecordedValue
	}
	row := []any{resource, "", "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/prometheusreceiver", "0.161.0",
		map[string]string{}, uint32(0), "", s.target.job, s.name, "generated " + s.name, "", attrs,
		time.Unix(0, 0), time.Unix(p.t, 0)} // StartTimeUnix stays 0 for scraped points
	var noExemplars = []any{clickhouse.ArraySet(nil), clickhouse.ArraySet(nil), clickhouse.ArraySet(nil), clickhouse.ArraySet(nil), clickhouse.ArraySet(nil)}
	switch s.kind {
	case counter:
		row = append(row, p.v, flags)
		row = append(row, noExemplars...)
		return append(row, int32(2), true) // cumulative, monotonic
	case gauge:
		row = append(row, p.v, flags)
		return append(row, noExemplars...)
	default:
		row = append(row, p.count(), p.sum, p.buckets, histBounds)
		row = append(row, noExemplars...)
		return append(row, flags, 0.0, 0.0, int32(2)) // no Min/Max from the Prometheus receiver; cumulative
	}
}

// pointKey names one point of one series in the read-back check.
func pointKey(name, job, instance string, attrs map[string]string, t int64) string {
	keys := make([]string, 0, len(attrs))
	for k, v := range attrs {
		keys = append(keys, k+"="+v)
	}
	sort.Strings(keys)
	return fmt.Sprintf("%s|%s|%s|%s|%d", name, job, instance, strings.Join(keys, ","), t)
}

// checkClickHouse reads every row back and compares it with the data set.
func checkClickHouse(ctx context.Context, conn driver.Conn, ds *dataset) error {
	want := map[kind]map[string]point{counter: {}, gauge: {}, histogram: {}}
	for _, s := range ds.series {
		attrs := map[string]string{}
		for _, a := range s.attrs {
			attrs[a[0]] = a[1]
		}
		for _, p := range s.points {
			want[s.kind][pointKey(s.name, s.target.job, s.target.instance, attrs, p.t)] = p
		}
	}
	for _, k := range []kind{counter, gauge, histogram} {
		valueCols := "Value, Flags, 0::UInt64, 0::Float64, []::Array(UInt64), []::Array(Float64)"
		if k == histogram {
			valueCols = "0::Float64, Flags, Count, Sum, BucketCounts, ExplicitBounds"
		}
		rows, err := conn.Query(ctx, fmt.Sprintf(`SELECT MetricName, ServiceName, ResourceAttributes['service.instance.id'], Attributes,
			toInt64(toUnixTimestamp(TimeUnix)), %s FROM %s.otel_metrics_%s`, valueCols, otelDatabase, tableKinds[k]))
		if err != nil {
			return err
		}
		n := 0
		for rows.Next() {
			var (
				name, job, instance string
				attrs               map[string]string
				t                   int64
				v, sum              float64
				flags               uint32
				count               uint64
				buckets             []uint64
				bounds              []float64
			)
			if err := rows.Scan(&name, &job, &instance, &attrs, &t, &v, &flags, &count, &sum, &buckets, &bounds); err != nil {
				return err
			}
			n++
			key := pointKey(name, job, instance, attrs, t)
			w, ok := want[k][key]
			switch {
			case !ok:
				return fmt.Errorf("%s: unexpected row %s", tableKinds[k], key)
			case w.stale != (flags&1 == 1):
				return fmt.Errorf("%s: row %s has flags %d, want stale=%v", tableKinds[k], key, flags, w.stale)
			case k != histogram && !(v == w.v || math.IsNaN(v) && math.IsNaN(w.v)):
				return fmt.Errorf("%s: row %s has value %v, want %v", tableKinds[k], key, v, w.v)
			case k == histogram && (count != w.count() || sum != w.sum || fmt.Sprint(buckets) != fmt.Sprint(w.buckets) || fmt.Sprint(bounds) != fmt.Sprint(histBounds)):
				return fmt.Errorf("%s: row %s is count %d sum %v buckets %v bounds %v, want %d %v %v %v",
					tableKinds[k], key, count, sum, buckets, bounds, w.count(), w.sum, w.buckets, histBounds)
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		_ = rows.Close()
		if n != len(want[k]) {
			return fmt.Errorf("%s: %d rows, want %d", tableKinds[k], n, len(want[k]))
		}
	}
	return nil
}
