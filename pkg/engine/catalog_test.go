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

// probeCountingConn counts the catalog's name probes.
type probeCountingConn struct {
	driver.Conn
	mu     sync.Mutex
	probes int
}

func (c *probeCountingConn) Query(ctx context.Context, query string, args ...any) (driver.Rows, error) {
	if strings.Contains(query, "AS delta") {
		c.mu.Lock()
		c.probes++
		c.mu.Unlock()
	}
	return c.Conn.Query(ctx, query, args...)
}

func (c *probeCountingConn) take() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.probes
	c.probes = 0
	return n
}

// TestProbeAnswers: queries over the same names and range share the
// catalog's probes for a minute; a metric stored after a probe answered
// "none" shows once that minute has passed (the documented bound), and
// at once for another range.
func TestProbeAnswers(t *testing.T) {
	_, conn := otelfixture.Start(t)
	insert := func(name string) {
		var pts []otelfixture.Point
		for s := 0; s <= 900; s += 15 {
			pts = append(pts, otelfixture.Point{At: t0.Add(time.Duration(s) * time.Second), Value: float64(s)})
		}
		otelfixture.Insert(t, conn, "otel_metrics_sum", name, map[string]string{"service": "api"}, pts)
	}
	insert("requests_total")
	now := t0.Add(time.Hour)
	rec := &probeCountingConn{Conn: conn}
	eng := engine.New(rec, engine.Config{Strategy: engine.StrategyPortable,
		Cache: engine.CacheConfig{TTL: time.Minute, Freshness: time.Minute, MaxPoints: 1000, Now: func() time.Time { return now }}})
	ctx := context.Background()
	at := t0.Add(10 * time.Minute)
	query := func(what, expr string, at time.Time, wantProbes, wantSeries int) {
		t.Helper()
		res, err := eng.InstantQuery(ctx, expr, at)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if n := rec.take(); n != wantProbes {
			t.Errorf("%s: %d probes, want %d", what, n, wantProbes)
		}
		if len(res.Series) != wantSeries {
			t.Errorf("%s: %d series, want %d", what, len(res.Series), wantSeries)
		}
	}
	query("first query", `sum(rate(requests_total[5m]))`, at, 1, 1)
	query("another query, same name and range", `rate(requests_total[5m])`, at, 0, 1)
	query("a name not stored", `rate(late_total[5m])`, at, 1, 0)
	insert("late_total")
	query("stored since, within the minute", `rate(late_total[5m])`, at, 0, 0)
	query("stored since, another range", `rate(late_total[5m])`, at.Add(time.Minute), 1, 1)
	now = now.Add(time.Minute)
	query("stored since, the minute passed", `rate(late_total[5m])`, at, 1, 1)
}
