package engine_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/forma3d/meshmetrics/pkg/engine"
	"github.com/forma3d/meshmetrics/tests/otelfixture"
)

// recordingConn passes statements to ClickHouse and remembers the ones
// that evaluate a query (not the catalog's name probes).
type recordingConn struct {
	driver.Conn
	mu         sync.Mutex
	statements []string
	// ran, when set, is called after each recorded statement (a test's
	// clock moving on while it runs).
	ran func()
}

func (c *recordingConn) Query(ctx context.Context, query string, args ...any) (driver.Rows, error) {
	rows, err := c.Conn.Query(ctx, query, args...)
	if strings.Contains(query, "AS names") || strings.Contains(query, "AS label_pairs") {
		c.mu.Lock()
		c.statements = append(c.statements, query)
		if c.ran != nil {
			c.ran()
		}
		c.mu.Unlock()
	}
	return rows, err
}

// take returns and forgets the statements run since the last take.
func (c *recordingConn) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.statements
	c.statements = nil
	return out
}

// TestResultCache: a range query's answer through the cache equals the
// uncached engine's whether it comes from the cache, from one statement
// over the new times only, or from a whole statement; times newer than
// Freshness are never kept; a row stored late shows once TTL has passed,
// not before (the documented bound).
func TestResultCache(t *testing.T) {
	_, conn := otelfixture.Start(t)
	// Two counters for 3 hours from t0, one reset each.
	for k, svc := range []string{"api", "web"} {
		var pts []otelfixture.Point
		for s := 0; s <= 3*3600; s += 15 {
			v := float64((s%5000)*(k+2)) / 10
			pts = append(pts, otelfixture.Point{At: t0.Add(time.Duration(s+k*4) * time.Second), Value: v})
		}
		otelfixture.Insert(t, conn, "otel_metrics_sum", "requests_total", map[string]string{"service": svc}, pts)
	}
	now := t0.Add(2*time.Hour - 10*time.Minute)
	clock := func() time.Time { return now }
	rec := &recordingConn{Conn: conn}
	cached := engine.New(rec, engine.Config{Strategy: engine.StrategyPortable,
		Cache: engine.CacheConfig{TTL: 10 * time.Minute, Freshness: 10 * time.Minute, MaxPoints: 100000, Now: clock}})
	plain := engine.New(conn, engine.Config{Strategy: engine.StrategyPortable})
	ctx := context.Background()
	const expr = `sum by (service) (rate(requests_total[5m]))`
	step := time.Minute

	query := func(what string, from, to time.Duration, wantStatements int, wantStartAt time.Duration) {
		t.Helper()
		got, err := cached.RangeQuery(ctx, expr, t0.Add(from), t0.Add(to), step)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		want, err := plain.RangeQuery(ctx, expr, t0.Add(from), t0.Add(to), step)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := render(got), render(want); g != w {
			t.Errorf("%s: answer through the cache differs from the engine's:\n got %s\nwant %s", what, g, w)
		}
		statements := rec.take()
		if len(statements) != wantStatements {
			t.Fatalf("%s: %d statements, want %d", what, len(statements), wantStatements)
		}
		if wantStatements == 1 {
			// The statement's grid starts where the cache stopped.
			if first := fmt.Sprintf("(%d + i * %d)", t0.Add(wantStartAt).UnixMilli(), step.Milliseconds()); !strings.Contains(statements[0], first) {
				t.Errorf("%s: the statement does not evaluate from %s on (no %q)", what, t0.Add(wantStartAt), first)
			}
		}
	}

	query("cold", 30*time.Minute, 90*time.Minute, 1, 30*time.Minute)
	query("moved forward by one step", 31*time.Minute, 91*time.Minute, 1, 91*time.Minute)
	query("inside what is cached", 40*time.Minute, 80*time.Minute, 0, 0)
	query("before what is cached", 20*time.Minute, 60*time.Minute, 1, 20*time.Minute)
	query("the longer span is kept", 31*time.Minute, 91*time.Minute, 0, 0)
	query("other phase", 20*time.Minute+30*time.Second, 60*time.Minute+30*time.Second, 1, 20*time.Minute+30*time.Second)

	// The recent past is not kept: 10 minutes later, with now at t0+2h,
	// times after t0+1h50m are computed again on every request.
	now = now.Add(10 * time.Minute)
	recentEnd := now.Sub(t0)
	query("recent, cold", recentEnd-time.Hour, recentEnd, 1, recentEnd-time.Hour)
	query("recent, again", recentEnd-time.Hour, recentEnd, 1, recentEnd-9*time.Minute)
	// With offset -5m an evaluation reads 5 minutes after itself: 5
	// minutes fewer are kept.
	ahead, err := cached.RangeQuery(ctx, `requests_total offset -5m`, t0.Add(recentEnd-time.Hour), t0.Add(recentEnd), step)
	if err != nil {
		t.Fatal(err)
	}
	rec.take()
	if _, err := cached.RangeQuery(ctx, `requests_total offset -5m`, t0.Add(recentEnd-time.Hour), t0.Add(recentEnd), step); err != nil {
		t.Fatal(err)
	}
	// An instant selector's statement places points on the grid with
	// (t + … - start) / step.
	if first := fmt.Sprintf("- %d) / %d)", t0.Add(recentEnd-14*time.Minute).UnixMilli(), step.Milliseconds()); len(ahead.Series) == 0 || !strings.Contains(strings.Join(rec.take(), ""), first) {
		t.Errorf("offset -5m: the second request should evaluate from %s on (%d series)", t0.Add(recentEnd-14*time.Minute), len(ahead.Series))
	}

	// A late series inside the cached range: not seen within TTL (the
	// answer is the one computed before), seen after it.
	now = t0.Add(4 * time.Hour)
	query("cache the first hour", 0, 60*time.Minute, 1, 0)
	var late []otelfixture.Point
	for s := 600; s <= 3000; s += 15 {
		late = append(late, otelfixture.Point{At: t0.Add(time.Duration(s) * time.Second), Value: float64(s)})
	}
	otelfixture.Insert(t, conn, "otel_metrics_sum", "requests_total", map[string]string{"service": "late"}, late)
	stale, err := cached.RangeQuery(ctx, expr, t0, t0.Add(60*time.Minute), step)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(render(stale), "late") || len(rec.take()) != 0 {
		t.Errorf("within TTL, the answer should come from the cache, without the late series: %s", render(stale))
	}
	now = now.Add(10 * time.Minute)
	query("after TTL", 0, 60*time.Minute, 1, 0)
	if fresh, _ := cached.RangeQuery(ctx, expr, t0, t0.Add(60*time.Minute), step); !strings.Contains(render(fresh), `service="late"`) {
		t.Errorf("after TTL the late series should show: %s", render(fresh))
	}
	rec.take()

	// A scalar's answer, cached or not, is the engine's (a NaN per step).
	want, err := plain.RangeQuery(ctx, `scalar(sum(requests_total{service="none"}))`, t0, t0.Add(time.Hour), step)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		got, err := cached.RangeQuery(ctx, `scalar(sum(requests_total{service="none"}))`, t0, t0.Add(time.Hour), step)
		if err != nil {
			t.Fatal(err)
		}
		if render(got) != render(want) {
			t.Errorf("scalar without data through the cache: %s, want %s", render(got), render(want))
		}
	}
	if n := len(rec.take()); n != 1 {
		t.Errorf("scalar twice: %d statements, want 1", n)
	}

	// Entries over MaxPoints are not kept; answers stay right.
	tiny := engine.New(rec, engine.Config{Strategy: engine.StrategyPortable,
		Cache: engine.CacheConfig{TTL: time.Hour, Freshness: time.Minute, MaxPoints: 10, Now: clock}})
	for range 2 {
		got, err := tiny.RangeQuery(ctx, expr, t0, t0.Add(time.Hour), step)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := plain.RangeQuery(ctx, expr, t0, t0.Add(time.Hour), step)
		if render(got) != render(want) {
			t.Errorf("over MaxPoints: answer differs")
		}
	}
	if n := len(rec.take()); n != 2 {
		t.Errorf("over MaxPoints: %d statements for two requests, want 2 (nothing kept)", n)
	}
}

