package bench

import (
	"sync"
	"testing"
	"time"
)

// engineClock is the dashboard benchmark's clock for the plugin's caches:
// it runs only while the engine answers a query. In production the
// panels' queries reach the plugin together (Grafana sends them at
// once), so what one panel's query keeps for a few seconds (the recent
// evaluations, DefaultCache.Recent; absent names, probeAbsentKeep) is
// there for the next panel's. In the benchmark, Prometheus' answers to
// each panel, and the garbage collections and allocator purges that
// attribute memory to each query, run between the engine's queries; on a
// wall clock they would age those entries by seconds to minutes, which no
// dashboard load does.
type engineClock struct {
	mu      sync.Mutex
	at      time.Time // the clock's time when it last stopped
	running bool
	since   time.Time // when it started running, by the wall clock
}

func newEngineClock(at time.Time) *engineClock { return &engineClock{at: at} }

// Now is the clock's time; the engine's cache reads it.
func (c *engineClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		return c.at.Add(time.Since(c.since))
	}
	return c.at
}

// set moves the clock to at, as the dashboard's refresh moves "now".
func (c *engineClock) set(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at, c.running = at, false
}

// run runs f with the clock running.
func (c *engineClock) run(f func()) {
	c.mu.Lock()
	c.running, c.since = true, time.Now()
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.at, c.running = c.at.Add(time.Since(c.since)), false
	}()
	f()
}

func TestEngineClock(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	c := newEngineClock(start)
	time.Sleep(5 * time.Millisecond)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("the clock ran outside run: %v, want %v", got, start)
	}
	var inside time.Time
	c.run(func() {
		time.Sleep(5 * time.Millisecond)
		inside = c.Now()
	})
	if d := inside.Sub(start); d < 5*time.Millisecond {
		t.Errorf("inside run the clock moved %v, want at least 5ms", d)
	}
	after := c.Now()
	if after.Before(inside) {
		t.Errorf("the clock went back from %v to %v when run ended", inside, after)
	}
	time.Sleep(5 * time.Millisecond)
	if got := c.Now(); !got.Equal(after) {
		t.Errorf("the clock ran after run: %v, want %v", got, after)
	}
	c.set(start.Add(time.Minute))
	if got := c.Now(); !got.Equal(start.Add(time.Minute)) {
		t.Errorf("after set: %v, want %v", got, start.Add(time.Minute))
	}
}
