package main

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// The round trip covers every column type the OpenTelemetry exporter uses.
// Each row is a function of its id, computed once in Go (typeRow) and once
// in SQL (typeRowSQL), so each direction is checked against an independent
// implementation:
//   - insert: clickhouse-go encodes Native, SQL on the server verifies;
//   - select: SQL on the server produces the rows, clickhouse-go decodes
//     Native, Go verifies.

const typesTableDDL = `CREATE TABLE %s (
	id UInt32,
	i32 Int32,
	u64 UInt64,
	f64 Float64,
	s String,
	b Bool,
	lc LowCardinality(String),
	m Map(LowCardinality(String), String),
	dt DateTime,
	dt64 DateTime64(9),
	af Array(Float64),
	au Array(UInt64),
	n Nested(k String, v Float64)
) ENGINE = MergeTree ORDER BY id`

type typeRow struct {
	id   uint32
	i32  int32
	u64  uint64
	f64  float64
	s    string
	b    bool
	lc   string
	m    map[string]string
	dt   time.Time
	dt64 time.Time
	af   []float64
	au   []uint64
	nk   []string
	nv   []float64
}

func makeTypeRow(id uint32) typeRow {
	r := typeRow{
		id:  id,
		i32: int32(int64(id)*1000 - 500000),
		u64: ^uint64(0) - uint64(id),
		f64: float64(id) / 8,
		// "\n\n" inside values is what chDB truncates inline data at.
		s:    fmt.Sprintf("s-%d\n\nline", id),
		b:    id%2 == 0,
		lc:   fmt.Sprintf("lc%d", id%5),
		m:    map[string]string{"k": fmt.Sprint(id), "host": fmt.Sprintf("h%d", id%3)},
		dt:   time.Unix(1700000000+int64(id), 0).UTC(),
		dt64: time.Unix(0, 1700000000000000000+int64(id)*1000000001).UTC(),
		af:   []float64{},
		au:   []uint64{},
		nk:   []string{},
		nv:   []float64{},
	}
	for j := 0; j < int(id%3); j++ {
		r.af = append(r.af, float64(j)+0.5)
		r.nk = append(r.nk, fmt.Sprintf("k%d", j))
		r.nv = append(r.nv, float64(j)*2)
	}
	for j := 0; j < int(id%4); j++ {
		r.au = append(r.au, uint64(j))
	}
	return r
}

// typeRowSQL is makeTypeRow in SQL, as expressions of `id`.
var typeRowSQL = []struct{ column, expr string }{
	{"i32", "toInt32(toInt64(id) * 1000 - 500000)"},
	{"u64", "bitNot(toUInt64(id))"},
	{"f64", "id / 8"},
	{"s", "concat('s-', toString(id), '\\n\\nline')"},
	{"b", "id % 2 = 0"},
	{"lc", "concat('lc', toString(id % 5))"},
	{"m", "map('k', toString(id), 'host', concat('h', toString(id % 3)))"},
	{"dt", "toDateTime(1700000000 + id, 'UTC')"},
	{"dt64", "fromUnixTimestamp64Nano(toInt64(1700000000000000000 + toInt64(id) * 1000000001), 'UTC')"},
	{"af", "arrayMap(x -> toFloat64(x) + 0.5, range(id % 3))"},
	{"au", "arrayMap(x -> toUInt64(x), range(id % 4))"},
	{"n.k", "arrayMap(x -> concat('k', toString(x)), range(id % 3))"},
	{"n.v", "arrayMap(x -> toFloat64(x) * 2, range(id % 3))"},
}

