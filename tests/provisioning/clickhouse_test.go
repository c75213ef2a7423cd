package provisioning

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/forma3d/meshmetrics/tests/clickhouse/chtest"
)

const (
	upFile     = "provisioning/clickhouse/001_metrics_ttl_90d.up.sql"
	downFile   = "provisioning/clickhouse/001_metrics_ttl_90d.down.sql"
	verifyFile = "provisioning/clickhouse/verify.sql"
	ttlDays    = 90
	// wantTTL is how ClickHouse renders the migration's TTL, and what the
	// exporter writes itself for `ttl: 90d`.
	wantTTL = "toDateTime(TimeUnix) + toIntervalDay(90)"
)

// pointsPerDay is what every metric table holds before the migration:
// points per day, keyed by days before today. 100 and 120 are past the TTL.
var pointsPerDay = map[int]int{1: 3, 2: 2, 7: 4, 30: 1, 100: 5, 120: 2}

func migration(t *testing.T, rel string) []string {
	t.Helper()
	stmts, err := sqlStatements(string(repoFile(t, rel)))
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return stmts
}

// TestMigrationNamesExporterTables: the up and down migrations alter
// exactly the metric tables the exporter creates, nothing else (no
// otel_logs), in the right way.
func TestMigrationNamesExporterTables(t *testing.T) {
	var want []string
	for _, file := range exporterTableFiles {
		m := createTableName.FindStringSubmatch(string(repoFile(t, "tests/clickhouse/testdata/"+file)))
		if m == nil {
			t.Fatalf("%s: no table name", file)
		}
		want = append(want, m[1])
	}
	slices.Sort(want)
	for file, action := range map[string]string{upFile: " MODIFY TTL toDateTime(TimeUnix) + INTERVAL 90 DAY", downFile: " REMOVE TTL"} {
		stmts := migration(t, file)
		got := alteredTables(t, stmts)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s alters %v; want the exporter's metric tables %v", file, got, want)
		}
		for _, s := range stmts {
			if !strings.HasSuffix(s, action) {
				t.Errorf("%s: %q does not end in %q", file, s, action)
			}
		}
	}
}

func TestTTLMigration(t *testing.T) {
	srv := chtest.Start(t)
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{srv.Addr}, Protocol: clickhouse.HTTP})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	var tz string
	mustScan(t, conn.QueryRow(context.Background(), "SELECT timezone()"), &tz)
	loc, err := time.LoadLocation(tz)
	if err != nil {
		t.Fatalf("server time zone %q: %v", tz, err)
	}
	queries, err := namedQueries(string(repoFile(t, verifyFile)))
	if err != nil {
		t.Fatalf("%s: %v", verifyFile, err)
	}
	verify := map[string]string{}
	for _, q := range queries {
		verify[q.Name] = q.SQL
	}
	if got, want := sortedKeys(verify), []string{"disk_per_table", "partitions", "pending_ttl_mutations", "rows_per_day", "ttl_per_table"}; !slices.Equal(got, want) {
		t.Fatalf("%s has queries %v, want %v", verifyFile, got, want)
	}
	for _, tc := range []struct{ db, timeType string }{{"otel", "DateTime"}, {"otel_legacy", "DateTime64(9)"}} {
		t.Run(tc.timeType, func(t *testing.T) {
			m := &migrationRun{t: t, conn: conn, loc: loc, db: tc.db, verify: verify}
			m.check(exporterMetricTables(t, conn, tc.db, tc.timeType))
		})
	}
}

type migrationRun struct {
	t      *testing.T
	conn   driver.Conn
	loc    *time.Location
	db     string
	verify map[string]string
}

func (m *migrationRun) check(tables []string) {
	t, conn, db := m.t, m.conn, m.db
	logsTable(t, conn, db)
	mustExec(t, conn, fmt.Sprintf("INSERT INTO %q.otel_logs (Timestamp, ServiceName, Body) SELECT now64(9) - toIntervalDay(number), 'orders', 'order placed' FROM numbers(20)", db))
	for _, table := range tables {
		insertPoints(t, conn, db, table, m.loc, pointsPerDay)
	}
	logsDDL := showCreate(t, conn, db, "otel_logs")
	logsRows := count(t, conn, fmt.Sprintf("SELECT count() FROM %q.otel_logs", db))

	for _, row := range m.query("ttl_per_table") {
		if row["present"] != uint8(1) || row["ok"] != uint8(0) || row["ttl"] != "" {
			t.Errorf("before the migration, ttl_per_table says %v; want present, no TTL, not ok", row)
		}
	}
	for _, row := range m.query("partitions") {
		if row["oldest_day"] != dayKey(m.loc, 120) {
			t.Errorf("before the migration, partitions says %v; want the oldest day %s", row, dayKey(m.loc, 120))
		}
	}

	for run := 1; run <= 2; run++ {
		m.apply(upFile)
		for _, table := range tables {
			if got := ttlClauses(showCreate(t, conn, db, table)); !slices.Equal(got, []string{wantTTL}) {
				t.Errorf("after run %d, %s.%s has TTL clauses %q; want exactly [%q]", run, db, table, got, wantTTL)
			}
		}
	}
	m.waitForTTLMutations()
	m.checkRetained(tables)
	if got := showCreate(t, conn, db, "otel_logs"); got != logsDDL {
		t.Errorf("the migration changed otel_logs:\nbefore: %s\nafter:  %s", logsDDL, got)
	}
	if got := count(t, conn, fmt.Sprintf("SELECT count() FROM %q.otel_logs", db)); got != logsRows {
		t.Errorf("otel_logs has %d rows after the migration, %d before", got, logsRows)
	}

	// Roll back: the TTL goes, the data stays; a second roll back is
	// refused (code 36), as the down migration's comment says.
	m.apply(downFile)
	for _, table := range tables {
		if got := ttlClauses(showCreate(t, conn, db, table)); len(got) != 0 {
			t.Errorf("after the down migration, %s.%s still has TTL %q", db, table, got)
		}
	}
	for _, row := range m.query("ttl_per_table") {
		if row["ok"] != uint8(0) || row["ttl"] != "" {
			t.Errorf("after the down migration, ttl_per_table says %v", row)
		}
	}
	m.checkRetained(tables)
	err := conn.Exec(withDatabase(db), migration(t, downFile)[0])
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) || ex.Code != 36 {
		t.Errorf("second down migration: got %v; want code 36 (table has no TTL)", err)
	}
	m.apply(upFile)
	for _, row := range m.query("ttl_per_table") {
		if row["ok"] != uint8(1) {
			t.Errorf("after re-applying the migration, ttl_per_table says %v", row)
		}
	}
}

