package sqlgen_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/forma3d/meshmetrics/pkg/plan"
	"github.com/forma3d/meshmetrics/pkg/sqlgen"
)

// TestSummarized: which flat sums window summaries answer (an instant
// increase or rate of a sum-table counter over at least an hour), and the
// golden SQL of a summaries statement over two ranges.
func TestSummarized(t *testing.T) {
	end := time.Unix(1700003600, 0)
	s := schema
	s.SeriesTables = true
	flat := func(expr string, grid plan.Grid) *sqlgen.FlatSum { return flatSumOf(t, expr, grid, s) }
	rangeGrid, err := plan.NewRangeGrid(end.Add(-time.Hour), end, time.Minute, 11000)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, expr string
		grid       plan.Grid
		want       bool
	}{
		{"the dashboard's 24 h requests", `sum(increase(traefik_service_requests_total{service!~"readiness@.*"}[24h]))`, plan.NewInstantGrid(end), true},
		{"rate by a label, an offset", `sum by (code) (rate(traefik_service_requests_total[1h] offset 5m))`, plan.NewInstantGrid(end), true},
		{"a range under an hour", `sum(increase(traefik_service_requests_total[59m]))`, plan.NewInstantGrid(end), false},
		{"a range query", `sum(increase(traefik_service_requests_total[24h]))`, rangeGrid, false},
		{"another function", `sum(delta(traefik_service_open_connections[24h]))`, plan.NewInstantGrid(end), false},
		{"a histogram's count", `sum(increase(traefik_service_request_duration_seconds_count[24h]))`, plan.NewInstantGrid(end), false},
		{"buckets", `sum by (le) (increase(traefik_service_request_duration_seconds_bucket[24h]))`, plan.NewInstantGrid(end), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, ok := flat(c.expr, c.grid).Summarized(); ok != c.want {
				t.Errorf("summarized: %v, want %v", ok, c.want)
			}
		})
	}

	f := flat(cases[0].expr, plan.NewInstantGrid(end))
	endMs, blockMs := end.UnixMilli(), sqlgen.SummaryBlock.Milliseconds()
	startMs := endMs - 24*time.Hour.Milliseconds()
	headEnd := (startMs/blockMs + 1) * blockMs
	sql, err := f.SummariesSQL([]sqlgen.SummaryRange{{LoMs: startMs, HiMs: headEnd}, {LoMs: endMs - 3*blockMs, HiMs: endMs}}, headEnd)
	if err != nil {
		t.Fatal(err)
	}
	got := "-- " + cases[0].expr + ": the points of the block where the range starts, and its last 30 minutes\n" + sql + "\n"
	compareGolden(t, filepath.Join("testdata", "golden", "series-native", "summaries.sql"), got)
}

// flatSumOf plans expr on grid as a flat sum over schema s (native),
// failing the test when it is not one.
func flatSumOf(t *testing.T, expr string, grid plan.Grid, s sqlgen.Schema) *sqlgen.FlatSum {
	t.Helper()
	f, ok, err := sqlgen.FlatSumOf(offlinePlan(t, expr, grid), s, sqlgen.Options{MaxSeries: 10000, Native: true})
	if err != nil || !ok {
		t.Fatalf("%s: not a flat sum (%v)", expr, err)
	}
	return f
}
