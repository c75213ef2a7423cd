package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/forma3d/meshmetrics/tests/meshstack"
)

// noReadiness is the dashboard's filter of the mesh's probe noise.
const noReadiness = `service!~"readiness@.*"`

// byDestination groups by Traefik's service label and the destination
// labels the collector derives from it (provisioning/collector's
// destination-namespaces.txt): the view shows namespace and service from
// those labels, never from splitting the service label itself.
const byDestination = "service, destination_namespace, destination_service, destination_port"

// byPair groups the pair agent's metrics by caller and destination.
const byPair = "source_namespace, source_workload, destination_namespace, destination_service"

// view prints the mesh as the plugin answers the dashboard's queries.
type view struct {
	q       *meshstack.Querier
	window  time.Duration
	lag     time.Duration // evaluate this far back: every query sees the same stored scrapes
	truth   *meshstack.Truth
	targets []meshstack.Target
}

func (v *view) queries() map[string]string {
	w := fmt.Sprintf("%ds", int(v.window.Seconds()))
	reqs := fmt.Sprintf("traefik_service_requests_total{%s}", noReadiness)
	buckets := fmt.Sprintf("traefik_service_request_duration_seconds_bucket{%s}", noReadiness)
	q := map[string]string{
		"rps":     fmt.Sprintf("sum by (%s) (rate(%s[%s]))", byDestination, reqs, w),
		"success": fmt.Sprintf(`sum by (%[1]s) (rate(traefik_service_requests_total{code!~"5..",%[2]s}[%[3]s])) / sum by (%[1]s) (rate(%[4]s[%[3]s]))`, byDestination, noReadiness, w, reqs),
		"counted": fmt.Sprintf("sum by (%s) (%s)", byDestination, reqs),
		"edges":   fmt.Sprintf("sum by (instance, %s) (rate(%s[%s]))", byDestination, reqs, w),
		"up":      `up{job="traefik-mesh"}`,
		"pairs":   fmt.Sprintf("sum by (%s) (rate(traefik_mesh_pair_requests_total[%s]))", byPair, w),
		"pair5xx": fmt.Sprintf(`sum by (%[1]s) (rate(traefik_mesh_pair_requests_total{code=~"5.."}[%[2]s])) / sum by (%[1]s) (rate(traefik_mesh_pair_requests_total[%[2]s]))`, byPair, w),
		"pairP99": fmt.Sprintf("histogram_quantile(0.99, sum by (le, %s) (rate(traefik_mesh_pair_request_duration_seconds_bucket[%s])))", byPair, w),
	}
	for _, p := range []string{"50", "95", "99"} {
		q["p"+p] = fmt.Sprintf("histogram_quantile(0.%s, sum by (le, %s) (rate(%s[%s])))", p, byDestination, buckets, w)
	}
	return q
}

