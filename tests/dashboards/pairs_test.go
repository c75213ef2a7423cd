package dashboards

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/forma3d/meshmetrics/pkg/plugin"
)

// servicePanel is the dashboard's service map panel and its one target.
func servicePanel(t *testing.T, d dashboardJSON) (panelJSON, map[string]json.RawMessage) {
	t.Helper()
	for _, p := range leafPanels(d) {
		if p.Type == "nodeGraph" {
			if len(p.Targets) != 1 {
				t.Fatalf("service map with %d targets", len(p.Targets))
			}
			return p, p.Targets[0]
		}
	}
	t.Fatal("no service map (nodeGraph) panel")
	return panelJSON{}, nil
}

// graphEdges reads the (source, target) pairs of a node graph answer.
func graphEdges(t *testing.T, resp backend.DataResponse) map[[2]string]bool {
	t.Helper()
	if resp.Error != nil {
		t.Fatal(resp.Error)
	}
	if len(resp.Frames) != 2 || resp.Frames[1].Name != "edges" {
		t.Fatalf("want nodes and edges frames, got %d frames", len(resp.Frames))
	}
	e := resp.Frames[1]
	src, _ := e.FieldByName("source")
	dst, _ := e.FieldByName("target")
	out := map[[2]string]bool{}
	for i := 0; i < e.Rows(); i++ {
		out[[2]string{src.At(i).(string), dst.At(i).(string)}] = true
	}
	return out
}

func notices(resp backend.DataResponse) []string {
	var out []string
	for _, f := range resp.Frames {
		if f.Meta == nil {
			continue
		}
		for _, n := range f.Meta.Notices {
			out = append(out, n.Text)
		}
	}
	return out
}

func edgeList(m map[[2]string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k[0]+" → "+k[1])
	}
	sort.Strings(out)
	return out
}

// The service map draws caller → service edges from the pair metrics:
// exactly the pairs whose requests grew in the last $interval (a pair
// that stopped sending is no edge), their destination in $namespace (a
// caller from the other namespace included), unknown callers as
// unknown/unknown, no notice. Where the agent's metrics are absent it
// draws the proxy view (every edge from a proxy instance), equal to
// Prometheus on the fallback expressions, and says so in a notice.
func (e *meshEnv) checkServiceMapPairs(t *testing.T, d dashboardJSON, ss []*series) {
	_, tg := servicePanel(t, d)
	base := defaultVars(t, d)
	window, err := time.ParseDuration(base["interval"].value)
	if err != nil {
		t.Fatal(err)
	}
	tr := dashboardRange()
	truth := pairsWithTraffic(ss, tr.To, window)
	for _, ns := range []varValue{{value: "forma3d", multi: true}, {value: "forma3d-dev", multi: true}, {value: ".*", all: true}} {
		t.Run("pairs/"+ns.value, func(t *testing.T) {
			resp, _ := e.query(t, tg, withVars(base, map[string]varValue{"namespace": ns}), tr, nil)
			want := map[[2]string]bool{}
			for k := range truth {
				if ns.all || strings.HasPrefix(k[1], ns.value+"/") {
					want[k] = true
				}
			}
			got := graphEdges(t, resp)
			if len(want) == 0 || !slices.Equal(edgeList(got), edgeList(want)) {
				t.Errorf("edges %v\nwant the pairs with traffic %v", edgeList(got), edgeList(want))
			}
			if n := notices(resp); len(n) != 0 {
				t.Errorf("pair view with notices %v", n)
			}
		})
	}
	// The stopped pair had traffic in the range but not in the window.
	stopped := meshPairs[len(meshPairs)-1]
	if stopped.stopsBefore == 0 || truth[stopped.edge()] {
		t.Fatalf("the data set's last pair should have stopped before the window: %+v", stopped)
	}
	if !truth[[2]string{"unknown/unknown", "forma3d/api-gateway"}] || !truth[[2]string{"forma3d-dev/web", "forma3d/api-gateway"}] {
		t.Fatalf("the data set lacks an unknown caller or a cross-namespace pair: %v", edgeList(truth))
	}

	t.Run("fallback without pair metrics", func(t *testing.T) {
		// Before the agents were deployed: the proxies' metrics only.
		at := pairStart.Add(-10*time.Minute - 7*time.Second)
		ftr := backend.TimeRange{From: at.Add(-time.Hour), To: at}
		resp, q := e.query(t, tg, base, ftr, nil)
		if resp.Error != nil {
			t.Fatal(resp.Error)
		}
		if n := notices(resp); len(n) != 1 || !strings.Contains(n[0], "fallback") || !strings.Contains(n[0], "proxy") {
			t.Errorf("fallback notices %v: want one saying the proxy view is drawn instead", n)
		}
		fb := map[string]string{"expr": q["fallbackExpr"], "errorExpr": q["fallbackErrorExpr"], "latencyExpr": q["fallbackLatencyExpr"],
			"sourceLabel": q["fallbackSourceLabel"], "targetLabel": q["fallbackTargetLabel"]}
		e.checkGraph(t, resp, fb, ftr, stepOf(ftr), ftr.To.Sub(ftr.From))
		for k := range graphEdges(t, resp) {
			if k[0] != proxy1 && k[0] != proxy2 {
				t.Errorf("fallback edge %v does not start at a proxy", k)
			}
		}
	})
}

