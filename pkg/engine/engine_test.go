package engine_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/forma3d/meshmetrics/pkg/engine"
	"github.com/forma3d/meshmetrics/pkg/plan"
	"github.com/forma3d/meshmetrics/tests/otelfixture"
)

// These tests run small queries whose answers can be worked out by hand;
// tests/promdiff compares the engine with the Prometheus engine at scale.

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func TestEngineByHand(t *testing.T) {
	_, conn := otelfixture.Start(t)
	// A counter growing by 3 every 15 s from 0 at t0, for 10 minutes.
	var counter []otelfixture.Point
	for s := 0; s <= 600; s += 15 {
		counter = append(counter, otelfixture.Point{At: t0.Add(time.Duration(s) * time.Second), Value: float64(s / 5)})
	}
	otelfixture.Insert(t, conn, "otel_metrics_sum", "requests_total", map[string]string{"service": "api", "code": "200"}, counter)
	// A gauge: 7 at t0 and 9 at t0+1m, then a stale marker at t0+2m.
	otelfixture.Insert(t, conn, "otel_metrics_gauge", "open_connections", map[string]string{"service": "api"},
		[]otelfixture.Point{{At: t0, Value: 7}, {At: t0.Add(time.Minute), Value: 9}, {At: t0.Add(2 * time.Minute), Stale: true}})

	// A label value with a line break: the statement's indentation must not
	// reach into the literal that matches it.
	otelfixture.Insert(t, conn, "otel_metrics_gauge", "multiline_gauge", map[string]string{"service": "line1\nline2"},
		[]otelfixture.Point{{At: t0, Value: 4}})

	otelfixture.InsertTemporality(t, conn, "otel_metrics_sum", "otlp_delta_total", nil, []otelfixture.Point{{At: t0, Value: 1}}, 1)
	// A sum whose points are cumulative but for one delta point in the
	// middle: the catalog's first-row probe sees a cumulative point, its
	// delta probe must still find the delta one.
	var mixed []otelfixture.Point
	for s := 0; s <= 600; s += 15 {
		mixed = append(mixed, otelfixture.Point{At: t0.Add(time.Duration(s) * time.Second), Value: float64(s)})
	}
	otelfixture.Insert(t, conn, "otel_metrics_sum", "mixed_total", map[string]string{"service": "api"}, mixed)
	otelfixture.InsertTemporality(t, conn, "otel_metrics_sum", "mixed_total", map[string]string{"service": "web"}, []otelfixture.Point{{At: t0.Add(5 * time.Minute), Value: 1}}, 1)

	for _, strategy := range []string{engine.StrategyPortable, engine.StrategyNative} {
		t.Run(strategy, func(t *testing.T) { checkByHand(t, engine.New(conn, engine.Config{Strategy: strategy})) })
	}
}

