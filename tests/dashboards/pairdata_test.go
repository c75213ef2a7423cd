package dashboards

import (
	"math/rand/v2"
	"sort"
	"time"
)

// The access-log agent's pair metrics (issue 14, the lead's contract):
// traefik_mesh_pair_requests_total (a cumulative monotonic Sum) and
// traefik_mesh_pair_request_duration_seconds (a cumulative Histogram in
// Traefik's buckets), job traefik-mesh-pairs, one series set per agent
// (instance: the node), labelled caller → destination, code and method.
const (
	pairJob      = "traefik-mesh-pairs"
	pairRequests = "traefik_mesh_pair_requests_total"
	pairDuration = "traefik_mesh_pair_request_duration_seconds"
	agentA       = "node-a"
	agentB       = "node-b"
)

// pairRoute is one caller → destination pair as the agents count it.
type pairRoute struct {
	srcNS, srcWorkload, dstNS, dstService, dstPort string
	// agents are the nodes whose proxies carried the pair's requests.
	agents []string
	// rps per (code, method) on each agent; slow is the share of requests
	// in (1.2, 5] s, over the share of requests above 5 s.
	rps        map[[2]string]float64
	slow, over float64
	// stopsBefore: the pair's traffic stops this long before the data
	// set's end (its counter then stands still); 0 runs to the end.
	stopsBefore time.Duration
}

// pairStart is when the agents were deployed: before it there are no pair
// metrics, only the proxies' (the service map's fallback then).
var pairStart = meshEnd.Add(-90 * time.Minute)

// meshPairs: both namespaces, callers the agent could not resolve
// (unknown/unknown), a caller calling into the other namespace, a pair
// seen by both agents, 2xx/4xx/5xx, durations in every bucket, and a pair
// that stopped sending 30 minutes before the end.
var meshPairs = []pairRoute{
	{"forma3d", "web", "forma3d", "api-gateway", "8080", []string{agentA, agentB},
		map[[2]string]float64{{"200", "GET"}: 8, {"404", "GET"}: 0.5, {"500", "GET"}: 0.3}, 0.01, 0, 0},
	{"forma3d", "api-gateway", "forma3d", "order-history", "9000", []string{agentA},
		map[[2]string]float64{{"200", "POST"}: 2, {"503", "POST"}: 0.4}, 0.2, 0.02, 0},
	{"unknown", "unknown", "forma3d", "api-gateway", "8080", []string{agentB},
		map[[2]string]float64{{"200", "GET"}: 1.5}, 0, 0, 0},
	{"forma3d-dev", "api-gateway", "forma3d-dev", "slicer", "7000", []string{agentA, agentB},
		map[[2]string]float64{{"200", "POST"}: 1, {"503", "POST"}: 0.1}, 0.1, 0.01, 0},
	{"forma3d-dev", "slicer", "forma3d-dev", "api-gateway", "8080", []string{agentA},
		map[[2]string]float64{{"200", "POST"}: 0.5}, 0, 0, 0},
	{"unknown", "unknown", "forma3d-dev", "api-gateway", "8080", []string{agentA},
		map[[2]string]float64{{"200", "GET"}: 0.8, {"404", "GET"}: 0.2}, 0.05, 0, 0},
	{"forma3d-dev", "web", "forma3d", "api-gateway", "8080", []string{agentB},
		map[[2]string]float64{{"200", "GET"}: 0.5}, 0, 0, 0},
	{"forma3d", "web", "forma3d", "order-history", "9000", []string{agentA},
		map[[2]string]float64{{"200", "GET"}: 1}, 0, 0, 30 * time.Minute},
}

// pairAttrs are a pair series' datapoint attributes.
func (p pairRoute) attrs(code, method string) map[string]string {
	return attrs("source_namespace", p.srcNS, "source_workload", p.srcWorkload,
		"destination_namespace", p.dstNS, "destination_service", p.dstService, "destination_port", p.dstPort,
		"code", code, "method", method)
}

