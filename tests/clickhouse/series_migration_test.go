package main

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/forma3d/meshmetrics/pkg/engine"
	"github.com/forma3d/meshmetrics/tests/otelfixture"
)

// runSQLFile runs a provisioning/clickhouse file as clickhouse-client
// --multiquery would, with the database parameter "otel".
func runSQLFile(t *testing.T, conn driver.Conn, name string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "provisioning", "clickhouse", name))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			lines = append(lines, l)
		}
	}
	ctx := clickhouse.Context(context.Background(), clickhouse.WithParameters(clickhouse.Parameters{"database": "otel"}))
	for _, stmt := range strings.Split(strings.Join(lines, "\n"), ";") {
		if stmt = strings.TrimSpace(stmt); stmt != "" {
			if err := conn.Exec(ctx, stmt); err != nil {
				t.Fatalf("%s: %.100s: %v", name, stmt, err)
			}
		}
	}
}

// seriesTablesState is what a new engine's health status says about the
// extension.
func seriesTablesState(t *testing.T, conn driver.Conn) string {
	t.Helper()
	st, err := engine.New(conn, engine.Config{Database: "otel"}).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.SeriesTables
}

// TestSeriesTablesMigration applies provisioning/clickhouse/002 to tables
// that hold data, as an operator would: up (twice), more inserts (the
// views' path, a late point among them), backfill (twice), the verify
// queries, the health status in every state, the same answers from both
// layouts, rollback (twice).
func TestSeriesTablesMigration(t *testing.T) {
	_, conn := otelfixture.Start(t)
	day := time.Now().UTC().Truncate(24 * time.Hour).Add(-2 * 24 * time.Hour)
	a, b := map[string]string{"service": "ns-a-80@http", "code": "200"}, map[string]string{"service": "ns-b-80@http", "code": "500"}
	// Before the migration: yesterday's and the day before's data.
	otelfixture.Insert(t, conn, "otel_metrics_sum", "traefik_service_requests_total", a, counter(day.Add(23*time.Hour), 240, 0))
	otelfixture.Insert(t, conn, "otel_metrics_gauge", "traefik_service_open_connections", a, counter(day.Add(23*time.Hour), 240, 5))
	otelfixture.InsertHistogram(t, conn, "traefik_service_request_duration_seconds", a, hist(day.Add(23*time.Hour), 240))
	if got := seriesTablesState(t, conn); !strings.HasPrefix(got, "not installed") {
		t.Fatalf("before the migration the status says %q", got)
	}

	runSQLFile(t, conn, "002_series_tables.up.sql")
	runSQLFile(t, conn, "002_series_tables.up.sql")
	// After it, through the views: a second series, and a late point of the
	// first day (a replayed batch).
	otelfixture.Insert(t, conn, "otel_metrics_sum", "traefik_service_requests_total", b, counter(day.Add(24*time.Hour), 240, 10))
	otelfixture.InsertHistogram(t, conn, "traefik_service_request_duration_seconds", b, hist(day.Add(24*time.Hour), 240))
	otelfixture.Insert(t, conn, "otel_metrics_sum", "traefik_service_requests_total", b, counter(day.Add(23*time.Hour+30*time.Minute), 1, 1))
	runSQLFile(t, conn, "002_series_tables.backfill.sql")
	runSQLFile(t, conn, "002_series_tables.backfill.sql")

	verify := namedQueries(t, "002_series_tables.verify.sql")
	for _, row := range queryRows(t, conn, verify["series_objects"]) {
		if row[1] != "1" {
			t.Errorf("series_objects: %v missing", row)
		}
	}
	// The late point's day is copied by the backfill, the late point (which
	// the views copied) once: samples_per_day shows no difference.
	for _, row := range queryRows(t, conn, verify["samples_per_day"]) {
		if row[4] != "0" {
			t.Errorf("samples_per_day: %v; want diff 0", row)
		}
	}
	if got := queryRows(t, conn, verify["bytes_per_sample"]); len(got) != 7 {
		t.Errorf("bytes_per_sample: %d tables, want 7: %v", len(got), got)
	}
	if got := seriesTablesState(t, conn); !strings.HasSuffix(got, "in use") {
		t.Fatalf("after the migration the status says %q", got)
	}

	// Both layouts answer the same.
	exprs := []string{
		`sum by (service) (rate(traefik_service_requests_total[5m]))`,
		`traefik_service_requests_total{code="500"}`,
		`histogram_quantile(0.9, sum by (le, service) (rate(traefik_service_request_duration_seconds_bucket[5m])))`,
		`traefik_service_request_duration_seconds_sum / traefik_service_request_duration_seconds_count`,
		`{__name__=~"traefik_service_request_duration_seconds_(sum|count)"}`,
		`max_over_time(traefik_service_open_connections[10m])`,
	}
	start, end := day.Add(23*time.Hour), day.Add(25*time.Hour)
	compare := func(when string) {
		series := engine.New(conn, engine.Config{Database: "otel"})
		exporter := engine.New(conn, engine.Config{Database: "otel", IgnoreSeriesTables: true})
		for _, expr := range exprs {
			want, err := exporter.RangeQuery(context.Background(), expr, start, end, time.Minute)
			if err != nil {
				t.Fatalf("%s, exporter tables: %s: %v", when, expr, err)
			}
			got, err := series.RangeQuery(context.Background(), expr, start, end, time.Minute)
			if err != nil {
				t.Fatalf("%s, series tables: %s: %v", when, expr, err)
			}
			if len(want.Series) == 0 {
				t.Errorf("%s: %s: no series: the comparison proves nothing", when, expr)
			}
			if !sameSeries(got.Series, want.Series) {
				t.Errorf("%s: %s: the series tables answer %d series, the exporter's %d, not the same", when, expr, len(got.Series), len(want.Series))
			}
		}
	}
	compare("installed")

	// An older version is not used.
	if err := conn.Exec(context.Background(), "ALTER TABLE otel.meshmetrics_series MODIFY COMMENT 'meshmetrics series v0'"); err != nil {
		t.Fatal(err)
	}
	if got := seriesTablesState(t, conn); !strings.HasPrefix(got, "incomplete or outdated") || !strings.Contains(got, "v0") {
		t.Errorf("with the series table at v0 the status says %q", got)
	}

	runSQLFile(t, conn, "002_series_tables.down.sql")
	runSQLFile(t, conn, "002_series_tables.down.sql")
	if got := seriesTablesState(t, conn); !strings.HasPrefix(got, "not installed") {
		t.Errorf("after the rollback the status says %q", got)
	}
	if got := queryRows(t, conn, "SELECT name FROM system.tables WHERE database = 'otel' AND name LIKE 'meshmetrics%'"); len(got) != 0 {
		t.Errorf("after the rollback: %v remain", got)
	}
	compare("rolled back")
}

