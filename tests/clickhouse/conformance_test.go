package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// wantException asserts err is a typed *clickhouse.Exception with code.
func wantException(t *testing.T, err error, code int32) *clickhouse.Exception {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want ClickHouse exception code %d", code)
	}
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) {
		t.Fatalf("error %v (%T) is not a *clickhouse.Exception; want code %d", err, err, code)
	}
	if ex.Code != code {
		t.Fatalf("exception code %d (%s), want %d", ex.Code, ex.Message, code)
	}
	return ex
}

func TestPingAndServerVersion(t *testing.T) {
	srv := sharedServer(t)
	conn := openConn(t, srv, "default", nil, nil)
	ctx := context.Background()
	must(t, conn.Ping(ctx))
	v, err := conn.ServerVersion()
	must(t, err)
	if v.Version.Major != 26 || v.Version.Minor != 5 {
		t.Fatalf("server version %v, want 26.5.x (the pinned @chdb/lib-linux-x64-gnu)", v.Version)
	}
	if v.DisplayName == "" || v.Timezone == nil {
		t.Fatalf("server version %+v lacks display name or timezone", v)
	}
}

func TestDDL(t *testing.T) {
	srv := sharedServer(t)
	db := testDatabase(t, srv)
	conn := openConn(t, srv, db, nil, nil)
	ctx := context.Background()
	must(t, conn.Exec(ctx, "CREATE TABLE ddl (a UInt32, b String) ENGINE = MergeTree ORDER BY a"))
	must(t, conn.Exec(ctx, "ALTER TABLE ddl ADD COLUMN c Float64 DEFAULT 1.5"))
	var create string
	must(t, conn.QueryRow(ctx, "SHOW CREATE TABLE ddl").Scan(&create))
	for _, want := range []string{"CREATE TABLE " + db + ".ddl", "`c` Float64 DEFAULT 1.5", "ENGINE = MergeTree"} {
		if !contains(create, want) {
			t.Fatalf("SHOW CREATE TABLE is %q, want it to contain %q", create, want)
		}
	}
	// The connection's database is the request's: an unqualified name
	// resolves in it, and in "default" on a connection to "default".
	must(t, conn.Exec(ctx, "INSERT INTO ddl (a, b) VALUES (1, 'x')"))
	var c float64
	must(t, conn.QueryRow(ctx, "SELECT c FROM ddl WHERE a = 1").Scan(&c))
	if c != 1.5 {
		t.Fatalf("default column c = %v, want 1.5", c)
	}
	other := openConn(t, srv, "default", nil, nil)
	wantException(t, other.Exec(ctx, "INSERT INTO ddl (a, b) VALUES (2, 'y')"), 60)
	must(t, conn.Exec(ctx, "DROP TABLE ddl"))
	wantException(t, conn.QueryRow(ctx, "SELECT count() FROM ddl").Scan(new(uint64)), 60)
}

func TestQueryParameters(t *testing.T) {
	srv := sharedServer(t)
	conn := openConn(t, srv, "default", nil, nil)
	ctx := clickhouse.Context(context.Background(), clickhouse.WithParameters(clickhouse.Parameters{
		"n": "41",
		// Values are in escaped text form, as on a real server: "\\" is one
		// backslash.
		"s":   `it's "quoted" \\ ünï`,
		"arr": "[1,2,3]",
	}))
	var (
		n   uint64
		s   string
		sum uint64
	)
	must(t, conn.QueryRow(ctx, "SELECT {n:UInt32} + 1, {s:String}, arraySum({arr:Array(UInt64)})").Scan(&n, &s, &sum))
	if want := `it's "quoted" \ ünï`; n != 42 || s != want || sum != 6 {
		t.Fatalf("got %d, %q, %d; want 42, %q, 6", n, s, sum, want)
	}
	// clickhouse-go's client-side binding of positional arguments.
	var got string
	must(t, conn.QueryRow(context.Background(), "SELECT concat(?, '-', toString(?))", "a'b", 7).Scan(&got))
	if got != "a'b-7" {
		t.Fatalf("bound query returned %q, want %q", got, "a'b-7")
	}
}

func TestMaxExecutionTime(t *testing.T) {
	srv := sharedServer(t)
	conn := openConn(t, srv, "default", nil, nil)
	ctx := clickhouse.Context(context.Background(), clickhouse.WithSettings(clickhouse.Settings{"max_execution_time": 1}))
	start := time.Now()
	err := conn.QueryRow(ctx, "SELECT sleepEachRow(0.5) FROM numbers(6) SETTINGS max_block_size = 1").Scan(new(uint8))
	wantException(t, err, 159)
	if elapsed := time.Since(start); elapsed > 2500*time.Millisecond {
		t.Fatalf("timeout error came after %v, want about 1s", elapsed)
	}
	// The setting applied to that request only.
	var v string
	must(t, conn.QueryRow(context.Background(), "SELECT toString(getSetting('max_execution_time'))").Scan(&v))
	if v != "0" {
		t.Fatalf("max_execution_time is %q on the next request, want the default 0", v)
	}
}

