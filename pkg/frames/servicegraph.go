package frames

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/forma3d/meshmetrics/pkg/engine"
)

// Graph is the input of a service graph: per-edge answers of instant
// queries, keyed by two sets of labels of their series.
type Graph struct {
	// SourceLabels and TargetLabels name a node: its labels' values joined
	// with "/" (one label: its value), e.g. source_namespace and
	// source_workload → forma3d/web.
	SourceLabels, TargetLabels []string
	// Requests is the request rate per edge (required); Errors the error
	// rate and Latency a latency quantile in seconds (optional, nil when
	// not asked for).
	Requests, Errors, Latency *engine.Result
	// SourceKind says what a source node is, shown on every node: Traefik
	// Mesh metrics carry no source service, so by default a source is the
	// proxy that forwarded the request.
	SourceKind string
	// Notice, when set, is shown on the panel (frame meta notices), e.g.
	// that this is a fallback view and why.
	Notice string
}

type edgeKey struct{ src, dst string }

// ServiceGraph builds Grafana's node graph frames: nodes (id, title,
// subtitle, mainstat, secondarystat, arc__success, arc__errors, detail__…)
// and edges (id, source, target, mainstat, secondarystat).
func ServiceGraph(g Graph, refID string) (data.Frames, error) {
	requests, err := byEdge(g.Requests, g)
	if err != nil {
		return nil, err
	}
	errs, err := byEdge(g.Errors, g)
	if err != nil {
		return nil, err
	}
	latency, err := byEdge(g.Latency, g)
	if err != nil {
		return nil, err
	}
	edges := make([]edgeKey, 0, len(requests))
	for k := range requests {
		edges = append(edges, k)
	}
	sort.Slice(edges, func(i, j int) bool {
		return edges[i].src+"\x00"+edges[i].dst < edges[j].src+"\x00"+edges[j].dst
	})

	type node struct {
		kinds           []string
		in, out, errors float64
		p               float64 // worst latency of the edges into it
	}
	nodes := map[string]*node{}
	// A node can be both a source and a target (a caller that is also
	// called, in the pair view): its subtitle names both roles.
	get := func(id, kind string) *node {
		n, ok := nodes[id]
		if !ok {
			n = &node{p: math.NaN()}
			nodes[id] = n
		}
		if !contains(n.kinds, kind) {
			n.kinds = append(n.kinds, kind)
		}
		return n
	}
	targetKind := "service (" + strings.Join(g.TargetLabels, "/") + ")"
	e := struct {
		id, src, dst      []string
		rate, errRatio, p []float64
	}{}
	for _, k := range edges {
		rate := requests[k]
		src, dst := get(k.src, g.SourceKind), get(k.dst, targetKind)
		src.out += rate
		dst.in += rate
		ratio := math.NaN()
		if errs != nil {
			ratio = 0
			if rate > 0 {
				ratio = errs[k] / rate
			}
			dst.errors += errs[k]
		}
		lat := math.NaN()
		if latency != nil {
			if v, ok := latency[k]; ok {
				lat = v
				if math.IsNaN(dst.p) || v > dst.p {
					dst.p = v
				}
			}
		}
		e.id = append(e.id, k.src+" → "+k.dst)
		e.src, e.dst = append(e.src, k.src), append(e.dst, k.dst)
		e.rate, e.errRatio, e.p = append(e.rate, rate), append(e.errRatio, ratio), append(e.p, lat)
	}

	ids := make([]string, 0, len(nodes))
	for id := range nodes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var (
		titles, subtitles, details []string
		main, second, ok, bad      []float64
	)
	for _, id := range ids {
		n := nodes[id]
		titles, subtitles, details = append(titles, id), append(subtitles, strings.Join(n.kinds, "; ")), append(details, g.SourceKind)
		main = append(main, n.in+n.out)
		second = append(second, n.p)
		errRatio := 0.0
		if n.in > 0 && errs != nil {
			errRatio = math.Min(1, n.errors/n.in)
		}
		ok, bad = append(ok, 1-errRatio), append(bad, errRatio)
	}
	nodesFrame := data.NewFrame("nodes",
		data.NewField("id", nil, ids),
		data.NewField("title", nil, titles),
		data.NewField("subtitle", nil, subtitles),
		withName(data.NewField("mainstat", nil, main), "Requests/s"),
		withName(data.NewField("secondarystat", nil, second), "p99 latency (s)"),
		withColor(data.NewField("arc__success", nil, ok), "green", "Success"),
		withColor(data.NewField("arc__errors", nil, bad), "red", "Errors"),
		withName(data.NewField("detail__source", nil, details), "Source of requests"),
	)
	edgesFrame := data.NewFrame("edges",
		data.NewField("id", nil, e.id),
		data.NewField("source", nil, e.src),
		data.NewField("target", nil, e.dst),
		withName(data.NewField("mainstat", nil, e.rate), "Requests/s"),
		withName(data.NewField("secondarystat", nil, e.errRatio), "Error ratio"),
		withName(data.NewField("detail__p99", nil, e.p), "p99 latency (s)"),
	)
	for _, f := range []*data.Frame{nodesFrame, edgesFrame} {
		f.RefID = refID
		f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeNodeGraph, ExecutedQueryString: g.Requests.SQL}
	}
	// On the nodes frame only: Grafana shows every frame's notices, and
	// the panel should say it once.
	if g.Notice != "" {
		nodesFrame.Meta.Notices = []data.Notice{{Severity: data.NoticeSeverityInfo, Text: g.Notice}}
	}
	return data.Frames{nodesFrame, edgesFrame}, nil
}

