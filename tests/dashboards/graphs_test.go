package dashboards

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// heatmapFromBuckets turns Prometheus' cumulative bucket series (one per
// le, no other labels) into each bucket's own count per time, keyed by le:
// what a heatmap of a classic histogram shows.
func heatmapFromBuckets(t *testing.T, cum answer) answer {
	t.Helper()
	type bucket struct {
		le   float64
		name string
		pts  []sample
	}
	var bs []bucket
	for k, pts := range cum {
		name := k[len(`{le="`) : len(k)-len(`"}`)]
		le, err := strconv.ParseFloat(name, 64)
		if err != nil {
			t.Fatalf("heatmap series %s: le is not a number", k)
		}
		bs = append(bs, bucket{le, name, pts})
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	out := answer{}
	for i, b := range bs {
		var pts []sample
		for _, p := range b.pts {
			v := p.v
			if i > 0 {
				for _, q := range bs[i-1].pts {
					if q.t == p.t {
						v -= q.v
					}
				}
			}
			pts = append(pts, sample{p.t, v})
		}
		out[labelKey(map[string]string{"le": b.name})] = pts
	}
	return out
}

// heatmapAnswer reads a heatmap-rows frame: a time field and one field
// per bucket named by its upper bound; missing cells (NaN) are left out.
func heatmapAnswer(t *testing.T, frames data.Frames) answer {
	t.Helper()
	if len(frames) != 1 || frames[0].Meta == nil || frames[0].Meta.Type != "heatmap-rows" {
		t.Fatalf("want one heatmap-rows frame, got %d frames", len(frames))
	}
	f := frames[0]
	out := answer{}
	for _, fl := range f.Fields[1:] {
		var pts []sample
		for i := 0; i < f.Rows(); i++ {
			v := fl.At(i).(float64)
			if math.IsNaN(v) {
				continue
			}
			pts = append(pts, sample{f.Fields[0].At(i).(time.Time).UnixMilli(), v})
		}
		out[labelKey(map[string]string{"le": fl.Name})] = pts
	}
	return out
}

// checkGraph compares the node graph with the three instant queries
// evaluated by Prometheus at the end of the range: an edge per (proxy,
// service) with its request rate, 5xx ratio and p99; a node per proxy
// and per service.
func (e *meshEnv) checkGraph(t *testing.T, resp backend.DataResponse, q map[string]string, tr backend.TimeRange, step, rng time.Duration) {
	t.Helper()
	// A node is named by its labels' values joined with "/" (the pair
	// view's namespace/workload); one label: its value.
	node := func(ls map[string]string, labels string) string {
		var parts []string
		for _, l := range strings.Split(labels, ",") {
			parts = append(parts, ls[strings.TrimSpace(l)])
		}
		return strings.Join(parts, "/")
	}
	byEdge := func(expr string) map[[2]string]float64 {
		out := map[[2]string]float64{}
		if expr == "" {
			return out
		}
		for k, pts := range e.o.instant(t, expandForOracle(expr, step, rng, scrape), tr.To) {
			ls := parseKey(t, k)
			out[[2]string{node(ls, q["sourceLabel"]), node(ls, q["targetLabel"])}] = pts[0].v
		}
		return out
	}
	rates, errs, lat := byEdge(q["expr"]), byEdge(q["errorExpr"]), byEdge(q["latencyExpr"])
	if len(rates) == 0 || len(resp.Frames) != 2 {
		t.Fatalf("service graph: %d edges expected, %d frames", len(rates), len(resp.Frames))
	}
	nodes, edges := resp.Frames[0], resp.Frames[1]
	if nodes.Name != "nodes" || edges.Name != "edges" {
		t.Fatalf("frames %q, %q; want nodes and edges", nodes.Name, edges.Name)
	}
	if edges.Rows() != len(rates) {
		t.Fatalf("%d edges, prometheus has %d", edges.Rows(), len(rates))
	}
	col := func(f *data.Frame, name string) *data.Field {
		fl, idx := f.FieldByName(name)
		if idx < 0 {
			t.Fatalf("frame %s has no field %s", f.Name, name)
		}
		return fl
	}
	ids := map[string]float64{}
	for i := 0; i < edges.Rows(); i++ {
		k := [2]string{col(edges, "source").At(i).(string), col(edges, "target").At(i).(string)}
		rate, ok := rates[k]
		if !ok {
			t.Errorf("edge %v not in prometheus' answer", k)
			continue
		}
		ratio := 0.0
		if rate > 0 {
			ratio = errs[k] / rate
		}
		wantP99, hasP99 := lat[k]
		if !hasP99 {
			wantP99 = math.NaN()
		}
		if got := col(edges, "mainstat").At(i).(float64); !near(got, rate) {
			t.Errorf("edge %v: %v req/s, prometheus %v", k, got, rate)
		}
		if got := col(edges, "secondarystat").At(i).(float64); !near(got, ratio) {
			t.Errorf("edge %v: 5xx ratio %v, prometheus %v", k, got, ratio)
		}
		if got := col(edges, "detail__p99").At(i).(float64); !near(got, wantP99) {
			t.Errorf("edge %v: p99 %v, prometheus %v", k, got, wantP99)
		}
		ids[k[0]] += rate
		ids[k[1]] += rate
	}
	if nodes.Rows() != len(ids) {
		t.Errorf("%d nodes, want %d (each proxy and service once)", nodes.Rows(), len(ids))
	}
	for i := 0; i < nodes.Rows(); i++ {
		id := col(nodes, "id").At(i).(string)
		if got, want := col(nodes, "mainstat").At(i).(float64), ids[id]; !near(got, want) {
			t.Errorf("node %s: %v req/s, want %v", id, got, want)
		}
	}
}

// parseKey reads labelKey's rendering back.
func parseKey(t *testing.T, k string) map[string]string {
	t.Helper()
	out := map[string]string{}
	rest := k[1 : len(k)-1]
	for rest != "" {
		eq := 0
		for eq < len(rest) && rest[eq] != '=' {
			eq++
		}
		name := rest[:eq]
		val, err := strconv.QuotedPrefix(rest[eq+1:])
		if err != nil {
			t.Fatalf("label key %s: %v", k, err)
		}
		out[name], _ = strconv.Unquote(val)
		rest = rest[eq+1+len(val):]
		if len(rest) >= 2 && rest[:2] == ", " {
			rest = rest[2:]
		}
	}
	return out
}
