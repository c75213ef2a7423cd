package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/forma3d/meshmetrics/pkg/engine"
	"github.com/forma3d/meshmetrics/tests/clickhouse/chtest"
	"github.com/forma3d/meshmetrics/tests/otelfixture"
)

// TestHeldNames: with the series extension in use, one listing of the
// names the series table holds on a range's days answers every form of a
// name it lacks, with neither screen nor probe; a name it holds is probed
// at once, without the screen; the listing serves the next queries of
// the load, and a name stored after it shows once 10 seconds have passed,
// the screens' bound on new names.
func TestHeldNames(t *testing.T) {
	present := t0.Add(15 * time.Minute)
	_, conn := otelfixture.Start(t)
	chtest.InstallSeriesTables(t, conn, "otel", false)
	listings := &countingConn{Conn: conn, marker: "DISTINCT MetricName AS name"}
	probes := &countingConn{Conn: listings, marker: "AS delta"}
	// Reads of the exporter's sum table: the catalog's alone (the values
	// come from the series extension's tables).
	sumTable := &countingConn{Conn: probes, marker: "`otel_metrics_sum`"}
	now := present
	eng := engine.New(sumTable, engine.Config{Strategy: engine.StrategyNative,
		Cache: engine.CacheConfig{TTL: time.Minute, Freshness: time.Minute, MaxPoints: 1000, Now: func() time.Time { return now }}})

	insertCounter := func(name string) {
		var pts []otelfixture.Point
		for s := 0; s <= 900; s += 15 {
			pts = append(pts, otelfixture.Point{At: t0.Add(time.Duration(s) * time.Second), Value: float64(s)})
		}
		otelfixture.Insert(t, conn, "otel_metrics_sum", name, map[string]string{"service": "api"}, pts)
	}
	insertCounter("requests_total")
	var hist []otelfixture.HistogramPoint
	for s := 0; s <= 900; s += 15 {
		hist = append(hist, otelfixture.HistogramPoint{At: t0.Add(time.Duration(s) * time.Second),
			Bounds: []float64{0.1, 1}, Counts: []uint64{uint64(s), uint64(s), 0}, Sum: float64(s) / 10})
	}
	otelfixture.InsertHistogram(t, conn, "lat", map[string]string{"service": "api"}, hist)

	queryAt := func(what, expr string, at time.Time, wantListings, wantProbes, wantSeries int) {
		t.Helper()
		res, err := eng.InstantQuery(context.Background(), expr, at)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if n := listings.take(); n != wantListings {
			t.Errorf("%s: %d listings, want %d", what, n, wantListings)
		}
		if n := probes.take(); n != wantProbes {
			t.Errorf("%s: %d screens and probes, want %d", what, n, wantProbes)
		}
		if len(res.Series) != wantSeries {
			t.Errorf("%s: %d series, want %d", what, len(res.Series), wantSeries)
		}
	}
	query := func(what, expr string, wantListings, wantProbes, wantSeries int) {
		t.Helper()
		queryAt(what, expr, present, wantListings, wantProbes, wantSeries)
	}
	query("first query: the listing, then the probe alone", `rate(requests_total[5m])`, 1, 1, 1)
	query("a name held nowhere: neither screen nor probe", `rate(pairs_total[5m])`, 0, 0, 0)
	query("a histogram's _sum: its histogram form probed", `rate(lat_sum[5m])`, 0, 1, 1)
	if n := sumTable.take(); n != 1 {
		t.Errorf("%d reads of the exporter's sum table, want 1 (requests_total's probe): lat_sum, a form the series table does not hold, is not read", n)
	}
	query("another name held nowhere, over a day", `rate(certs_total[1d])`, 0, 0, 0)
	queryAt("a range on days the listing does not cover: its own listing", `rate(requests_total[5m])`, present.Add(-10*24*time.Hour), 1, 0, 0)

	insertCounter("pairs_total")
	now = present.Add(10 * time.Second)
	query("stored since, within the 10 seconds", `rate(pairs_total[5m])`, 0, 0, 0)
	now = now.Add(time.Millisecond)
	query("stored since, the 10 seconds passed: a new listing, then its probe", `rate(pairs_total[5m])`, 1, 1, 1)
	query("still held nowhere, the new listing", `rate(certs_total[5m])`, 0, 0, 0)

	// With no listing kept, a form of a name found stored is probed
	// without one: the probe is one statement whatever it would say.
	now = now.Add(11 * time.Second)
	query("a form of a name found, no listing kept: the probe alone", `rate(lat_count[5m])`, 0, 1, 1)
}