func TestSettingsDoNotLeak(t *testing.T) {
	srv := sharedServer(t)
	conn := openConn(t, srv, "default", nil, nil)
	ctx := context.Background()
	var before string
	must(t, conn.QueryRow(ctx, "SELECT toString(getSetting('max_result_rows'))").Scan(&before))

	// A URL setting is in force for its request...
	limited := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_result_rows": 5, "result_overflow_mode": "throw"}))
	err := conn.QueryRow(limited, "SELECT count() FROM (SELECT number FROM numbers(100))").Scan(new(uint64))
	must(t, err)
	rows, err := conn.Query(limited, "SELECT number FROM numbers(100)")
	if err == nil {
		for rows.Next() {
		}
		err = rows.Err()
		rows.Close()
	}
	wantException(t, err, 396) // TOO_MANY_ROWS_OR_BYTES

	// ...and neither it nor a SET statement outlives its request.
	must(t, conn.Exec(ctx, "SET max_result_rows = 7"))
	var after string
	must(t, conn.QueryRow(ctx, "SELECT toString(getSetting('max_result_rows'))").Scan(&after))
	if after != before {
		t.Fatalf("max_result_rows is %q after other requests changed it, want the default %q", after, before)
	}
	// USE does not leak either: the next request is back in its database.
	must(t, conn.Exec(ctx, "USE system"))
	var current string
	must(t, conn.QueryRow(ctx, "SELECT currentDatabase()").Scan(&current))
	if current != "default" {
		t.Fatalf("current database is %q after a USE in an earlier request, want default", current)
	}
}

func TestErrors(t *testing.T) {
	srv := sharedServer(t)
	conn := openConn(t, srv, "default", nil, nil)
	ctx := context.Background()

	_, err := conn.Query(ctx, "SELECT * FROM no_such_table")
	ex := wantException(t, err, 60)
	if !contains(ex.Message, "no_such_table") {
		t.Fatalf("exception message %q does not name the table", ex.Message)
	}
	var httpErr *clickhouse.HTTPError
	if !errors.As(err, &httpErr) || httpErr.StatusCode != 404 {
		t.Fatalf("error %v: want an HTTP 404 as a real server sends for UNKNOWN_TABLE", err)
	}
	wantException(t, conn.Exec(ctx, "SELECT 1; SELECT 2"), 62)
	wantException(t, conn.Exec(ctx, "SELEC 1"), 62)
	// URL settings are validated like a real server's: unknown is an error.
	bad := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"no_such_setting": 1}))
	wantException(t, conn.Exec(bad, "SELECT 1"), 115)
	// ...and the failed request left the session usable.
	must(t, conn.Exec(ctx, "SELECT 1"))
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestParallelInserts(t *testing.T) {
	srv := sharedServer(t)
	db := testDatabase(t, srv)
	ctx := context.Background()
	setup := openConn(t, srv, db, nil, nil)
	must(t, setup.Exec(ctx, "CREATE TABLE par (worker UInt8, seq UInt32, payload String) ENGINE = MergeTree ORDER BY (worker, seq)"))

	const workers, batches, rowsPerBatch = 8, 5, 2000
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		conn := openConn(t, srv, db, &clickhouse.Compression{Method: clickhouse.CompressionLZ4}, nil)
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for b := 0; b < batches; b++ {
				batch, err := conn.PrepareBatch(ctx, "INSERT INTO par")
				if err != nil {
					errs <- fmt.Errorf("worker %d: prepare: %w", w, err)
					return
				}
				for i := 0; i < rowsPerBatch; i++ {
					seq := uint32(b*rowsPerBatch + i)
					if err := batch.Append(uint8(w), seq, fmt.Sprintf("w%d-%d\n\n", w, seq)); err != nil {
						errs <- fmt.Errorf("worker %d: append: %w", w, err)
						return
					}
				}
				if err := batch.Send(); err != nil {
					errs <- fmt.Errorf("worker %d: send batch %d: %w", w, b, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	rows, err := setup.Query(ctx, "SELECT worker, count(), uniqExact(seq), countIf(payload = concat('w', toString(worker), '-', toString(seq), '\\n\\n')) FROM par GROUP BY worker ORDER BY worker")
	must(t, err)
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var w uint8
		var n, uniq, good uint64
		must(t, rows.Scan(&w, &n, &uniq, &good))
		if n != batches*rowsPerBatch || uniq != n || good != n {
			t.Errorf("worker %d: %d rows, %d distinct seq, %d intact payloads; want %d of each", w, n, uniq, good, batches*rowsPerBatch)
		}
		seen++
	}
	must(t, rows.Err())
	if seen != workers {
		t.Fatalf("rows from %d workers, want %d", seen, workers)
	}
}

func TestMillionRowResult(t *testing.T) {
	srv := sharedServer(t)
	for _, comp := range []*clickhouse.Compression{nil, {Method: clickhouse.CompressionLZ4}} {
		name := "none"
		if comp != nil {
			name = comp.Method.String()
		}
		t.Run(name, func(t *testing.T) {
			conn := openConn(t, srv, "default", comp, nil)
			rows, err := conn.Query(context.Background(), "SELECT number, toString(number) FROM numbers(1000000)")
			must(t, err)
			defer rows.Close()
			var count, sum uint64
			for rows.Next() {
				var n uint64
				var s string
				must(t, rows.Scan(&n, &s))
				if s != fmt.Sprint(n) {
					t.Fatalf("row %d: string column %q does not match number %d", count, s, n)
				}
				count++
				sum += n
			}
			must(t, rows.Err())
			if count != 1_000_000 || sum != 999_999*1_000_000/2 {
				t.Fatalf("read %d rows summing to %d, want 1000000 rows summing to %d", count, sum, uint64(999_999*1_000_000/2))
			}
		})
	}
}
