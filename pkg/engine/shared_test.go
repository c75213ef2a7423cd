package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/forma3d/meshmetrics/pkg/engine"
	"github.com/forma3d/meshmetrics/tests/otelfixture"
)

// TestSharedSeriesLeaves: range aggregations over one range function of
// one metric read a shared leaf of every series of the metric when their
// matchers only exclude, or when that leaf is cached and no matcher names
// one value; a selective query on its own keeps its statement; instants never share; a shared leaf over
// the max series limit falls back to the query's own statements. Every
// answer is the uncached engine's.
func TestSharedSeriesLeaves(t *testing.T) {
	_, conn := otelfixture.Start(t)
	for i, svc := range []string{"api", "web", "db", "readiness"} {
		for j, code := range []string{"200", "500"} {
			var pts []otelfixture.Point
			for s := 0; s <= 3600; s += 15 {
				v := float64(s * (i + 1) * (j + 2) / 15)
				if svc == "web" && s > 1800 {
					v -= 1000 // a counter reset
				}
				pts = append(pts, otelfixture.Point{At: t0.Add(time.Duration(s) * time.Second), Value: v})
			}
			otelfixture.Insert(t, conn, "otel_metrics_sum", "requests_total", map[string]string{"service": svc, "code": code}, pts)
		}
	}
	now := t0.Add(time.Hour)
	rec := &recordingConn{Conn: conn}
	cache := engine.DefaultCache
	cache.Now = func() time.Time { return now }
	cached := engine.New(rec, engine.Config{Strategy: engine.StrategyNative, Cache: cache})
	limited := engine.New(conn, engine.Config{Strategy: engine.StrategyNative, Cache: cache, MaxSeries: 3})
	plain := engine.New(conn, engine.Config{Strategy: engine.StrategyNative})
	ctx := context.Background()
	from, to, step := t0.Add(10*time.Minute), t0.Add(time.Hour), 30*time.Second
	cases := []struct {
		what, expr string
		eng        *engine.Engine
		instant    bool
		shared     bool
		statements int // statements that return series (the leaf's)
	}{
		{"selective, nothing cached", `sum by (code) (rate(requests_total{service="api"}[5m]))`, cached, false, false, 1},
		{"excluding only", `sum by (service) (rate(requests_total{service!~"readiness"}[5m]))`, cached, false, true, 1},
		{"one service, the leaf cached", `sum(rate(requests_total{service="web", code="500"}[5m]))`, cached, false, false, 1},
		{"selective, the leaf cached", `sum by (service) (rate(requests_total{code=~"5..", service=~"api|web"}[5m]))`, cached, false, true, 0},
		{"a ratio of two", `sum by (service) (rate(requests_total{code=~"5.."}[5m])) / sum by (service) (rate(requests_total[5m]))`, cached, false, true, 0},
		{"avg without", `avg without (code) (rate(requests_total{service!="db"}[5m]))`, cached, false, true, 0},
		{"min, max, count", `max(rate(requests_total[5m])) - min(rate(requests_total[5m])) + count(rate(requests_total[5m]))`, cached, false, true, 0},
		{"another function", `sum by (service) (increase(requests_total{code!="200"}[5m]))`, cached, false, true, 1},
		{"an instant", `sum by (service) (rate(requests_total{service!~"readiness"}[5m]))`, cached, true, false, 1},
		{"over the series limit", `sum by (code) (rate(requests_total{service!="none"}[5m]))`, limited, false, false, 0},
	}
	for _, c := range cases {
		var got, want *engine.Result
		var err error
		if c.instant {
			got, err = c.eng.InstantQuery(ctx, c.expr, to)
		} else {
			got, err = c.eng.RangeQuery(ctx, c.expr, from, to, step)
		}
		if err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		if c.instant {
			want, err = plain.InstantQuery(ctx, c.expr, to)
		} else {
			want, err = plain.RangeQuery(ctx, c.expr, from, to, step)
		}
		if err != nil {
			t.Fatal(err)
		}
		if g, w := renderValues(got, "%.12g"), renderValues(want, "%.12g"); g != w || len(want.Series) == 0 {
			t.Errorf("%s: answer differs from the uncached engine's (or is empty):\n got %s\nwant %s", c.what, g, w)
		}
		leaf := "-- leaf 1 of 1: sum without () (rate(requests_total[5m]))"
		if strings.Contains(c.expr, "increase(") {
			leaf = "-- leaf 1 of 1: sum without () (increase(requests_total[5m]))"
		}
		if shared := strings.Contains(got.SQL, leaf); shared != c.shared {
			t.Errorf("%s: read a shared leaf: %v, want %v:\n%s", c.what, shared, c.shared, got.SQL)
		}
		if c.eng == cached {
			if n := len(rec.take()); n != c.statements {
				t.Errorf("%s: %d statements, want %d", c.what, n, c.statements)
			}
		}
	}
}