func (v *view) print(ctx context.Context, out io.Writer) error {
	now := time.Now().Add(-v.lag).Truncate(time.Second)
	ans := map[string][]meshstack.Sample{}
	for name, expr := range v.queries() {
		qctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		s, err := v.q.Instant(qctx, expr, now)
		cancel()
		if err != nil {
			return err
		}
		ans[name] = s
	}
	by := func(name string) map[string]float64 { return meshstack.ByLabel(ans[name], "service") }
	rps, success, counted := by("rps"), by("success"), by("counted")
	p50, p95, p99 := by("p50"), by("p95"), by("p99")

	var b strings.Builder
	if fi, err := os.Stdout.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		b.WriteString("\033[H\033[2J") // a terminal: redraw in place
	}
	fmt.Fprintf(&b, "Service Mesh Traffic as of %s (%v ago: scrape and batch delay; rates over %v; queries through gpx_meshmetrics over gRPC)\n\n",
		now.Format(time.TimeOnly), v.lag, v.window)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	dest := destinations(ans["counted"])
	fmt.Fprintln(tw, "namespace\tservice\tport\tRPS\tsuccess\tp50\tp95\tp99\tcounted by Traefik\tsent\t")
	for _, tg := range v.targets {
		s := tg.Label
		d, ok := dest[s]
		if !ok {
			d = destination{"–", "–", "–"}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t\n", d.namespace, d.service, d.port, num(rps, s, "%.1f"), pct(success, s),
			dur(p50, s), dur(p95, s), dur(p99, s), num(counted, s, "%.0f"), v.truth.Total(s))
	}
	_ = tw.Flush()
	b.WriteString("quantiles interpolate within Traefik's buckets (0.1, 0.3, 1.2, 5 s), as histogram_quantile does;\n" +
		"\"counted\" is the newest stored counter and trails \"sent\" by a scrape plus the collector's batch\n")

	b.WriteString("\nproxy → service edges (Traefik Mesh metrics name no source service: the source is the proxy)\n")
	type edge struct {
		proxy, service string
		rps            float64
	}
	var edges []edge
	for _, s := range ans["edges"] {
		edges = append(edges, edge{s.Labels["instance"], destinationOf(s).String(), s.Value})
	}
	sort.Slice(edges, func(i, j int) bool { return edges[i].proxy+edges[i].service < edges[j].proxy+edges[j].service })
	for _, e := range edges {
		fmt.Fprintf(&b, "  %s ──%6.1f req/s──▶ %s\n", e.proxy, e.rps, e.service)
	}
	for _, s := range ans["up"] {
		state := "up"
		if s.Value != 1 {
			state = "DOWN"
		}
		fmt.Fprintf(&b, "  proxy %s scrape: %s\n", s.Labels["instance"], state)
	}
	if len(edges) == 0 {
		b.WriteString("  (no data yet: waiting for scrapes to reach ClickHouse)\n")
	}
	printPairs(&b, ans)
	b.WriteString("\n")
	_, err := io.WriteString(out, b.String())
	return err
}

// destination is a series' destination labels, "–" where one is missing
// (a service outside the collector's namespace list).
type destination struct{ namespace, service, port string }

func (d destination) String() string { return d.namespace + "/" + d.service + ":" + d.port }

func destinationOf(s meshstack.Sample) destination {
	get := func(name string) string {
		if v := s.Labels[name]; v != "" {
			return v
		}
		return "–"
	}
	return destination{get("destination_namespace"), get("destination_service"), get("destination_port")}
}

// destinations maps each Traefik service label to its destination labels.
func destinations(samples []meshstack.Sample) map[string]destination {
	out := map[string]destination{}
	for _, s := range samples {
		out[s.Labels["service"]] = destinationOf(s)
	}
	return out
}

func num(m map[string]float64, k, format string) string {
	v, ok := m[k]
	if !ok || math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf(format, v)
}

func pct(m map[string]float64, k string) string {
	v, ok := m[k]
	if !ok || math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.1f %%", 100*v)
}

func dur(m map[string]float64, k string) string {
	v, ok := m[k]
	if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return (time.Duration(v * float64(time.Second))).Round(time.Millisecond).String()
}

// printPairs prints the caller → service edges the pair agent counted in
// Traefik's access log (the dashboard's service map on pairs).
func printPairs(b *strings.Builder, ans map[string][]meshstack.Sample) {
	b.WriteString("\ncaller → service edges (from Traefik's access log through the pair agent; unknown: a caller not in its table)\n")
	key := func(s meshstack.Sample) string {
		l := s.Labels
		return l["source_namespace"] + "/" + l["source_workload"] + " ──▶ " + l["destination_namespace"] + "/" + l["destination_service"]
	}
	errs, p99 := map[string]float64{}, map[string]float64{}
	for _, s := range ans["pair5xx"] {
		errs[key(s)] = s.Value
	}
	for _, s := range ans["pairP99"] {
		p99[key(s)] = s.Value
	}
	var lines []string
	for _, s := range ans["pairs"] {
		k := key(s)
		lines = append(lines, fmt.Sprintf("  %-58s %6.1f req/s  5xx %s  p99 %s", k, s.Value, pct(errs, k), dur(p99, k)))
	}
	sort.Strings(lines)
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	if len(lines) == 0 {
		b.WriteString("  (no pairs yet: the agent sends a point per interval)\n")
	}
}
