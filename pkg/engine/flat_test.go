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

// Flat sums (two flat statements, groups computed in Go) answer as the one
// nested statement does on the exporter's tables, for each grouping and
// part of a histogram; a split query's leaves use them too.
func TestFlatSums(t *testing.T) {
	_, conn := otelfixture.Start(t)
	chtest.InstallSeriesTables(t, conn, "otel", false)
	chtest.InstallRecentTables(t, conn, "otel", false)
	for i, svc := range []string{"api", "web", "db"} {
		for j, code := range []string{"200", "500"} {
			var pts []otelfixture.Point
			for s := 0; s <= 900; s += 15 {
				v := float64(s * (i + 1) * (j + 2) / 15)
				if svc == "web" && s > 450 {
					v -= 100 // a counter reset
				}
				pts = append(pts, otelfixture.Point{At: t0.Add(time.Duration(s) * time.Second), Value: v})
			}
			otelfixture.Insert(t, conn, "otel_metrics_sum", "requests_total", map[string]string{"service": svc, "code": code}, pts)
		}
		var hs []otelfixture.HistogramPoint
		for s := 0; s <= 900; s += 15 {
			n := uint64(s / 15)
			hs = append(hs, otelfixture.HistogramPoint{At: t0.Add(time.Duration(s) * time.Second),
				Bounds: []float64{0.1, 1, 5}, Counts: []uint64{n * uint64(i+1), n, 2 * n, n / 2}, Sum: float64(n) * 0.7})
		}
		otelfixture.InsertHistogram(t, conn, "duration_seconds", map[string]string{"service": svc}, hs)
		// A gauge that goes stale for a while (a stale marker at 300 s,
		// none after until 600 s) in one series.
		var gs []otelfixture.Point
		for s := 0; s <= 900; s += 15 {
			p := otelfixture.Point{At: t0.Add(time.Duration(s) * time.Second), Value: float64((s/15)%7 + i)}
			if svc == "db" && s >= 300 && s < 600 {
				if s > 300 {
					continue
				}
				p.Stale = true
			}
			gs = append(gs, p)
		}
		otelfixture.Insert(t, conn, "otel_metrics_gauge", "open_connections", map[string]string{"service": svc}, gs)
	}

	ctx := context.Background()
	// More series than a flat sum takes (flatMaxSeries): 2,400 of them,
	// 41 samples each.
	if err := conn.Exec(ctx, `INSERT INTO otel.otel_metrics_sum (ResourceAttributes, ServiceName, MetricName, Attributes, StartTimeUnix, TimeUnix, Value, Flags, AggregationTemporality, IsMonotonic)
		SELECT map('service.instance.id', 'proxy-a:8080'), 'mesh', 'many_total', map('pod', toString(number % 2400)), toDateTime(0),
			toDateTime(?) + intDiv(number, 2400) * 15, intDiv(number, 2400) * (number % 7), 0, 2, true
		FROM numbers(2400 * 41)`, t0.Unix()); err != nil {
		t.Fatal(err)
	}
	flat := engine.New(conn, engine.Config{Strategy: engine.StrategyNative})
	nested := engine.New(conn, engine.Config{Strategy: engine.StrategyNative, IgnoreSeriesTables: true})
	// Every sum over more than 2 series × 20 minutes in slices of its
	// series, a statement each (at most 32); the 2,400 series in 3.
	sliced := engine.New(conn, engine.Config{Strategy: engine.StrategyNative, SliceSeriesSeconds: 2 * 1200})
	slicedMany := engine.New(conn, engine.Config{Strategy: engine.StrategyNative, SliceSeriesSeconds: 800 * 1200})
	// Its clock just after the data: reads of at most 20 minutes go to the
	// recent tables (the others' clock is today's, too late for them).
	recent := engine.New(conn, engine.Config{Strategy: engine.StrategyNative, Cache: engine.CacheConfig{Now: func() time.Time { return t0.Add(30 * time.Minute) }}})
	start, end, step := t0.Add(5*time.Minute), t0.Add(20*time.Minute), 30*time.Second
	for _, expr := range []string{
		`sum by (service) (rate(requests_total[5m]))`,
		`sum without (code) (increase(requests_total{service=~"api|web"}[2m]))`,
		`sum(irate(requests_total[1m] offset 1m))`,
		`sum by (code, service) (delta(requests_total{code!="200"}[5m]))`,
		`sum by (le) (rate(duration_seconds_bucket[5m]))`,
		`sum by (service) (rate(duration_seconds_count[5m]))`,
		`sum(rate(requests_total{service="none"}[5m]))`,
		// Over an instant selector (stale markers hide a series), and a
		// range function without a ToGrid function (window rows).
		`sum(open_connections)`,
		`sum by (service) (open_connections offset 1m)`,
		`sum without (service) (max_over_time(open_connections[2m]))`,
		`sum by (code) (requests_total)`,
		// by (__name__) keeps the name where the summed series keep it.
		`sum by (__name__, service) ({__name__=~"requests_total|open_connections"})`,
		`sum by (__name__) (last_over_time(open_connections[2m]))`,
		`sum by (__name__) (rate(requests_total[5m]))`,
		// Over flatMaxSeries series: the one nested statement runs, or
		// flat ones in slices when the sum reads too much for one.
		`sum without (pod) (rate(many_total[5m]))`,
		// Split: each side's leaf is a flat sum.
		`histogram_quantile(0.9, sum by (le, service) (rate(duration_seconds_bucket[5m])))`,
		`sum by (service) (rate(duration_seconds_sum[5m])) / sum by (service) (rate(duration_seconds_count[5m]))`,
	} {
		t.Run(expr, func(t *testing.T) {
			sql, err := flat.Explain(ctx, expr, start, end, step)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(sql, "transform(sid") {
				t.Errorf("not planned as a flat sum:\n%s", sql)
			}
			got, err := flat.RangeQuery(ctx, expr, start, end, step)
			if err != nil {
				t.Fatal(err)
			}
			want, err := nested.RangeQuery(ctx, expr, start, end, step)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := answerText(got), answerText(want); g != w {
				t.Errorf("flat sum:\n%s\nwant (one nested statement):\n%s", g, w)
			}
			inSlices := sliced
			if strings.Contains(expr, "many_total") {
				inSlices = slicedMany
			}
			slices, err := inSlices.RangeQuery(ctx, expr, start, end, step)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := answerText(slices), answerText(want); g != w {
				t.Errorf("in slices of its series:\n%s\nwant (one nested statement):\n%s", g, w)
			}
			if len(want.Series) > 0 && !strings.Contains(slices.SQL, "each over a slice of the series") {
				t.Errorf("not run in slices:\n%.300s", slices.SQL)
			}
			fromRecent, err := recent.RangeQuery(ctx, expr, start, end, step)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := answerText(fromRecent), answerText(want); g != w {
				t.Errorf("from the recent tables:\n%s\nwant (one nested statement):\n%s", g, w)
			}
			if len(want.Series) > 0 && !strings.Contains(fromRecent.SQL, "meshmetrics_recent_") {
				t.Errorf("did not read the recent tables:\n%.300s", fromRecent.SQL)
			}
			// Rate, increase and the selector itself of one source (a
			// histogram's part too: histpoints.go) are evaluated in the
			// plugin over the recent points (points.go).
			inPlugin := !strings.Contains(expr, "__name__=~") && !strings.Contains(expr, "irate") && !strings.Contains(expr, "delta") && !strings.Contains(expr, "_over_time")
			if got := strings.Count(fromRecent.SQL, "evaluated in the plugin"); (got > 0) != inPlugin {
				t.Errorf("evaluated in the plugin %d times, want it %v:\n%.300s", got, inPlugin, fromRecent.SQL)
			}
			for _, at := range []time.Time{start, t0.Add(8 * time.Minute), end} {
				want, err := nested.InstantQuery(ctx, expr, at)
				if err != nil {
					t.Fatal(err)
				}
				for name, eng := range map[string]*engine.Engine{"flat sum": flat, "in slices": inSlices, "from the recent tables": recent} {
					got, err := eng.InstantQuery(ctx, expr, at)
					if err != nil {
						t.Fatal(err)
					}
					if g, w := answerText(got), answerText(want); g != w {
						t.Errorf("%s at %s:\n%s\nwant (one nested statement):\n%s", name, at.Format(time.TimeOnly), g, w)
					}
				}
			}
			if strings.Contains(expr, `"none"`) && len(got.Series) != 0 {
				t.Errorf("no series selected: %d series", len(got.Series))
			}
			if ran := strings.Contains(got.SQL, "transform(sid"); ran == strings.Contains(expr, "many_total") {
				t.Errorf("ran as a flat sum: %v, want it for fewer series than the limit only, or in slices:\n%.300s", ran, got.SQL)
			}
			if len(want.Series) == 0 && !strings.Contains(expr, `"none"`) {
				t.Errorf("no series in the answer")
			}
		})
	}
}

