package main

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// TestDatabaseSQL drives the server through database/sql (clickhouse.OpenDB),
// which the plugin's query engine may use.
func TestDatabaseSQL(t *testing.T) {
	srv := sharedServer(t)
	database := testDatabase(t, srv)
	db := clickhouse.OpenDB(&clickhouse.Options{
		Addr:        []string{srv.Addr},
		Protocol:    clickhouse.HTTP,
		Auth:        clickhouse.Auth{Database: database},
		Compression: &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
	})
	t.Cleanup(func() { _ = db.Close() })
	ctx := context.Background()
	must(t, db.PingContext(ctx))

	_, err := db.ExecContext(ctx, `CREATE TABLE metrics (
		ts DateTime64(9), name LowCardinality(String), attrs Map(LowCardinality(String), String), value Float64
	) ENGINE = MergeTree ORDER BY (name, ts)`)
	must(t, err)

	// database/sql batches are transactions with a prepared INSERT.
	tx, err := db.BeginTx(ctx, nil)
	must(t, err)
	stmt, err := tx.PrepareContext(ctx, "INSERT INTO metrics")
	must(t, err)
	base := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	const n = 500
	for i := 0; i < n; i++ {
		_, err := stmt.ExecContext(ctx, base.Add(time.Duration(i)*time.Second), fmt.Sprintf("m%d", i%3),
			map[string]string{"i": fmt.Sprint(i)}, float64(i)*1.5)
		must(t, err)
	}
	must(t, tx.Commit())

	rows, err := db.QueryContext(ctx, "SELECT name, count(), sum(value), min(ts) FROM metrics WHERE attrs['i'] != '' GROUP BY name ORDER BY name")
	must(t, err)
	defer rows.Close()
	var total int
	for rows.Next() {
		var (
			name  string
			count uint64
			sum   float64
			first time.Time
		)
		must(t, rows.Scan(&name, &count, &sum, &first))
		total += int(count)
		if name == "m0" && !first.Equal(base) {
			t.Fatalf("min(ts) for m0 is %v, want %v (nanoseconds must survive)", first, base)
		}
	}
	must(t, rows.Err())
	if total != n {
		t.Fatalf("read back %d rows, want %d", total, n)
	}

	// Parameter binding through database/sql.
	var got float64
	must(t, db.QueryRowContext(ctx, "SELECT value FROM metrics WHERE attrs['i'] = ?", "10").Scan(&got))
	if got != 15 {
		t.Fatalf("value for i=10 is %v, want 15", got)
	}

	// Errors keep their type through database/sql.
	_, err = db.QueryContext(ctx, "SELECT * FROM missing_table")
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) || ex.Code != 60 {
		t.Fatalf("error %v, want *clickhouse.Exception with code 60", err)
	}
}
