package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// These tests send INSERT bodies byte by byte over a raw connection, so
// that the server receives exactly the bytes chosen and then a broken or
// stalled body, which net/http's client cannot be made to produce.

// rawInsert opens a connection and sends the headers of a chunked POST with
// query in the URL, then body as one chunk. It does not end the body.
func rawInsert(t *testing.T, addr, query string, body []byte, extra url.Values) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	must(t, err)
	v := url.Values{"query": {query}}
	for k, vs := range extra {
		v[k] = vs
	}
	head := fmt.Sprintf("POST /?%s HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\nContent-Type: application/octet-stream\r\n\r\n", v.Encode(), addr)
	if len(body) > 0 {
		head += fmt.Sprintf("%x\r\n%s\r\n", len(body), body)
	}
	if _, err := io.WriteString(conn, head); err != nil {
		conn.Close()
		t.Fatalf("send request: %v", err)
	}
	return conn
}

// readRawResponse reads the answer to a rawInsert; it reports an error when
// the server closed the connection without one.
func readRawResponse(conn net.Conn, timeout time.Duration) (*http.Response, string, error) {
	_ = conn.SetReadDeadline(time.Now().Add(timeout))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res, string(b), err
}

// The body of an insert breaks off after every possible number of bytes of
// a valid Native block, including all of it: none of these inserts may store
// a row. The types are those the OTel exporter uses, with fixed-width
// columns last, where a few missing bytes are easiest to make up.
func TestBrokenOffNativeInsertStoresNothing(t *testing.T) {
	srv := sharedServer(t)
	db := testDatabase(t, srv)
	base := srv.URL()
	q := func(query string) string { return base + "/?" + url.Values{"query": {query}}.Encode() }

	_, body := httpDo(t, http.MethodPost, base+"/", strings.NewReader("CREATE TABLE "+db+".cut (name LowCardinality(String), attrs Map(LowCardinality(String), String), "+
		"bounds Array(Float64), counts Array(UInt64), ok Bool, ts DateTime64(9), n UInt32, value Float64) ENGINE = MergeTree ORDER BY name"), nil)
	if body != "" {
		t.Fatalf("create table: %q", body)
	}
	_, block := httpDo(t, http.MethodGet, q("SELECT 'm' || toString(number) AS name, map('k', toString(number)) AS attrs, [1.5, 2.5] AS bounds, [number] AS counts, "+
		"number % 2 = 1 AS ok, toDateTime64('2026-01-01 00:00:00', 9, 'UTC') AS ts, toUInt32(number) AS n, number / 4 AS value FROM numbers(3) FORMAT Native"), nil, nil)
	if len(block) < 100 {
		t.Fatalf("native block is %d bytes: %q", len(block), block)
	}

	insert := "INSERT INTO " + db + ".cut FORMAT Native"
	for cut := 0; cut <= len(block); cut++ {
		conn := rawInsert(t, srv.Addr, insert, []byte(block[:cut]), nil)
		// Not a hexadecimal chunk size: the body fails right here.
		if _, err := io.WriteString(conn, "zz\r\n"); err != nil {
			conn.Close()
			t.Fatalf("cut at %d: send broken chunk: %v", cut, err)
		}
		res, text, err := readRawResponse(conn, 30*time.Second)
		conn.Close()
		if err == nil && res.StatusCode == http.StatusOK {
			t.Errorf("body broken off after %d of %d bytes: insert succeeded (%q)", cut, len(block), text)
		}
	}
	_, count := httpDo(t, http.MethodGet, q("SELECT count() FROM "+db+".cut"), nil, nil)
	if count != "0\n" {
		t.Fatalf("table holds %q rows after only broken inserts, want 0", count)
	}
	res, text := httpDo(t, http.MethodPost, q(insert), strings.NewReader(block), nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("complete insert after the broken ones: %d %q", res.StatusCode, text)
	}
	_, count = httpDo(t, http.MethodGet, q("SELECT count() FROM "+db+".cut"), nil, nil)
	if count != "3\n" {
		t.Fatalf("table holds %q rows, want the 3 of the complete insert", count)
	}
}

// A client that stops sending in the middle of an insert body holds the
// engine only until http_receive_timeout: then it gets SOCKET_TIMEOUT and
// other queries run again.
func TestStalledInsertBodyTimesOut(t *testing.T) {
	srv := sharedServer(t)
	db := testDatabase(t, srv)
	base := srv.URL()
	q := func(query string) string { return base + "/?" + url.Values{"query": {query}}.Encode() }

	_, body := httpDo(t, http.MethodPost, q("CREATE TABLE "+db+".stall (a UInt64) ENGINE = MergeTree ORDER BY a"), nil, nil)
	if body != "" {
		t.Fatalf("create table: %q", body)
	}
	_, block := httpDo(t, http.MethodGet, q("SELECT number AS a FROM numbers(1000) FORMAT Native"), nil, nil)
	for _, format := range []string{"Native", "RowBinary"} {
		t.Run(format, func(t *testing.T) {
			start := time.Now()
			conn := rawInsert(t, srv.Addr, "INSERT INTO "+db+".stall FORMAT "+format, []byte(block[:len(block)/2]),
				url.Values{"http_receive_timeout": {"1"}})
			defer conn.Close()

			// Give the server time to start the insert, then check that the
			// engine is not held by it for longer than the timeout.
			time.Sleep(200 * time.Millisecond)
			client := &http.Client{Timeout: 20 * time.Second}
			other, err := client.Get(q("SELECT 1"))
			if err != nil {
				t.Fatalf("query while an insert body stalls: %v", err)
			}
			other.Body.Close()

			res, text, err := readRawResponse(conn, 20*time.Second)
			if err != nil {
				t.Fatalf("stalled insert got no answer: %v", err)
			}
			if code := res.Header.Get("X-ClickHouse-Exception-Code"); code != "209" {
				t.Fatalf("stalled insert: %d %q (code %q), want code 209 (SOCKET_TIMEOUT)", res.StatusCode, text, code)
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Fatalf("stalled insert answered after %v, want about the 1s http_receive_timeout", took)
			}
		})
	}
	_, count := httpDo(t, http.MethodGet, q("SELECT count() FROM "+db+".stall"), nil, nil)
	if count != "0\n" {
		t.Fatalf("table holds %q rows after stalled inserts, want 0", count)
	}
}