// The query editor's completion and the label-values resource offer the
// pair metrics as the others: their names with types, their labels, and
// label values filtered by a selector, all from the stored data.
func (e *meshEnv) checkPairMetadata(t *testing.T) {
	tr := dashboardRange()
	rng := fmt.Sprintf("start=%d&end=%d", tr.From.Unix(), tr.To.Unix())
	call := func(path string, into any) {
		t.Helper()
		resp, err := e.p.CallResource(callCtx(t), e.ds, "GET", path+"&"+rng, nil)
		if err != nil || resp.Status != 200 {
			t.Fatalf("%s: %v %d %s", path, err, resp.Status, resp.Body)
		}
		body := struct{ Data any }{into}
		if err := json.Unmarshal(resp.Body, &body); err != nil {
			t.Fatal(err)
		}
	}
	var metrics []struct{ Name, Type string }
	call("metrics?match="+url.QueryEscape("traefik_mesh_pair_.*"), &metrics)
	gotMetrics := map[string]string{}
	for _, m := range metrics {
		gotMetrics[m.Name] = m.Type
	}
	wantMetrics := map[string]string{pairRequests: "counter"}
	for _, suffix := range []string{"_bucket", "_count", "_sum"} {
		wantMetrics[pairDuration+suffix] = "histogram"
	}
	if fmt.Sprint(gotMetrics) != fmt.Sprint(wantMetrics) {
		t.Errorf("metrics %v, want %v", gotMetrics, wantMetrics)
	}

	var labels []string
	call("labels?match="+url.QueryEscape(pairRequests), &labels)
	for _, l := range []string{"source_namespace", "source_workload", "destination_namespace", "destination_service", "destination_port", "code", "method", "job", "instance"} {
		if !slices.Contains(labels, l) {
			t.Errorf("labels of %s: %v lack %s", pairRequests, labels, l)
		}
	}

	for _, ns := range []string{"forma3d", "forma3d-dev"} {
		var got []string
		call("label-values?label=source_workload&match="+url.QueryEscape(pairDuration+`_bucket{destination_namespace="`+ns+`"}`), &got)
		var want []string
		for _, p := range meshPairs {
			if p.dstNS == ns && !slices.Contains(want, p.srcWorkload) {
				want = append(want, p.srcWorkload)
			}
		}
		sort.Strings(want)
		if !slices.Equal(got, want) || !slices.Contains(got, "unknown") {
			t.Errorf("source_workload values calling %s: %v, want %v", ns, got, want)
		}
	}
	var agents []string
	call("label-values?label=instance&match="+url.QueryEscape(pairRequests), &agents)
	if !slices.Equal(agents, []string{agentA, agentB}) {
		t.Errorf("instance values %v, want the two agents", agents)
	}
}

// stepOf is the step of a panel's query over tr, as check uses it.
func stepOf(tr backend.TimeRange) time.Duration {
	return plugin.Step(tr.From, tr.To, panelInterval, 0, panelMaxData)
}

// pairAlertStart is the pair rules' scenario, after the other rules'.
var pairAlertStart = alertBase.Add(9 * time.Hour)

