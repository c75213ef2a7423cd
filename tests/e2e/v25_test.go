package e2e

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/forma3d/meshmetrics/tests/meshstack"
)

const v25Fixture = "testdata/traefik-v2.5-metrics.txt"

// scaledExposition is the fixture with every counter, bucket, _count and
// _sum multiplied by n: scrape n has seen the fixture's traffic n times.
func scaledExposition(t *testing.T, src []byte, n int) []byte {
	var out bytes.Buffer
	for _, line := range strings.SplitAfter(string(src), "\n") {
		name, _, _ := strings.Cut(line, "{")
		name, _, _ = strings.Cut(name, " ")
		cumulative := strings.HasSuffix(name, "_total") || strings.HasSuffix(name, "_bucket") || strings.HasSuffix(name, "_count") || strings.HasSuffix(name, "_sum")
		if strings.HasPrefix(line, "#") || !cumulative {
			out.WriteString(line)
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(strings.TrimSpace(line[i+1:]), 64)
		if err != nil {
			t.Errorf("fixture line %q: %v", line, err)
			return nil
		}
		fmt.Fprintf(&out, "%s %s\n", line[:i], strconv.FormatFloat(v*float64(n), 'g', -1, 64))
	}
	return out.Bytes()
}

// fixtureTruth is what the fixture says per service: requests, 5xx, the
// duration buckets summed over codes, and the open-connections gauge.
type fixtureTruth struct {
	requests, errors5xx map[string]float64
	buckets             map[string]map[float64]float64
	openConns           map[string]float64
}

func readFixture(t *testing.T, src []byte) fixtureTruth {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(src))
	if err != nil {
		t.Fatalf("%s: %v", v25Fixture, err)
	}
	ft := fixtureTruth{map[string]float64{}, map[string]float64{}, map[string]map[float64]float64{}, map[string]float64{}}
	for _, m := range fams["traefik_service_requests_total"].GetMetric() {
		svc, code := labelValue(m.GetLabel(), "service"), labelValue(m.GetLabel(), "code")
		ft.requests[svc] += m.GetCounter().GetValue()
		if strings.HasPrefix(code, "5") {
			ft.errors5xx[svc] += m.GetCounter().GetValue()
		}
	}
	for _, m := range fams["traefik_service_request_duration_seconds"].GetMetric() {
		svc := labelValue(m.GetLabel(), "service")
		if ft.buckets[svc] == nil {
			ft.buckets[svc] = map[float64]float64{}
		}
		inf := false
		for _, b := range m.GetHistogram().GetBucket() {
			ft.buckets[svc][b.GetUpperBound()] += float64(b.GetCumulativeCount())
			inf = inf || math.IsInf(b.GetUpperBound(), 1)
		}
		if !inf { // the +Inf bucket is the sample count
			ft.buckets[svc][math.Inf(1)] += float64(m.GetHistogram().GetSampleCount())
		}
	}
	for _, m := range fams["traefik_service_open_connections"].GetMetric() {
		ft.openConns[labelValue(m.GetLabel(), "service")] += m.GetGauge().GetValue()
	}
	for _, absent := range []string{"traefik_open_connections", "traefik_service_requests_bytes_total", "traefik_entrypoint_requests_bytes_total"} {
		if _, ok := fams[absent]; ok {
			t.Fatalf("the v2.5 fixture has %s, which v2.5 does not export", absent)
		}
	}
	return ft
}

func labelValue(pairs []*dto.LabelPair, name string) string {
	for _, p := range pairs {
		if p.GetName() == name {
			return p.GetValue()
		}
	}
	return ""
}

// p99Bucket is the bucket holding the 0.99 rank of cumulative buckets.
func p99Bucket(cum map[float64]float64) (lower, upper float64) {
	bounds := make([]float64, 0, len(cum))
	for b := range cum {
		bounds = append(bounds, b)
	}
	sort.Float64s(bounds)
	rank := 0.99 * cum[math.Inf(1)]
	for _, b := range bounds {
		if cum[b] >= rank {
			return lower, b
		}
		lower = b
	}
	return lower, math.Inf(1)
}

