package chtest

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// InstallSeriesTables runs provisioning/clickhouse/002_series_tables.up.sql
// in database, as an operator would, before the data are inserted (so its
// materialized views fill the tables, the production path). With
// dateTime64 the samples tables' TimeUnix is DateTime64(9), the edit the
// file's header asks for with an older exporter's tables. The tests' data
// are older than the extension's 90-day TTL, and the exporter's tables here
// have none: the TTL is removed so merges keep the rows.
func InstallSeriesTables(t testing.TB, conn driver.Conn, database string, dateTime64 bool) {
	t.Helper()
	runProvisioning(t, conn, database, "002_series_tables.up.sql", dateTime64)
	removeTTL(t, conn, database, "meshmetrics_series", "meshmetrics_samples_sum", "meshmetrics_samples_gauge", "meshmetrics_samples_histogram")
}

// InstallRecentTables runs provisioning/clickhouse/003_recent_samples.up.sql
// and its backfill in database (after InstallSeriesTables, before the data
// are inserted). Their one-day TTL is removed, as the tests' data are
// older than a day by the server's clock; an engine reads the recent tables
// for windows near its own clock (engine.CacheConfig.Now).
func InstallRecentTables(t testing.TB, conn driver.Conn, database string, dateTime64 bool) {
	t.Helper()
	runProvisioning(t, conn, database, "003_recent_samples.up.sql", dateTime64)
	removeTTL(t, conn, database, "meshmetrics_recent_sum", "meshmetrics_recent_gauge", "meshmetrics_recent_histogram")
	runProvisioning(t, conn, database, "003_recent_samples.backfill.sql", dateTime64)
}

// runProvisioning runs one provisioning/clickhouse file statement by
// statement, as clickhouse-client --multiquery would.
func runProvisioning(t testing.TB, conn driver.Conn, database, name string, dateTime64 bool) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	raw, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "..", "provisioning", "clickhouse", name))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "--") {
			continue
		}
		if dateTime64 {
			l = strings.Replace(l, "TimeUnix DateTime CODEC", "TimeUnix DateTime64(9) CODEC", 1)
		}
		lines = append(lines, l)
	}
	ctx := clickhouse.Context(context.Background(), clickhouse.WithParameters(clickhouse.Parameters{"database": database}))
	for _, stmt := range strings.Split(strings.Join(lines, "\n"), ";") {
		if stmt = strings.TrimSpace(stmt); stmt == "" {
			continue
		}
		if err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %.120s: %v", name, stmt, err)
		}
	}
}

func removeTTL(t testing.TB, conn driver.Conn, database string, tables ...string) {
	t.Helper()
	for _, table := range tables {
		if err := conn.Exec(context.Background(), "ALTER TABLE `"+database+"`.`"+table+"` REMOVE TTL"); err != nil {
			t.Fatalf("remove the TTL of %s: %v", table, err)
		}
	}
}
