package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/forma3d/meshmetrics/tests/clickhouse/internal/chdb"
)

// The benchmarks compare the HTTP server with chDB called in-process, on
// the same statements and the same bytes:
//
//	go test ./tests/clickhouse -run '^$' -bench . -benchtime 10x
//
// insert: a 100k-row Native block of metric points (DateTime64(9),
// LowCardinality(String), Map(LowCardinality(String), String), Float64).
// direct = INSERT ... FROM INFILE on the in-process engine; http = POST of
// the same bytes (what clickhouse-go sends); the two alternate in one loop
// (see interleaved). clickhouse-go = a full PrepareBatch/Append/Send,
// client-side encoding included.
//
// scan: SELECT of a 1M-row table of the same shape, in Native. direct =
// materialized result in-process; http = the body read to the end in 1 MiB
// chunks, as a streaming client does; clickhouse-go = every row scanned
// into Go values.

const (
	benchInsertRows = 100_000
	benchScanRows   = 1_000_000
	benchTableDDL   = `CREATE TABLE IF NOT EXISTS %s (ts DateTime64(9), name LowCardinality(String),
		attrs Map(LowCardinality(String), String), value Float64) ENGINE = MergeTree ORDER BY (name, ts)`
	benchRowsSQL = `SELECT toDateTime64('2026-01-01 00:00:00', 9, 'UTC') + toIntervalNanosecond(number * 1000) AS ts,
		concat('metric_', toString(number %% 20)) AS name,
		map('host', concat('h', toString(number %% 7)), 'route', concat('/r', toString(number %% 13))) AS attrs,
		number / 3 AS value FROM numbers(%d)`
)

// direct is the in-process engine, opened once per test binary.
var direct struct {
	once sync.Once
	conn *chdb.Conn
	dir  string
	err  error
}

func directConn(b *testing.B) *chdb.Conn {
	b.Helper()
	direct.once.Do(func() {
		wd, _ := os.Getwd()
		lib, err := chdb.Locate(wd)
		if err != nil {
			direct.err = err
			return
		}
		if direct.err = chdb.Load(lib); direct.err != nil {
			return
		}
		if direct.dir, direct.err = os.MkdirTemp("", "meshmetrics-bench-direct-"); direct.err != nil {
			return
		}
		direct.conn, direct.err = chdb.Connect(direct.dir)
	})
	if direct.err != nil {
		b.Fatalf("open chdb in-process: %v", direct.err)
	}
	return direct.conn
}

// closeDirect closes the in-process engine, if a benchmark opened it, and
// removes its data; TestMain calls it.
func closeDirect() {
	if direct.conn != nil {
		direct.conn.Close()
	}
	if direct.dir != "" {
		_ = os.RemoveAll(direct.dir)
	}
}

func directExec(b *testing.B, c *chdb.Conn, query, format string) []byte {
	b.Helper()
	res, err := c.Query(query, format, nil)
	if err != nil {
		b.Fatalf("%s: %v", query, err)
	}
	defer res.Free()
	return append([]byte(nil), res.Data...)
}

// httpPost sends body to the server with the given query parameter and
// returns the response body, failing on a non-200 answer.
func httpPost(b *testing.B, base, query string, body io.Reader) []byte {
	b.Helper()
	res, err := http.Post(base+"/?"+url.Values{"query": {query}, "default_format": {"Native"}}.Encode(), "application/octet-stream", body)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		b.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		b.Fatalf("%s: HTTP %d: %s", query, res.StatusCode, out)
	}
	return out
}

// interleaved times direct and HTTP runs of the same work alternately, so
// background activity (merges, the other process) affects both alike, and
// reports each side's rows/s and the HTTP/direct time ratio.
func interleaved(b *testing.B, rows int, direct, viaHTTP func()) {
	var d, h time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		direct()
		d += time.Since(start)
		start = time.Now()
		viaHTTP()
		h += time.Since(start)
	}
	b.ReportMetric(float64(rows)*float64(b.N)/d.Seconds(), "direct-rows/s")
	b.ReportMetric(float64(rows)*float64(b.N)/h.Seconds(), "http-rows/s")
	b.ReportMetric(h.Seconds()/d.Seconds(), "http/direct")
}

func rowsPerSecond(b *testing.B, rows int) {
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// scanBuffer is what httpDiscard reads into. io.Copy into io.Discard would
// read 8 KiB at a time; on 2 cores the extra system calls and context
// switches of that client cost about a fifth of the scan's time, which is
// not the server's overhead. A decoding client reads in large chunks too.
var scanBuffer = make([]byte, 1<<20)

// httpDiscard runs a query over HTTP and reads the body to the end without
// keeping it, as a streaming client would; it returns the body size.
func httpDiscard(b *testing.B, base, query string) int64 {
	b.Helper()
	res, err := http.Post(base+"/?"+url.Values{"default_format": {"Native"}}.Encode(), "text/plain", strings.NewReader(query))
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	// The wrappers hide ReadFrom/WriteTo so that scanBuffer is used.
	n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{res.Body}, scanBuffer)
	if err != nil || res.StatusCode != http.StatusOK {
		b.Fatalf("%s: HTTP %d after %d bytes: %v", query, res.StatusCode, n, err)
	}
	return n
}

