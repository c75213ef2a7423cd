package provisioning

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/forma3d/meshmetrics/tests/otelfixture"
)

// exporterTableFiles are the exporter's metric table statements in
// tests/clickhouse/testdata (v0.161.0, database "otel").
var exporterTableFiles = []string{
	"otel_gauge_table.sql", "otel_sum_table.sql", "otel_histogram_table.sql",
	"otel_exp_histogram_table.sql", "otel_summary_table.sql",
}

var (
	createTableName = regexp.MustCompile(`CREATE TABLE IF NOT EXISTS "otel"\."([a-z_]+)"`)
	// plainDateTime is DateTime not followed by 64: the v0.161.0 type of
	// TimeUnix, StartTimeUnix and the exemplars' TimeUnix.
	plainDateTime = regexp.MustCompile(`\bDateTime([\s,])`)
)

// exporterMetricTables creates the exporter's five metric tables in db,
// with every DateTime column as timeType ("DateTime" as in v0.161.0, or
// "DateTime64(9)" as in older exporters), and returns their names.
func exporterMetricTables(t *testing.T, conn driver.Conn, db, timeType string) []string {
	t.Helper()
	ctx := context.Background()
	mustExec(t, conn, fmt.Sprintf("CREATE DATABASE IF NOT EXISTS %q", db))
	var names []string
	for _, file := range exporterTableFiles {
		ddl := otelfixture.ExporterSQL(t, file)
		m := createTableName.FindStringSubmatch(ddl)
		if m == nil {
			t.Fatalf("%s: no CREATE TABLE \"otel\".<name> in the exporter DDL", file)
		}
		ddl = strings.Replace(ddl, `"otel".`, fmt.Sprintf("%q.", db), 1)
		if timeType != "DateTime" {
			ddl = plainDateTime.ReplaceAllString(ddl, timeType+"$1")
		}
		if err := conn.Exec(ctx, ddl); err != nil {
			t.Fatalf("create %s.%s from %s: %v", db, m[1], file, err)
		}
		var got string
		mustScan(t, conn.QueryRow(ctx, "SELECT type FROM system.columns WHERE database = ? AND table = ? AND name = 'TimeUnix'", db, m[1]), &got)
		if got != timeType {
			t.Fatalf("%s.%s: TimeUnix is %s, want %s", db, m[1], got, timeType)
		}
		names = append(names, m[1])
	}
	return names
}

// logsTable creates the exporter's otel_logs table in db, with a 30-day
// TTL of its own, as the users' logs pipeline has it.
func logsTable(t *testing.T, conn driver.Conn, db string) {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(string(repoFile(t, "tests/provisioning/testdata/otel_logs_table.sql")), "\n") {
		if !strings.HasPrefix(l, "--") {
			lines = append(lines, l)
		}
	}
	mustExec(t, conn, strings.Replace(strings.Join(lines, "\n"), `"otel".`, fmt.Sprintf("%q.", db), 1))
}

// insertPoints writes n points per day: at noon (server time) of the day
// `ago` days before today, one minute apart.
func insertPoints(t *testing.T, conn driver.Conn, db, table string, loc *time.Location, perDay map[int]int) {
	t.Helper()
	var ts []string
	for ago, n := range perDay {
		noon := noonDaysAgo(loc, ago)
		for i := range n {
			ts = append(ts, fmt.Sprint(noon.Add(time.Duration(i)*time.Minute).Unix()))
		}
	}
	mustExec(t, conn, fmt.Sprintf("INSERT INTO %q.%q (ServiceName, MetricName, TimeUnix) SELECT 'mesh', 'traefik_service_requests_total', toDateTime(ts) FROM (SELECT arrayJoin([%s]) AS ts)",
		db, table, strings.Join(ts, ",")))
}

func noonDaysAgo(loc *time.Location, ago int) time.Time {
	now := time.Now().In(loc)
	return time.Date(now.Year(), now.Month(), now.Day()-ago, 12, 0, 0, 0, loc)
}

func dayKey(loc *time.Location, ago int) string { return noonDaysAgo(loc, ago).Format(time.DateOnly) }

// withDatabase binds the {database:…} parameter of the provisioning SQL.
func withDatabase(db string) context.Context {
	return clickhouse.Context(context.Background(), clickhouse.WithParameters(clickhouse.Parameters{"database": db}))
}

// queryRows runs a query and returns its rows as column → value, each
// value of the Go type clickhouse-go scans the column into.
func queryRows(ctx context.Context, conn driver.Conn, sql string) ([]map[string]any, error) {
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	var out []map[string]any
	for rows.Next() {
		dest := make([]any, len(types))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		row := map[string]any{}
		for i, ct := range types {
			row[ct.Name()] = reflect.ValueOf(dest[i]).Elem().Interface()
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// showCreate is SHOW CREATE TABLE db.table.
func showCreate(t *testing.T, conn driver.Conn, db, table string) string {
	t.Helper()
	var s string
	mustScan(t, conn.QueryRow(context.Background(), fmt.Sprintf("SHOW CREATE TABLE %q.%q", db, table)), &s)
	return s
}

func count(t *testing.T, conn driver.Conn, sql string) uint64 {
	t.Helper()
	var n uint64
	mustScan(t, conn.QueryRow(context.Background(), sql), &n)
	return n
}

func mustExec(t *testing.T, conn driver.Conn, sql string) {
	t.Helper()
	if err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func mustScan(t *testing.T, row driver.Row, dest ...any) {
	t.Helper()
	if err := row.Scan(dest...); err != nil {
		t.Fatal(err)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