// node names a pair's caller or destination as the service map does.
func (p pairRoute) edge() [2]string {
	return [2]string{p.srcNS + "/" + p.srcWorkload, p.dstNS + "/" + p.dstService}
}

// pairSeries builds the agents' series from pairStart to meshEnd at the
// scrape interval; agent B restarts 40 minutes before the end, so its
// counters start again from zero (deltatocumulative's state is gone).
func pairSeries(routes []pairRoute) []*series {
	rng := rand.New(rand.NewPCG(14, 14))
	times := scrapes(pairStart, meshEnd, scrape)
	reset := meshEnd.Add(-40 * time.Minute)
	var out []*series
	for _, p := range routes {
		keys := make([][2]string, 0, len(p.rps))
		for cm := range p.rps {
			keys = append(keys, cm)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i][0]+keys[i][1] < keys[j][0]+keys[j][1] })
		for _, agent := range p.agents {
			resetAt := time.Time{}
			if agent == agentB {
				resetAt = reset
			}
			for _, cm := range keys {
				rps := p.rps[cm]
				// Every scrape: the requests since the last one, 0 once the
				// pair has stopped; at least 1 while it runs.
				counts := make([]float64, len(times))
				for i, at := range times {
					if p.stopsBefore > 0 && at.After(meshEnd.Add(-p.stopsBefore)) {
						continue
					}
					counts[i] = max(1, float64(int(rps*scrape.Seconds()*(0.6+0.8*rng.Float64())+0.5)))
				}
				a := p.attrs(cm[0], cm[1])
				out = append(out, counter(pairRequests, pairJob, agent, a, times, resetAt, func(i int, _ time.Time) float64 { return counts[i] }))
				h := hist(pairDuration, pairJob, agent, a, times, func(i int, _ time.Time) ([]uint64, float64) {
					n := uint64(counts[i])
					slow, over := uint64(float64(n)*p.slow+0.5), uint64(float64(n)*p.over+0.5)
					slow, over = min(slow, n), min(over, n-min(slow, n))
					rest := n - slow - over
					fast := rest * 6 / 10
					mid := rest * 3 / 10
					tail := rest - fast - mid // (0.3, 1.2]
					return []uint64{fast, mid, tail, slow, over}, float64(fast)*0.04 + float64(mid)*0.2 + float64(tail)*0.7 + float64(slow)*2.6 + float64(over)*7
				})
				out = append(out, h)
				if !resetAt.IsZero() {
					restartHistogram(h, resetAt)
				}
			}
		}
	}
	return out
}

// restartHistogram makes a histogram start again from zero at reset, as
// the counter helper does for sums.
func restartHistogram(h *series, reset time.Time) {
	var base point
	for i := range h.points {
		p := &h.points[i]
		if p.t.Equal(reset) && i > 0 {
			base = h.points[i-1]
			base.counts = append([]uint64(nil), base.counts...)
		}
		if base.counts == nil {
			continue
		}
		for b := range p.counts {
			p.counts[b] -= base.counts[b]
		}
		p.sum -= base.sum
	}
}

// pairsWithTraffic are the edges whose requests grew within (at-window,
// at] in the data itself: the service map must draw exactly these.
func pairsWithTraffic(ss []*series, at time.Time, window time.Duration) map[[2]string]bool {
	out := map[[2]string]bool{}
	for _, s := range ss {
		if s.metric != pairRequests {
			continue
		}
		for i := 1; i < len(s.points); i++ {
			prev, cur := s.points[i-1], s.points[i]
			if !prev.t.After(at.Add(-window)) || cur.t.After(at) {
				continue
			}
			if cur.v != prev.v { // growth, or a reset to a new count
				out[[2]string{s.attrs["source_namespace"] + "/" + s.attrs["source_workload"], s.attrs["destination_namespace"] + "/" + s.attrs["destination_service"]}] = true
			}
		}
	}
	return out
}
