package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/forma3d/meshmetrics/tests/meshstack"
)

// pairCallers is the agent's static caller table: three source workloads
// on loopback addresses of their own, as pods have IPs of their own.
// 127.0.0.9 sends too and is not listed: it must count as unknown.
var pairCallers = map[string]string{
	"127.0.0.2": "forma3d/web-frontend",
	"127.0.0.3": "forma3d/api-gateway",
	"127.0.0.4": "forma3d-dev/print-worker",
}

const unlistedCaller = "127.0.0.9"

// pairKey is how the test names a pair: the agent's labels, joined.
func pairKey(srcNamespace, srcWorkload, dstNamespace, dstService string) string {
	return srcNamespace + "/" + srcWorkload + " → " + dstNamespace + "/" + dstService
}

// pairTargets sends from every caller to three of the demo services (a
// different three each, so some pairs carry no traffic) and from the
// unlisted address to one; each target's Label is its pair's key, so the
// load generator's Truth is per pair.
func pairTargets(t *testing.T, stack *meshstack.Stack) []meshstack.Target {
	t.Helper()
	if len(stack.Targets) < 5 {
		t.Fatalf("the demo has %d services, the pair test needs 5", len(stack.Targets))
	}
	sources := slices.Sorted(maps.Keys(pairCallers))
	var out []meshstack.Target
	add := func(source, who string, tg meshstack.Target) {
		ns, workload, _ := strings.Cut(who, "/")
		tg.Source = source
		tg.Label = pairKey(ns, workload, tg.Service.Namespace, tg.Service.Name)
		out = append(out, tg)
	}
	for i, source := range sources {
		for j := range 3 {
			add(source, pairCallers[source], stack.Targets[(i+j)%len(stack.Targets)])
		}
	}
	add(unlistedCaller, "unknown/unknown", stack.Targets[len(stack.Targets)-1])
	return out
}

