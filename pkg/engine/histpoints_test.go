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

// A histogram's recent sums (its buckets, _sum, _count) are evaluated in
// the plugin from one read of its rows (histpoints.go): each answer
// equals the exporter-table statement's through a bucket layout that
// changes, a counter reset, stale markers with and without counts and an
// le matcher; the first query reads the rows (its list of every bucket kept
// by a longer query's lookup), the others of the moment read nothing, and
// a series stored since the kept list makes it be listed again.
func TestRecentHistogramPoints(t *testing.T) {
	_, conn := otelfixture.Start(t)
	chtest.InstallSeriesTables(t, conn, "otel", false)
	chtest.InstallRecentTables(t, conn, "otel", false)
	insert := func(svc string, from, to int, point func(s int) otelfixture.HistogramPoint) {
		var hs []otelfixture.HistogramPoint
		for s := from; s <= to; s += 15 {
			p := point(s)
			p.At = t0.Add(time.Duration(s) * time.Second)
			hs = append(hs, p)
		}
		otelfixture.InsertHistogram(t, conn, "latency_seconds", map[string]string{"service": svc}, hs)
	}
	// api: a third bound from 25 minutes on, and a reset at 26:40.
	insert("api", 0, 1800, func(s int) otelfixture.HistogramPoint {
		n := uint64(s / 15)
		if s >= 1600 {
			n -= 100
		}
		if s >= 1500 {
			return otelfixture.HistogramPoint{Bounds: []float64{0.1, 0.5, 1}, Counts: []uint64{n, 2 * n, n, 1}, Sum: float64(n) * 0.7}
		}
		return otelfixture.HistogramPoint{Bounds: []float64{0.1, 1}, Counts: []uint64{n, 3 * n, 1}, Sum: float64(n) * 0.7}
	})
	// web: ends at 27:30 with a stale marker as the receiver writes one
	// (zero counts, the bounds); cache with one that holds no counts.
	for _, svc := range []string{"web", "cache"} {
		insert(svc, 0, 1650, func(s int) otelfixture.HistogramPoint {
			switch {
			case s == 1650 && svc == "web":
				return otelfixture.HistogramPoint{Stale: true, Bounds: []float64{0.1, 1}, Counts: []uint64{0, 0, 0}}
			case s == 1650:
				return otelfixture.HistogramPoint{Stale: true}
			}
			n := uint64(s / 15 * 2)
			return otelfixture.HistogramPoint{Bounds: []float64{0.1, 1}, Counts: []uint64{n, n / 2, 0}, Sum: float64(n) * 0.2}
		})
	}
	// db: in the read's 20 minutes, not in the panels' 5.
	insert("db", 0, 1200, func(s int) otelfixture.HistogramPoint {
		return otelfixture.HistogramPoint{Bounds: []float64{0.1, 1}, Counts: []uint64{uint64(s), 0, 0}, Sum: float64(s)}
	})
	// bare_seconds: b's rows hold no bucket (rows without buckets).
	for _, svc := range []string{"a", "b"} {
		var hs []otelfixture.HistogramPoint
		for s := 1200; s <= 1800; s += 15 {
			p := otelfixture.HistogramPoint{At: t0.Add(time.Duration(s) * time.Second), Bounds: []float64{1}, Counts: []uint64{uint64(s), 0}, Sum: float64(s)}
			if svc == "b" {
				p.Bounds, p.Counts, p.Sum = nil, nil, float64(2*s)
			}
			hs = append(hs, p)
		}
		otelfixture.InsertHistogram(t, conn, "bare_seconds", map[string]string{"service": svc}, hs)
	}
	at := t0.Add(30 * time.Minute)
	now := at
	rec := &pointsConn{Conn: conn}
	eng := engine.New(rec, engine.Config{Strategy: engine.StrategyNative,
		Cache: engine.CacheConfig{TTL: 10 * time.Minute, Freshness: 10 * time.Minute, Recent: 5 * time.Second, MaxPoints: 100000, Now: func() time.Time { return now }}})
	plain := engine.New(conn, engine.Config{Strategy: engine.StrategyNative, IgnoreSeriesTables: true})
	ctx := context.Background()
	cases := []struct {
		what, expr     string
		later, rangeOf time.Duration
		before         func()
		reads, lookups int
		series         int
		statements     bool // not evaluated in the plugin
	}{
		// A range query beyond the recent points lists every bucket
		// (wholeList), which the read then uses.
		{what: "buckets listed whole by a longer range query", expr: `sum by (le) (rate(latency_seconds_bucket{service!="none"}[5m]))`, rangeOf: 25 * time.Minute, lookups: 1, series: 4, statements: true},
		{what: "the first read: the rows", expr: `sum by (le) (rate(latency_seconds_bucket[5m]))`, reads: 1, series: 4},
		{what: "a quantile by service", expr: `histogram_quantile(0.9, sum by (service, le) (rate(latency_seconds_bucket[5m])))`, series: 3},
		{what: "_sum / _count", expr: `sum by (service) (rate(latency_seconds_sum[5m])) / sum by (service) (rate(latency_seconds_count[5m]))`, series: 3},
		{what: "the newest _count, the stale markers end it", expr: `sum by (service) (latency_seconds_count)`, series: 1},
		// web's marker ends its buckets; cache's holds no bucket, so its
		// buckets' newest points stand, in the statements as here.
		{what: "an le matcher", expr: `sum by (service) (latency_seconds_bucket{le=~"0.5|1.0"})`, series: 2},
		{what: "increase over a range query's 10 minutes", expr: `sum by (le) (increase(latency_seconds_bucket{service="api"}[2m]))`, rangeOf: 10 * time.Minute, series: 4},
		// Read twice: its rows make the count of the kept read's newer
		// points differ (settled.go).
		{what: "a series stored since the list", expr: `sum by (service) (rate(latency_seconds_count[5m]))`, later: 6 * time.Second, reads: 2, lookups: 1, series: 4,
			before: func() {
				insert("new", 1500, 1800, func(s int) otelfixture.HistogramPoint {
					return otelfixture.HistogramPoint{Bounds: []float64{1}, Counts: []uint64{uint64(s), 1}, Sum: float64(s)}
				})
			}},
		// A series whose rows hold no bucket is in no list derived from
		// the buckets': its histogram is not read whole. (Two lookups:
		// the buckets', then _count's own, since the list derived from
		// the buckets' lacks b.)
		{what: "rows without buckets", expr: `sum by (service) (rate(bare_seconds_count[5m]))`, reads: 1, lookups: 2, series: 2, statements: true},
	}
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
			if got, err = eng.InstantQuery(ctx, c.expr, at); err != nil {
				t.Fatalf("%s: %v", c.what, err)
			}
			if want, err = plain.InstantQuery(ctx, c.expr, at); err != nil {
				t.Fatal(err)
			}
		}
		if g, w := answerText(got), answerText(want); g != w {
			t.Errorf("%s: got\n%s\nwant (the exporter's tables)\n%s", c.what, g, w)
		}
		if len(got.Series) != c.series {
			t.Errorf("%s: %d series, want %d", c.what, len(got.Series), c.series)
		}
		if inPlugin := strings.Contains(got.SQL, "evaluated in the plugin"); inPlugin == c.statements {
			t.Errorf("%s: evaluated in the plugin %v, want %v:\n%.300s", c.what, inPlugin, !c.statements, got.SQL)
		}
		if reads, lookups := rec.take(); reads != c.reads || lookups != c.lookups {
			t.Errorf("%s: %d reads of points and %d series lookups, want %d and %d", c.what, reads, lookups, c.reads, c.lookups)
		}
	}
}
