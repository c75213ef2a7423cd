package engine_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/forma3d/meshmetrics/pkg/engine"
	"github.com/forma3d/meshmetrics/tests/otelfixture"
)

// countingConn counts the statements holding marker: "AS delta" for the
// catalog's name probes.
type countingConn struct {
	driver.Conn
	// marker (or orMarker) is in each statement counted.
	marker, orMarker string
	mu               sync.Mutex
	n                int
}

func (c *countingConn) Query(ctx context.Context, query string, args ...any) (driver.Rows, error) {
	if strings.Contains(query, c.marker) || c.orMarker != "" && strings.Contains(query, c.orMarker) {
		c.mu.Lock()
		c.n++
		c.mu.Unlock()
	}
	return c.Conn.Query(ctx, query, args...)
}

func (c *countingConn) take() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = 0
	return n
}

// probeEnv is an engine over a fresh fixture on a clock the test sets,
// counting the catalog's statements: probes ("AS delta", all of them)
// and screens ("MetricName IN (").
type probeEnv struct {
	t               *testing.T
	conn            driver.Conn
	now             time.Time
	probes, screens *countingConn
	eng             *engine.Engine
}

func newProbeEnv(t *testing.T, now time.Time) *probeEnv {
	_, conn := otelfixture.Start(t)
	p := &probeEnv{t: t, conn: conn, now: now}
	p.screens = &countingConn{Conn: conn, marker: "MetricName IN ("}
	p.probes = &countingConn{Conn: p.screens, marker: "AS delta"}
	p.eng = engine.New(p.probes, engine.Config{Strategy: engine.StrategyPortable,
		Cache: engine.CacheConfig{TTL: time.Minute, Freshness: time.Minute, MaxPoints: 1000, Now: func() time.Time { return p.now }}})
	return p
}

// insert stores a counter of the name, a point every 15 s for 15 minutes
// from t0.
func (p *probeEnv) insert(name string) {
	var pts []otelfixture.Point
	for s := 0; s <= 900; s += 15 {
		pts = append(pts, otelfixture.Point{At: t0.Add(time.Duration(s) * time.Second), Value: float64(s)})
	}
	otelfixture.Insert(p.t, p.conn, "otel_metrics_sum", name, map[string]string{"service": "api"}, pts)
}

// query runs expr at at and checks the probes it ran and the series it
// answered.
func (p *probeEnv) query(what, expr string, at time.Time, wantProbes, wantSeries int) {
	p.t.Helper()
	res, err := p.eng.InstantQuery(context.Background(), expr, at)
	if err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
	if n := p.probes.take(); n != wantProbes {
		p.t.Errorf("%s: %d probes, want %d", what, n, wantProbes)
	}
	if len(res.Series) != wantSeries {
		p.t.Errorf("%s: %d series, want %d", what, len(res.Series), wantSeries)
	}
}