// Traefik's JSON access log → the pair agent (static caller table) → the
// collector's otlp/pairs → ClickHouse → the plugin: every pair that carried
// traffic, and no other, with the load generator's exact request count,
// its 5xx ratio and its p99 in the right bucket; the unlisted caller as
// unknown; the readiness probes (from 127.0.0.1, to a service of no mesh
// namespace) nowhere.
func TestPairsMatchGroundTruth(t *testing.T) {
	ch := startClickHouse(t)
	stack, err := meshstack.Start(meshstack.StackOptions{
		Dir: t.TempDir(), ClickHouseAddr: ch.Addr, ScrapeInterval: scrapeInterval, Callers: pairCallers,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent output:\n%s", stack.Agent.Output())
			t.Logf("collector output:\n%s", stack.Collector.Output())
		}
		if err := stack.Close(); err != nil {
			t.Error(err)
		}
	})
	q := startPlugin(t, ch.Addr)

	targets := pairTargets(t, stack)
	load := meshstack.NewTruth()
	// All pairs at once for several of the agent's intervals (a point per
	// pair and interval, so that rate() over the window has several), each
	// at its own rate (8, 10, 12 … requests/s): a swapped pair cannot pass.
	ctx, cancel := context.WithTimeout(context.Background(), 5*scrapeInterval+time.Second)
	var wg sync.WaitGroup
	for i, tg := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			meshstack.Steady(ctx, []meshstack.Target{tg}, 8+2*i, load)
		}()
	}
	wg.Wait()
	cancel()
	for _, tg := range targets {
		if n := load.Failures[tg.Label]; n > 0 {
			t.Fatalf("%s: %d requests got no response", tg.Label, n)
		}
	}
	byPair := `source_namespace, source_workload, destination_namespace, destination_service`
	counter := "traefik_mesh_pair_requests_total"
	// The agent's counters start with its first record (it reads the log
	// from its start), so each pair's last value is everything it sent: the
	// window is (agent start, last point]. Poll until the last batch is
	// stored; a wrong count stays wrong and fails at the deadline.
	totalExpr := fmt.Sprintf("sum by (%s) (last_over_time(%s[10m]))", byPair, counter)
	var got map[string]float64
	deadline := time.Now().Add(60 * time.Second)
	for {
		samples, err := q.Instant(testCtx(t, 30*time.Second), totalExpr, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		got = pairValues(samples)
		if pairsEqual(got, load, targets) || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	at := time.Now()
	want := map[string]float64{}
	for _, tg := range targets {
		want[tg.Label] = float64(load.Total(tg.Label))
	}
	if !maps.Equal(got, want) {
		t.Fatalf("per-pair request counts:\n got %v\nwant %v (the load generator's)", got, want)
	}

	ctx = testCtx(t, time.Minute)
	// 5xx ratio per pair: exact, from exact counts; no 5xx, no series.
	ratio, err := q.Instant(ctx, fmt.Sprintf(`sum by (%[1]s) (last_over_time(%[2]s{code=~"5.."}[10m])) / sum by (%[1]s) (last_over_time(%[2]s[10m]))`, byPair, counter), at)
	if err != nil {
		t.Fatal(err)
	}
	gotRatio := pairValues(ratio)
	for _, tg := range targets {
		w := float64(load.ServerErrors(tg.Label)) / float64(load.Total(tg.Label))
		v, ok := gotRatio[tg.Label]
		switch {
		case w == 0 && ok:
			t.Errorf("%s: 5xx ratio %v, but no 5xx were sent", tg.Label, v)
		case w > 0 && (!ok || math.Abs(v-w) > 1e-9):
			t.Errorf("%s: 5xx ratio %v (present %v), load generator saw %v", tg.Label, v, ok, w)
		}
	}
	// p99 per pair inside the bucket of the client-side p99.
	p99, err := q.Instant(ctx, fmt.Sprintf("histogram_quantile(0.99, sum by (le, %s) (last_over_time(traefik_mesh_pair_request_duration_seconds_bucket[10m])))", byPair), at)
	if err != nil {
		t.Fatal(err)
	}
	gotP99 := pairValues(p99)
	for _, tg := range targets {
		truth := load.Quantile(tg.Label, 0.99).Seconds()
		lo, hi := bucketOf(truth)
		if v, ok := gotP99[tg.Label]; !ok || v <= lo || v > hi {
			t.Errorf("%s: p99 %v (present %v), want in (%v, %v] where the client-side p99 %.3fs lies", tg.Label, v, ok, lo, hi, truth)
		}
	}
	// The pair series carry the agent's job and one instance, the
	// destination port, code and method; no other label.
	series, err := q.Instant(ctx, fmt.Sprintf("count by (job, instance, destination_port, code, method) (%s)", counter), at)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range series {
		if s.Labels["job"] != "traefik-mesh-pairs" || s.Labels["instance"] == "" || s.Labels["destination_port"] == "" || s.Labels["method"] != "GET" || len(s.Labels["code"]) != 3 {
			t.Errorf("pair series labels %v: want job traefik-mesh-pairs, an instance, a port, method GET and a status code", s.Labels)
		}
	}
	checkPairServiceMap(t, q, targets, at)
	// Every panel of the dashboard on what the pipeline stored, pairs
	// included (no TLS here: no certificate to show). forma3d's api-gateway
	// is both a destination and a caller, so its deep dive's outbound panel
	// has data.
	checkDashboard(t, q, map[string]string{"namespace": "forma3d", "service": "forma3d-api-gateway-8080@file", "service_name": "api-gateway", "interval": "1m"},
		at.Add(-5*time.Minute), at, "Certificate expiry")
	for _, tg := range targets {
		t.Logf("%-62s sent %4d (5xx %3d, client p99 %6.3fs) │ plugin: %v, 5xx ratio %.4f, p99 %.3fs",
			tg.Label, load.Total(tg.Label), load.ServerErrors(tg.Label), load.Quantile(tg.Label, 0.99).Seconds(),
			got[tg.Label], gotRatio[tg.Label], gotP99[tg.Label])
	}
}

// pairValues keys an answer by pair.
func pairValues(samples []meshstack.Sample) map[string]float64 {
	out := map[string]float64{}
	for _, s := range samples {
		l := s.Labels
		out[pairKey(l["source_namespace"], l["source_workload"], l["destination_namespace"], l["destination_service"])] = s.Value
	}
	return out
}

func pairsEqual(got map[string]float64, load *meshstack.Truth, targets []meshstack.Target) bool {
	if len(got) != len(targets) {
		return false
	}
	for _, tg := range targets {
		if got[tg.Label] != float64(load.Total(tg.Label)) {
			return false
		}
	}
	return true
}

// pairPanels are the dashboard's panels drawn from the pair agent's metrics:
// empty on a pipeline without the agent.
var pairPanels = []string{
	"Request rate by caller → service", "4xx / 5xx by caller → service",
	"Latency p50 / p95 / p99 by caller → service", "Outbound request rate of $service",
	"Top slow caller → service pairs",
}

// checkPairServiceMap: the dashboard's service map, through the plugin,
// has exactly one edge per pair that carried traffic (namespace All).
func checkPairServiceMap(t *testing.T, q *meshstack.Querier, targets []meshstack.Target, at time.Time) {
	t.Helper()
	var model map[string]any
	for _, pt := range dashboardTargets(t) {
		if pt.panel == "Service map" {
			model = pt.model
		}
	}
	if model == nil {
		t.Fatal("no Service map panel in the dashboard")
	}
	b, err := json.Marshal(model)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer("$namespace", ".+", "$interval", "5m").Replace(string(b))
	r, err := q.Target(testCtx(t, time.Minute), []byte(text), at.Add(-time.Minute), at, scrapeInterval)
	if err != nil || r.Error != nil {
		t.Fatalf("service map: %v %v", err, r.Error)
	}
	var edges []string
	for _, f := range r.Frames {
		if f.Meta == nil || f.Meta.PreferredVisualization != "nodeGraph" || f.Name != "edges" {
			continue
		}
		src, si := f.FieldByName("source")
		dst, ti := f.FieldByName("target")
		if si < 0 || ti < 0 {
			t.Fatalf("edges frame without source/target fields: %v", f.Fields)
		}
		for i := range f.Rows() {
			edges = append(edges, fmt.Sprint(src.At(i))+" → "+fmt.Sprint(dst.At(i)))
		}
	}
	var want []string
	for _, tg := range targets {
		want = append(want, tg.Label)
	}
	slices.Sort(edges)
	slices.Sort(want)
	if !slices.Equal(edges, want) {
		t.Errorf("service map edges:\n got %v\nwant %v (the pairs that carried traffic)", edges, want)
	}
}
