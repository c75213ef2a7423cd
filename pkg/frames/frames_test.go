package frames

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/forma3d/meshmetrics/pkg/engine"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func series(v float64, labels ...string) engine.Series {
	s := engine.Series{Points: []engine.Point{{T: t0, V: v}, {T: t0.Add(time.Minute), V: v + 1}}}
	for i := 0; i+1 < len(labels); i += 2 {
		s.Labels = append(s.Labels, engine.Label{Name: labels[i], Value: labels[i+1]})
	}
	return s
}

// TestGoldenFrames pins the frames Grafana receives, field by field, so a
// change in shape (types, labels, meta) shows in review.
// Regenerate with: go test ./pkg/frames -update
func TestGoldenFrames(t *testing.T) {
	res := &engine.Result{Type: engine.ValueMatrix, SQL: "SELECT 1", Series: []engine.Series{
		series(1, "service", "api@http", "code", "200"),
		series(2, "service", "web@http", "code", "500"),
	}}
	buckets := &engine.Result{Type: engine.ValueMatrix, Series: []engine.Series{
		series(10, "le", "+Inf"), series(4, "le", "0.1"), series(7, "le", "0.3"),
	}}
	graph := Graph{SourceLabels: []string{"pod"}, TargetLabels: []string{"service"}, SourceKind: "proxy",
		Requests: &engine.Result{Series: []engine.Series{series(10, "pod", "p1", "service", "api"), series(5, "pod", "p2", "service", "api")}},
		Errors:   &engine.Result{Series: []engine.Series{series(1, "pod", "p1", "service", "api")}},
	}
	// Caller → service edges: nodes named namespace/name, web both calls
	// and is called, one edge without latency, a fallback-style notice.
	pairLabels := func(v float64, srcNS, srcWL, dstNS, dstSvc string) engine.Series {
		return series(v, "source_namespace", srcNS, "source_workload", srcWL, "destination_namespace", dstNS, "destination_service", dstSvc)
	}
	pairs := Graph{SourceLabels: []string{"source_namespace", "source_workload"}, TargetLabels: []string{"destination_namespace", "destination_service"},
		SourceKind: "calling workload", Notice: "a notice",
		Requests: &engine.Result{Series: []engine.Series{pairLabels(4, "forma3d", "web", "forma3d", "api"), pairLabels(2, "unknown", "unknown", "forma3d", "web")}},
		Errors:   &engine.Result{Series: []engine.Series{pairLabels(1, "forma3d", "web", "forma3d", "api")}},
		Latency:  &engine.Result{Series: []engine.Series{pairLabels(0.25, "forma3d", "web", "forma3d", "api")}},
	}
	pairGraph, err := ServiceGraph(pairs, "P")
	if err != nil {
		t.Fatal(err)
	}
	heat, err := Heatmap(buckets, "H")
	if err != nil {
		t.Fatal(err)
	}
	sg, err := ServiceGraph(graph, "G")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]data.Frames{
		"timeseries": TimeSeries(res, "{{service}} {{ code }}", "A"),
		"numeric":    Numeric(res, "", "B"),
		"table":      Table(res, "C", TableValueField("C", 1)),
		"tables":     append(Table(res, "C", TableValueField("C", 2)), Table(res, "E", TableValueField("E", 2))...),
		"empty":      TimeSeries(&engine.Result{}, "", "D"),
		"heatmap":    heat,
		"graph":      sg,
		"pairgraph":  pairGraph,
	}
	for name, frames := range cases {
		got, err := json.MarshalIndent(frames, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", name+".golden.json")
		if *update {
			if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (go test ./pkg/frames -update creates it)", err)
		}
		if string(want) != string(got)+"\n" {
			t.Errorf("%s frames changed; review and regenerate with -update:\n%s", name, got)
		}
	}
}

func TestHeatmapBucketsAreCountsAlone(t *testing.T) {
	buckets := &engine.Result{Series: []engine.Series{series(10, "le", "+Inf"), series(4, "le", "0.1"), series(7, "le", "0.3")}}
	fr, err := Heatmap(buckets, "H")
	if err != nil {
		t.Fatal(err)
	}
	f := fr[0]
	for i, want := range []float64{4, 3, 3} {
		if v := f.Fields[i+1].At(0).(float64); v != want {
			t.Errorf("bucket %s: %v, want %v", f.Fields[i+1].Name, v, want)
		}
	}
	if _, err := Heatmap(&engine.Result{Series: []engine.Series{series(1, "code", "200")}}, "H"); err == nil {
		t.Error("a series without le became a heatmap")
	}
}

func TestServiceGraphRejectsAmbiguousEdges(t *testing.T) {
	pod, svc := []string{"pod"}, []string{"service"}
	pairSrc, pairDst := []string{"source_namespace", "source_workload"}, []string{"destination_namespace", "destination_service"}
	for _, tc := range []struct {
		name     string
		src, dst []string
		series   []engine.Series
	}{
		{"two series for one edge", pod, svc, []engine.Series{series(1, "pod", "p1", "service", "api", "code", "200"), series(1, "pod", "p1", "service", "api", "code", "500")}},
		{"no source label", pod, svc, []engine.Series{series(1, "service", "api")}},
		{"part of a composite source missing", pairSrc, pairDst, []engine.Series{series(1, "source_workload", "web", "destination_namespace", "forma3d", "destination_service", "api")}},
		{"part of a composite target empty", pairSrc, pairDst, []engine.Series{series(1, "source_namespace", "forma3d", "source_workload", "web", "destination_namespace", "forma3d", "destination_service", "")}},
	} {
		g := Graph{SourceLabels: tc.src, TargetLabels: tc.dst, Requests: &engine.Result{Series: tc.series}}
		if _, err := ServiceGraph(g, "G"); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

func TestTableValueFieldNamesFollowPrometheus(t *testing.T) {
	res := &engine.Result{Series: []engine.Series{series(1, "service", "api@http")}}
	for _, tc := range []struct {
		refID   string
		queries int
		want    string
	}{
		{"A", 1, "Value"},
		{"A", 2, "Value #A"},
		{"B", 3, "Value #B"},
	} {
		f := Table(res, tc.refID, TableValueField(tc.refID, tc.queries))[0]
		if got := f.Fields[len(f.Fields)-1].Name; got != tc.want {
			t.Errorf("refId %s of %d table queries: value field %q, want %q", tc.refID, tc.queries, got, tc.want)
		}
	}
}