// pairAlertRoutes: from the onset web → api-gateway (forma3d) gets 7.4 %
// 5xx summed over both agents (3.2 % on one, 33 % on the other: the rule
// must sum over instance), forma3d-dev api-gateway → slicer 10 %; an
// unknown caller's 2 % and order-history's 4xx (no 5xx) stay quiet.
// Latency: 5 % of api-gateway → order-history take (1.2, 5] s (p99 4.24
// s); 0.5 % slow requests of unknown → forma3d-dev/api-gateway leave its
// p99 below 0.3 s.
func pairAlertSeries() []*series {
	var out []*series
	at := scrapes(pairAlertStart, pairAlertStart.Add(40*time.Minute), scrape)
	type load struct {
		p      pairRoute
		agent  string
		code   string
		rps    float64
		onset  bool
		slow   float64
		method string
	}
	web := pairRoute{srcNS: "forma3d", srcWorkload: "web", dstNS: "forma3d", dstService: "api-gateway", dstPort: "8080"}
	unknown := pairRoute{srcNS: "unknown", srcWorkload: "unknown", dstNS: "forma3d", dstService: "api-gateway", dstPort: "8080"}
	slicer := pairRoute{srcNS: "forma3d-dev", srcWorkload: "api-gateway", dstNS: "forma3d-dev", dstService: "slicer", dstPort: "7000"}
	orders := pairRoute{srcNS: "forma3d", srcWorkload: "api-gateway", dstNS: "forma3d", dstService: "order-history", dstPort: "9000"}
	devUnknown := pairRoute{srcNS: "unknown", srcWorkload: "unknown", dstNS: "forma3d-dev", dstService: "api-gateway", dstPort: "8080"}
	loads := []load{
		{web, agentA, "200", 9, false, 0, "GET"}, {web, agentA, "500", 0.3, true, 0, "GET"},
		{web, agentB, "200", 1, false, 0, "GET"}, {web, agentB, "500", 0.5, true, 0, "GET"},
		{unknown, agentB, "200", 5, false, 0, "GET"}, {unknown, agentB, "500", 0.1, false, 0, "GET"},
		{slicer, agentA, "200", 4.5, false, 0, "POST"}, {slicer, agentB, "503", 0.5, true, 0, "POST"},
		{orders, agentA, "200", 3, false, 0.05, "POST"}, {orders, agentB, "200", 3, false, 0.05, "POST"}, {orders, agentA, "404", 1, false, 0, "POST"},
		{devUnknown, agentA, "200", 10, false, 0.005, "GET"},
	}
	for _, l := range loads {
		inc := steady(l.rps)
		if l.onset {
			inc = after(pairAlertStart, l.rps)
		}
		a := l.p.attrs(l.code, l.method)
		out = append(out, counter(pairRequests, pairJob, l.agent, a, at, time.Time{}, inc))
		slow := l.slow
		out = append(out, hist(pairDuration, pairJob, l.agent, a, at, func(i int, t time.Time) ([]uint64, float64) {
			n := uint64(inc(i, t))
			s := uint64(0)
			if !t.Before(pairAlertStart.Add(onset)) {
				s = uint64(float64(n)*slow + 0.5)
			}
			fast := n - s
			return []uint64{fast / 2, fast - fast/2, 0, s, 0}, float64(fast)*0.1 + float64(s)*3
		}))
	}
	return out
}

func pairKey(srcNS, srcWorkload, dstNS, dstService string) string {
	return labelKey(map[string]string{"source_namespace": srcNS, "source_workload": srcWorkload, "destination_namespace": dstNS, "destination_service": dstService})
}

