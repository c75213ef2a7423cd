package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/forma3d/meshmetrics/tests/meshstack"
)

// v25AccessLog is what Traefik v2.5 proxies write with --accesslog=true
// --accesslog.format=json: one object a line, its fields as v2.5 names them
// (ClientHost, ServiceName, DownstreamStatus, RequestMethod, Duration in
// nanoseconds, …), mesh requests from four pod IPs to four services (one a
// TrafficSplit) with every status class and durations across all of
// Traefik's buckets, besides a kubelet's readiness probes, Traefik's own
// API and a text log line.
const v25AccessLog = "testdata/traefik-v2.5-access.jsonl"

// v25Callers is the static caller table; 10.42.3.99 is not in it.
var v25Callers = map[string]string{
	"10.42.1.17": "forma3d/web-frontend",
	"10.42.1.23": "forma3d/order-service",
	"10.42.2.31": "forma3d-dev/print-worker",
}

// v25Record is the part of a v2.5 record the pairs need.
type v25Record struct {
	ClientHost       string
	ServiceName      string
	DownstreamStatus int
	RequestMethod    string
	Duration         int64
}

// v25Expected is what the agent must count, worked out here in Go from the
// fixture, the caller table and the namespace list with the destination
// forms the collector's relabelling uses (destrules_test.go): requests per
// (pair, code, method), cumulative bucket counts and duration sums per pair.
type v25Expected struct {
	requests map[string]float64 // pair|code|method
	buckets  map[string]float64 // pair|le
	sums     map[string]float64 // pair
}

