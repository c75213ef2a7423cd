package engine_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/forma3d/meshmetrics/pkg/engine"
	"github.com/forma3d/meshmetrics/tests/clickhouse/chtest"
	"github.com/forma3d/meshmetrics/tests/otelfixture"
)

// TestMetadataAnswers: with the series tables, label values over ranges
// within the same UTC days share one statement's answer for five minutes;
// a series stored after it shows once they have passed, and at once over
// a range touching another day. Without the series tables every call
// runs its statement.
func TestMetadataAnswers(t *testing.T) {
	for _, seriesTables := range []bool{true, false} {
		t.Run(map[bool]string{true: "series tables", false: "exporter tables"}[seriesTables], func(t *testing.T) {
			_, conn := otelfixture.Start(t)
			if seriesTables {
				chtest.InstallSeriesTables(t, conn, "otel", false)
			}
			insert := func(service string) {
				var pts []otelfixture.Point
				for s := 0; s <= 900; s += 15 {
					pts = append(pts, otelfixture.Point{At: t0.Add(time.Duration(s) * time.Second), Value: float64(s)})
				}
				otelfixture.Insert(t, conn, "otel_metrics_sum", "requests_total", map[string]string{"service": service}, pts)
			}
			insert("api")
			now := t0.Add(15 * time.Minute)
			rec := &countingConn{Conn: conn, marker: "AS value", orMarker: "AS label_pairs"}
			eng := engine.New(rec, engine.Config{Strategy: engine.StrategyPortable,
				Cache: engine.CacheConfig{TTL: time.Minute, Freshness: time.Minute, MaxPoints: 1000, Now: func() time.Time { return now }}})
			values := func(what string, from, to time.Time, wantStatements int, want ...string) {
				t.Helper()
				got, err := eng.LabelValues(context.Background(), "service", "requests_total", from, to)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if n := rec.take(); n != wantStatements {
					t.Errorf("%s: %d statements, want %d", what, n, wantStatements)
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s: %q, want %q", what, got, want)
				}
			}
			from, to := t0, t0.Add(15*time.Minute)
			kept := 0
			if !seriesTables {
				kept = 1
			}
			values("first call", from, to, 1, "api")
			values("the same range", from, to, kept, "api")
			insert("web")
			values("the refresh's range, stored since", from.Add(time.Minute), to.Add(time.Minute), kept, map[bool][]string{true: {"api"}, false: {"api", "web"}}[seriesTables]...)
			values("a range touching the day before", from.Add(-13*time.Hour), to, 1, "api", "web")
			now = now.Add(5 * time.Minute)
			values("five minutes later", from, to, 1, "api", "web")
		})
	}
}

// TestLabelSets: with the series tables, a dashboard's variables over one
// metric (values of one label, then of another among the series of the
// first's choice, then label names) share one listing of the metric's
// label sets, each filtered by its own matchers (equality, regex, their
// negations, a label absent or present, a histogram's le), and answer as
// the statements over the exporter's tables do.
func TestLabelSets(t *testing.T) {
	_, conn := otelfixture.Start(t)
	chtest.InstallSeriesTables(t, conn, "otel", false)
	for _, s := range []map[string]string{
		{"service": "api", "code": "200"},
		{"service": "web", "code": "200"},
		{"service": "web", "code": "500", "method": "POST"},
	} {
		var pts []otelfixture.Point
		for sec := 0; sec <= 900; sec += 15 {
			pts = append(pts, otelfixture.Point{At: t0.Add(time.Duration(sec) * time.Second), Value: float64(sec)})
		}
		otelfixture.Insert(t, conn, "otel_metrics_sum", "requests_total", s, pts)
	}
	var hist []otelfixture.HistogramPoint
	for sec := 0; sec <= 900; sec += 15 {
		hist = append(hist, otelfixture.HistogramPoint{At: t0.Add(time.Duration(sec) * time.Second),
			Bounds: []float64{0.1, 5}, Counts: []uint64{uint64(sec), 1, 0}, Sum: float64(sec)})
	}
	otelfixture.InsertHistogram(t, conn, "lat", map[string]string{"service": "api"}, hist)
	// Every metadata statement of the series-table engine: the label
	// sets listing and the statements it replaces read the label sets so.
	sets := &countingConn{Conn: conn, marker: "SELECT slabels AS labels"}
	onSets := engine.New(sets, engine.Config{Strategy: engine.StrategyPortable})
	onExporter := engine.New(conn, engine.Config{Strategy: engine.StrategyPortable, IgnoreSeriesTables: true})
	ctx := context.Background()
	from, to := t0, t0.Add(15*time.Minute)
	for _, c := range []struct {
		what, label, selector string
		want                  []string
	}{
		{"the services", "service", `requests_total`, []string{"api", "web"}},
		{"the codes of one service", "code", `requests_total{service="web"}`, []string{"200", "500"}},
		{"the services with 5xx", "service", `requests_total{code=~"5.."}`, []string{"web"}},
		{"a label only some series have", "method", `requests_total`, []string{"POST"}},
		{"the label names of one service", "", `requests_total{service="api"}`, nil},
		{"no series match", "service", `requests_total{code="404"}`, []string{}},
		{"a negative matcher", "code", `requests_total{service!="api"}`, []string{"200", "500"}},
		{"a negative regex", "service", `requests_total{code!~"5.."}`, []string{"api", "web"}},
		{"a label absent", "service", `requests_total{method=""}`, []string{"api", "web"}},
		{"a label present", "service", `requests_total{method!=""}`, []string{"web"}},
		{"a histogram's bucket bounds", "le", `lat_bucket`, []string{"+Inf", "0.1", "5.0"}},
		{"the buckets up to a bound", "le", `lat_bucket{le=~"0.1|5.0"}`, []string{"0.1", "5.0"}},
	} {
		call := func(e *engine.Engine) ([]string, error) {
			if c.label == "" {
				return e.LabelNames(ctx, c.selector, from, to)
			}
			return e.LabelValues(ctx, c.label, c.selector, from, to)
		}
		got, err := call(onSets)
		if err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		want, err := call(onExporter)
		if err != nil {
			t.Fatalf("%s, the exporter's tables: %v", c.what, err)
		}
		if !slices.Equal(got, want) || (c.want != nil && !slices.Equal(got, c.want)) {
			t.Errorf("%s: %q; the exporter's tables %q, want %q", c.what, got, want, c.want)
		}
	}
	if n := sets.take(); n != 2 {
		t.Errorf("%d metadata statements, want 2: the label sets of each metric, listed once", n)
	}
	// A selector of two metrics keeps to its own statement, whose answer
	// is kept.
	otelfixture.Insert(t, conn, "otel_metrics_sum", "errors_total", map[string]string{"service": "db"},
		[]otelfixture.Point{{At: t0.Add(time.Minute), Value: 1}})
	for i, wantStatements := range []int{1, 0} {
		got, err := onSets.LabelValues(ctx, "service", `{__name__=~"requests_total|errors_total"}`, from, to)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"api", "db", "web"}; !slices.Equal(got, want) {
			t.Errorf("two metrics, call %d: %q, want %q", i+1, got, want)
		}
		if n := sets.take(); n != wantStatements {
			t.Errorf("two metrics, call %d: %d statements, want %d", i+1, n, wantStatements)
		}
	}
}