// A Traefik v2.5 proxy's exposition through the same collector path: the
// dashboard's queries answer the fixture's numbers, the v2.5-only
// per-service open connections are there and the v3-only gauge is not.
func TestTraefikV25Exposition(t *testing.T) {
	src, err := os.ReadFile(filepath.FromSlash(v25Fixture))
	if err != nil {
		t.Fatal(err)
	}
	truth := readFixture(t, src)
	ch := startClickHouse(t)
	rec, _ := startScrapedCollector(t, ch.Addr, func(n int) []byte { return scaledExposition(t, src, n) })
	conn := chConn(t, ch.Addr)
	q := startPlugin(t, ch.Addr)

	waitScrapes(t, conn, "traefik_config_reloads_total", 5, 0, 90*time.Second)
	// Every scrape served is stored, so stored scrape i is the recorder's
	// scrape i+1; the window (ts[m1], ts[m2]] holds m2-m1 scrapes.
	served := len(rec.stop())
	ts := waitScrapes(t, conn, "traefik_config_reloads_total", served, 0, 60*time.Second)
	if len(ts) != served {
		t.Fatalf("%d scrapes stored, %d served: stored scrapes cannot be matched to the fixture's multiples", len(ts), served)
	}
	m1, m2 := 1, len(ts)-1
	at, window := time.Unix(ts[m2], 0), fmt.Sprintf("%ds", ts[m2]-ts[m1])
	scrapes := float64(m2 - m1)
	// increase() per unit of fixture value: the first sample in the window is
	// scrape m1+2, and m2-m1-1 more scrapes follow it.
	factor := extrapolatedIncrease(float64(m1+2), scrapes-1, float64(ts[m1+1]-ts[m1]), float64(ts[m2]-ts[m1+1]), m2-m1)
	ctx := testCtx(t, 2*time.Minute)
	services := 0
	for svc := range truth.requests {
		if !strings.HasPrefix(svc, "readiness@") {
			services++
		}
	}

	sel := fmt.Sprintf("traefik_service_requests_total{%s}", noReadiness)
	exact, err := q.Instant(ctx, fmt.Sprintf("sum by (service) (%s) - sum by (service) (%s offset %s)", sel, sel, window), at)
	if err != nil {
		t.Fatal(err)
	}
	inc, err := q.Instant(ctx, fmt.Sprintf("sum by (service) (increase(%s[%s]))", sel, window), at)
	if err != nil {
		t.Fatal(err)
	}
	ratio, err := q.Instant(ctx, fmt.Sprintf(`sum by (service) (increase(traefik_service_requests_total{code=~"5..",%s}[%s])) / sum by (service) (increase(%s[%s]))`,
		noReadiness, window, sel, window), at)
	if err != nil {
		t.Fatal(err)
	}
	p99, err := q.Instant(ctx, fmt.Sprintf("histogram_quantile(0.99, sum by (le, service) (increase(traefik_service_request_duration_seconds_bucket{%s}[%s])))", noReadiness, window), at)
	if err != nil {
		t.Fatal(err)
	}
	conns, err := q.Instant(ctx, fmt.Sprintf("sum by (service) (traefik_service_open_connections{%s})", noReadiness), at)
	if err != nil {
		t.Fatal(err)
	}
	gotExact, gotInc, gotRatio := meshstack.ByLabel(exact, "service"), meshstack.ByLabel(inc, "service"), meshstack.ByLabel(ratio, "service")
	gotP99, gotConns := meshstack.ByLabel(p99, "service"), meshstack.ByLabel(conns, "service")
	for _, m := range []map[string]float64{gotExact, gotInc, gotP99, gotConns} {
		if len(m) != services {
			t.Errorf("answer for %d services, want %d (readiness filtered): %v", len(m), services, m)
		}
	}
	for svc, n := range truth.requests {
		if strings.HasPrefix(svc, "readiness@") {
			continue
		}
		if want := n * scrapes; gotExact[svc] != want {
			t.Errorf("%s: %v requests, fixture says %v", svc, gotExact[svc], want)
		}
		// One factor for every series: each grows by its fixture value per scrape.
		if want := n * factor; math.Abs(gotInc[svc]-want) > 1e-6*want {
			t.Errorf("%s: increase %v, want %v", svc, gotInc[svc], want)
		}
		want5xx := truth.errors5xx[svc] / n
		if v, ok := gotRatio[svc]; ok != (want5xx > 0) || math.Abs(v-want5xx) > 0.01 {
			t.Errorf("%s: 5xx ratio %v (present %v), fixture says %v", svc, v, ok, want5xx)
		}
		if lo, hi := p99Bucket(truth.buckets[svc]); gotP99[svc] <= lo || gotP99[svc] > hi {
			t.Errorf("%s: p99 %v, want in (%v, %v]", svc, gotP99[svc], lo, hi)
		}
		t.Logf("%-44s fixture ×%v: %v requests │ plugin: exact %v, increase %.2f, 5xx ratio %.4f, p99 %.3fs, open connections %v",
			svc, scrapes, n*scrapes, gotExact[svc], gotInc[svc], gotRatio[svc], gotP99[svc], gotConns[svc])
		if gotConns[svc] != truth.openConns[svc] {
			t.Errorf("%s: %v open connections, fixture says %v", svc, gotConns[svc], truth.openConns[svc])
		}
	}
	if v3, err := q.Instant(ctx, "traefik_open_connections", at); err != nil || len(v3) != 0 {
		t.Errorf("traefik_open_connections (v3 only) answered %v, %v; want no series", v3, err)
	}
	// No pair agent here: the pair panels are empty.
	checkDashboard(t, q, map[string]string{"namespace": "forma3d-dev", "service": "forma3d-dev-api-gateway-8080@http", "service_name": "api-gateway", "interval": "1m"},
		time.Unix(ts[0], 0), at, pairPanels...)
	eps, err := q.Instant(ctx, fmt.Sprintf(`sum by (entrypoint) (increase(traefik_entrypoint_requests_total{entrypoint!~"traefik|readiness"}[%s]))`, window), at)
	if err != nil || len(eps) != 3 {
		t.Errorf("entrypoint requests: %v, %v; want http-5000, http-5001, http-5002", eps, err)
	}
}