// TestScopedLeaves: a view at one value of a variable (one namespace, or
// one service) reads one leaf over its series: the first query starts it
// with its matchers on labels it does not group by, later ones whose
// matchers include those read it kept; a namespace nothing was kept for
// starts its own. Every answer is the uncached engine's.
func TestScopedLeaves(t *testing.T) {
	_, conn := otelfixture.Start(t)
	for i, svc := range []string{"api", "web", "db"} {
		for j, code := range []string{"200", "500"} {
			for k, ns := range []string{"shop", "shop-dev"} {
				var pts []otelfixture.Point
				for s := 0; s <= 3600; s += 15 {
					v := float64(s * (i + 1) * (j + 2) * (k + 1) / 15)
					if svc == "web" && s > 1800 {
						v -= 1000 // a counter reset
					}
					pts = append(pts, otelfixture.Point{At: t0.Add(time.Duration(s) * time.Second), Value: v})
				}
				otelfixture.Insert(t, conn, "otel_metrics_sum", "requests_total", map[string]string{"service": svc, "code": code, "ns": ns}, pts)
			}
		}
	}
	now := t0.Add(time.Hour)
	rec, cached, plain := cachedAndPlain(conn, &now)
	from, to, step := t0.Add(10*time.Minute), t0.Add(time.Hour), 30*time.Second
	shop := `sum without () (rate(requests_total{ns=~"shop"}[5m]))`
	cases := []struct {
		what, expr string
		leaf       string // the leaf read, "" for none
		statements int    // statements that return series
	}{
		{"the view's first panel", `sum by (service) (rate(requests_total{ns=~"shop", service!~"readiness"}[5m]))`, shop, 1},
		{"by two labels, one filtered", `sum by (service, code) (rate(requests_total{ns=~"shop", code=~"5.."}[5m]))`, shop, 0},
		{"a ratio with a filter not grouped", `sum by (service) (rate(requests_total{ns=~"shop", code=~"5.."}[5m])) / sum by (service) (rate(requests_total{ns=~"shop"}[5m]))`, shop, 0},
		{"another namespace, a filter", `sum by (service) (rate(requests_total{ns=~"shop-dev", code=~"5.."}[5m]))`, `sum without () (rate(requests_total{code=~"5..",ns=~"shop-dev"}[5m]))`, 1},
		{"that namespace, no filter", `sum by (code) (rate(requests_total{ns=~"shop-dev"}[5m]))`, `sum without () (rate(requests_total{ns=~"shop-dev"}[5m]))`, 1},
		{"every matcher grouped", `sum by (ns) (rate(requests_total{ns=~"shop.*"}[5m]))`, "", 1},
		{"without", `sum without (code) (rate(requests_total{ns=~"shop"}[5m]))`, shop, 0},
		// One service: a leaf over it, read by the next panel over it.
		{"one service by code", `sum by (code) (rate(requests_total{service="api"}[5m]))`, `sum without () (rate(requests_total{service="api"}[5m]))`, 1},
		{"that service by namespace", `sum by (ns) (rate(requests_total{service="api", code!="404"}[5m]))`, `sum without () (rate(requests_total{service="api"}[5m]))`, 0},
		{"that service grouped by it", `sum by (service) (rate(requests_total{service="api"}[5m]))`, `sum without () (rate(requests_total{service="api"}[5m]))`, 0},
		{"another service grouped by it", `sum by (service) (rate(requests_total{service="web"}[5m]))`, "", 1},
	}
	for _, c := range cases {
		got, want := rangeBoth(t, c.what, cached, plain, c.expr, from, to, step)
		if g, w := renderValues(got, "%.12g"), renderValues(want, "%.12g"); g != w || len(want.Series) == 0 {
			t.Errorf("%s: answer differs from the uncached engine's (or is empty):\n got %s\nwant %s", c.what, g, w)
		}
		read := ""
		if _, rest, ok := strings.Cut(got.SQL, "-- leaf 1 of "); ok {
			_, read, _ = strings.Cut(rest, ": ")
			read, _, _ = strings.Cut(read, "\n")
		}
		if read != c.leaf {
			t.Errorf("%s: read the leaf %q, want %q:\n%s", c.what, read, c.leaf, got.SQL)
		}
		if n := len(rec.take()); n != c.statements {
			t.Errorf("%s: %d statements, want %d", c.what, n, c.statements)
		}
	}
}

// cachedAndPlain are an engine with the default result cache on a clock
// reading *now, whose statements rec records, and one without a cache.
func cachedAndPlain(conn driver.Conn, now *time.Time) (rec *recordingConn, cached, plain *engine.Engine) {
	rec = &recordingConn{Conn: conn}
	cache := engine.DefaultCache
	cache.Now = func() time.Time { return *now }
	return rec, engine.New(rec, engine.Config{Strategy: engine.StrategyNative, Cache: cache}), engine.New(conn, engine.Config{Strategy: engine.StrategyNative})
}

// rangeBoth runs a range query on both engines; an error fails the test.
func rangeBoth(t *testing.T, what string, cached, plain *engine.Engine, expr string, from, to time.Time, step time.Duration) (got, want *engine.Result) {
	t.Helper()
	got, err := cached.RangeQuery(context.Background(), expr, from, to, step)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if want, err = plain.RangeQuery(context.Background(), expr, from, to, step); err != nil {
		t.Fatal(err)
	}
	return got, want
}