// byEdge reads one value per (source, target) from an instant answer;
// nil for a query not asked for.
func byEdge(res *engine.Result, g Graph) (map[edgeKey]float64, error) {
	if res == nil {
		return nil, nil
	}
	out := map[edgeKey]float64{}
	all := strings.Join(append(append([]string(nil), g.SourceLabels...), g.TargetLabels...), ", ")
	for _, s := range res.Series {
		src, srcOK := nodeName(s, g.SourceLabels)
		dst, dstOK := nodeName(s, g.TargetLabels)
		if !srcOK || !dstOK {
			return nil, fmt.Errorf("service graph: series %s lacks the source %s or the target %s; aggregate by all of them, e.g. sum by (%s) (…)",
				s.Labels, labelList(g.SourceLabels), labelList(g.TargetLabels), all)
		}
		k := edgeKey{src, dst}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("service graph: two series for the edge %s → %s; aggregate by (%s)", k.src, k.dst, all)
		}
		if len(s.Points) > 0 {
			out[k] = s.Points[0].V
		}
	}
	return out, nil
}

// nodeName joins the values of labels with "/"; false when one is missing
// or empty (a node without a name would be a made-up node).
func nodeName(s engine.Series, labels []string) (string, bool) {
	if len(labels) == 0 {
		return "", false
	}
	parts := make([]string, len(labels))
	for i, l := range labels {
		parts[i] = s.Labels.Get(l)
		if parts[i] == "" {
			return "", false
		}
	}
	return strings.Join(parts, "/"), true
}

// labelList names labels for an error: label "a", or labels "a", "b".
func labelList(labels []string) string {
	q := make([]string, len(labels))
	for i, l := range labels {
		q[i] = fmt.Sprintf("%q", l)
	}
	if len(q) == 1 {
		return "label " + q[0]
	}
	return "labels " + strings.Join(q, ", ")
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func withName(f *data.Field, name string) *data.Field {
	f.Config = &data.FieldConfig{DisplayName: name}
	return f
}

func withColor(f *data.Field, color, name string) *data.Field {
	f.Config = &data.FieldConfig{DisplayName: name, Color: map[string]any{"mode": "fixed", "fixedColor": color}}
	return f
}
