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

// TestWindowSummaries: instant sums of increase and rate over long ranges
// answered from kept window summaries equal the uncached engine's (the
// values statement) cold, a minute on (the range's first block's points
// kept), with the range moved into another block, unaligned, with an
// offset, and in slices of the series; over counter resets (one at a
// block's first point), a gap and a series that starts late. A series
// stored after the kept lookup is found. A late point in the immutable
// past is not seen until the store is CacheConfig.TTL old (the
// documented bound), then is; blocks and points newer than Freshness are
// read at every call.
func TestWindowSummaries(t *testing.T) {
	_, conn := otelfixture.Start(t)
	chtest.InstallSeriesTables(t, conn, "otel", false)
	chtest.InstallRecentTables(t, conn, "otel", false)
	const hours = 4
	insert := func(svc, code string, value func(s int) (float64, bool)) {
		var pts []otelfixture.Point
		for s := 0; s <= hours*3600; s += 15 {
			if v, ok := value(s); ok {
				pts = append(pts, otelfixture.Point{At: t0.Add(time.Duration(s) * time.Second), Value: v})
			}
		}
		otelfixture.Insert(t, conn, "otel_metrics_sum", "requests_total", map[string]string{"service": svc, "code": code}, pts)
	}
	insert("api", "200", func(s int) (float64, bool) { return float64(s) * 2, true })
	insert("api", "500", func(s int) (float64, bool) { return float64(s/60) + 0.5, true })
	insert("web", "200", func(s int) (float64, bool) {
		switch {
		case s >= 3*3600: // a reset at a block's first point
			return float64(s-3*3600) / 3, true
		case s >= 2*3600+450: // a reset inside a block
			return float64(s-2*3600-450) * 7, true
		}
		return float64(s) * 5, true
	})
	// A gap of half an hour, and a series that starts late.
	insert("db", "200", func(s int) (float64, bool) { return float64(s), s < 2*3600 || s > 2*3600+1800 })
	insert("db", "500", func(s int) (float64, bool) { return float64(s - 3*3600), s >= 3*3600+20 })

	now := t0.Add(hours * time.Hour)
	_, cached, plain := cachedAndPlain(conn, &now)
	ctx := context.Background()
	check := func(what, expr string, at time.Time, kept bool) string {
		t.Helper()
		got, err := cached.InstantQuery(ctx, expr, at)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		want, err := plain.InstantQuery(ctx, expr, at)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := renderValues(got, "%.10g"), renderValues(want, "%.10g"); g != w || len(want.Series) == 0 {
			t.Errorf("%s: %s at %s differs from the uncached engine's (or is empty):\n got %s\nwant %s", what, expr, at.Format(time.TimeOnly), g, w)
		}
		if !strings.Contains(got.SQL, "summarized per block") {
			t.Errorf("%s: not answered from window summaries:\n%.300s", what, got.SQL)
		}
		if k := strings.Contains(got.SQL, "from the kept window summaries"); k != kept {
			t.Errorf("%s: used kept summaries: %v, want %v", what, k, kept)
		}
		return renderValues(got, "%.10g")
	}
	byService := `sum by (service) (increase(requests_total[2h]))`
	rate := `sum(rate(requests_total{code!="500"}[1h]))`
	at := now.Add(-2 * time.Minute)
	check("cold", byService, at, false)
	check("a minute on", byService, at.Add(time.Minute), true)
	check("a start before the kept points' start", byService, at.Add(-30*time.Second), true)
	check("unaligned", byService, at.Add(7*time.Minute+37*time.Second), true)
	check("into the next block", byService, at.Add(11*time.Minute), true)
	check("rate, cold", rate, at, false)
	check("rate, a minute on", rate, at.Add(time.Minute), true)
	check("an offset, the same selector", `sum by (code) (increase(requests_total[90m] offset 20m))`, at, true)
	check("another selector", `sum by (code) (increase(requests_total{service!="web"}[90m] offset 20m))`, at, false)

	// Over many series a call runs in slices of them, each statement
	// reading a slice's points.
	cache := engine.DefaultCache
	cache.Now = func() time.Time { return now }
	sliced := engine.New(conn, engine.Config{Strategy: engine.StrategyNative, Cache: cache, SliceSeriesSeconds: 1000})
	got, err := sliced.InstantQuery(ctx, byService, at)
	if err != nil {
		t.Fatal(err)
	}
	want, err := plain.InstantQuery(ctx, byService, at)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := renderValues(got, "%.10g"), renderValues(want, "%.10g"); g != w || !strings.Contains(got.SQL, "each over a slice of the series") {
		t.Errorf("in slices: differs from the uncached engine's, or ran in one statement:\n got %s\nwant %s\n%.200s", g, w, got.SQL)
	}

	insert("cache", "200", func(s int) (float64, bool) { return float64(s) * 3, true })
	check("a series stored after the lookup", byService, at.Add(time.Minute), true)

	// A late point in a block kept as immutable: a reset of api's 200s.
	otelfixture.Insert(t, conn, "otel_metrics_sum", "requests_total", map[string]string{"service": "api", "code": "200"},
		[]otelfixture.Point{{At: t0.Add(3*time.Hour + 7*time.Second), Value: 1}})
	got, err = cached.InstantQuery(ctx, byService, at.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want, err = plain.InstantQuery(ctx, byService, at.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if renderValues(got, "%.10g") == renderValues(want, "%.10g") {
		t.Errorf("a late point was seen within the bound: the kept summaries were not used")
	}
	now = now.Add(engine.DefaultCache.TTL)
	check("the late point, the store TTL old", byService, at.Add(time.Minute), false)

	// Blocks and points newer than Freshness are read at every call: a
	// point stored since shows at once.
	api500 := func(pts ...otelfixture.Point) {
		otelfixture.Insert(t, conn, "otel_metrics_sum", "requests_total", map[string]string{"service": "api", "code": "500"}, pts)
	}
	end := t0.Add(hours * time.Hour)
	api500(otelfixture.Point{At: end.Add(3 * time.Minute), Value: 300}, otelfixture.Point{At: end.Add(4 * time.Minute), Value: 301})
	now = end.Add(15 * time.Minute)
	at = now.Add(-2 * time.Minute)
	ahead := `sum(increase(requests_total{service="api"}[1h] offset -1h))`
	check("a full block newer than Freshness", byService, at, true)
	check("a range starting newer than Freshness", ahead, end.Add(time.Minute), false)
	api500(otelfixture.Point{At: end.Add(2 * time.Minute), Value: 299})
	check("a point stored since in that block", byService, at.Add(30*time.Second), true)
	check("a point stored since where that range starts", ahead, end.Add(time.Minute+30*time.Second), false)
}