func checkByHand(t *testing.T, e *engine.Engine) {
	ctx := context.Background()
	if _, err := e.InstantQuery(ctx, `rate(otlp_delta_total[5m])`, t0); err == nil || !strings.Contains(err.Error(), "delta temporality") {
		t.Errorf("a delta sum: error %v, want one saying delta temporality is not supported", err)
	}
	// 200 selectors would make one statement longer than ClickHouse
	// parses; split, each runs as a statement of its own.
	huge := strings.Repeat("requests_total + ", 199) + "requests_total"
	if got, err := e.InstantQuery(ctx, huge, t0.Add(5*time.Minute)); err != nil || len(got.Series) != 1 || got.Series[0].Points[0].V != 200*60 {
		t.Errorf("200 selectors: %v, %v; want one series of 200 × 60", got, err)
	}
	// One selector whose own statement is too large: the error names the
	// limit and a position in the expression, not SQL.
	var alts []string
	for i := range 30000 {
		alts = append(alts, fmt.Sprintf("svc-%05d", i))
	}
	tooLarge := `sum(rate(requests_total[5m])) / sum(rate(requests_total{service=~"` + strings.Join(alts, "|") + `"}[5m]))`
	if _, err := e.InstantQuery(ctx, tooLarge, t0); err == nil || !strings.Contains(err.Error(), "max_query_size of 262144 bytes") || !strings.HasPrefix(err.Error(), "at line 1, column 42:") {
		t.Errorf("a 300 KB regex: error %v, want one at line 1, column 42 (its selector) naming ClickHouse's max_query_size", err)
	}
	if _, err := e.InstantQuery(ctx, `sum(rate(mixed_total[10m]))`, t0.Add(10*time.Minute)); err == nil || !strings.Contains(err.Error(), "metric mixed_total is stored with delta temporality") {
		t.Errorf("a sum with one delta point among cumulative ones: error %v, want one naming mixed_total's delta temporality", err)
	}
	cases := []struct {
		expr string
		at   time.Duration
		want map[string]float64 // series → value; absent → no series
	}{
		{`requests_total`, 5 * time.Minute, map[string]float64{`{__name__="requests_total", code="200", instance="proxy-a:8080", job="mesh", service="api"}`: 60}},
		// 20 increases of 3 over 5 minutes; the window (t-5m, t] holds 20
		// samples spanning 285 s, extrapolated to 300 s.
		{`rate(requests_total[5m])`, 10 * time.Minute, map[string]float64{`{code="200", instance="proxy-a:8080", job="mesh", service="api"}`: 0.2}},
		{`sum by (service) (increase(requests_total[5m]))`, 10 * time.Minute, map[string]float64{`{service="api"}`: 60}},
		{`irate(requests_total[1m] offset 1m)`, 10 * time.Minute, map[string]float64{`{code="200", instance="proxy-a:8080", job="mesh", service="api"}`: 0.2}},
		{`delta(requests_total[5m])`, 10 * time.Minute, map[string]float64{`{code="200", instance="proxy-a:8080", job="mesh", service="api"}`: 60}},
		{`open_connections`, 90 * time.Second, map[string]float64{`{__name__="open_connections", instance="proxy-a:8080", job="mesh", service="api"}`: 9}},
		// The stale marker ends the series at once, not 5 minutes later.
		{`open_connections`, 150 * time.Second, map[string]float64{}},
		{`max_over_time(open_connections[3m])`, 150 * time.Second, map[string]float64{`{instance="proxy-a:8080", job="mesh", service="api"}`: 9}},
		{`open_connections * 2 + 1`, time.Minute, map[string]float64{`{instance="proxy-a:8080", job="mesh", service="api"}`: 19}},
		{`open_connections > 8`, 30 * time.Second, map[string]float64{}},
		{`sum by (service) (multiline_gauge{service="line1\nline2"})`, time.Minute, map[string]float64{`{service="line1\nline2"}`: 4}},
		{`sum by (service) (multiline_gauge{service=~"line1\n.*"})`, time.Minute, map[string]float64{`{service="line1\nline2"}`: 4}},
		{`multiline_gauge{service!~"line1\nline2"}`, time.Minute, map[string]float64{}},
		{`absent(nonexistent{job="x"})`, time.Minute, map[string]float64{`{job="x"}`: 1}},
		// Empty whatever is stored: answered without a statement (below).
		{`min(nonexistent_not_after) - time()`, time.Minute, map[string]float64{}},
		{`sum(rate(nonexistent_total[5m])) / sum(rate(requests_total[5m]))`, 10 * time.Minute, map[string]float64{}},
		// An or with one empty side is the other side.
		{`sum(rate(nonexistent_total[5m])) or sum by (service) (open_connections)`, 90 * time.Second, map[string]float64{`{service="api"}`: 9}},
	}
	for _, c := range cases {
		res, err := e.InstantQuery(ctx, c.expr, t0.Add(c.at))
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		got := map[string]float64{}
		for _, s := range res.Series {
			got[s.Labels.String()] = s.Points[0].V
		}
		if len(got) != len(c.want) {
			t.Errorf("%s at +%s: got %v, want %v\n%s", c.expr, c.at, got, c.want, res.SQL)
			continue
		}
		for k, w := range c.want {
			if g, ok := got[k]; !ok || math.Abs(g-w) > 1e-9*math.Abs(w) {
				t.Errorf("%s at +%s: got %v, want %v", c.expr, c.at, got, c.want)
			}
		}
	}
	// Empty whatever is stored (plan.Empty): no statement runs.
	for _, expr := range []string{`min(nonexistent_not_after) - time()`, `sum(rate(nonexistent_total[5m])) / sum(rate(requests_total[5m]))`} {
		res, err := e.InstantQuery(ctx, expr, t0.Add(10*time.Minute))
		if err != nil {
			t.Errorf("%s: %v", expr, err)
		} else if len(res.Series) != 0 || !strings.HasPrefix(res.SQL, "-- no statement") {
			t.Errorf("%s: %d series, ran %q; want no series and no statement", expr, len(res.Series), res.SQL)
		}
	}
	if res, err := e.InstantQuery(ctx, `absent(nonexistent{job="x"})`, t0); err != nil {
		t.Error(err)
	} else if strings.HasPrefix(res.SQL, "-- no statement") {
		t.Errorf("absent() of nothing must run its statement, ran %q", res.SQL)
	}
}

// TestOfflineSQLRuns runs the statements explain prints (names resolved by
// convention, so every table is read) on the server: each must be valid
// ClickHouse SQL of the result shape, including the shapes that read no
// stored metric at all.
func TestOfflineSQLRuns(t *testing.T) {
	_, conn := otelfixture.Start(t)
	grid, err := plan.NewRangeGrid(t0, t0.Add(time.Hour), time.Minute, 11000)
	if err != nil {
		t.Fatal(err)
	}
	for _, strategy := range []string{engine.StrategyPortable, engine.StrategyNative} {
		t.Run(strategy, func(t *testing.T) { checkOfflineSQLRuns(t, conn, grid, strategy) })
	}
}

