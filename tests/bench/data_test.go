package bench

import (
	"flag"
	"fmt"
	"testing"
	"time"
)

// small shrinks both data sets to check the machinery in seconds.
var small = flag.Bool("small", false, "4 services and a tenth of the scrapes, to try the benchmark quickly")

// The data set's shape: every service is reached through 2 mesh proxies
// (scrape targets) with 6 code/method pairs, so a metric has
// services × 12 series; each proxy is scraped every 15 s.
const (
	job      = "traefik-mesh"
	interval = 15 // seconds between scrapes
	proxies  = 2
	pairs    = 6
	counter  = "traefik_service_requests_total"
	histName = "traefik_service_request_duration_seconds"
)

var (
	codes     = [pairs]string{"200", "200", "201", "404", "500", "503"}
	methods   = [pairs]string{"GET", "POST", "POST", "GET", "GET", "GET"}
	instances = [proxies]string{"10.42.0.11:8082", "10.42.1.12:8082"}
	// bounds are the histogram's explicit bounds; +Inf is the fifth bucket.
	bounds = []float64{0.1, 0.3, 1.2, 5}
	// leLabels are the le values Prometheus 3 gives those buckets.
	leLabels = [5]string{"0.1", "0.3", "1.2", "5.0", "+Inf"}
)

// shape is one data set and the range query over it.
type shape struct {
	name     string
	services int
	scrapes  int   // samples per series
	t0       int64 // unix seconds; the first scrape is a few seconds later
	step     time.Duration
}

var (
	// day: 200 services for 24 h, queried at a 90 s step (961 points, what
	// a ~1,000 px wide panel asks for).
	day = shape{name: "24h", services: 200, scrapes: 24 * 3600 / interval, t0: 1768003200, step: 90 * time.Second}
	// week: 50 services for 7 days, queried at a 10 m step (1,009 points;
	// Grafana rounds 7 d / 1,000 up to 10 m).
	week = shape{name: "7d", services: 50, scrapes: 7 * 24 * 3600 / interval, t0: 1768003200, step: 10 * time.Minute}
)

func (s shape) sized() shape {
	if *small {
		s.services, s.scrapes = 4, s.scrapes/10
	}
	return s
}

func (s shape) series() int { return s.services * proxies * pairs }

// start and end bound the range query: the whole data set.
func (s shape) start() time.Time { return time.Unix(s.t0, 0).UTC() }
func (s shape) end() time.Time {
	return time.Unix(s.t0+int64(s.scrapes*interval), 0).UTC()
}

// seriesLabels are series k's scraped labels (without __name__, job,
// instance): k = (service × proxies + proxy) × pairs + pair.
func seriesLabels(k int) (service, code, method string, proxy int) {
	pair := k % pairs
	proxy = k % (proxies * pairs) / pairs
	return fmt.Sprintf("svc-%03d", k/(proxies*pairs)), codes[pair], methods[pair], proxy
}

// The sample values are integer formulas, written once in Go (below) and
// once in SQL (valuesSQL), so that ClickHouse generates its rows
// server-side while Prometheus gets bit-identical samples. Only integer
// arithmetic: float rounding could differ between the two.

// scrapeTime is the unix second of scrape j of proxy p: each target has
// its own phase, as Prometheus spreads its scrapes.
func scrapeTime(s shape, proxy, j int) int64 {
	return s.t0 + int64(j*interval) + 3 + 8*int64(proxy)
}

// sinceReset is how many scrapes ago the proxy last restarted: every
// proxy restarts every 8 to 10 hours, resetting all its counters.
func sinceReset(proxy, j uint64) uint64 {
	p := 1900 + proxy*577
	return (j + proxy*311) % p
}

// counterValue is series k's request counter at scrape j: r/1000 requests
// per second plus a bounded jitter, which keeps it monotonic between resets.
func counterValue(k, proxy, j uint64) uint64 {
	m := sinceReset(proxy, j)
	r := 50 + k*7919%5000
	return (r*15*m + (m*2654435761+k*40503)%(r*15)) / 1000
}

