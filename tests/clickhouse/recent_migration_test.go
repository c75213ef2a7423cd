package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/forma3d/meshmetrics/pkg/engine"
	"github.com/forma3d/meshmetrics/tests/otelfixture"
)

// recentTablesState is what a new engine's health status says about the
// recent tables.
func recentTablesState(t *testing.T, conn driver.Conn) string {
	t.Helper()
	st, err := engine.New(conn, engine.Config{Database: "otel"}).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.RecentTables
}

// TestRecentTablesMigration applies provisioning/clickhouse/003 over the
// series extension on tables holding the last hours' data, as an operator
// would: up (twice), inserts through the chained views (a late point among
// them), backfill (twice), the verify queries, the health status in every
// state, answers equal to the exporter's tables' with short windows read
// from the recent tables, rollback (twice), and 002's rollback with 003
// installed.
func TestRecentTablesMigration(t *testing.T) {
	_, conn := otelfixture.Start(t)
	now := time.Now().UTC().Truncate(time.Minute)
	a, b := map[string]string{"service": "ns-a-80@http", "code": "200"}, map[string]string{"service": "ns-b-80@http", "code": "500"}
	runSQLFile(t, conn, "002_series_tables.up.sql")
	// Before 003: the last three hours of one series of each kind.
	from := now.Add(-3 * time.Hour)
	otelfixture.Insert(t, conn, "otel_metrics_sum", "traefik_service_requests_total", a, counter(from, 720, 0))
	otelfixture.Insert(t, conn, "otel_metrics_gauge", "traefik_service_open_connections", a, counter(from, 720, 5))
	otelfixture.InsertHistogram(t, conn, "traefik_service_request_duration_seconds", a, hist(from, 720))
	if got := recentTablesState(t, conn); !strings.HasPrefix(got, "not installed") {
		t.Fatalf("before the migration the status says %q", got)
	}

	runSQLFile(t, conn, "003_recent_samples.up.sql")
	runSQLFile(t, conn, "003_recent_samples.up.sql")
	if got := recentTablesState(t, conn); !strings.HasPrefix(got, "installed, not backfilled") {
		t.Errorf("before the backfill the status says %q", got)
	}
	// After it, through both views: a second series over the last hour, and
	// a late point of two hours ago (a replayed batch).
	otelfixture.Insert(t, conn, "otel_metrics_sum", "traefik_service_requests_total", b, counter(now.Add(-time.Hour), 240, 10))
	otelfixture.InsertHistogram(t, conn, "traefik_service_request_duration_seconds", b, hist(now.Add(-time.Hour), 240))
	otelfixture.Insert(t, conn, "otel_metrics_sum", "traefik_service_requests_total", b, counter(now.Add(-2*time.Hour), 1, 1))
	runSQLFile(t, conn, "003_recent_samples.backfill.sql")
	runSQLFile(t, conn, "003_recent_samples.backfill.sql")

	verify := namedQueries(t, "003_recent_samples.verify.sql")
	for _, row := range queryRows(t, conn, verify["recent_objects"]) {
		if row[1] != "1" || strings.HasSuffix(row[0], "_mv") != (row[3] == "") || !strings.HasSuffix(row[0], "_mv") && row[3] != "meshmetrics recent v1 backfilled" {
			t.Errorf("recent_objects: %v", row)
		}
	}
	// Each point once: those stored before by the backfill (a second run
	// copies nothing), the late one and the others by the views.
	for _, row := range queryRows(t, conn, verify["recent_rows"]) {
		if row[3] != "0" || row[1] == "0" {
			t.Errorf("recent_rows: %v; want rows and diff 0", row)
		}
	}
	if got := queryRows(t, conn, verify["recent_storage"]); len(got) != 3 {
		t.Errorf("recent_storage: %d tables, want 3: %v", len(got), got)
	}
	if got := recentTablesState(t, conn); !strings.Contains(got, "in use") {
		t.Fatalf("after the migration the status says %q", got)
	}

	// Short windows (one ending just after the late point) read the recent
	// tables and answer as the exporter's
	// tables do; a long one reads the samples tables.
	cases := []struct {
		expr   string
		span   time.Duration
		recent bool
	}{
		{`sum by (service) (rate(traefik_service_requests_total[5m]))`, 10 * time.Minute, true},
		{`traefik_service_requests_total{code="500"}`, 10 * time.Minute, true},
		{`histogram_quantile(0.9, sum by (le, service) (rate(traefik_service_request_duration_seconds_bucket[5m])))`, 10 * time.Minute, true},
		{`traefik_service_request_duration_seconds_sum / traefik_service_request_duration_seconds_count`, 5 * time.Minute, true},
		{`max_over_time(traefik_service_open_connections[10m])`, 5 * time.Minute, true},
		{`sum by (service) (rate(traefik_service_requests_total[5m]))`, 2 * time.Hour, false},
	}
	compare := func(when string, recentInstalled bool) {
		series := engine.New(conn, engine.Config{Database: "otel"})
		exporter := engine.New(conn, engine.Config{Database: "otel", IgnoreSeriesTables: true})
		for _, c := range cases {
			for _, end := range []time.Time{now.Add(-118 * time.Minute), now.Add(-2 * time.Minute)} {
				want, err := exporter.RangeQuery(context.Background(), c.expr, end.Add(-c.span), end, time.Minute)
				if err != nil {
					t.Fatalf("%s, exporter tables: %s: %v", when, c.expr, err)
				}
				got, err := series.RangeQuery(context.Background(), c.expr, end.Add(-c.span), end, time.Minute)
				if err != nil {
					t.Fatalf("%s, series tables: %s: %v", when, c.expr, err)
				}
				if len(want.Series) == 0 {
					t.Errorf("%s: %s: no series: the comparison proves nothing", when, c.expr)
				}
				if !sameSeries(got.Series, want.Series) {
					t.Errorf("%s: %s over %s to %s: %d series from the series tables, %d from the exporter's, not the same", when, c.expr, c.span, end, len(got.Series), len(want.Series))
				}
				if reads := strings.Contains(got.SQL, "meshmetrics_recent_"); reads != (c.recent && recentInstalled) {
					t.Errorf("%s: %s over %s: reads the recent tables %v, want %v:\n%s", when, c.expr, c.span, reads, c.recent && recentInstalled, got.SQL)
				}
			}
		}
	}
	compare("installed", true)

	// An older version is not read.
	if err := conn.Exec(context.Background(), "ALTER TABLE otel.meshmetrics_recent_gauge MODIFY COMMENT 'meshmetrics recent v0'"); err != nil {
		t.Fatal(err)
	}
	if got := recentTablesState(t, conn); !strings.HasPrefix(got, "incomplete or outdated") || !strings.Contains(got, "v0") {
		t.Errorf("with a recent table at v0 the status says %q", got)
	}
	compare("outdated", false)

	runSQLFile(t, conn, "003_recent_samples.down.sql")
	runSQLFile(t, conn, "003_recent_samples.down.sql")
	if got := recentTablesState(t, conn); !strings.HasPrefix(got, "not installed") {
		t.Errorf("after the rollback the status says %q", got)
	}
	if got := queryRows(t, conn, "SELECT name FROM system.tables WHERE database = 'otel' AND name LIKE 'meshmetrics\\_recent%'"); len(got) != 0 {
		t.Errorf("after the rollback: %v remain", got)
	}
	compare("rolled back", false)

	// 002's rollback takes 003 with it.
	runSQLFile(t, conn, "003_recent_samples.up.sql")
	runSQLFile(t, conn, "002_series_tables.down.sql")
	if got := queryRows(t, conn, "SELECT name FROM system.tables WHERE database = 'otel' AND name LIKE 'meshmetrics%'"); len(got) != 0 {
		t.Errorf("after 002's rollback: %v remain", got)
	}
}