// render is an answer as text: series by labels, their points.
func render(r *engine.Result) string { return renderValues(r, "%g") }

// renderValues renders an answer with each value in the format verb.
func renderValues(r *engine.Result, verb string) string {
	var b strings.Builder
	for _, s := range r.Series {
		b.WriteString(s.Labels.String())
		for _, p := range s.Points {
			fmt.Fprintf(&b, " %d:"+verb, p.T.Unix(), p.V)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// delayingConn holds every evaluating statement for delay, so that
// queries started together overlap.
type delayingConn struct {
	*recordingConn
	delay time.Duration
}

func (c *delayingConn) Query(ctx context.Context, query string, args ...any) (driver.Rows, error) {
	if strings.Contains(query, "AS names") || strings.Contains(query, "AS label_pairs") {
		time.Sleep(c.delay)
	}
	return c.recordingConn.Query(ctx, query, args...)
}

// TestSharedLeaves: split range queries share a leaf's cached evaluations
// (a panel's p50/p95/p99 over one sum); the answers equal the uncached
// engine's; the recent past still runs; queries sharing a leaf that start
// together run its statement once.
func TestSharedLeaves(t *testing.T) {
	_, conn := otelfixture.Start(t)
	for k, svc := range []string{"api", "web"} {
		var pts []otelfixture.Point
		for s := 0; s <= 3*3600; s += 15 {
			pts = append(pts, otelfixture.Point{At: t0.Add(time.Duration(s+k*4) * time.Second), Value: float64((s%4000)*(k+1)) / 10})
		}
		otelfixture.Insert(t, conn, "otel_metrics_sum", "requests_total", map[string]string{"service": svc}, pts)
	}
	now := t0.Add(3 * time.Hour)
	rec := &recordingConn{Conn: conn}
	cached := engine.New(rec, engine.Config{Strategy: engine.StrategyPortable,
		Cache: engine.CacheConfig{TTL: 10 * time.Minute, Freshness: 10 * time.Minute, MaxPoints: 100000, Now: func() time.Time { return now }}})
	plain := engine.New(conn, engine.Config{Strategy: engine.StrategyPortable})
	ctx := context.Background()
	const leaf = `sum by (service) (rate(requests_total[5m]))`
	step := time.Minute

	cases := []struct {
		what, expr   string
		from, to     time.Duration
		statements   int
		fromTheCache bool
	}{
		{"first query over the leaf", leaf + ` * 2`, 30 * time.Minute, 2 * time.Hour, 1, false},
		{"another query over the same leaf", `0.5 * ` + leaf + ` > 0.01`, 30 * time.Minute, 2 * time.Hour, 0, true},
		{"two leaves, one shared", leaf + ` / on (service) sum by (service) (rate(requests_total[10m]))`, 30 * time.Minute, 2 * time.Hour, 1, true},
		{"the leaf alone, a query of its own", leaf, 30 * time.Minute, 2 * time.Hour, 0, true},
		{"a range reaching the recent past", `-` + leaf, 2 * time.Hour, 3 * time.Hour, 1, true},
	}
	for _, c := range cases {
		got, err := cached.RangeQuery(ctx, c.expr, t0.Add(c.from), t0.Add(c.to), step)
		if err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		want, err := plain.RangeQuery(ctx, c.expr, t0.Add(c.from), t0.Add(c.to), step)
		if err != nil {
			t.Fatal(err)
		}
		if len(want.Series) == 0 {
			t.Fatalf("%s: the engine answers nothing; the case tests nothing", c.what)
		}
		if g, w := render(got), render(want); g != w {
			t.Errorf("%s: answer differs from the uncached engine's:\n got %s\nwant %s", c.what, g, w)
		}
		if n := len(rec.take()); n != c.statements {
			t.Errorf("%s: %d statements, want %d", c.what, n, c.statements)
		}
		if cachedLeaf := strings.Contains(got.SQL, "from the result cache"); cachedLeaf != c.fromTheCache {
			t.Errorf("%s: a leaf from the result cache: %v, want %v; SQL:\n%.600s", c.what, cachedLeaf, c.fromTheCache, got.SQL)
		}
	}

	// Three queries over one leaf, started together (a panel's queries run
	// in parallel): one statement; each answer is the engine's.
	slow := &delayingConn{recordingConn: &recordingConn{Conn: conn}, delay: 500 * time.Millisecond}
	together := engine.New(slow, engine.Config{Strategy: engine.StrategyPortable,
		Cache: engine.CacheConfig{TTL: 10 * time.Minute, Freshness: 10 * time.Minute, MaxPoints: 100000, Now: func() time.Time { return now }}})
	exprs := []string{`histogram_quantile(0.5, ` + leaf + `)`, leaf + ` * 2`, leaf + ` / 3`}
	got := make([]*engine.Result, len(exprs))
	errs := make([]error, len(exprs))
	var wg sync.WaitGroup
	for i, expr := range exprs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = together.RangeQuery(ctx, expr, t0.Add(30*time.Minute), t0.Add(90*time.Minute), step)
		}()
	}
	wg.Wait()
	for i, expr := range exprs {
		if errs[i] != nil {
			t.Fatalf("%s: %v", expr, errs[i])
		}
		want, err := plain.RangeQuery(ctx, expr, t0.Add(30*time.Minute), t0.Add(90*time.Minute), step)
		if err != nil {
			t.Fatal(err)
		}
		if render(got[i]) != render(want) {
			t.Errorf("%s, run together: answer differs from the engine's", expr)
		}
	}
	if n := len(slow.take()); n != 1 {
		t.Errorf("three queries over one leaf started together ran %d statements, want 1", n)
	}
}

// TestRecentEvaluations: evaluations newer than Freshness are served for
// Recent after they were computed (the queries of one dashboard load),
// then computed again; the answers are the engine's.
func TestRecentEvaluations(t *testing.T) {
	_, conn := otelfixture.Start(t)
	var pts []otelfixture.Point
	for s := 0; s <= 3*3600; s += 15 {
		pts = append(pts, otelfixture.Point{At: t0.Add(time.Duration(s) * time.Second), Value: float64(s % 3000)})
	}
	otelfixture.Insert(t, conn, "otel_metrics_sum", "requests_total", map[string]string{"service": "api"}, pts)
	now := t0.Add(3 * time.Hour)
	rec := &recordingConn{Conn: conn}
	cached := engine.New(rec, engine.Config{Strategy: engine.StrategyPortable,
		Cache: engine.CacheConfig{TTL: 10 * time.Minute, Freshness: 10 * time.Minute, Recent: 5 * time.Second, MaxPoints: 100000, Now: func() time.Time { return now }}})
	plain := engine.New(conn, engine.Config{Strategy: engine.StrategyPortable})
	const leaf = `sum(rate(requests_total[5m]))`
	from, to, step := t0.Add(2*time.Hour), t0.Add(3*time.Hour), time.Minute
	cases := []struct {
		what, expr string
		later      time.Duration
		runs       time.Duration // how long each statement takes by the clock
		statements int
		from       time.Duration // where the statement's grid starts
	}{
		{"cold", leaf, 0, 0, 1, 2 * time.Hour},
		{"again, within Recent", leaf, time.Second, 0, 0, 0},
		{"another query over the leaf, within Recent", leaf + ` * 60`, time.Second, 0, 0, 0},
		{"again, after Recent", leaf, 5 * time.Second, 0, 1, 2*time.Hour + 50*time.Minute + time.Minute},
		// Recent counts from when the computation ended: one of 8 s is
		// served 4 s after it ended, then no more.
		{"again, after Recent, a statement of 8 s", leaf, 5 * time.Second, 8 * time.Second, 1, 2*time.Hour + 50*time.Minute + time.Minute},
		{"4 s after that statement ended", leaf, 4 * time.Second, 0, 0, 0},
		{"6 s after it ended", leaf, 2 * time.Second, 0, 1, 2*time.Hour + 50*time.Minute + time.Minute},
	}
	for _, c := range cases {
		now = now.Add(c.later)
		rec.ran = func() { now = now.Add(c.runs) }
		got, want := rangeBoth(t, c.what, cached, plain, c.expr, from, to, step)
		if g, w := render(got), render(want); g != w || len(want.Series) == 0 {
			t.Errorf("%s: answer differs from the engine's (or is empty):\n got %s\nwant %s", c.what, g, w)
		}
		statements := rec.take()
		if len(statements) != c.statements {
			t.Fatalf("%s: %d statements, want %d", c.what, len(statements), c.statements)
		}
		if c.statements == 1 {
			if first := fmt.Sprintf("(%d + i * %d)", t0.Add(c.from).UnixMilli(), step.Milliseconds()); !strings.Contains(statements[0], first) {
				t.Errorf("%s: the statement does not evaluate from %s on (no %q)", c.what, t0.Add(c.from), first)
			}
		}
	}
}
