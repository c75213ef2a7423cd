package engine_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/forma3d/meshmetrics/pkg/engine"
	"github.com/forma3d/meshmetrics/tests/clickhouse/chtest"
	"github.com/forma3d/meshmetrics/tests/otelfixture"
)

// pointsConn counts the reads of recent points (points.go) and the
// series lookups.
type pointsConn struct {
	driver.Conn
	mu             sync.Mutex
	reads, lookups int
}

func (c *pointsConn) Query(ctx context.Context, query string, args ...any) (driver.Rows, error) {
	c.mu.Lock()
	switch {
	case strings.Contains(query, "reinterpretAsFixedString(toUInt8(stale))"), strings.HasPrefix(query, "SELECT base, bounds, "):
		c.reads++
	case strings.HasPrefix(query, "SELECT sid, stored, "):
		c.lookups++
	}
	c.mu.Unlock()
	return c.Conn.Query(ctx, query, args...)
}

// take returns and forgets the counts since the last take.
func (c *pointsConn) take() (reads, lookups int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	reads, lookups, c.reads, c.lookups = c.reads, c.lookups, 0, 0
	return reads, lookups
}

// Flat sums over a short window near now are evaluated in the plugin from
// their source's recent points, read once for the queries of a moment:
// each answer equals the exporter-table statement's, a read is served for
// CacheConfig.Recent after it ended (a point stored since shows after
// that, not before), a series stored after the kept list shows at once,
// a histogram's buckets are read too (histpoints_test.go has more), what
// the plugin does not evaluate (a longer window) reads nothing, and a window summary's refresh takes its newest
// blocks from the points.
func TestRecentPoints(t *testing.T) {
	_, conn := otelfixture.Start(t)
	chtest.InstallSeriesTables(t, conn, "otel", false)
	chtest.InstallRecentTables(t, conn, "otel", false)
	insert := func(svc, code string, from, to int, value func(s int) float64) {
		var pts []otelfixture.Point
		for s := from; s <= to; s += 15 {
			pts = append(pts, otelfixture.Point{At: t0.Add(time.Duration(s) * time.Second), Value: value(s)})
		}
		otelfixture.Insert(t, conn, "otel_metrics_sum", "requests_total", map[string]string{"service": svc, "code": code}, pts)
	}
	for i, svc := range []string{"api", "web"} {
		for j, code := range []string{"200", "500"} {
			insert(svc, code, 0, 1800, func(s int) float64 {
				v := float64(s * (i + 1) * (j + 1) / 15)
				if svc == "api" && code == "200" && s >= 1700 {
					v -= 150 // a counter reset in the last 5 minutes
				}
				return v
			})
		}
		var gs []otelfixture.Point
		for s := 0; s <= 1800; s += 15 {
			p := otelfixture.Point{At: t0.Add(time.Duration(s) * time.Second), Value: float64(s/15%5 + i)}
			if svc == "web" && s >= 1650 {
				if s > 1650 {
					continue
				}
				p.Stale = true // web's connections end at 27.5 min, within the lookback
			}
			gs = append(gs, p)
		}
		otelfixture.Insert(t, conn, "otel_metrics_gauge", "open_connections", map[string]string{"service": svc}, gs)
		var hs []otelfixture.HistogramPoint
		for s := 0; s <= 1800; s += 15 {
			n := uint64(s / 15)
			hs = append(hs, otelfixture.HistogramPoint{At: t0.Add(time.Duration(s) * time.Second), Bounds: []float64{0.1, 1}, Counts: []uint64{n, n, n}, Sum: float64(n)})
		}
		otelfixture.InsertHistogram(t, conn, "duration_seconds", map[string]string{"service": svc}, hs)
	}
	// Two series of one label set (an empty attribute value), beside one
	// other series, in a metric of their own.
	for _, attrs := range []map[string]string{{"service": "a"}, {"service": "b"}, {"service": "b", "pod": ""}} {
		var pts []otelfixture.Point
		for s := 1200; s <= 1800; s += 15 {
			pts = append(pts, otelfixture.Point{At: t0.Add(time.Duration(s) * time.Second), Value: float64(s)})
		}
		otelfixture.Insert(t, conn, "otel_metrics_sum", "twice_total", attrs, pts)
	}
	// The queries are at one time, as a dashboard's are; the clock moves.
	at := t0.Add(30 * time.Minute)
	now := at
	rec := &pointsConn{Conn: conn}
	eng := engine.New(rec, engine.Config{Strategy: engine.StrategyNative,
		Cache: engine.CacheConfig{TTL: 10 * time.Minute, Freshness: 10 * time.Minute, Recent: 5 * time.Second, MaxPoints: 100000, Now: func() time.Time { return now }}})
	plain := engine.New(conn, engine.Config{Strategy: engine.StrategyNative, IgnoreSeriesTables: true})
	ctx := context.Background()
	cases := []struct {
		what, expr     string
		later          time.Duration
		before         func()
		rangeOf        time.Duration // 0: an instant query at at
		atLater        time.Duration // the instant query after at
		reads, lookups int
		series         int
		inPlugin       bool
		sqlHas         string
		err            string
	}{
		{what: "the first query reads the list and the points", expr: `sum(rate(requests_total{code="500"}[5m]))`, reads: 1, lookups: 1, series: 1, inPlugin: true},
		{what: "another selector of the metric reads neither", expr: `sum by (service) (increase(requests_total[2m]))`, later: time.Second, series: 2, inPlugin: true},
		{what: "a range query's 10 minutes from the same read", expr: `sum by (code) (rate(requests_total{service="web"}[5m]))`, rangeOf: 10 * time.Minute, series: 2, inPlugin: true},
		// A sum beyond the recent points lists every series of its
		// metric (wholeList), which the metric's read then uses.
		{what: "a gauge listed whole by a sum out of reach", expr: `sum(max_over_time(open_connections{service!="none"}[25m]))`, lookups: 1, series: 1},
		{what: "a gauge: its own read, its stale marker ends a series", expr: `sum by (service) (open_connections)`, reads: 1, series: 1, inPlugin: true},
		// A point stored now is not in the kept read.
		{what: "a point stored since, within Recent", expr: `sum(rate(requests_total{code="500"}[5m]))`, later: 2 * time.Second, series: 1, inPlugin: true,
			before: func() { insert("api", "500", 1795, 1795, func(int) float64 { return 1e6 }) }},
		{what: "after Recent, read again", expr: `sum(rate(requests_total{code="500"}[5m]))`, later: 5 * time.Second, reads: 1, series: 1, inPlugin: true},
		// A series the kept list lacks: the list is read again. Its rows
		// make the count of the kept read's newer points differ: read
		// from their end beside the count, then from the settled time.
		{what: "a series stored since the list", expr: `sum by (service) (rate(requests_total[5m]))`, later: 6 * time.Second, reads: 2, lookups: 1, series: 3, inPlugin: true,
			before: func() { insert("new", "200", 1500, 1800, func(s int) float64 { return float64(s) }) }},
		// A histogram's buckets: one read of its rows and one list of
		// every bucket (histpoints.go).
		{what: "a histogram's buckets", expr: `sum by (le) (rate(duration_seconds_bucket[5m]))`, reads: 1, lookups: 1, series: 3, inPlugin: true},
		// Its list is the kept list of every series, filtered.
		{what: "not over more than 20 minutes", expr: `sum(rate(requests_total[25m]))`, series: 1},
		// A source with two series of one label set is not read whole:
		// a selector of one other series answers, one of both fails.
		// (Three lookups: the points', refused; the whole list's, refused
		// apart; the selector's own.)
		{what: "a metric with two series of one label set", expr: `sum(rate(twice_total{service="a"}[5m]))`, lookups: 3, series: 1},
		{what: "a selector of the two", expr: `sum(rate(twice_total[5m]))`, err: "two stored series have the same label set"},
		// A window summary (summaries.go): cold, by its statement; a
		// minute on, its newest blocks from the recent points.
		{what: "a window summary, cold", expr: `sum by (code) (increase(requests_total{service="api"}[1h]))`, later: 10 * time.Second, series: 2,
			sqlHas: "SELECT sid, toUInt8(run[1].1"},
		{what: "a window summary a minute on", expr: `sum by (code) (increase(requests_total{service="api"}[1h]))`, later: time.Minute, atLater: time.Minute, reads: 1, series: 2,
			sqlHas: "the newest blocks summarized in the plugin from the recent points"},
	}
	var first string
	defer func() {
		// Queries of one moment started together read the points once,
		// in flight or kept.
		now = now.Add(6 * time.Second)
		var wg sync.WaitGroup
		for _, expr := range []string{`sum(rate(requests_total[5m]))`, `sum by (code) (rate(requests_total[5m]))`, `sum(increase(requests_total{service="web"}[5m]))`} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := eng.InstantQuery(ctx, expr, at); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if reads, _ := rec.take(); reads != 1 {
			t.Errorf("three queries at once: %d reads of points, want 1", reads)
		}
	}()
	for _, c := range cases {
		now = now.Add(c.later)
		if c.before != nil {
			c.before()
		}
		var got, want *engine.Result
		var err error
		if c.rangeOf > 0 {
			got, want = rangeBoth(t, c.what, eng, plain, c.expr, at.Add(-c.rangeOf), at, 30*time.Second)
		} else {
			got, err = eng.InstantQuery(ctx, c.expr, at.Add(c.atLater))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Errorf("%s: error %v, want one saying %q", c.what, err, c.err)
				}
				rec.take()
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", c.what, err)
			}
			if want, err = plain.InstantQuery(ctx, c.expr, at.Add(c.atLater)); err != nil {
				t.Fatal(err)
			}
		}
		g, w := answerText(got), answerText(want)
		if strings.HasSuffix(c.what, "within Recent") {
			// The kept read lacks the new point: the answer is the first
			// query's, which the exporter-table statement's is not now.
			if g != first || g == w {
				t.Errorf("%s: got\n%s\nwant the answer before the point\n%s\n(with it:\n%s)", c.what, g, first, w)
			}
		} else if g != w {
			t.Errorf("%s: got\n%s\nwant (the exporter's tables)\n%s", c.what, g, w)
		}
		if first == "" {
			first = g
		}
		if len(got.Series) != c.series {
			t.Errorf("%s: %d series, want %d", c.what, len(got.Series), c.series)
		}
		if inPlugin := strings.Contains(got.SQL, "evaluated in the plugin"); inPlugin != c.inPlugin {
			t.Errorf("%s: evaluated in the plugin %v, want %v:\n%.300s", c.what, inPlugin, c.inPlugin, got.SQL)
		}
		if !strings.Contains(got.SQL, c.sqlHas) {
			t.Errorf("%s: the SQL does not say %q:\n%.300s", c.what, c.sqlHas, got.SQL)
		}
		if reads, lookups := rec.take(); reads != c.reads || lookups != c.lookups {
			t.Errorf("%s: %d reads of points and %d series lookups, want %d and %d", c.what, reads, lookups, c.reads, c.lookups)
		}
	}
}
