package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ClickHouse/ch-go/compress"
)

// These tests speak HTTP directly, the way a person with curl would, and
// check the details clients rely on.

func httpDo(t *testing.T, method, rawURL string, body io.Reader, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, body)
	must(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	must(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	must(t, err)
	return res, string(b)
}

func TestHTTPInterface(t *testing.T) {
	srv := sharedServer(t)
	db := testDatabase(t, srv)
	base := srv.URL()
	q := func(query string, extra ...string) string {
		v := url.Values{"query": {query}}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		return base + "/?" + v.Encode()
	}

	t.Run("ping", func(t *testing.T) {
		for _, path := range []string{"/ping", "/"} {
			res, body := httpDo(t, http.MethodGet, base+path, nil, nil)
			if res.StatusCode != 200 || body != "Ok.\n" {
				t.Fatalf("GET %s: %d %q, want 200 \"Ok.\\n\"", path, res.StatusCode, body)
			}
		}
	})

	t.Run("get defaults to TabSeparated", func(t *testing.T) {
		res, body := httpDo(t, http.MethodGet, q("SELECT number, 'a\tb' FROM numbers(2)"), nil, nil)
		if res.StatusCode != 200 || body != "0\ta\\tb\n1\ta\\tb\n" {
			t.Fatalf("got %d %q", res.StatusCode, body)
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/tab-separated-values") {
			t.Fatalf("Content-Type %q, want text/tab-separated-values", ct)
		}
		if res.Header.Get("X-ClickHouse-Query-Id") == "" || res.Header.Get("X-ClickHouse-Summary") == "" {
			t.Fatalf("missing X-ClickHouse-Query-Id / X-ClickHouse-Summary headers: %v", res.Header)
		}
	})

	t.Run("get is readonly", func(t *testing.T) {
		res, body := httpDo(t, http.MethodGet, q("CREATE TABLE "+db+".nope (a UInt8) ENGINE = Memory"), nil, nil)
		if res.StatusCode != 403 || res.Header.Get("X-ClickHouse-Exception-Code") != "164" || !strings.HasPrefix(body, "Code: 164.") {
			t.Fatalf("GET with DDL: %d %q (code header %q), want 403 and code 164", res.StatusCode, body, res.Header.Get("X-ClickHouse-Exception-Code"))
		}
	})

	t.Run("post body is the query, FORMAT clause wins", func(t *testing.T) {
		res, body := httpDo(t, http.MethodPost, base+"/", strings.NewReader("SELECT 1 AS x FORMAT JSONEachRow"), nil)
		if res.StatusCode != 200 || body != "{\"x\":1}\n" {
			t.Fatalf("got %d %q", res.StatusCode, body)
		}
	})

	t.Run("insert with data in the body and column list", func(t *testing.T) {
		_, body := httpDo(t, http.MethodPost, base+"/", strings.NewReader("CREATE TABLE "+db+".csv (a UInt32, b String, c String DEFAULT 'dflt') ENGINE = MergeTree ORDER BY a"), nil)
		if body != "" {
			t.Fatalf("create table: %q", body)
		}
		// Binary-looking data with blank lines inside quoted values.
		data := "1,\"x\n\ny\"\n2,\"z\"\n"
		res, body := httpDo(t, http.MethodPost, q("INSERT INTO "+db+".csv (a, b) FORMAT CSV"), strings.NewReader(data), nil)
		if res.StatusCode != 200 {
			t.Fatalf("insert: %d %q", res.StatusCode, body)
		}
		// Query and data in one body, curl style.
		res, body = httpDo(t, http.MethodPost, base+"/", strings.NewReader("INSERT INTO "+db+".csv (a, b) VALUES (3, 'v')"), nil)
		if res.StatusCode != 200 {
			t.Fatalf("insert values: %d %q", res.StatusCode, body)
		}
		_, body = httpDo(t, http.MethodGet, q("SELECT a, b, c FROM "+db+".csv ORDER BY a FORMAT JSONCompactEachRow"), nil, nil)
		want := "[1, \"x\\n\\ny\", \"dflt\"]\n[2, \"z\", \"dflt\"]\n[3, \"v\", \"dflt\"]\n"
		if body != want {
			t.Fatalf("table holds %q, want %q", body, want)
		}
	})

	t.Run("max_query_size bounds the query, and a request may raise it", func(t *testing.T) {
		long := "SELECT length(" + "'" + strings.Repeat("x", 300<<10) + "')"
		res, body := httpDo(t, http.MethodPost, base+"/", strings.NewReader(long), nil)
		// ClickHouse parses the first max_query_size bytes only: the
		// string literal is unterminated there.
		if res.StatusCode != 400 || !strings.HasPrefix(body, "Code: 62.") {
			t.Fatalf("a 300 KiB query: %d %.200q, want 400 and a syntax error (code 62)", res.StatusCode, body)
		}
		res, body = httpDo(t, http.MethodPost, base+"/?max_query_size=400000", strings.NewReader(long), nil)
		if res.StatusCode != 200 || body != "307200\n" {
			t.Fatalf("a 300 KiB query with max_query_size=400000: %d %.200q, want 200 and 307200", res.StatusCode, body)
		}
	})

	t.Run("multi-statements are refused", func(t *testing.T) {
		res, body := httpDo(t, http.MethodPost, base+"/", strings.NewReader("SELECT 1; DROP DATABASE "+db), nil)
		if res.StatusCode != 400 || !strings.Contains(body, "Multi-statements are not allowed") {
			t.Fatalf("got %d %q, want 400 and a multi-statement syntax error", res.StatusCode, body)
		}
		// A trailing semicolon and a ';' inside a string are fine.
		_, body = httpDo(t, http.MethodPost, base+"/", strings.NewReader("SELECT 'a;b';  -- done\n"), nil)
		if body != "a;b\n" {
			t.Fatalf("got %q, want %q", body, "a;b\n")
		}
	})

	t.Run("gzip response with enable_http_compression", func(t *testing.T) {
		res, body := httpDo(t, http.MethodGet, q("SELECT number FROM numbers(1000) FORMAT CSV", "enable_http_compression", "1"), nil,
			http.Header{"Accept-Encoding": {"gzip"}})
		if res.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("Content-Encoding %q, want gzip", res.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(strings.NewReader(body))
		must(t, err)
		plain, err := io.ReadAll(zr)
		must(t, err)
		if !strings.HasPrefix(string(plain), "0\n1\n2\n") || strings.Count(string(plain), "\n") != 1000 {
			t.Fatalf("decoded body starts %q with %d lines, want 1000 lines from 0", string(plain[:min(20, len(plain))]), strings.Count(string(plain), "\n"))
		}
	})

	t.Run("compress=1 frames the response in ClickHouse blocks", func(t *testing.T) {
		_, body := httpDo(t, http.MethodGet, q("SELECT 'hello' FORMAT TSV", "compress", "1", "network_compression_method", "ZSTD"), nil, nil)
		plain, err := io.ReadAll(compress.NewReader(bytes.NewReader([]byte(body))))
		if err != nil && !strings.Contains(err.Error(), "EOF") {
			t.Fatalf("decode framed response: %v", err)
		}
		if string(plain) != "hello\n" {
			t.Fatalf("framed response decodes to %q, want %q", plain, "hello\n")
		}
	})

	t.Run("async insert settings are accepted", func(t *testing.T) {
		res, body := httpDo(t, http.MethodPost, q("INSERT INTO "+db+".csv (a, b) SETTINGS async_insert = 1, input_format_csv_trim_whitespaces = 1 FORMAT CSV", "async_insert", "1", "wait_for_async_insert", "1"),
			strings.NewReader("10, padded \n"), nil)
		if res.StatusCode != 200 {
			t.Fatalf("insert: %d %q", res.StatusCode, body)
		}
		_, body = httpDo(t, http.MethodGet, q("SELECT b FROM "+db+".csv WHERE a = 10"), nil, nil)
		if body != "padded\n" {
			t.Fatalf("row inserted with async settings reads %q, want %q (synchronous, SETTINGS clause applied)", body, "padded\n")
		}
	})

	t.Run("failed Native inserts insert nothing and do not wedge the server", func(t *testing.T) {
		_, body := httpDo(t, http.MethodPost, base+"/", strings.NewReader("CREATE TABLE "+db+".nat (a UInt64, s String) ENGINE = MergeTree ORDER BY a"), nil)
		if body != "" {
			t.Fatalf("create table: %q", body)
		}
		// A valid block, produced by the server itself.
		_, block := httpDo(t, http.MethodGet, q("SELECT number AS a, toString(number) AS s FROM numbers(1000) FORMAT Native"), nil, nil)

		res, body := httpDo(t, http.MethodPost, q("INSERT INTO "+db+".no_such_table FORMAT Native"), strings.NewReader(block), nil)
		if res.StatusCode != 404 || res.Header.Get("X-ClickHouse-Exception-Code") != "60" {
			t.Fatalf("insert into a missing table: %d %q, want 404 with code 60", res.StatusCode, body)
		}
		res, body = httpDo(t, http.MethodPost, q("INSERT INTO "+db+".nat FORMAT Native"), strings.NewReader(block[:len(block)/2]), nil)
		if res.StatusCode == 200 {
			t.Fatalf("insert of half a block succeeded: %q", body)
		}
		// The body breaks off right after a complete block: the client
		// never finished the request, so nothing may be inserted.
		req, err := http.NewRequest(http.MethodPost, q("INSERT INTO "+db+".nat FORMAT Native"), io.MultiReader(strings.NewReader(block), failingReader{}))
		must(t, err)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
			t.Fatalf("request with a failing body got an answer (%d)", res.StatusCode)
		}
		res, body = httpDo(t, http.MethodPost, q("INSERT INTO "+db+".nat FORMAT Native"), strings.NewReader(block), nil)
		if res.StatusCode != 200 {
			t.Fatalf("valid insert after the failures: %d %q", res.StatusCode, body)
		}
		_, body = httpDo(t, http.MethodGet, q("SELECT count(), sum(a) FROM "+db+".nat"), nil, nil)
		if body != "1000\t499500\n" {
			t.Fatalf("table holds %q (count, sum), want exactly the one complete insert: 1000\t499500", body)
		}
	})

	t.Run("unknown path", func(t *testing.T) {
		res, _ := httpDo(t, http.MethodGet, base+"/nope", nil, nil)
		if res.StatusCode != 404 {
			t.Fatalf("GET /nope: %d, want 404", res.StatusCode)
		}
	})
}

// failingReader fails like a client connection that breaks off.
type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("connection broke off") }
