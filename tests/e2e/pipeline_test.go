package e2e

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/forma3d/meshmetrics/tests/meshstack"
)

// Traefik → collector → ClickHouse → plugin: the dashboard's core queries
// answer what the load generator saw. A warm-up creates every series, two
// quiet scrapes bound the window's start, the measured load runs, one more
// scrape bounds its end; every query is evaluated at that last scrape.
func TestPipelineMatchesGroundTruth(t *testing.T) {
	ch := startClickHouse(t)
	rec := &scrapeRecorder{}
	stack := startStack(t, ch.Addr, rec)
	conn := chConn(t, ch.Addr)
	q := startPlugin(t, ch.Addr)
	const reloads = "traefik_config_reloads_total"
	waitScrapes(t, conn, reloads, 1, 0, 60*time.Second)

	warm := meshstack.NewTruth()
	if err := meshstack.Send(testCtx(t, time.Minute), stack.Targets, 200, 8, warm); err != nil {
		t.Fatal(err)
	}
	warmDone := time.Now()
	// Two scrapes that certainly saw the whole warm-up: sA opens the
	// window, sFirst is its first sample; nothing is sent between them.
	ts := waitScrapes(t, conn, reloads, 2, warmDone.Unix()+2, 60*time.Second)
	sA, sFirst := ts[len(ts)-2], ts[len(ts)-1]

	load := meshstack.NewTruth()
	if err := meshstack.Send(testCtx(t, 2*time.Minute), stack.Targets, 300, 8, load); err != nil {
		t.Fatal(err)
	}
	loadDone := time.Now()
	ts = waitScrapes(t, conn, reloads, 1, loadDone.Unix()+2, 60*time.Second)
	sB := ts[len(ts)-1]
	samples := 0
	for _, x := range ts {
		if x > sA && x <= sB {
			samples++
		}
	}
	at, window := time.Unix(sB, 0), fmt.Sprintf("%ds", sB-sA)
	t.Logf("window (%s, %s]: %d scrapes, first at +%ds",
		time.Unix(sA, 0).UTC().Format(time.TimeOnly), at.UTC().Format(time.TimeOnly), samples, sFirst-sA)

	for _, tg := range stack.Targets {
		if n := warm.Failures[tg.Label] + load.Failures[tg.Label]; n > 0 {
			t.Fatalf("%s: %d requests got no response", tg.Label, n)
		}
	}
	ctx := testCtx(t, 2*time.Minute)

	// Exact request counts: the counter's value at sB minus at sA.
	sel := fmt.Sprintf("traefik_service_requests_total{%s}", noReadiness)
	exact, err := q.Instant(ctx, fmt.Sprintf("sum by (service) (%s) - sum by (service) (%s offset %s)", sel, sel, window), at)
	if err != nil {
		t.Fatal(err)
	}
	got := meshstack.ByLabel(exact, "service")
	if len(got) != len(stack.Targets) {
		t.Errorf("request counts for %d services, want %d: %v", len(got), len(stack.Targets), got)
	}
	for _, tg := range stack.Targets {
		if want := float64(load.Total(tg.Label)); got[tg.Label] != want {
			t.Errorf("%s: %v requests in the window, load generator sent %v", tg.Label, got[tg.Label], want)
		}
	}

	// The dashboard's increase(): Prometheus' extrapolation of the same
	// counts, series by series (each code of each service).
	inc, err := q.Instant(ctx, fmt.Sprintf("sum by (service) (increase(%s[%s]))", sel, window), at)
	if err != nil {
		t.Fatal(err)
	}
	got = meshstack.ByLabel(inc, "service")
	for _, tg := range stack.Targets {
		want := 0.0
		for code, n := range load.Codes[tg.Label] {
			want += extrapolatedIncrease(float64(warm.Codes[tg.Label][code]), float64(n), float64(sFirst-sA), float64(sB-sFirst), samples)
		}
		if math.Abs(got[tg.Label]-want) > 1e-6*want {
			t.Errorf("%s: increase %v, want %v (%d sent, extrapolated as Prometheus does)", tg.Label, got[tg.Label], want, load.Total(tg.Label))
		}
	}

	// 5xx ratio within one percentage point; no 5xx means no series.
	ratio, err := q.Instant(ctx, fmt.Sprintf(
		`sum by (service) (increase(traefik_service_requests_total{code=~"5..",%s}[%s])) / sum by (service) (increase(%s[%s]))`,
		noReadiness, window, sel, window), at)
	if err != nil {
		t.Fatal(err)
	}
	got = meshstack.ByLabel(ratio, "service")
	for _, tg := range stack.Targets {
		want := float64(load.ServerErrors(tg.Label)) / float64(load.Total(tg.Label))
		v, ok := got[tg.Label]
		switch {
		case want == 0 && ok:
			t.Errorf("%s: 5xx ratio %v, but no 5xx were sent", tg.Label, v)
		case want > 0 && (!ok || math.Abs(v-want) > 0.01):
			t.Errorf("%s: 5xx ratio %v (present %v), load generator saw %v", tg.Label, v, ok, want)
		}
	}

	// p99 inside the bucket that holds the client-side p99.
	p99, err := q.Instant(ctx, fmt.Sprintf(
		"histogram_quantile(0.99, sum by (le, service) (increase(traefik_service_request_duration_seconds_bucket{%s}[%s])))",
		noReadiness, window), at)
	if err != nil {
		t.Fatal(err)
	}
	got = meshstack.ByLabel(p99, "service")
	for _, tg := range stack.Targets {
		truth := load.Quantile(tg.Label, 0.99).Seconds()
		lo, hi := bucketOf(truth)
		if v, ok := got[tg.Label]; !ok || v <= lo || v > hi {
			t.Errorf("%s: p99 %v (present %v), want in (%v, %v] where the client-side p99 %.3fs lies", tg.Label, v, ok, lo, hi, truth)
		}
	}

	// The readiness probes were scraped too, and filtered above.
	all, err := q.Instant(ctx, "sum by (service) (traefik_service_requests_total)", at)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := meshstack.ByLabel(all, "service")["readiness@file"]; !ok {
		t.Errorf("no readiness@file series: the probe noise the dashboard filters is not in the data")
	}
	// The collector's destination labels are each demo service's own
	// namespace, name and port (forma3d-dev and forma3d, api-gateway in
	// both); the readiness service gets none.
	dests, err := q.Instant(ctx, "count by (service, destination_namespace, destination_service, destination_port) (traefik_service_requests_total)", at)
	if err != nil {
		t.Fatal(err)
	}
	byService := map[string]meshstack.Sample{}
	for _, s := range dests {
		byService[s.Labels["service"]] = s
	}
	for _, tg := range stack.Targets {
		l := byService[tg.Label].Labels
		if l["destination_namespace"] != tg.Service.Namespace || l["destination_service"] != tg.Service.Name || l["destination_port"] != strconv.Itoa(tg.Service.Port) {
			t.Errorf("%s: destination labels %v, want namespace %s, service %s, port %d", tg.Label, l, tg.Service.Namespace, tg.Service.Name, tg.Service.Port)
		}
	}
	if l := byService["readiness@file"].Labels; l["destination_namespace"] != "" || l["destination_service"] != "" {
		t.Errorf("readiness@file got destination labels %v", l)
	}
	// Only traefik_* families (plus the receiver's up and scrape_*).
	if other, err := q.Instant(ctx, `count({__name__=~"go_.*|process_.*"})`, at); err != nil || len(other) != 0 {
		t.Errorf("Go runtime or process metrics stored (%v, %v): only Traefik metrics may be", other, err)
	}

	for _, tg := range stack.Targets {
		t.Logf("%-42s sent %4d (5xx %3d, client p99 %6.3fs) │ plugin: exact %v, increase %.2f, 5xx ratio %.4f, p99 %.3fs",
			tg.Label, load.Total(tg.Label), load.ServerErrors(tg.Label), load.Quantile(tg.Label, 0.99).Seconds(),
			meshstack.ByLabel(exact, "service")[tg.Label], meshstack.ByLabel(inc, "service")[tg.Label],
			meshstack.ByLabel(ratio, "service")[tg.Label], meshstack.ByLabel(p99, "service")[tg.Label])
	}
	// Every panel of the bundled dashboard works on what the pipeline
	// stored (this Traefik serves no TLS: no certificate to show; this
	// stack runs no pair agent: the pair panels are empty, the service map
	// falls back to the proxy view).
	checkDashboard(t, q, map[string]string{"namespace": "forma3d-dev", "service": stack.Targets[0].Label, "service_name": stack.Targets[0].Service.Name, "interval": "1m"},
		time.Unix(ts[0], 0), at, append(pairPanels, "Certificate expiry")...)

	checkTTL(t, conn)
	health, err := q.Plugin.CheckHealth(ctx, q.DS)
	if err != nil || health.Status.String() != "OK" {
		t.Errorf("health check after the run: %v %v", health, err)
	}
}

var ttl90Days = regexp.MustCompile(`\bTTL\s+toDateTime\(TimeUnix\)\s*\+\s*toIntervalDay\(90\)`)

// checkTTL: every metrics table the exporter created carries 90 days.
func checkTTL(t *testing.T, conn driver.Conn) {
	t.Helper()
	ctx := testCtx(t, 30*time.Second)
	for _, table := range []string{"otel_metrics_sum", "otel_metrics_gauge", "otel_metrics_histogram", "otel_metrics_summary", "otel_metrics_exponential_histogram"} {
		var ddl string
		if err := conn.QueryRow(ctx, "SHOW CREATE TABLE otel."+table).Scan(&ddl); err != nil {
			t.Errorf("SHOW CREATE TABLE otel.%s: %v", table, err)
			continue
		}
		if !ttl90Days.MatchString(ddl) {
			t.Errorf("otel.%s has no 90-day TTL:\n%s", table, ddl)
		}
	}
}
