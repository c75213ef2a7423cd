package sqlgen_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/forma3d/meshmetrics/pkg/plan"
	"github.com/forma3d/meshmetrics/pkg/sqlgen"
)

// TestPoints: which flat sums the plugin evaluates from their source's
// recent points (rate, increase or the selector itself, of one source,
// over at most RecentMaxSpan the recent tables serve), and the golden SQL
// of the reads, of a counter and of a histogram (its parts share one).
func TestPoints(t *testing.T) {
	end := time.Unix(1700003600, 0)
	withRecent := schema
	withRecent.SeriesTables = true
	withRecent.RecentFromMs = end.Add(-20 * time.Hour).UnixMilli()
	withoutRecent := withRecent
	withoutRecent.RecentFromMs = 0
	grid := func(span time.Duration) plan.Grid {
		g, err := plan.NewRangeGrid(end.Add(-span), end, 20*time.Second, 11000)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	instant := plan.NewInstantGrid(end)
	cases := []struct {
		name, expr string
		grid       plan.Grid
		schema     sqlgen.Schema
		want       bool
	}{
		{"an instant rate", `sum(rate(traefik_service_requests_total{code=~"5.."}[5m]))`, instant, withRecent, true},
		{"a range query's newest 10 minutes", `sum by (service) (increase(traefik_service_requests_total[5m]))`, grid(10 * time.Minute), withRecent, true},
		{"a gauge with an offset", `sum(traefik_service_open_connections offset 1m)`, instant, withRecent, true},
		{"a read of over 20 minutes", `sum by (service) (rate(traefik_service_requests_total[5m]))`, grid(16 * time.Minute), withRecent, false},
		{"without the recent tables", `sum(rate(traefik_service_requests_total[5m]))`, instant, withoutRecent, false},
		{"before the recent tables' reach", `sum(rate(traefik_service_requests_total[5m] offset 21h))`, instant, withRecent, false},
		{"another function", `sum(irate(traefik_service_requests_total[5m]))`, instant, withRecent, false},
		{"a histogram's count", `sum(rate(traefik_service_request_duration_seconds_count[5m]))`, instant, withRecent, true},
		{"a histogram's sum", `sum by (service) (traefik_service_request_duration_seconds_sum)`, instant, withRecent, true},
		{"buckets", `sum by (le) (rate(traefik_service_request_duration_seconds_bucket[5m]))`, instant, withRecent, true},
		{"buckets over 25 minutes", `sum by (le) (rate(traefik_service_request_duration_seconds_bucket[25m]))`, instant, withRecent, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, ok := flatSumOf(t, c.expr, c.grid, c.schema).Points(); ok != c.want {
				t.Errorf("evaluated from the recent points: %v, want %v", ok, c.want)
			}
		})
	}

	f := flatSumOf(t, cases[0].expr, instant, withRecent)
	sh, _ := f.Points()
	if sh.Func != "rate" || sh.Width != 5*time.Minute || sh.HiMs != end.UnixMilli() || sh.LoMs != end.Add(-5*time.Minute).UnixMilli() {
		t.Errorf("shape %+v, want rate over 5m in the 5 minutes before %d", sh, end.UnixMilli())
	}
	lo := f.PointsWindow(end.UnixMilli())
	if want := end.Add(-sqlgen.RecentMaxSpan).UnixMilli(); lo != want {
		t.Errorf("window from %d, want %d (RecentMaxSpan before its end)", lo, want)
	}
	lookup, err := f.PointsLookupSQL(lo, end.UnixMilli(), 4001)
	if err != nil {
		t.Fatal(err)
	}
	points, err := f.PointsSQL(lo, end.UnixMilli(), sqlgen.Counted{})
	if err != nil {
		t.Fatal(err)
	}
	counted := sqlgen.Counted{LoMs: end.Add(-10 * time.Minute).UnixMilli(), HiMs: end.Add(-time.Minute).UnixMilli()}
	newest, err := f.PointsSQL(counted.HiMs, end.UnixMilli(), counted)
	if err != nil {
		t.Fatal(err)
	}
	got := "-- " + cases[0].expr + ": every series of the metric, then their points of the last 20 minutes\n" + lookup + ";\n\n" + points +
		";\n\n-- the points of the last minute, the rows of those from 10 to 1 minutes before the end counted\n" + newest + "\n"
	compareGolden(t, filepath.Join("testdata", "golden", "series", "recent_points.sql"), got)

	// A histogram's parts share one read, each with its own list.
	exprOf := map[string]string{}
	for _, c := range cases {
		exprOf[c.name] = c.expr
	}
	sumOf := func(name string) *sqlgen.FlatSum { return flatSumOf(t, exprOf[name], instant, withRecent) }
	read := func(name string) sqlgen.PointsRead {
		sh, _ := sumOf(name).Points()
		return sh.PointsRead
	}
	count, buckets, sums := read("a histogram's count"), read("buckets"), read("a histogram's sum")
	if !count.Histogram || count.Key != buckets.Key || count.Key != sums.Key || count.List == buckets.List || sums.List == count.List {
		t.Errorf("a histogram's reads %+v, %+v, %+v: want one read (Key), a list each (List)", count, buckets, sums)
	}
	h, err := sumOf("a histogram's count").HistogramPointsSQL(lo, end.UnixMilli(), 16001, sqlgen.Counted{})
	if err != nil {
		t.Fatal(err)
	}
	if h.Buckets.List != buckets.List || h.Count.List != count.List || h.Sum.List != sums.List || h.Sum.Name != "traefik_service_request_duration_seconds_sum" {
		t.Errorf("the read's parts %+v, %+v, %+v do not name the sums' lists", h.Buckets, h.Sum, h.Count)
	}
	// The read's list is the one a bucket selector's whole lookup keeps.
	b := sumOf("buckets")
	if lo, hi := b.LookupDays(); h.BucketsKey(lo, hi) != b.LookupKeyWith(nil, lo, hi) {
		t.Errorf("the read keeps its bucket list under %q, a bucket selector's whole list is %q", h.BucketsKey(lo, hi), b.LookupKeyWith(nil, lo, hi))
	}
	for name, want := range map[string][2]bool{"buckets": {true, true}, "a histogram's count": {false, false}, "an instant rate": {false, true}} {
		if buckets, ok := sumOf(name).WholeSource(); buckets != want[0] || ok != want[1] {
			t.Errorf("%s: listed whole %v (buckets %v), want %v (%v)", name, ok, buckets, want[1], want[0])
		}
	}
	hNewest, err := sumOf("buckets").HistogramPointsSQL(counted.HiMs, end.UnixMilli(), 16001, counted)
	if err != nil {
		t.Fatal(err)
	}
	got = "-- " + exprOf["a histogram's count"] + ": every bucket of the histogram, then its rows of the last 20 minutes\n" + h.Lookup + ";\n\n" + h.Points +
		";\n\n-- its rows of the last minute, those from 10 to 1 minutes before the end counted (any part's read the same)\n" + hNewest.Points + "\n"
	compareGolden(t, filepath.Join("testdata", "golden", "series", "recent_histogram_points.sql"), got)
}