// TestProbeAnswers: queries over the same names share the catalog's
// probes for five minutes, over the same range, a range within it holding
// one of the points found, and the range of the next auto-refresh; a
// range reaching further back, or holding neither point, is probed
// again. A metric stored after a probe of a past range answered "none"
// shows once the five minutes have passed (the documented bound on late
// rows), and at once for a range reaching further back; one stored after
// a probe of a range reaching the present answered "none" is new, not
// late, and shows once 10 seconds have passed: a cheap read per table
// renews the answer, and a table holding the name gets the full probe. A
// name nothing is known of is screened by that read too.
func TestProbeAnswers(t *testing.T) {
	// The present: the newest point's time, as on a live dashboard.
	present := t0.Add(15 * time.Minute)
	p := newProbeEnv(t, present)
	insert, query := p.insert, p.query
	insert("requests_total")
	wantRenewals := func(what string, want int) {
		t.Helper()
		if n := p.screens.take(); n != want {
			t.Errorf("%s: %d renewal reads, want %d", what, n, want)
		}
	}
	// A name nothing is known of is screened with the cheap read first.
	query("first query: the screen, then the full probe", `sum(rate(requests_total[5m]))`, present, 2, 1)
	wantRenewals("first query", 1)
	query("another query, same name and range", `rate(requests_total[5m])`, present, 0, 1)
	query("a range within the probed one", `rate(requests_total[1m])`, present, 0, 1)
	query("a range ending a step before, holding the point of the last minute", `rate(requests_total[1m])`, present.Add(-30*time.Second), 0, 1)
	query("a range holding neither point found", `rate(requests_total[1m])`, present.Add(-90*time.Second), 1, 1)
	query("a range reaching further back", `rate(requests_total[10m])`, present, 1, 1)
	query("a name not stored: the screen only", `rate(late_total[5m])`, present, 1, 0)
	query("another name not stored", `rate(never_total[5m])`, present, 1, 0)
	wantRenewals("two names not stored", 2)
	insert("late_total")
	query("stored since, same range", `rate(late_total[5m])`, present, 0, 0)
	p.now = present.Add(10 * time.Second)
	query("stored since, same range, within the 10 seconds", `rate(late_total[5m])`, present, 0, 0)
	p.now = p.now.Add(time.Millisecond)
	wantRenewals("before the 10 seconds passed", 0)
	query("still not stored, the 10 seconds passed", `rate(never_total[5m])`, present, 1, 0)
	wantRenewals("still not stored: the renewal read only", 1)
	query("still not stored, renewed", `rate(never_total[5m])`, present, 0, 0)
	query("stored since, same range, the 10 seconds passed", `rate(late_total[5m])`, present, 2, 1)
	wantRenewals("stored since: the renewal read, then the full probe", 1)
	p.now = present.Add(time.Minute)
	query("the refresh a minute on", `rate(requests_total[5m])`, p.now, 0, 1)
	query("stored since, the refresh a minute on", `rate(late_total[5m])`, p.now, 0, 1)
	query("stored since, a range reaching further back", `rate(late_total[5m])`, present.Add(-time.Minute), 1, 1)
	query("a range past the points found", `rate(requests_total[1m])`, present.Add(10*time.Minute), 1, 0)

	// An answer for a range that ended well before its probe ran holds
	// for that range only: rows after it were stored already.
	old := t0.Add(5 * time.Minute)
	query("a past range", `rate(missing_total[1m])`, old, 1, 0)
	query("a past range, a minute on", `rate(missing_total[1m])`, old.Add(time.Minute), 1, 0)

	// Rows stored late into a past range probed without them show once
	// the five minutes have passed.
	query("another name not stored, a past range", `rate(later_total[1m])`, old, 1, 0)
	insert("later_total")
	p.now = p.now.Add(5*time.Minute - time.Second)
	query("stored since, within the five minutes", `rate(later_total[1m])`, old, 0, 0)
	p.now = p.now.Add(time.Second)
	// Its answer gone, the name is screened again, and its table probed.
	query("stored since, the five minutes passed", `rate(later_total[1m])`, old, 2, 1)
}

// TestScreensRenewTogether: at a refresh, the first query that screens a
// name stored nowhere renews the other such names' answers in the same
// statement, so their own queries run none; a name stored since is left
// to its own query, which finds it; a screen of a past range takes no
// other names along.
func TestScreensRenewTogether(t *testing.T) {
	present := t0.Add(15 * time.Minute)
	p := newProbeEnv(t, present)
	query := func(what, name string, at time.Time, wantProbes, wantSeries int) {
		t.Helper()
		p.query(what, "rate("+name+"[5m])", at, wantProbes, wantSeries)
	}
	for _, name := range []string{"pairs_total", "certs_total", "renamed_total"} {
		query("load: "+name+" screened", name, p.now, 1, 0)
	}
	p.now = p.now.Add(time.Minute)
	query("refresh: the first screen", "pairs_total", p.now, 1, 0)
	query("refresh: renewed along", "certs_total", p.now, 0, 0)
	query("refresh: renewed along too", "renamed_total", p.now, 0, 0)

	p.insert("certs_total")
	p.now = p.now.Add(time.Minute)
	query("next refresh: the first screen", "pairs_total", p.now, 1, 0)
	query("stored since: its own screen, then the full probe", "certs_total", p.now, 2, 1)
	// certs_total's own screen took renamed_total along, in a read of
	// its own that found nothing.
	query("stored nowhere, renewed along by certs_total's screen", "renamed_total", p.now, 0, 0)

	p.now = p.now.Add(time.Minute)
	query("a past range's screen (a name nothing is known of)", "retired_total", present.Add(-time.Hour), 1, 0)
	p.screens.take()
	query("not taken along by a past range's screen", "renamed_total", p.now, 1, 0)
	if n := p.screens.take(); n != 1 {
		t.Errorf("renamed_total after a past range's screen: %d screens, want 1 (its own)", n)
	}
}
