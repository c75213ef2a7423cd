package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/forma3d/meshmetrics/tests/clickhouse/chtest"
	"github.com/forma3d/meshmetrics/tests/meshstack"
)

// ClickHouse stops for 30 s mid-run and comes back on the same data and
// port, and the collector is restarted before it is back: the persistent
// sending queue holds the scrapes across both and delivers them, so every
// scrape the collector took is stored, none missing, with traffic flowing
// throughout.
func TestClickHouseOutageLosesNoSamples(t *testing.T) {
	dataDir := t.TempDir()
	ch, err := chtest.Launch(chtest.Options{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	addr := ch.Addr
	current := ch
	t.Cleanup(func() {
		if err := current.Stop(); err != nil {
			t.Error(err)
		}
	})
	rec := &scrapeRecorder{}
	stack := startStack(t, addr, rec)
	conn := chConn(t, addr)
	const reloads = "traefik_config_reloads_total"

	loadCtx, stopLoad := context.WithCancel(context.Background())
	loadDone := make(chan struct{})
	truth := meshstack.NewTruth()
	go func() {
		defer close(loadDone)
		meshstack.Steady(loadCtx, stack.Targets, 10, truth)
	}()
	t.Cleanup(func() { stopLoad(); <-loadDone })

	waitScrapes(t, conn, reloads, 3, 0, 60*time.Second)
	if err := ch.Stop(); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	time.Sleep(30 * time.Second)
	if stack.Collector.Exited() {
		t.Fatalf("the collector exited during the outage:\n%s", stack.Collector.Output())
	}
	// The collector restarts too before ClickHouse is back: what it
	// queued during the outage must survive in file_storage. (It needs
	// ClickHouse at start to create the schema, so it comes back last.)
	if err := stack.StopCollector(); err != nil {
		t.Fatal(err)
	}
	collectorDown := time.Now()
	if current, err = chtest.Launch(chtest.Options{DataDir: dataDir, Listen: addr}); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	if err := stack.StartCollectorAgain(); err != nil {
		t.Fatal(err)
	}
	collectorUp := time.Now()
	t.Logf("ClickHouse down from %s to %s; collector down from %s to %s", down.UTC().Format(time.TimeOnly),
		up.UTC().Format(time.TimeOnly), collectorDown.UTC().Format(time.TimeOnly), collectorUp.UTC().Format(time.TimeOnly))
	time.Sleep(3 * scrapeInterval)
	served := rec.stop()
	stopLoad()
	<-loadDone

	// Retries back off up to 30 s after the outage: wait for the queue to
	// drain, then every successful scrape must be stored exactly once.
	var ts []int64
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ts, err = storedScrapes(testCtx(t, 10*time.Second), conn, reloads)
		if err == nil && len(ts) >= len(served) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != len(served) {
		t.Errorf("%d scrapes served to the collector, %d stored", len(served), len(ts))
	}
	during := 0
	for i, x := range ts {
		if x >= down.Unix() && x <= collectorDown.Unix() {
			during++
		}
		if i == 0 {
			continue
		}
		// While no collector ran nothing was scraped: that gap is no loss.
		prev := ts[i-1]
		acrossRestart := prev <= collectorDown.Unix() && x >= collectorDown.Unix()
		if !acrossRestart && time.Duration(x-prev)*time.Second > scrapeInterval+time.Second {
			t.Errorf("gap in the stored scrapes: %s then %s", time.Unix(prev, 0).UTC().Format(time.TimeOnly), time.Unix(x, 0).UTC().Format(time.TimeOnly))
		}
	}
	if atLeast := int(30*time.Second/scrapeInterval) - 2; during < atLeast {
		t.Errorf("%d scrapes stored from the outage, want at least %d", during, atLeast)
	}

	// Every request series is continuous too, from its first scrape on.
	rows, err := conn.Query(testCtx(t, 30*time.Second), `SELECT Attributes['service'] AS s, Attributes['code'] AS c,
		count(DISTINCT TimeUnix), toInt64(toUnixTimestamp(min(TimeUnix))), toInt64(toUnixTimestamp(max(TimeUnix)))
		FROM otel.otel_metrics_sum WHERE MetricName = 'traefik_service_requests_total' AND bitAnd(Flags, 1) = 0
		GROUP BY s, c ORDER BY s, c`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	series := 0
	for rows.Next() {
		var svc, code string
		var n uint64
		var first, last int64
		if err := rows.Scan(&svc, &code, &n, &first, &last); err != nil {
			t.Fatal(err)
		}
		series++
		want := 0
		for _, x := range ts {
			if x >= first && x <= last {
				want++
			}
		}
		if int(n) != want || last != ts[len(ts)-1] {
			t.Errorf("%s code %s: %d scrapes stored from %s to %s, want %d ending at the last scrape", svc, code, n,
				time.Unix(first, 0).UTC().Format(time.TimeOnly), time.Unix(last, 0).UTC().Format(time.TimeOnly), want)
		}
	}
	if series < len(stack.Targets) {
		t.Errorf("only %d request series stored", series)
	}
	t.Logf("%d scrapes, %d during the outage, %d request series; %s", len(ts), during, series, fmt.Sprint(truth.Total(stack.Targets[0].Label), " requests to ", stack.Targets[0].Label))
}