// counter is n points 15 s apart from from, growing by 3 from base.
func counter(from time.Time, n int, base float64) []otelfixture.Point {
	var pts []otelfixture.Point
	for i := range n {
		pts = append(pts, otelfixture.Point{At: from.Add(time.Duration(i) * 15 * time.Second), Value: base + float64(i*3)})
	}
	return pts
}

// hist is n histogram points 15 s apart from from, buckets 0.1 and 1.
func hist(from time.Time, n int) []otelfixture.HistogramPoint {
	var pts []otelfixture.HistogramPoint
	for i := range n {
		c := uint64(i)
		pts = append(pts, otelfixture.HistogramPoint{At: from.Add(time.Duration(i) * 15 * time.Second), Bounds: []float64{0.1, 1},
			Counts: []uint64{c, 2 * c, c / 2}, Sum: float64(c) * 0.7})
	}
	return pts
}

// sameSeries: the same label sets, times and values (NaN equal to NaN:
// _sum / _count is 0/0 before the first request).
func sameSeries(a, b []engine.Series) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !reflect.DeepEqual(a[i].Labels, b[i].Labels) || len(a[i].Points) != len(b[i].Points) {
			return false
		}
		for j, p := range a[i].Points {
			q := b[i].Points[j]
			if !p.T.Equal(q.T) || p.V != q.V && !(math.IsNaN(p.V) && math.IsNaN(q.V)) {
				return false
			}
		}
	}
	return true
}

// namedQueries reads a provisioning/clickhouse verify file's `-- name: X`
// sections, with the database parameter filled in.
func namedQueries(t *testing.T, file string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "provisioning", "clickhouse", file))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, section := range strings.Split(string(raw), "-- name: ")[1:] {
		name, body, _ := strings.Cut(section, "\n")
		var lines []string
		for _, l := range strings.Split(body, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), "--") {
				lines = append(lines, l)
			}
		}
		query := strings.ReplaceAll(strings.TrimSuffix(strings.TrimSpace(strings.Join(lines, "\n")), ";"), "{database:String}", "'otel'")
		out[strings.TrimSpace(name)] = strings.ReplaceAll(query, "{database:Identifier}", "otel")
	}
	return out
}

// queryRows is every row of a query as strings.
func queryRows(t *testing.T, conn driver.Conn, sql string) [][]string {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT formatRow('TSV', *) FROM ("+sql+")")
	if err != nil {
		t.Fatalf("%.80s: %v", sql, err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Split(strings.TrimSuffix(r, "\n"), "\t"))
	}
	return out
}
