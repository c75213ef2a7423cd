package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/forma3d/meshmetrics/pkg/engine"
	"github.com/forma3d/meshmetrics/tests/clickhouse/chtest"
	"github.com/forma3d/meshmetrics/tests/otelfixture"
)

// A histogram part's series list comes from a kept list of its buckets
// (every bucket, wholeList) or of its other part, without a lookup, and
// every answer equals the nested statement's; a list of other matchers
// gives none, nor does a bucket list whose label sets name le twice (a
// point attribute le).
func TestPartLists(t *testing.T) {
	_, conn := otelfixture.Start(t)
	chtest.InstallSeriesTables(t, conn, "otel", false)
	insert := func(metric string, attrs map[string]string, scale uint64) {
		var hs []otelfixture.HistogramPoint
		for s := 0; s <= 900; s += 15 {
			n := uint64(s/15) * scale
			hs = append(hs, otelfixture.HistogramPoint{At: t0.Add(time.Duration(s) * time.Second), Bounds: []float64{0.1, 1}, Counts: []uint64{n, 2 * n, n}, Sum: float64(n) / 3})
		}
		otelfixture.InsertHistogram(t, conn, metric, attrs, hs)
	}
	for i, svc := range []string{"api", "web", "db"} {
		insert("duration_seconds", map[string]string{"service": svc}, uint64(i+1))
		insert("odd_seconds", map[string]string{"service": svc, "le": "0"}, uint64(i+1))
	}
	ctx := context.Background()
	rec := &pointsConn{Conn: conn}
	buckets := engine.New(rec, engine.Config{Strategy: engine.StrategyNative})
	counts := engine.New(rec, engine.Config{Strategy: engine.StrategyNative})
	odd := engine.New(rec, engine.Config{Strategy: engine.StrategyNative})
	nested := engine.New(conn, engine.Config{Strategy: engine.StrategyNative, IgnoreSeriesTables: true})
	start, end, step := t0.Add(5*time.Minute), t0.Add(15*time.Minute), 30*time.Second
	const fromCache = "the series lookup from the cache"
	cases := []struct {
		what, expr string
		eng        *engine.Engine
		lookups    int
		series     int
	}{
		{"the buckets listed whole", `histogram_quantile(0.9, sum by (service, le) (rate(duration_seconds_bucket{service!="x"}[5m])))`, buckets, 1, 3},
		{"_sum from the buckets' list", `sum by (service) (rate(duration_seconds_sum{service!="x"}[5m]))`, buckets, 0, 3},
		{"_count from it, one more matcher", `sum by (service) (rate(duration_seconds_count{service!="x", service!="web"}[5m]))`, buckets, 0, 2},
		// Every label of the derived list as the part's own lookup gives it.
		{"_sum's whole label sets", `sum by (__name__, le, job, instance, service) (last_over_time(duration_seconds_sum{service!="x"}[5m]))`, buckets, 0, 3},
		{"another matcher, from the whole list", `sum by (service) (rate(duration_seconds_sum{service=~"api|web"}[5m]))`, buckets, 0, 2},
		{"_count listed", `sum(rate(duration_seconds_count{service=~"api|db"}[5m]))`, counts, 1, 1},
		{"_sum from the _count list", `sum by (service) (rate(duration_seconds_sum{service=~"api|db"}[5m])) / sum by (service) (rate(duration_seconds_count{service=~"api|db"}[5m]))`, counts, 0, 2},
		{"not from a list of other matchers", `sum by (service) (rate(duration_seconds_sum{service=~"api|web"}[5m]))`, counts, 1, 2},
		{"buckets not from a part's list", `sum by (le) (rate(duration_seconds_bucket[5m]))`, counts, 1, 3},
		{"a point attribute le: the buckets listed", `sum by (service, le) (rate(odd_seconds_bucket[5m]))`, odd, 1, 9},
		{"which le is the bound is not known: _sum listed", `sum by (service, le) (rate(odd_seconds_sum[5m]))`, odd, 1, 3},
		// The statements match le against the bound alone, which sorts
		// after the attribute "0" in the label sets: not filtered from the
		// whole list, whose sets name le twice.
		{"an le matcher beside a point attribute le", `sum by (service) (rate(odd_seconds_bucket{le="1.0"}[5m]))`, odd, 1, 3},
	}
	for _, c := range cases {
		rec.take()
		got, err := c.eng.RangeQuery(ctx, c.expr, start, end, step)
		if err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		_, lookups := rec.take()
		want, err := nested.RangeQuery(ctx, c.expr, start, end, step)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := answerText(got), answerText(want); g != w {
			t.Errorf("%s: flat sum\n%s\nwant\n%s", c.what, g, w)
		}
		if len(got.Series) != c.series {
			t.Errorf("%s: %d series, want %d", c.what, len(got.Series), c.series)
		}
		if lookups != c.lookups {
			t.Errorf("%s: %d lookups, want %d", c.what, lookups, c.lookups)
		}
		if c.lookups == 0 && !strings.Contains(got.SQL, fromCache) {
			t.Errorf("%s: the lookup not from the cache:\n%.300s", c.what, got.SQL)
		}
	}
}