// answerText renders an answer with values to 12 significant digits: the
// two paths add the same numbers in different orders.
func answerText(r *engine.Result) string { return renderValues(r, "%.12g") }

// A flat sum's series lookup is cached, and a cached list never makes an
// answer short: a series stored after it (or one the list's days miss)
// shows at once, the lookup running again; an empty list too.
func TestCachedSeriesLookups(t *testing.T) {
	_, conn := otelfixture.Start(t)
	chtest.InstallSeriesTables(t, conn, "otel", false)
	insert := func(svc string) {
		var pts []otelfixture.Point
		for s := 0; s <= 900; s += 15 {
			pts = append(pts, otelfixture.Point{At: t0.Add(time.Duration(s) * time.Second), Value: float64(s * len(svc))})
		}
		otelfixture.Insert(t, conn, "otel_metrics_sum", "requests_total", map[string]string{"service": svc}, pts)
	}
	insert("api")
	insert("web")
	ctx := context.Background()
	flat := engine.New(conn, engine.Config{Strategy: engine.StrategyNative})
	nested := engine.New(conn, engine.Config{Strategy: engine.StrategyNative, IgnoreSeriesTables: true})
	start, end, step := t0.Add(5*time.Minute), t0.Add(15*time.Minute), 30*time.Second
	// Another engine, whose first list has a matcher.
	other := engine.New(conn, engine.Config{Strategy: engine.StrategyNative})
	days := engine.New(conn, engine.Config{Strategy: engine.StrategyNative})
	const fromCache = "the series lookup from the cache"
	cases := []struct {
		what, expr, before string
		eng                *engine.Engine
		cached             bool
		series             int
	}{
		{"first lookup", `sum by (service) (rate(requests_total[5m]))`, "", flat, false, 2},
		{"same selector, other grouping", `sum(rate(requests_total[5m]))`, "", flat, true, 1},
		{"a series stored since", `sum by (service) (increase(requests_total[5m]))`, "late", flat, false, 3},
		{"listed again, then cached", `sum without (service) (rate(requests_total[5m]))`, "", flat, true, 1},
		// Lists of the selector with more matchers are the kept one's,
		// filtered (derivedList).
		{"filtered from the kept list", `sum by (service) (rate(requests_total{service=~"api|web"}[5m]))`, "", flat, true, 2},
		{"nothing listed", `sum by (service) (rate(requests_total{service="new"}[5m]))`, "", flat, true, 0},
		{"the empty list kept, a series stored since", `sum by (service) (rate(requests_total{service="new"}[5m]))`, "new", flat, false, 1},
		// A first lookup lists every series of the metric (wholeList):
		// a selector with another matcher filters that list too. (A
		// histogram part's lists, not whole, are derived by subsets of
		// matchers only: TestPartLists.)
		{"a first list with a matcher", `sum by (service) (rate(requests_total{service!="web"}[5m]))`, "", other, false, 3},
		{"filtered from the list with one of its matchers", `sum by (service) (rate(requests_total{service!="web", service!~"l.*"}[5m]))`, "", other, true, 2},
		{"from the whole list, another matcher", `sum by (service) (rate(requests_total{service!="api"}[5m]))`, "", other, true, 3},
		// A list over the day before too holds the series of one day.
		{"a first list over two days", `sum(increase(requests_total[1d]))`, "", days, false, 1},
		{"filtered from the list over more days", `sum by (service) (rate(requests_total{service="api"}[5m]))`, "", days, true, 1},
	}
	for _, c := range cases {
		if c.before != "" {
			insert(c.before)
		}
		got, err := c.eng.RangeQuery(ctx, c.expr, start, end, step)
		if err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
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
		if cached := strings.Contains(got.SQL, fromCache); cached != c.cached {
			t.Errorf("%s: lookup from the cache %v, want %v:\n%.200s", c.what, cached, c.cached, got.SQL)
		}
	}
}
