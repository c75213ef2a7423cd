package bench

import (
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"
)

// small shrinks every data set to check the machinery in seconds.
var small = flag.Bool("small", false, "4 services and a tenth of the scrapes, to try the benchmark quickly")

// The data set's shape: every service is reached through s.proxies mesh
// proxies (scrape targets) with 6 code/method pairs, so a metric has
// services × proxies × 6 series; each proxy is scraped every 15 s.
const (
	job      = "traefik-mesh"
	interval = 15 // seconds between scrapes
	pairs    = 6
	counter  = "traefik_service_requests_total"
	histName = "traefik_service_request_duration_seconds"
	// The rest of what the dashboard reads (shapes with noise only).
	gaugeName    = "traefik_service_open_connections"
	entryCounter = "traefik_entrypoint_requests_total"
	// readiness is the probe service Traefik Mesh's proxies serve
	// themselves: noise every panel filters out.
	readiness = "readiness@http"
)

var (
	codes   = [pairs]string{"200", "200", "201", "404", "500", "503"}
	methods = [pairs]string{"GET", "POST", "POST", "GET", "GET", "GET"}
	// namespaces are the mesh's: local dev, and staging/production.
	namespaces = [2]string{"forma3d-dev", "forma3d"}
	// entrypoints are a proxy's: one per mesh port, then the probe and
	// API entrypoints (noise).
	entrypoints = []string{"http-5000", "http-5001", "http-5002", "readiness", "traefik"}
	// bounds are the histogram's explicit bounds; +Inf is the fifth bucket.
	bounds = []float64{0.1, 0.3, 1.2, 5}
	// leLabels are the le values Prometheus 3 gives those buckets.
	leLabels = [5]string{"0.1", "0.3", "1.2", "5.0", "+Inf"}
)

// shape is one data set and the range query over it.
type shape struct {
	name     string
	services int
	proxies  int   // mesh proxies (scrape targets) in front of every service
	scrapes  int   // samples per series
	t0       int64 // unix seconds; the first scrape is a few seconds later
	step     time.Duration
	// noise adds what the dashboard reads besides the service counter and
	// histogram: the readiness@http service on both, the open-connections
	// gauge, and the entrypoint counter with its probe entrypoints.
	noise bool
}

var (
	// day: 200 services for 24 h, queried at a 90 s step (961 points, what
	// a ~1,000 px wide panel asks for).
	day = shape{name: "24h", services: 200, proxies: 2, scrapes: 24 * 3600 / interval, t0: 1768003200, step: 90 * time.Second}
	// week: 50 services for 7 days, queried at a 10 m step (1,009 points;
	// Grafana rounds 7 d / 1,000 up to 10 m).
	week = shape{name: "7d", services: 50, proxies: 2, scrapes: 7 * 24 * 3600 / interval, t0: 1768003200, step: 10 * time.Minute}
)

func (s shape) sized() shape {
	if *small {
		s.services, s.scrapes = 4, s.scrapes/10
	}
	return s
}

// targets are the values of the service label: the services, and
// readiness@http when the shape has noise.
func (s shape) targets() int {
	if s.noise {
		return s.services + 1
	}
	return s.services
}

// series is the number of series of the service counter (and of each
// histogram component): k = (target × proxies + proxy) × pairs + pair.
func (s shape) series() int { return s.targets() * s.proxies * pairs }

// gaugeSeries is the number of open-connections series: one per (target,
// proxy), g = target × proxies + proxy.
func (s shape) gaugeSeries() int {
	if !s.noise {
		return 0
	}
	return s.targets() * s.proxies
}

// entrySeries is the number of entrypoint counter series:
// e = (entrypoint × proxies + proxy) × pairs + pair.
func (s shape) entrySeries() int {
	if !s.noise {
		return 0
	}
	return len(entrypoints) * s.proxies * pairs
}

// start and end bound the range query: the whole data set.
func (s shape) start() time.Time { return time.Unix(s.t0, 0).UTC() }
func (s shape) end() time.Time {
	return time.Unix(s.t0+int64(s.scrapes*interval), 0).UTC()
}

// instance is proxy p's scrape address (the instance label).
func instance(p int) string { return fmt.Sprintf("10.42.%d.%d:8082", p, 11+p) }

// instances are the shape's proxies' addresses.
func (s shape) instances() []string {
	out := make([]string, s.proxies)
	for p := range out {
		out[p] = instance(p)
	}
	return out
}

// meshService is one value of the service label, and the destination
// labels the collector derives from it (<namespace>-<service>-<port>@http);
// readiness@http has none.
type meshService struct {
	label, namespace, name, port string
}

// serviceOf is target i's service: half the services in each namespace,
// a third with dashes in their names, three ports. Index s.services is
// readiness@http.
func (s shape) serviceOf(i int) meshService {
	if i == s.services {
		return meshService{label: readiness}
	}
	ns := namespaces[i%2]
	name := [3]string{"web%03d", "order-api-%03d", "svc%03d"}[i/2%3]
	name = fmt.Sprintf(name, i)
	port := [3]string{"80", "8080", "5000"}[i%3]
	return meshService{label: ns + "-" + name + "-" + port + "@http", namespace: ns, name: name, port: port}
}