func expectV25(t *testing.T, callers map[string]string) v25Expected {
	t.Helper()
	namespaces, err := readNamespaces(filepath.Join(collectorDir(t), namespacesFile))
	if err != nil {
		t.Fatal(err)
	}
	sort.SliceStable(namespaces, func(i, j int) bool { return len(namespaces[i]) > len(namespaces[j]) })
	type form struct {
		re             *regexp.Regexp
		service, ports int
	}
	var forms []form
	for _, f := range destinationForms {
		forms = append(forms, form{regexp.MustCompile("^(" + strings.Join(namespaces, "|") + ")" + f.tail + "@[^@]+$"), f.serviceGroup, f.port})
	}
	f, err := os.Open(v25AccessLog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	exp := v25Expected{requests: map[string]float64{}, buckets: map[string]float64{}, sums: map[string]float64{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r v25Record
		if json.Unmarshal(sc.Bytes(), &r) != nil {
			continue // Traefik's own text line
		}
		dstNS, dstService := "", ""
		for _, fm := range forms {
			if m := fm.re.FindStringSubmatch(r.ServiceName); m != nil {
				dstNS, dstService = m[1], m[fm.service]
			}
		}
		if dstNS == "" {
			continue // a probe, Traefik's API: no mesh service
		}
		who, ok := callers[r.ClientHost]
		if !ok {
			who = "unknown/unknown"
		}
		srcNS, srcWorkload, _ := strings.Cut(who, "/")
		pair := pairKey(srcNS, srcWorkload, dstNS, dstService)
		exp.requests[pair+"|"+strconv.Itoa(r.DownstreamStatus)+"|"+r.RequestMethod]++
		seconds := float64(r.Duration) / 1e9
		exp.sums[pair] += seconds
		for _, le := range []string{"0.1", "0.3", "1.2", "5.0", "+Inf"} {
			bound, _ := strconv.ParseFloat(le, 64)
			if seconds <= bound {
				exp.buckets[pair+"|"+le]++
			} else {
				exp.buckets[pair+"|"+le] += 0 // a pair has every bucket, empty ones too
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(exp.sums) < 4 {
		t.Fatalf("the fixture gives only %d pairs", len(exp.sums))
	}
	return exp
}

// criWrap is the fixture as the kubelet's CRI runtime writes a container's
// stdout: "<time> stdout F <line>", the first record split in two partial
// ("P") lines as the runtime does with long lines.
func criWrap(src []byte) []byte {
	var b bytes.Buffer
	ts := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	split := false
	for _, line := range strings.Split(strings.TrimSuffix(string(src), "\n"), "\n") {
		ts = ts.Add(time.Millisecond)
		if !split && strings.HasPrefix(line, "{") {
			split = true
			fmt.Fprintf(&b, "%s stdout P %s\n", ts.Format(time.RFC3339Nano), line[:len(line)/2])
			line = line[len(line)/2:]
		}
		fmt.Fprintf(&b, "%s stdout F %s\n", ts.Format(time.RFC3339Nano), line)
	}
	return b.Bytes()
}

// A Traefik v2.5 access log through the shipped agent configs, the
// collector and ClickHouse, read back through the plugin: every count,
// bucket and duration sum what the fixture says. Once as Traefik's file
// with the static caller table; once as the proxy container's CRI log
// through the Kubernetes config's container parser, without
// k8sattributes (no API server here: every caller unknown).
func TestPairsFromV25AccessLog(t *testing.T) {
	for _, c := range []struct {
		name      string
		container bool
		callers   map[string]string
		wrap      func([]byte) []byte
	}{
		{"access log file with static callers", false, v25Callers, func(b []byte) []byte { return b }},
		{"CRI container log through the kubernetes config", true, nil, criWrap},
	} {
		t.Run(c.name, func(t *testing.T) { checkV25(t, c.container, c.callers, c.wrap) })
	}
}

func checkV25(t *testing.T, container bool, callers map[string]string, wrap func([]byte) []byte) {
	exp := expectV25(t, callers)
	ch := startClickHouse(t)
	_, col := startScrapedCollector(t, ch.Addr, func(int) []byte { return nil })
	src, err := os.ReadFile(v25AccessLog)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	logFile := filepath.Join(dir, "access.log")
	if err := os.WriteFile(logFile, wrap(src), 0o644); err != nil {
		t.Fatal(err)
	}
	agent, err := meshstack.StartAgent(meshstack.AgentOptions{AccessLogs: []string{logFile}, Callers: callers,
		CollectorOTLP: col.PairsOTLP, Interval: scrapeInterval, Dir: dir, Host: "node-a", ContainerLogs: container})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent output:\n%s", agent.Output())
		}
		_ = agent.Stop(30 * time.Second)
	})
	q := startPlugin(t, ch.Addr)
	by := `source_namespace, source_workload, destination_namespace, destination_service`
	values := func(expr string, extra ...string) map[string]float64 {
		samples, err := q.Instant(testCtx(t, 30*time.Second), expr, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, s := range samples {
			l := s.Labels
			key := pairKey(l["source_namespace"], l["source_workload"], l["destination_namespace"], l["destination_service"])
			for _, e := range extra {
				key += "|" + l[e]
			}
			out[key] = s.Value
		}
		return out
	}
	requests := fmt.Sprintf("sum by (%s, code, method) (last_over_time(traefik_mesh_pair_requests_total[10m]))", by)
	var got map[string]float64
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(time.Second) {
		if got = values(requests, "code", "method"); maps.Equal(got, exp.requests) || time.Now().After(deadline) {
			break
		}
	}
	if !maps.Equal(got, exp.requests) {
		t.Fatalf("requests per pair, code and method:\n got %v\nwant %v", got, exp.requests)
	}
	buckets := values(fmt.Sprintf("sum by (%s, le) (last_over_time(traefik_mesh_pair_request_duration_seconds_bucket[10m]))", by), "le")
	if !maps.Equal(buckets, exp.buckets) {
		t.Errorf("bucket counts per pair:\n got %v\nwant %v", buckets, exp.buckets)
	}
	sums := values(fmt.Sprintf("sum by (%s) (last_over_time(traefik_mesh_pair_request_duration_seconds_sum[10m]))", by))
	for pair, want := range exp.sums {
		if math.Abs(sums[pair]-want) > 1e-9*max(want, 1) {
			t.Errorf("%s: duration sum %v s, want %v s", pair, sums[pair], want)
		}
	}
	if len(sums) != len(exp.sums) {
		t.Errorf("duration sums for %d pairs, want %d: %v", len(sums), len(exp.sums), sums)
	}
	t.Logf("%d pairs, %d (pair, code, method) series, all equal to the fixture", len(exp.sums), len(exp.requests))
}
