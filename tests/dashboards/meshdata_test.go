package dashboards

import (
	"math/rand/v2"
	"sort"
	"strings"
	"time"
)

// The dashboard's data set: two Traefik Mesh proxies (job traefik-mesh)
// forwarding to services of two namespaces, plus the probe and scrape
// noise every panel must leave out. Two hours at a 15 s scrape, the second
// proxy restarting (its counters reset) 40 minutes before the end.
const (
	proxyJob = "traefik-mesh"
	proxy1   = "10.0.0.1:8080"
	proxy2   = "10.0.0.2:8080"
	scrape   = 15 * time.Second
)

var meshEnd = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

type route struct {
	instance, service string
	// rps per (code, method); slow is the share of requests in the
	// 1.2–5 s bucket.
	rps  map[[2]string]float64
	slow float64
	// old: scraped before the collector's relabelling, so the series
	// carry no destination_* labels.
	old bool
}

// meshNamespaces is the collector's namespace list in this data set.
var meshNamespaces = []string{"forma3d", "forma3d-dev"}

// The services of both namespaces (dev and staging share a ClickHouse),
// names with dashes, an SMI traffic-split service, and old series.
var meshRoutes = []route{
	{proxy1, "forma3d-api-gateway-8080@http", map[[2]string]float64{{"200", "GET"}: 12, {"200", "POST"}: 3, {"404", "GET"}: 0.5, {"500", "GET"}: 0.4}, 0.02, false},
	{proxy2, "forma3d-api-gateway-8080@http", map[[2]string]float64{{"200", "GET"}: 9, {"500", "GET"}: 0.9}, 0.03, false},
	{proxy1, "forma3d-dev-api-gateway-8080@http", map[[2]string]float64{{"200", "GET"}: 3, {"500", "GET"}: 0.2}, 0.05, false},
	{proxy1, "forma3d-web-3000@http", map[[2]string]float64{{"200", "GET"}: 20, {"304", "GET"}: 4}, 0, false},
	{proxy2, "forma3d-dev-slicer-7000-traffic-split@http", map[[2]string]float64{{"200", "POST"}: 1.5, {"503", "POST"}: 0.1}, 0.1, false},
	// Old series: an order service scraped before the relabelling.
	{proxy2, "forma3d-order-history-9000@http", map[[2]string]float64{{"200", "POST"}: 2, {"503", "POST"}: 0.3}, 0.2, true},
	// Probe noise: kubelet readiness probes through the proxies.
	{proxy1, "readiness@http", map[[2]string]float64{{"200", "GET"}: 1}, 0, false},
	{proxy2, "readiness@http", map[[2]string]float64{{"200", "GET"}: 1}, 0, false},
}

// destination reads <namespace>-<service>-<port>[-traffic-split…]@provider
// as the collector's relabelling does, namespaces longest first; ok is
// false for a label without a known namespace (probe noise).
func destination(service string) (ns, name, port string, ok bool) {
	byLength := append([]string(nil), meshNamespaces...)
	sort.Slice(byLength, func(i, j int) bool { return len(byLength[i]) > len(byLength[j]) })
	key, _, _ := strings.Cut(service, "@")
	key, _, _ = strings.Cut(key, "-traffic-")
	for _, n := range byLength {
		rest, found := strings.CutPrefix(key, n+"-")
		if !found {
			continue
		}
		i := strings.LastIndex(rest, "-")
		if i <= 0 {
			return "", "", "", false
		}
		return n, rest[:i], rest[i+1:], true
	}
	return "", "", "", false
}

// serviceAttrs are a traefik_service_* series' attributes: the service
// label and what kv adds, and the destination labels unless old.
func serviceAttrs(service string, old bool, kv ...string) map[string]string {
	a := attrs(append([]string{"service", service}, kv...)...)
	if ns, name, port, ok := destination(service); ok && !old {
		a["destination_namespace"], a["destination_service"], a["destination_port"] = ns, name, port
	}
	return a
}

// meshSeries builds the data set; withCerts adds a certificate per proxy.
func meshSeries(withCerts bool) []*series {
	rng := rand.New(rand.NewPCG(8, 8))
	times := scrapes(meshEnd.Add(-2*time.Hour), meshEnd, scrape)
	reset := meshEnd.Add(-40 * time.Minute)
	resetOf := func(instance string) time.Time {
		if instance == proxy2 {
			return reset
		}
		return time.Time{}
	}
	// jitter is a per-scrape count around rate × scrape interval.
	jitter := func(rps float64) float64 {
		n := rps * scrape.Seconds() * (0.6 + 0.8*rng.Float64())
		return float64(int(n + 0.5))
	}
	var out []*series
	for _, r := range meshRoutes {
		keys := make([][2]string, 0, len(r.rps))
		for cm := range r.rps {
			keys = append(keys, cm)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i][0]+keys[i][1] < keys[j][0]+keys[j][1] })
		for _, cm := range keys {
			rps := r.rps[cm]
			a := serviceAttrs(r.service, r.old, "code", cm[0], "method", cm[1], "protocol", "http")
			out = append(out, counter("traefik_service_requests_total", proxyJob, r.instance, a, times, resetOf(r.instance),
				func(int, time.Time) float64 { return jitter(rps) }))
			slow := r.slow
			if cm[0] >= "500" {
				slow = 0 // errors answer fast
			}
			out = append(out, hist("traefik_service_request_duration_seconds", proxyJob, r.instance, a, times, func(int, time.Time) ([]uint64, float64) {
				n := uint64(jitter(rps))
				s := uint64(float64(n) * slow * (0.5 + rng.Float64()))
				s = min(s, n)
				fast := (n - s) * 7 / 10
				mid := n - s - fast
				return []uint64{fast, mid, 0, s, 0}, float64(fast)*0.05 + float64(mid)*0.2 + float64(s)*2.5
			}))
		}
		// v2's per-service open-connections gauge.
		out = append(out, gaugeOf("traefik_service_open_connections", proxyJob, r.instance, serviceAttrs(r.service, r.old, "method", "GET", "protocol", "http"), times,
			func(int, time.Time) float64 { return float64(rng.IntN(20)) }))
	}
	for _, inst := range []string{proxy1, proxy2} {
		// readiness, liveness (kubelet probes) and traefik (the scrape)
		// are probe entrypoints every panel leaves out.
		for _, ep := range []string{"http-5000", "http-5001", "readiness", "liveness", "traefik"} {
			rps := map[string]float64{"http-5000": 15, "http-5001": 6, "readiness": 1, "liveness": 0.5, "traefik": 2}[ep]
			out = append(out, counter("traefik_entrypoint_requests_total", proxyJob, inst, attrs("entrypoint", ep, "code", "200", "method", "GET", "protocol", "http"), times, resetOf(inst),
				func(int, time.Time) float64 { return jitter(rps) }))
		}
		out = append(out, gaugeOf("up", proxyJob, inst, nil, times, func(int, time.Time) float64 { return 1 }))
		if withCerts {
			days := map[string]float64{proxy1: 20, proxy2: 45}[inst]
			out = append(out, gaugeOf("traefik_tls_certs_not_after", proxyJob, inst, attrs("cn", "forma3d.example", "serial", inst, "sans", "forma3d.example"), times,
				func(int, time.Time) float64 { return float64(meshEnd.Unix()) + days*86400 }))
		}
	}
	return out
}
