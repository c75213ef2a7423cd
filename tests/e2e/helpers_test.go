// Package e2e runs the pipeline the platform team deploys, with the real
// parts built here: Traefik → the collector (provisioning/collector's
// manifest and shipped configs) → ClickHouse (embedded) → gpx_meshmetrics
// over gRPC, and checks what the dashboard's queries return against the
// load generator's ground truth.
package e2e

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/forma3d/meshmetrics/tests/clickhouse/chtest"
	"github.com/forma3d/meshmetrics/tests/meshstack"
	"github.com/forma3d/meshmetrics/tests/pluginharness"
)

// scrapeInterval is the tests' collector interval (the shipped one is 15 s).
const scrapeInterval = 2 * time.Second

// noReadiness is the dashboard's filter of probe noise.
const noReadiness = `service!~"readiness@.*"`

func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// chConn is a bookkeeping connection to ClickHouse: it reads which scrapes
// were stored and the tables' DDL, never the numbers under test.
func chConn(t *testing.T, addr string) driver.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, Protocol: clickhouse.HTTP,
		Auth: clickhouse.Auth{Database: "default"}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// storedScrapes returns the distinct stored timestamps (Unix seconds) of
// one sum metric's samples, oldest first, without staleness markers (Flags
// bit 1: the receiver writes them when a target stops answering); an
// error while ClickHouse is down.
func storedScrapes(ctx context.Context, conn driver.Conn, metric string) ([]int64, error) {
	rows, err := conn.Query(ctx, `SELECT DISTINCT toInt64(toUnixTimestamp(TimeUnix)) AS t
		FROM otel.otel_metrics_sum WHERE MetricName = {metric:String} AND bitAnd(Flags, 1) = 0 ORDER BY t`, clickhouse.Named("metric", metric))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var ts int64
		if err := rows.Scan(&ts); err != nil {
			return nil, err
		}
		out = append(out, ts)
	}
	return out, rows.Err()
}

// waitScrapes waits until metric has a stored scrape at or after since
// (Unix seconds) and returns all its stored timestamps.
func waitScrapes(t *testing.T, conn driver.Conn, metric string, n int, since int64, timeout time.Duration) []int64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ts, err := storedScrapes(ctx, conn, metric)
		cancel()
		after := 0
		for _, x := range ts {
			if x >= since {
				after++
			}
		}
		if err == nil && after >= n {
			return ts
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d scrapes of %s at or after %s not stored within %v (stored %d, last error %v)",
				n, metric, time.Unix(since, 0).UTC().Format(time.TimeOnly), timeout, len(ts), err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func startPlugin(t *testing.T, chAddr string) *meshstack.Querier {
	t.Helper()
	p := pluginharness.Start(t)
	q, err := meshstack.NewQuerier(p, chAddr, scrapeInterval)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func startClickHouse(t *testing.T) *chtest.Server {
	t.Helper()
	return chtest.StartWith(t, chtest.Options{DataDir: t.TempDir()})
}

// startStack starts the mesh with the collector scraping Traefik through
// rec; the stack is stopped at cleanup, showing its logs on failure.
func startStack(t *testing.T, chAddr string, rec *scrapeRecorder) *meshstack.Stack {
	t.Helper()
	s, err := meshstack.Start(meshstack.StackOptions{
		Dir: t.TempDir(), ClickHouseAddr: chAddr, ScrapeInterval: scrapeInterval,
		ScrapeTarget: func(traefik string) (string, error) { return rec.start(t, "http://"+traefik+"/metrics") },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("collector output:\n%s", s.Collector.Output())
			t.Logf("traefik output:\n%s", s.Traefik.Output())
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// scrapeRecorder stands between the collector and a /metrics endpoint and
// records every scrape it answered: the ground truth of what was scraped.
type scrapeRecorder struct {
	mu       sync.Mutex
	upstream string
	served   []time.Time
	failing  bool
	inflight sync.WaitGroup
	// body, when set, produces the exposition for scrape n (1-based)
	// instead of the upstream's.
	body func(n int) []byte
}

func (r *scrapeRecorder) start(t *testing.T, upstream string) (string, error) {
	r.upstream = upstream
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String(), nil
}

func (r *scrapeRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	failing, body, n := r.failing, r.body, len(r.served)+1
	if !failing {
		r.inflight.Add(1)
		defer r.inflight.Done()
	}
	r.mu.Unlock()
	if failing {
		http.Error(w, "scrapes stopped by the test", http.StatusServiceUnavailable)
		return
	}
	var b []byte
	if body != nil {
		b = body(n)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	} else {
		res, err := http.Get(r.upstream)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		if b, err = io.ReadAll(res.Body); err != nil || res.StatusCode != http.StatusOK {
			http.Error(w, fmt.Sprintf("upstream %d: %v", res.StatusCode, err), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", res.Header.Get("Content-Type"))
	}
	r.mu.Lock()
	r.served = append(r.served, time.Now())
	r.mu.Unlock()
	_, _ = w.Write(b)
}

// stop makes every further scrape fail (no samples), waits for the one in
// flight and returns the successful scrapes.
func (r *scrapeRecorder) stop() []time.Time {
	r.mu.Lock()
	r.failing = true
	r.mu.Unlock()
	r.inflight.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.served...)
}

// extrapolatedIncrease is Prometheus' increase() of one counter series
// over a range (start, end] evaluated at its last sample (so nothing is
// extrapolated at the end): delta grown by the extrapolation to the range
// start (half an interval when the gap is over 1.1 intervals), limited by
// where the counter would have been zero
// (promql/functions.go extrapolatedRate).
func extrapolatedIncrease(first, delta float64, durationToStart, sampled float64, samples int) float64 {
	if delta == 0 || samples < 2 {
		return delta
	}
	avg := sampled / float64(samples-1)
	if durationToStart >= avg*1.1 {
		durationToStart = avg / 2
	}
	if delta > 0 && first >= 0 {
		if toZero := sampled * (first / delta); toZero < durationToStart {
			durationToStart = toZero
		}
	}
	return delta * (sampled + durationToStart) / sampled
}

// bucketOf is the histogram bucket (lower, upper] of Traefik's defaults
// that holds v.
func bucketOf(v float64) (lower, upper float64) {
	lower = 0
	for _, b := range []float64{0.1, 0.3, 1.2, 5, math.Inf(1)} {
		if v <= b {
			return lower, b
		}
		lower = b
	}
	return lower, math.Inf(1)
}

// startScrapedCollector serves body as a scrape target and starts the
// built collector scraping it into the ClickHouse at chAddr; the collector
// stops at the end of the test (its output logged if the test failed).
func startScrapedCollector(t *testing.T, chAddr string, body func(scrape int) []byte) (*scrapeRecorder, *meshstack.Collector) {
	t.Helper()
	rec := &scrapeRecorder{body: body}
	target, err := rec.start(t, "")
	if err != nil {
		t.Fatal(err)
	}
	col, err := meshstack.StartCollector(meshstack.CollectorOptions{ClickHouseAddr: chAddr, Targets: []string{target},
		ScrapeInterval: scrapeInterval, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("collector output:\n%s", col.Output())
		}
		if err := col.Stop(30 * time.Second); err != nil {
			t.Error(err)
		}
	})
	return rec, col
}
