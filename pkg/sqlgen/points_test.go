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
	lookup, points, err := f.PointsSQL(lo, end.UnixMilli(), 4001)
	if err != nil {
		t.Fatal(err)
	}
	got := "-- " + cases[0].expr + ": every series of the metric, then their points of the last 20 minutes\n" + lookup + ";\n\n" + points + "\n"
	compareGolden(t, filepath.Join("testdata", "golden", "series", "recent_points.sql"), got)

	// A histogram's parts share one read, each with its own list.
	reads := map[string]sqlgen.PointsRead{}
	for _, c := range cases[7:9] {
		sh, _ := flatSumOf(t, c.expr, instant, withRecent).Points()
		reads[c.name] = sh.PointsRead
	}
	count, buckets := reads["a histogram's count"], reads["buckets"]
	if !count.Histogram || count.Source != buckets.Source || count.Part == buckets.Part {
		t.Errorf("a histogram's count read %+v, its buckets' %+v: want one read (Source), a list each (Part)", count, buckets)
	}
	h, err := flatSumOf(t, cases[7].expr, instant, withRecent).HistogramPointsSQL(lo, end.UnixMilli(), 4001)
	if err != nil {
		t.Fatal(err)
	}
	if h.Buckets.Part != buckets.Part || h.Count.Part != count.Part || h.Sum.Name != "traefik_service_request_duration_seconds_sum" {
		t.Errorf("the read's parts %+v, %+v, %+v do not name the sums' sources", h.Buckets, h.Sum, h.Count)
	}
	got = "-- " + cases[7].expr + ": every bucket of the histogram, then its rows of the last 20 minutes\n" + h.Lookup + ";\n\n" + h.Points + "\n"
	compareGolden(t, filepath.Join("testdata", "golden", "series", "recent_histogram_points.sql"), got)
}