// insertTypeRows sends rows [0, n) as one clickhouse-go batch (Native).
func insertTypeRows(ctx context.Context, t *testing.T, conn driver.Conn, table string, n int) {
	t.Helper()
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+table+" (id, i32, u64, f64, s, b, lc, m, dt, dt64, af, au, n.k, n.v)")
	if err != nil {
		t.Fatalf("prepare batch for %s: %v", table, err)
	}
	for i := 0; i < n; i++ {
		r := makeTypeRow(uint32(i))
		if err := batch.Append(r.id, r.i32, r.u64, r.f64, r.s, r.b, r.lc, r.m, r.dt, r.dt64, r.af, r.au, r.nk, r.nv); err != nil {
			t.Fatalf("append row %d: %v", i, err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatalf("send batch of %d rows to %s: %v", n, table, err)
	}
}

// verifyOnServer checks, column by column, that every row matches
// typeRowSQL.
func verifyOnServer(ctx context.Context, t *testing.T, conn driver.Conn, table string, n int) {
	t.Helper()
	for _, c := range typeRowSQL {
		cond := fmt.Sprintf("(%s) = (%s)", c.column, c.expr)
		if c.column == "m" {
			// Map equality is order-sensitive; compare by key.
			cond = "m['k'] = toString(id) AND m['host'] = concat('h', toString(id % 3)) AND length(m) = 2"
		}
		var total, matching uint64
		q := fmt.Sprintf("SELECT count(), countIf(%s) FROM %s", cond, table)
		if err := conn.QueryRow(ctx, q).Scan(&total, &matching); err != nil {
			t.Fatalf("verify %s.%s on the server: %v", table, c.column, err)
		}
		if total != uint64(n) || matching != uint64(n) {
			var sample string
			_ = conn.QueryRow(ctx, fmt.Sprintf("SELECT toString(tuple(id, %s, %s)) FROM %s WHERE NOT (%s) ORDER BY id LIMIT 1", c.column, c.expr, table, cond)).Scan(&sample)
			t.Fatalf("%s.%s: %d rows, %d matching %s; want %d and %d; first mismatch (id, stored, expected): %s",
				table, c.column, total, matching, c.expr, n, n, sample)
		}
	}
}

// readAndCompare reads the table through clickhouse-go and compares every
// row with makeTypeRow.
func readAndCompare(ctx context.Context, t *testing.T, conn driver.Conn, table string, n int) {
	t.Helper()
	rows, err := conn.Query(ctx, "SELECT id, i32, u64, f64, s, b, lc, m, dt, dt64, af, au, n.k, n.v FROM "+table+" ORDER BY id")
	if err != nil {
		t.Fatalf("select from %s: %v", table, err)
	}
	defer rows.Close()
	wantTypes := map[string]string{"lc": "LowCardinality(String)", "m": "Map(LowCardinality(String), String)", "dt64": "DateTime64(9)"}
	for _, ct := range rows.ColumnTypes() {
		if want, ok := wantTypes[ct.Name()]; ok && ct.DatabaseTypeName() != want {
			t.Errorf("column %s has type %s in the result, want %s", ct.Name(), ct.DatabaseTypeName(), want)
		}
	}
	count := 0
	for rows.Next() {
		var got typeRow
		if err := rows.Scan(&got.id, &got.i32, &got.u64, &got.f64, &got.s, &got.b, &got.lc, &got.m, &got.dt, &got.dt64, &got.af, &got.au, &got.nk, &got.nv); err != nil {
			t.Fatalf("scan row %d: %v", count, err)
		}
		got.dt, got.dt64 = got.dt.UTC(), got.dt64.UTC()
		want := makeTypeRow(uint32(count))
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("row %d differs:\n got %+v\nwant %+v", count, got, want)
		}
		count++
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	if count != n {
		t.Fatalf("read %d rows from %s, want %d", count, table, n)
	}
}

func roundTripTypes(t *testing.T, conn driver.Conn, db string, n int) {
	ctx := context.Background()
	// Insert direction.
	in := db + ".types_in"
	must(t, conn.Exec(ctx, fmt.Sprintf(typesTableDDL, in)))
	insertTypeRows(ctx, t, conn, in, n)
	verifyOnServer(ctx, t, conn, in, n)

	// Select direction.
	out := db + ".types_out"
	must(t, conn.Exec(ctx, fmt.Sprintf(typesTableDDL, out)))
	cols, exprs := "id", "id"
	for _, c := range typeRowSQL {
		cols += ", " + c.column
		exprs += ", " + c.expr
	}
	must(t, conn.Exec(ctx, fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM (SELECT toUInt32(number) AS id FROM numbers(%d))", out, cols, exprs, n)))
	readAndCompare(ctx, t, conn, out, n)
}

func TestColumnTypesRoundTrip(t *testing.T) {
	srv := sharedServer(t)
	methods := []struct {
		name string
		comp *clickhouse.Compression
	}{
		{"none", nil},
		{"lz4", &clickhouse.Compression{Method: clickhouse.CompressionLZ4}},
		{"zstd", &clickhouse.Compression{Method: clickhouse.CompressionZSTD}},
		{"gzip", &clickhouse.Compression{Method: clickhouse.CompressionGZIP}},
		{"deflate", &clickhouse.Compression{Method: clickhouse.CompressionDeflate}},
		{"br", &clickhouse.Compression{Method: clickhouse.CompressionBrotli}},
	}
	for _, m := range methods {
		t.Run(m.name, func(t *testing.T) {
			db := testDatabase(t, srv)
			roundTripTypes(t, openConn(t, srv, db, m.comp, nil), db, 3000)
		})
	}
}