func checkOfflineSQLRuns(t *testing.T, conn driver.Conn, grid plan.Grid, strategy string) {
	for _, expr := range []string{
		`traefik_service_open_connections{service!~"readiness@.*", protocol="http"} offset 1m`,
		`sum by (service) (rate(traefik_service_requests_total{code=~"5.."}[5m])) / sum by (service) (rate(traefik_service_requests_total[5m]))`,
		`histogram_quantile(0.99, sum by (le, service) (rate(traefik_service_request_duration_seconds_bucket{le!="0.1"}[5m])))`,
		`topk(5, irate(traefik_entrypoint_requests_total{entrypoint!="traefik"}[1m])) + ignoring(code) group_right bottomk(1, up)`,
		`up * on(instance) group_left(version) go_info`,
		`up == 0 or absent(up{job="traefik-mesh"}) unless vector(1)`,
		`label_replace(up, "ns", "$1", "service", "([^-]+)-.*")`,
		`scalar(sum(up)) * 2 - time() + -count(up)`,
		`count_over_time(traefik_config_reloads_total[1h]) > bool 1`,
		`clamp_max(round(avg without (code) (delta(g[5m])), 0.5), 3) % 2 ^ abs(ceil(floor(idelta(g[2m]))))`,
		`min_over_time(g[5m]) < max_over_time(g[5m]) and sum_over_time(g[5m]) != avg_over_time(g[5m]) + last_over_time(g[5m])`,
		`clamp_min(count by (job) (up), -1) >= bool 0`,
		`increase(c_total[5m] offset 1m) - delta(g[10m]) + irate(c_total[1m]) / idelta(g[1m])`,
	} {
		sql, err := engine.ExplainOffline(expr, grid, engine.Config{Strategy: strategy})
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		rows, err := conn.Query(context.Background(), sql)
		if err != nil {
			t.Errorf("%s: the server refuses the SQL: %v\n%s", expr, err, sql)
			continue
		}
		rows.Close()
	}
}

// Errors the statement raises itself reach the user as Prometheus words
// them, without ClickHouse's trace of where they were thrown.
func TestStatementErrors(t *testing.T) {
	_, conn := otelfixture.Start(t)
	for _, s := range []struct {
		labels map[string]string
		value  float64
	}{{map[string]string{"label": "foo", "job2": "t"}, 0}, {map[string]string{"label": "bar", "job2": "t"}, 1}} {
		otelfixture.Insert(t, conn, "otel_metrics_gauge", "many_side", s.labels, []otelfixture.Point{{At: t0, Value: s.value}})
	}
	otelfixture.Insert(t, conn, "otel_metrics_gauge", "one_side", map[string]string{"job2": "t"}, []otelfixture.Point{{At: t0, Value: 1}})
	e := engine.New(conn, engine.Config{})
	// The comparison filters every pair out; the ambiguity is an error all
	// the same, as in Prometheus.
	for _, expr := range []string{`many_side > on(job2) one_side`, `many_side >= on(job2) one_side`} {
		_, err := e.InstantQuery(context.Background(), expr, t0)
		if err == nil || err.Error() != "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)" {
			t.Errorf("%s: error %v", expr, err)
		}
	}
}

func TestLimits(t *testing.T) {
	_, conn := otelfixture.Start(t)
	otelfixture.Insert(t, conn, "otel_metrics_gauge", "x", map[string]string{"i": "a"}, []otelfixture.Point{{At: t0, Value: 1}})
	otelfixture.Insert(t, conn, "otel_metrics_gauge", "x", map[string]string{"i": "b"}, []otelfixture.Point{{At: t0, Value: 2}})
	e := engine.New(conn, engine.Config{MaxSeries: 1, MaxRange: 24 * time.Hour})
	ctx := context.Background()
	for expr, want := range map[string]string{
		`x`:                    "more than 1 series",
		`rate(x[1d])`:          "more than the maximum of 1d",
		`x offset 1d`:          "more than the maximum of 1d",
		`sum(x)`:               "",
		`max_over_time(x[1h])`: "more than 1 series",
	} {
		_, err := e.InstantQuery(ctx, expr, t0)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: error %v, want %q", expr, err, want)
		}
	}
	if _, err := e.RangeQuery(ctx, `sum(x)`, t0.Add(-48*time.Hour), t0, time.Hour); err == nil || !strings.Contains(err.Error(), "narrow the time range") {
		t.Errorf("a 2-day range: error %v", err)
	}
	if _, err := e.RangeQuery(ctx, `sum(x)`, t0.Add(-time.Hour), t0, 100*time.Millisecond); err == nil || !strings.Contains(err.Error(), "11000 points") {
		t.Errorf("36001 points: error %v", err)
	}
}

func TestInstantTopKIsOrderedByValue(t *testing.T) {
	_, conn := otelfixture.Start(t)
	for i, v := range map[string]float64{"a": 1, "b": 3, "c": 2} {
		otelfixture.Insert(t, conn, "otel_metrics_gauge", "x", map[string]string{"i": i}, []otelfixture.Point{{At: t0, Value: v}})
	}
	e := engine.New(conn, engine.Config{})
	for expr, want := range map[string]string{`topk(3, x)`: "b c a", `bottomk(3, x)`: "a c b", `x`: "a b c"} {
		res, err := e.InstantQuery(context.Background(), expr, t0)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range res.Series {
			got = append(got, s.Labels.Get("i"))
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%s: order %v, want %s", expr, got, want)
		}
	}
}