// checkRetained checks, with the verification queries and directly, that
// the tables hold exactly the points younger than the TTL.
func (m *migrationRun) checkRetained(tables []string) {
	t, db := m.t, m.db
	var total uint64
	oldest, newest := 0, 1<<30
	perDay := map[string]uint64{}
	for ago, n := range pointsPerDay {
		if ago < ttlDays {
			total += uint64(n)
			perDay[dayKey(m.loc, ago)] = uint64(n)
			oldest, newest = max(oldest, ago), min(newest, ago)
		}
	}
	for _, table := range tables {
		if n := count(t, m.conn, fmt.Sprintf("SELECT count() FROM %q.%q WHERE TimeUnix < now() - INTERVAL %d DAY", db, table, ttlDays)); n != 0 {
			t.Errorf("%s.%s keeps %d points older than %d days", db, table, n, ttlDays)
		}
		if n := count(t, m.conn, fmt.Sprintf("SELECT count() FROM %q.%q", db, table)); n != total {
			t.Errorf("%s.%s holds %d points; want the %d younger than %d days", db, table, n, total, ttlDays)
		}
	}

	for _, row := range m.query("ttl_per_table") {
		if len(ttlClauses(showCreate(t, m.conn, db, row["table"].(string)))) == 1 && (row["ok"] != uint8(1) || row["ttl"] != wantTTL) {
			t.Errorf("ttl_per_table says %v; want ok with TTL %q", row, wantTTL)
		}
	}
	parts := m.query("partitions")
	if len(parts) != len(tables) {
		t.Errorf("partitions has %d rows, want one per table (%d)", len(parts), len(tables))
	}
	for _, row := range parts {
		want := map[string]any{"partitions": uint64(len(perDay)), "oldest_day": dayKey(m.loc, oldest), "newest_day": dayKey(m.loc, newest), "points": total}
		for k, v := range want {
			if row[k] != v {
				t.Errorf("partitions: %s of %v is %v, want %v", k, row["table"], row[k], v)
			}
		}
		if p, ok := row["oldest_point"].(time.Time); !ok || !p.Equal(noonDaysAgo(m.loc, oldest)) {
			t.Errorf("partitions: oldest_point of %v is %v, want %v", row["table"], row["oldest_point"], noonDaysAgo(m.loc, oldest))
		}
	}
	got := map[string]uint64{}
	for _, row := range m.query("rows_per_day") {
		got[row["table"].(string)+" "+row["day"].(string)] = row["points"].(uint64)
	}
	want := map[string]uint64{}
	for _, table := range tables {
		for day, n := range perDay {
			want[table+" "+day] = n
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("rows_per_day:\n got %v\nwant %v", got, want)
	}
	disk := m.query("disk_per_table")
	if len(disk) != len(tables) {
		t.Errorf("disk_per_table has %d rows, want %d", len(disk), len(tables))
	}
	for _, row := range disk {
		if row["points"] != total || row["disk_bytes"].(uint64) == 0 || row["on_disk"] == "" {
			t.Errorf("disk_per_table says %v; want %d points on a non-zero number of bytes", row, total)
		}
	}
}

// apply runs a migration file's statements in order, as clickhouse-client
// --multiquery does.
func (m *migrationRun) apply(file string) {
	m.t.Helper()
	for _, stmt := range migration(m.t, file) {
		if err := m.conn.Exec(withDatabase(m.db), stmt); err != nil {
			m.t.Fatalf("%s on %s: %s: %v", file, m.db, stmt, err)
		}
	}
}

func (m *migrationRun) query(name string) []map[string]any {
	m.t.Helper()
	rows, err := queryRows(withDatabase(m.db), m.conn, m.verify[name])
	if err != nil {
		m.t.Fatalf("verification query %s on %s: %v", name, m.db, err)
	}
	return rows
}

// waitForTTLMutations waits until pending_ttl_mutations is empty.
func (m *migrationRun) waitForTTLMutations() {
	deadline := time.Now().Add(time.Minute)
	for {
		pending := m.query("pending_ttl_mutations")
		if len(pending) == 0 {
			return
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("TTL mutations still pending after a minute: %v", pending)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ttlClauses are the table-level TTL lines of a SHOW CREATE TABLE.
func ttlClauses(create string) []string {
	var out []string
	for _, line := range strings.Split(create, "\n") {
		if rest, ok := strings.CutPrefix(line, "TTL "); ok {
			out = append(out, rest)
		}
	}
	return out
}
