package sqlgen_test

import (
	"strings"
	"testing"
	"time"

	"github.com/forma3d/meshmetrics/pkg/plan"
	"github.com/forma3d/meshmetrics/pkg/sqlgen"
)

// TestRecentTablesChoice: a read goes to the recent tables exactly when its
// window (grid, range, offset) is at most sqlgen.RecentMaxSpan long and
// starts at or after RecentFromMs.
func TestRecentTablesChoice(t *testing.T) {
	end := time.Unix(1700003600, 0)
	endMs := end.UnixMilli()
	cases := []struct {
		name     string
		expr     string
		span     time.Duration // the grid's length; 0: an instant
		fromMs   int64
		series   bool
		wantRead string
	}{
		{"instant rate", `rate(traefik_service_requests_total[5m])`, 0, endMs - int64(time.Hour/time.Millisecond), true, "meshmetrics_recent_sum"},
		{"instant selector", `traefik_service_open_connections`, 0, endMs - int64(time.Hour/time.Millisecond), true, "meshmetrics_recent_gauge"},
		{"histogram over 15 minutes", `sum by (le) (rate(x_bucket[5m]))`, 10 * time.Minute, endMs - int64(time.Hour/time.Millisecond), true, "meshmetrics_recent_histogram"},
		{"exactly the longest window", `rate(traefik_service_requests_total[5m])`, 15 * time.Minute, endMs - int64(time.Hour/time.Millisecond), true, "meshmetrics_recent_sum"},
		{"a second longer", `rate(traefik_service_requests_total[5m1s])`, 15 * time.Minute, endMs - int64(time.Hour/time.Millisecond), true, "meshmetrics_samples_sum"},
		{"an offset past what they hold", `rate(traefik_service_requests_total[5m] offset 1h)`, 0, endMs - int64(time.Hour/time.Millisecond), true, "meshmetrics_samples_sum"},
		{"starting exactly where they hold", `rate(traefik_service_requests_total[5m])`, 0, endMs - int64(5*time.Minute/time.Millisecond), true, "meshmetrics_recent_sum"},
		{"starting a millisecond before", `rate(traefik_service_requests_total[5m])`, 0, endMs - int64(5*time.Minute/time.Millisecond) + 1, true, "meshmetrics_samples_sum"},
		{"not in use", `rate(traefik_service_requests_total[5m])`, 0, 0, true, "meshmetrics_samples_sum"},
		{"without the series tables", `rate(traefik_service_requests_total[5m])`, 0, endMs - int64(time.Hour/time.Millisecond), false, "otel_metrics_sum"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			grid := plan.NewInstantGrid(end)
			if c.span > 0 {
				var err error
				if grid, err = plan.NewRangeGrid(end.Add(-c.span), end, time.Minute, 11000); err != nil {
					t.Fatal(err)
				}
			}
			s := schema
			s.SeriesTables, s.RecentFromMs = c.series, c.fromMs
			sql, err := offlineSQLIn(t, c.expr, grid, s, sqlgen.Options{Native: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, table := range []string{"meshmetrics_recent_", "meshmetrics_samples_", "otel_metrics_"} {
				if got := strings.Contains(sql, "`"+table); got != strings.HasPrefix(c.wantRead, table) {
					t.Errorf("reads %s…: %v, want %s:\n%s", table, got, c.wantRead, sql)
				}
			}
			if !strings.Contains(sql, "`"+c.wantRead+"`") {
				t.Errorf("does not read %s:\n%s", c.wantRead, sql)
			}
		})
	}
}