// attrs are a service series' labels besides code, method and
// protocol, empty values left out as the exporter stores them.
func (m meshService) attrs() [][2]string {
	out := [][2]string{{"service", m.label}}
	for _, l := range [][2]string{{"destination_namespace", m.namespace}, {"destination_service", m.name}, {"destination_port", m.port}} {
		if l[1] != "" {
			out = append(out, l)
		}
	}
	return out
}

// seriesLabels are series k's scraped labels (without __name__, job,
// instance): k = (target × proxies + proxy) × pairs + pair.
func (s shape) seriesLabels(k int) (svc meshService, code, method string, proxy int) {
	pair := k % pairs
	proxy = k % (s.proxies * pairs) / pairs
	return s.serviceOf(k / (s.proxies * pairs)), codes[pair], methods[pair], proxy
}

// The sample values are integer formulas, written once in Go (below) and
// once in SQL (valuesSQL), so that ClickHouse generates its rows
// server-side while Prometheus gets bit-identical samples. Only integer
// arithmetic: float rounding could differ between the two.

// scrapeTime is the unix second of scrape j of proxy p: each target has
// its own phase within the scrape interval, as Prometheus spreads its
// scrapes.
func scrapeTime(s shape, proxy, j int) int64 {
	return s.t0 + int64(j*interval) + int64((3+8*proxy)%interval)
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

// entryOffset makes the entrypoint counters' k distinct from the
// service counters' in counterValue.
const entryOffset = 1_000_003

// gaugeValue is open-connections series g at scrape j: a bounded walk.
func gaugeValue(g, j uint64) uint64 {
	return (g*7919 + j*j%977*104729) % 61
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

// The same formulas in SQL, as expressions of the columns k (series),
// j (scrape) and proxy.
const (
	scrapeTimeSQL = `%[7]d + 15 * j + (3 + 8 * proxy) %% 15`
	sinceResetSQL = `(j + proxy * 311) %% (1900 + proxy * 577)`
	// counterSQL needs m (sinceResetSQL) and r = 50 + (k * 7919) % 5000.
	counterSQL = `intDiv(r * 15 * m + (m * 2654435761 + k * 40503) %% (r * 15), 1000)`
)

// servicesSQL is a subquery with one row per (service series k, scrape j),
// time-major as scrapes arrive: the labels, t, and both metrics' values
// by the formulas above.
func servicesSQL(s shape) string {
	var labels, nss, names, ports []string
	for i := range s.targets() {
		m := s.serviceOf(i)
		labels, nss, names, ports = append(labels, m.label), append(nss, m.namespace), append(names, m.name), append(ports, m.port)
	}
	return fmt.Sprintf(`SELECT number %% %[1]d AS k, intDiv(number, %[1]d) AS j,
    intDiv(k %% %[8]d, 6) AS proxy, k %% 6 AS pair, intDiv(k, %[8]d) + 1 AS svc,
    mapFilter((key, val) -> val != '', map('service', %[9]s[svc], 'destination_namespace', %[10]s[svc],
        'destination_service', %[11]s[svc], 'destination_port', %[12]s[svc],
        'code', %[3]s[pair + 1], 'method', %[4]s[pair + 1], 'protocol', 'http')) AS attrs,
    map('service.name', '%[5]s', 'service.instance.id', %[6]s[proxy + 1], 'server.port', '8082', 'url.scheme', 'http') AS resource,
    `+scrapeTimeSQL+` AS t,
    `+sinceResetSQL+` AS m,
    50 + (k * 7919) %% 5000 AS r,
    `+counterSQL+` AS v,
    20 + (k * 104729) %% 2000 AS hr,
    intDiv(hr * 15 * m + (m * 2246822519 + k * 3266489917) %% (hr * 15), 1000) AS n,
    300 + (k * 37) %% 400 AS w0,
    w0 + intDiv((1000 - w0) * 6, 10) AS w1,
    w1 + intDiv((1000 - w1) * 7, 10) AS w2,
    w2 + intDiv((1000 - w2) * 8, 10) AS w3,
    intDiv(n * w0, 1000) AS c0, intDiv(n * w1, 1000) AS c1, intDiv(n * w2, 1000) AS c2, intDiv(n * w3, 1000) AS c3,
    n * (20 + k %% 200) / 1000 AS hsum
  FROM numbers(%[2]d)`, s.series(), s.series()*s.scrapes, sqlStrings(codes[:]), sqlStrings(methods[:]), job,
		sqlStrings(s.instances()), s.t0, s.proxies*pairs, sqlStrings(labels), sqlStrings(nss), sqlStrings(names), sqlStrings(ports))
}

// gaugeSQL is one row per (open-connections series g, scrape j).
func gaugeSQL(s shape) string {
	var labels []string
	for i := range s.targets() {
		labels = append(labels, s.serviceOf(i).label)
	}
	return fmt.Sprintf(`SELECT number %% %[1]d AS g, intDiv(number, %[1]d) AS j, g %% %[3]d AS proxy,
    %[4]s[intDiv(g, %[3]d) + 1] AS service,
    mapFilter((key, val) -> val != '', map('service', service, 'method', 'GET', 'protocol', 'http')) AS attrs,
    map('service.name', '%[5]s', 'service.instance.id', %[6]s[proxy + 1], 'server.port', '8082', 'url.scheme', 'http') AS resource,
    `+scrapeTimeSQL+` AS t,
    (g * 7919 + (j * j) %% 977 * 104729) %% 61 AS v
  FROM numbers(%[2]d)`, s.gaugeSeries(), s.gaugeSeries()*s.scrapes, s.proxies, sqlStrings(labels), job, sqlStrings(s.instances()), s.t0)
}

// entrySQL is one row per (entrypoint counter series e, scrape j); its k
// in the counter formula is entryOffset + e.
func entrySQL(s shape) string {
	return fmt.Sprintf(`SELECT number %% %[1]d AS e, intDiv(number, %[1]d) AS j,
    intDiv(e %% %[9]d, 6) AS proxy, e %% 6 AS pair, %[10]d + e AS k,
    map('entrypoint', %[8]s[intDiv(e, %[9]d) + 1], 'code', %[3]s[pair + 1], 'method', %[4]s[pair + 1], 'protocol', 'http') AS attrs,
    map('service.name', '%[5]s', 'service.instance.id', %[6]s[proxy + 1], 'server.port', '8082', 'url.scheme', 'http') AS resource,
    `+scrapeTimeSQL+` AS t,
    `+sinceResetSQL+` AS m,
    50 + (k * 7919) %% 5000 AS r,
    `+counterSQL+` AS v
  FROM numbers(%[2]d)`, s.entrySeries(), s.entrySeries()*s.scrapes, sqlStrings(codes[:]), sqlStrings(methods[:]), job,
		sqlStrings(s.instances()), s.t0, sqlStrings(entrypoints), s.proxies*pairs, entryOffset)
}

// entryLabels are entrypoint series e's labels (without __name__, job,
// instance) and its proxy.
func (s shape) entryLabels(e int) (entrypoint, code, method string, proxy int) {
	pair := e % pairs
	proxy = e % (s.proxies * pairs) / pairs
	return entrypoints[e/(s.proxies*pairs)], codes[pair], methods[pair], proxy
}

func sqlStrings(ss []string) string {
	out := "["
	for i, s := range ss {
		if i > 0 {
			out += ", "
		}
		out += "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
	}
	return out + "]"
}

// TestGenerator is the quick check plain `go test` runs: counters never
// decrease between resets, buckets are cumulative, the labels cover the
// shape, service labels read <namespace>-<service>-<port>@http with their
// destination labels. The benchmark itself compares ClickHouse's rows with
// these values.
func TestGenerator(t *testing.T) {
	for _, s := range []shape{day, {name: "dashboard", services: 20, proxies: 3, scrapes: 24 * 3600 / interval, noise: true}} {
		seen := map[string]bool{}
		perNamespace := map[string]int{}
		dashed := 0
		for i := range s.targets() {
			m := s.serviceOf(i)
			if m.label == readiness {
				continue
			}
			if want := m.namespace + "-" + m.name + "-" + m.port + "@http"; m.label != want {
				t.Fatalf("%s: service %d is %q, want %q", s.name, i, m.label, want)
			}
			perNamespace[m.namespace]++
			if strings.Contains(m.name, "-") {
				dashed++
			}
		}
		if perNamespace[namespaces[0]] != s.services/2 || perNamespace[namespaces[1]] != s.services-s.services/2 || dashed == 0 {
			t.Fatalf("%s: services per namespace %v, %d with dashes", s.name, perNamespace, dashed)
		}
		for k := 0; k < s.series(); k++ {
			svc, code, method, proxy := s.seriesLabels(k)
			seen[fmt.Sprint(svc.label, code, method, proxy)] = true
			var prevV uint64
			var prevCum [5]uint64
			for j := 0; j < s.scrapes; j += 7 {
				v := counterValue(uint64(k), uint64(proxy), uint64(j))
				cum, sum := histogramPoint(uint64(k), uint64(proxy), uint64(j))
				reset := sinceReset(uint64(proxy), uint64(j)) < 7
				if !reset && (v < prevV || cum[4] < prevCum[4]) {
					t.Fatalf("%s: series %d scrape %d: decreasing without a reset", s.name, k, j)
				}
				for b := 1; b < 5; b++ {
					if cum[b] < cum[b-1] {
						t.Fatalf("%s: series %d scrape %d: buckets %v not cumulative", s.name, k, j, cum)
					}
				}
				if sum < 0 {
					t.Fatalf("%s: series %d scrape %d: negative sum", s.name, k, j)
				}
				prevV, prevCum = v, cum
			}
		}
		if len(seen) != s.series() {
			t.Fatalf("%s: %d distinct label sets for %d series", s.name, len(seen), s.series())
		}
		for p := range s.proxies {
			if phase := scrapeTime(s, p, 0) - s.t0; phase >= interval {
				t.Fatalf("%s: proxy %d scrapes %d s into the interval, not within it", s.name, p, phase)
			}
		}
	}
}