// checkPairRules evaluates the per-pair rules as Grafana alerting does
// (through the plugin; states equal to those Prometheus' values give)
// and checks exactly the pairs over the threshold fire.
func (e *meshEnv) checkPairRules(t *testing.T, rules map[string]ruleYAML, minutes func(time.Time, int, int) []time.Time) {
	cases := []struct {
		uid   string
		fires []string
		quiet []string
	}{
		{"mesh-pair-5xx-ratio",
			[]string{pairKey("forma3d", "web", "forma3d", "api-gateway"), pairKey("forma3d-dev", "api-gateway", "forma3d-dev", "slicer")},
			[]string{pairKey("unknown", "unknown", "forma3d", "api-gateway"), pairKey("forma3d", "api-gateway", "forma3d", "order-history")}},
		{"mesh-pair-p99-latency",
			[]string{pairKey("forma3d", "api-gateway", "forma3d", "order-history")},
			[]string{pairKey("unknown", "unknown", "forma3d-dev", "api-gateway"), pairKey("forma3d", "web", "forma3d", "api-gateway")}},
	}
	for _, c := range cases {
		t.Run(c.uid, func(t *testing.T) {
			r, ok := rules[c.uid]
			if !ok {
				t.Fatalf("no rule %s", c.uid)
			}
			tl := e.timeline(t, r, minutes(pairAlertStart, 10, 30))
			for _, k := range c.fires {
				firesAfterPending(t, tl, k, r.pending(t))
			}
			quiet(t, tl, c.quiet...)
			var fired []string
			for k, states := range tl {
				if slices.Contains(states, alerting) {
					fired = append(fired, k)
				}
			}
			sort.Strings(fired)
			want := slices.Clone(c.fires)
			sort.Strings(want)
			if !slices.Equal(fired, want) {
				t.Errorf("alerting instances %v, want exactly %v", fired, want)
			}
			// Without the agent (no pair series at all, here: the 5xx
			// scenario's time): no data, which is OK, so no instance.
			if none := e.timeline(t, r, minutes(ratioStart, 10, 12)); len(none) != 0 {
				t.Errorf("without pair metrics the rule has instances:%s", none)
			}
		})
	}
}

// The top slow pairs table as Grafana runs it: both table queries in one
// request, merged on the four pair labels, organized and sorted as the
// panel says: one row per pair with its p99 and request rate equal to
// Prometheus', slowest first, exactly the pairs with requests in the
// window (the stopped pair has none, so no p99 and no row).
func (e *meshEnv) checkSlowPairs(t *testing.T, d dashboardJSON, ss []*series) {
	panel, vars, tr, queries, exprs, resp := e.runTablePanel(t, d, "Top slow caller → service pairs")
	var frames data.Frames
	for _, q := range queries {
		r := resp.Responses[q.RefID]
		if r.Error != nil || len(r.Frames) != 1 {
			t.Fatalf("%s: %v, %d frames", q.RefID, r.Error, len(r.Frames))
		}
		frames = append(frames, r.Frames[0])
	}
	want := map[string]map[string]float64{} // pair → refId → value
	for refID, expr := range exprs {
		for k, pts := range e.o.instant(t, expandForOracle(expr, stepOf(tr), tr.To.Sub(tr.From), scrape), tr.To) {
			ls := parseKey(t, k)
			pair := ls["source_namespace"] + "/" + ls["source_workload"] + " → " + ls["destination_namespace"] + "/" + ls["destination_service"]
			if want[pair] == nil {
				want[pair] = map[string]float64{}
			}
			want[pair][refID] = pts[0].v
		}
	}
	tb := transformTable(t, *panel, merge(t, frames))
	cols := []int{tb.col("caller namespace"), tb.col("caller"), tb.col("namespace"), tb.col("service"), tb.col("p99"), tb.col("req/s")}
	if slices.Contains(cols, -1) {
		t.Fatalf("columns %v: want caller namespace, caller, namespace, service, p99, req/s", tb.cols)
	}
	window, err := time.ParseDuration(vars["interval"].value)
	if err != nil {
		t.Fatal(err)
	}
	truth := edgeList(pairsWithTraffic(ss, tr.To, window))
	if len(tb.rows) != len(want) || !slices.Equal(truth, sortedKeys(want)) {
		t.Fatalf("%d rows, prometheus has pairs %v, the data set's pairs with traffic are %v", len(tb.rows), sortedKeys(want), truth)
	}
	prev := math.Inf(1)
	for i, r := range tb.rows {
		pair := r[cols[0]].(string) + "/" + r[cols[1]].(string) + " → " + r[cols[2]].(string) + "/" + r[cols[3]].(string)
		w, ok := want[pair]
		if !ok {
			t.Errorf("row %d: pair %s not in prometheus' answer", i, pair)
			continue
		}
		p99, rps := r[cols[4]].(float64), r[cols[5]].(float64)
		if !near(p99, w["A"]) || !near(rps, w["B"]) {
			t.Errorf("%s: p99 %v req/s %v, prometheus %v %v", pair, p99, rps, w["A"], w["B"])
		}
		if math.IsNaN(p99) || p99 > prev {
			t.Errorf("row %d (%s): p99 %v after %v: not slowest first", i, pair, p99, prev)
		}
		prev = p99
	}
}

func sortedKeys(m map[string]map[string]float64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