// histogramPoint is series k's histogram at scrape j: cumulative counts of
// the le buckets (the last one is the count) and the sum of durations.
func histogramPoint(k, proxy, j uint64) (cum [5]uint64, sum float64) {
	m := sinceReset(proxy, j)
	r := 20 + k*104729%2000
	n := (r*15*m + (m*2246822519+k*3266489917)%(r*15)) / 1000
	w0 := 300 + k*37%400 // per mille of requests in each le bucket
	w1 := w0 + (1000-w0)*6/10
	w2 := w1 + (1000-w1)*7/10
	w3 := w2 + (1000-w2)*8/10
	cum = [5]uint64{n * w0 / 1000, n * w1 / 1000, n * w2 / 1000, n * w3 / 1000, n}
	return cum, float64(n*(20+k%200)) / 1000
}

// valuesSQL is a subquery with one row per (series k, scrape j) of the
// data set, time-major as scrapes arrive: the labels, t, and both
// metrics' values by the formulas above.
func valuesSQL(s shape) string {
	return fmt.Sprintf(`SELECT number %% %[1]d AS k, intDiv(number, %[1]d) AS j,
    intDiv(k %% 12, 6) AS proxy, k %% 6 AS pair,
    map('service', concat('svc-', leftPad(toString(intDiv(k, 12)), 3, '0')), 'code', %[3]s[pair + 1],
        'method', %[4]s[pair + 1], 'protocol', 'http') AS attrs,
    map('service.name', '%[5]s', 'service.instance.id', %[6]s[proxy + 1], 'server.port', '8082', 'url.scheme', 'http') AS resource,
    %[7]d + 15 * j + 3 + 8 * proxy AS t,
    (j + proxy * 311) %% (1900 + proxy * 577) AS m,
    50 + (k * 7919) %% 5000 AS r,
    intDiv(r * 15 * m + (m * 2654435761 + k * 40503) %% (r * 15), 1000) AS v,
    20 + (k * 104729) %% 2000 AS hr,
    intDiv(hr * 15 * m + (m * 2246822519 + k * 3266489917) %% (hr * 15), 1000) AS n,
    300 + (k * 37) %% 400 AS w0,
    w0 + intDiv((1000 - w0) * 6, 10) AS w1,
    w1 + intDiv((1000 - w1) * 7, 10) AS w2,
    w2 + intDiv((1000 - w2) * 8, 10) AS w3,
    intDiv(n * w0, 1000) AS c0, intDiv(n * w1, 1000) AS c1, intDiv(n * w2, 1000) AS c2, intDiv(n * w3, 1000) AS c3,
    n * (20 + k %% 200) / 1000 AS hsum
  FROM numbers(%[2]d)`, s.series(), s.series()*s.scrapes, sqlStrings(codes[:]), sqlStrings(methods[:]), job, sqlStrings(instances[:]), s.t0)
}

func sqlStrings(ss []string) string {
	out := "["
	for i, s := range ss {
		if i > 0 {
			out += ", "
		}
		out += "'" + s + "'"
	}
	return out + "]"
}

// TestGenerator is the quick check plain `go test` runs: counters never
// decrease between resets, buckets are cumulative, the labels cover the
// shape. The benchmark itself compares ClickHouse's rows with these values.
func TestGenerator(t *testing.T) {
	s := day
	seen := map[string]bool{}
	for k := 0; k < s.series(); k++ {
		svc, code, method, proxy := seriesLabels(k)
		seen[fmt.Sprint(svc, code, method, proxy)] = true
		var prevV uint64
		var prevCum [5]uint64
		for j := 0; j < s.scrapes; j += 7 {
			v := counterValue(uint64(k), uint64(proxy), uint64(j))
			cum, sum := histogramPoint(uint64(k), uint64(proxy), uint64(j))
			reset := sinceReset(uint64(proxy), uint64(j)) < 7
			if !reset && (v < prevV || cum[4] < prevCum[4]) {
				t.Fatalf("series %d scrape %d: decreasing without a reset", k, j)
			}
			for b := 1; b < 5; b++ {
				if cum[b] < cum[b-1] {
					t.Fatalf("series %d scrape %d: buckets %v not cumulative", k, j, cum)
				}
			}
			if sum < 0 {
				t.Fatalf("series %d scrape %d: negative sum", k, j)
			}
			prevV, prevCum = v, cum
		}
	}
	if len(seen) != s.series() {
		t.Fatalf("%d distinct label sets for %d series", len(seen), s.series())
	}
}
