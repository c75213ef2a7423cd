package main

import (
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/forma3d/meshmetrics/tests/clickhouse/chtest"
)

func TestSmoke(t *testing.T) {
	srv := chtest.Start(t)
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{srv.Addr}, Protocol: clickhouse.HTTP})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := conn.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	v, err := conn.ServerVersion()
	t.Log(v, err)
	if err := conn.Exec(ctx, "CREATE TABLE t (a UInt32, s String, lc LowCardinality(String), m Map(LowCardinality(String), String), ts DateTime64(9)) ENGINE=MergeTree ORDER BY a"); err != nil {
		t.Fatal(err)
	}
	b, err := conn.PrepareBatch(ctx, "INSERT INTO t")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if err := b.Append(uint32(i), "s", "lc", map[string]string{"k": "v"}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, "SELECT a, s, lc, m, ts FROM t ORDER BY a")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var a uint32
		var s, lc string
		var m map[string]string
		var ts time.Time
		if err := rows.Scan(&a, &s, &lc, &m, &ts); err != nil {
			t.Fatal(err)
		}
		n++
		if n == 1 {
			t.Log(a, s, lc, m, ts)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	t.Log("rows", n)
}