func BenchmarkInsert(b *testing.B) {
	dc := directConn(b)
	srv := sharedServer(b)
	// The payload: chDB's own Native encoding of the rows, as clickhouse-go
	// would send them.
	payload := directExec(b, dc, fmt.Sprintf(benchRowsSQL, benchInsertRows), "Native")
	file := filepath.Join(b.TempDir(), "payload.native")
	if err := os.WriteFile(file, payload, 0o600); err != nil {
		b.Fatal(err)
	}
	// Merges would run in the background at random times on either side:
	// the benchmark measures inserts only.
	for _, q := range []string{fmt.Sprintf(benchTableDDL, "bench_insert"), "TRUNCATE TABLE bench_insert", "SYSTEM STOP MERGES bench_insert"} {
		directExec(b, dc, q, "TSV")
		httpPost(b, srv.URL(), q, nil)
	}

	b.Run("direct-vs-http", func(b *testing.B) {
		q := fmt.Sprintf("INSERT INTO bench_insert FROM INFILE '%s' FORMAT Native", file)
		b.SetBytes(int64(len(payload)))
		interleaved(b, benchInsertRows,
			func() { directExec(b, dc, q, "TSV") },
			func() {
				httpPost(b, srv.URL(), "INSERT INTO bench_insert FORMAT Native", bytes.NewReader(payload))
			})
	})
	b.Run("clickhouse-go", func(b *testing.B) {
		conn := openConn(b, srv, "default", nil, nil)
		ctx := context.Background()
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		names := make([]string, 20)
		for i := range names {
			names[i] = fmt.Sprintf("metric_%d", i)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			batch, err := conn.PrepareBatch(ctx, "INSERT INTO bench_insert")
			if err != nil {
				b.Fatal(err)
			}
			for r := 0; r < benchInsertRows; r++ {
				attrs := map[string]string{"host": fmt.Sprintf("h%d", r%7), "route": fmt.Sprintf("/r%d", r%13)}
				if err := batch.Append(base.Add(time.Duration(r)*time.Microsecond), names[r%20], attrs, float64(r)/3); err != nil {
					b.Fatal(err)
				}
			}
			if err := batch.Send(); err != nil {
				b.Fatal(err)
			}
		}
		rowsPerSecond(b, benchInsertRows)
	})
}

func BenchmarkScan(b *testing.B) {
	dc := directConn(b)
	srv := sharedServer(b)
	fill := fmt.Sprintf("INSERT INTO bench_scan %s", fmt.Sprintf(benchRowsSQL, benchScanRows))
	for _, q := range []string{fmt.Sprintf(benchTableDDL, "bench_scan"), "TRUNCATE TABLE bench_scan", fill, "OPTIMIZE TABLE bench_scan FINAL"} {
		directExec(b, dc, q, "TSV")
		httpPost(b, srv.URL(), q, nil)
	}
	const scan = "SELECT ts, name, attrs, value FROM bench_scan"

	b.Run("direct-vs-http", func(b *testing.B) {
		var directBytes, httpBytes int64
		interleaved(b, benchScanRows,
			func() {
				res, err := dc.Query(scan, "Native", nil)
				if err != nil {
					b.Fatal(err)
				}
				directBytes = int64(len(res.Data))
				res.Free()
			},
			func() { httpBytes = httpDiscard(b, srv.URL(), scan) })
		if httpBytes != directBytes {
			b.Fatalf("HTTP result is %d bytes, in-process %d: they should be the same Native bytes", httpBytes, directBytes)
		}
		b.SetBytes(directBytes)
	})
	b.Run("clickhouse-go", func(b *testing.B) {
		conn := openConn(b, srv, "default", nil, nil)
		for i := 0; i < b.N; i++ {
			rows, err := conn.Query(context.Background(), scan)
			if err != nil {
				b.Fatal(err)
			}
			count := 0
			var (
				ts    time.Time
				name  string
				attrs map[string]string
				value float64
			)
			for rows.Next() {
				if err := rows.Scan(&ts, &name, &attrs, &value); err != nil {
					b.Fatal(err)
				}
				count++
			}
			if err := rows.Err(); err != nil {
				b.Fatal(err)
			}
			rows.Close()
			if count != benchScanRows {
				b.Fatalf("scanned %d rows, want %d", count, benchScanRows)
			}
		}
		rowsPerSecond(b, benchScanRows)
	})
}
