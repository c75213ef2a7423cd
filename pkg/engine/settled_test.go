package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/forma3d/meshmetrics/pkg/engine"
	"github.com/forma3d/meshmetrics/tests/clickhouse/chtest"
	"github.com/forma3d/meshmetrics/tests/otelfixture"
)

// A source's next read of recent points takes the points that were older
// than the result cache's Freshness at its last read from that read, and
// reads only the newer ones (settled.go): the answers equal the
// exporter-table statement's, for a counter and a histogram; a late point
// among the settled ones is hidden until the TTL after they were read and
// seen from then, also through a range query's kept evaluations and a
// window summaries store's kept blocks, which age from the settled points
// behind them, not from their computation.
func TestSettledPoints(t *testing.T) {
	conn, counter := recentTablesWithCounters(t)
	for i, svc := range []string{"api", "web"} {
		counter("requests_total", svc, 0, 1800, func(s int) float64 { return float64(s * (i + 1) / 15) })
		counter("calls_total", svc, 0, 5400, func(s int) float64 { return float64(s * (i + 1) / 15) })
		var hs []otelfixture.HistogramPoint
		for s := 0; s <= 1800; s += 15 {
			n := uint64(s / 15 * (i + 1))
			hs = append(hs, otelfixture.HistogramPoint{At: t0.Add(time.Duration(s) * time.Second), Bounds: []float64{0.1, 1}, Counts: []uint64{n, 2 * n, 1}, Sum: float64(n) * 0.3})
		}
		otelfixture.InsertHistogram(t, conn, "duration_seconds", map[string]string{"service": svc}, hs)
	}
	// A late point of api between two of its points 12 minutes before
	// the queries: a jump the increase over 15 minutes counts.
	late := func(metric string, s int) { counter(metric, "api", s, s, func(int) float64 { return 1e6 }) }

	// The queries are at one time; the engine's clock moves.
	at := t0.Add(30 * time.Minute)
	now := at
	rec, eng, plain := settlingEngines(conn, &now)
	ctx := context.Background()
	instant := func(expr string) (got, want string, sql string) {
		t.Helper()
		g, err := eng.InstantQuery(ctx, expr, at)
		if err != nil {
			t.Fatal(err)
		}
		w, err := plain.InstantQuery(ctx, expr, at)
		if err != nil {
			t.Fatal(err)
		}
		return answerText(g), answerText(w), g.SQL
	}
	// settledBefore is what the SQL of a read that took the points at or
	// before settled from an earlier one says, and where its statement
	// starts.
	settledBefore := func(settled time.Time) []string {
		return []string{"-- the points at or before " + settled.UTC().Format(time.RFC3339Nano) + " from an earlier read",
			fmt.Sprintf("TimeUnix > toDateTime(%d)", settled.Unix())}
	}
	// Windows of 20 minutes: each read is of (at-20m, at], whatever the
	// clock (a shorter one near the clock reads up to Recent after it).
	const increase = `sum by (service) (increase(requests_total[20m]))`
	const buckets = `sum by (le) (increase(duration_seconds_bucket[20m]))`
	steps := []struct {
		what    string
		clock   time.Duration // after at
		before  func()
		expr    string
		settled time.Time // zero: the read takes nothing from an earlier one
		// verified: the read takes the points up to it from an earlier one
		// too, having counted the rows stored there (zero: none).
		verified time.Time
		hidden   bool // the answer lacks the late point
	}{
		{what: "the first read, whole", expr: increase},
		{what: "the first read of the histogram", expr: buckets},
		{what: "a minute on, the newer points only", clock: time.Minute, expr: increase, settled: at.Add(-10 * time.Minute), verified: at.Add(-time.Minute)},
		{what: "the histogram a minute on", clock: time.Minute, expr: buckets, settled: at.Add(-10 * time.Minute), verified: at.Add(-time.Minute)},
		// Each read settles what the clock's Freshness allows.
		{what: "a late point among the settled ones is hidden", clock: time.Minute + 10*time.Second, before: func() { late("requests_total", 1087) },
			expr: increase, settled: at.Add(-9 * time.Minute), hidden: true},
		{what: "still within the TTL of the first read", clock: 10*time.Minute - time.Second, expr: increase, settled: at.Add(-9*time.Minute + 10*time.Second), hidden: true},
		{what: "the TTL after the first read: read whole, the late point seen", clock: 10 * time.Minute, expr: increase},
	}
	var first string
	for _, s := range steps {
		now = at.Add(s.clock)
		var hiddenWant string
		if s.before != nil {
			_, hiddenWant, _ = instant(s.expr)
			s.before()
		}
		got, want, sql := instant(s.expr)
		if s.expr == increase && first == "" {
			first = got
		}
		switch {
		case s.hidden && (got != first || got == want):
			t.Errorf("%s: got\n%s\nwant the answer without the late point\n%s\n(with it:\n%s)", s.what, got, first, want)
		case s.hidden && hiddenWant != "" && hiddenWant != first:
			t.Errorf("%s: the answer before the late point changed:\n%s\nfirst:\n%s", s.what, hiddenWant, first)
		case !s.hidden && got != want:
			t.Errorf("%s: got\n%s\nwant (the exporter's tables)\n%s", s.what, got, want)
		}
		for _, say := range settledBefore(s.settled) {
			if s.settled.IsZero() {
				say = "from an earlier read"
				if strings.Contains(sql, say) {
					t.Errorf("%s: the SQL says %q:\n%.600s", s.what, say, sql)
				}
				break
			}
			if !strings.Contains(sql, say) {
				t.Errorf("%s: the SQL does not say %q:\n%.600s", s.what, say, sql)
			}
		}
		if !s.verified.IsZero() {
			verified := verifiedUpTo(s.verified)
			if !strings.Contains(sql, verified[0]) || !strings.Contains(sql, verified[1]) {
				t.Errorf("%s: the SQL does not say %q:\n%s", s.what, verified, sql)
			}
		}
		if reads, _ := rec.take(); reads != 1 {
			t.Errorf("%s: %d reads of points, want 1", s.what, reads)
		}
	}

	// A range query computed from settled points read 5 minutes earlier
	// (by another query of the source) keeps its evaluations only up to
	// the TTL after that read: a late point stored right after it is in
	// the answers once it is that old.
	const rate = `sum(rate(calls_total[5m]))`
	at = t0.Add(90 * time.Minute)
	now = at
	rangeAt := func() (got, want string) {
		g, w := rangeBoth(t, "calls", eng, plain, rate, at.Add(-10*time.Minute), at, 30*time.Second)
		return answerText(g), answerText(w)
	}
	if _, err := eng.InstantQuery(ctx, `sum(increase(calls_total[20m]))`, at); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	late("calls_total", 5400-12*60+7)
	now = at.Add(5 * time.Minute)
	if got, want := rangeAt(); got == want {
		t.Errorf("a range query from settled points read before the late points: the answer has them:\n%s", got)
	}
	now = at.Add(10*time.Minute + 2*time.Second)
	if got, want := rangeAt(); got != want {
		t.Errorf("the TTL after the settled points were read: got\n%s\nwant\n%s", got, want)
	}

	// So does a window summaries store a block summarized from settled
	// points. T is a block's end: the summary at T+2m (cold, by its
	// statement) keeps the blocks up to T-10m; the points read at T+1m
	// settle those up to T-9m; one stored late at T-9m23s (in the block
	// ending at T) is missed by the summary at T+3m, read at T+10m30s
	// (the block from the settled points, then kept), and seen at T+4m,
	// read at T+11m30s: the store is as old as those points.
	const hits = `sum(increase(hits_total[1h]))`
	for i, svc := range []string{"api", "web"} {
		counter("hits_total", svc, 0, 6000, func(s int) float64 { return float64(s * (i + 1) / 15) })
	}
	// (After the clock of the range query above: the engine's clock does
	// not go back.)
	T := t0.Add(100 * time.Minute)
	summary := func(clock, query time.Duration) (got, want, sql string) {
		now = T.Add(clock)
		g, err := eng.InstantQuery(ctx, hits, T.Add(query))
		if err != nil {
			t.Fatal(err)
		}
		w, err := plain.InstantQuery(ctx, hits, T.Add(query))
		if err != nil {
			t.Fatal(err)
		}
		// Ten digits: the summaries add resets block by block (summaries.go).
		return renderValues(g, "%.10g"), renderValues(w, "%.10g"), g.SQL
	}
	now = T.Add(time.Minute)
	if _, err := eng.InstantQuery(ctx, `sum(increase(hits_total[20m]))`, now); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	late("hits_total", 6000-9*60-23)
	if got, want, sql := summary(2*time.Minute, 2*time.Minute); got != want {
		t.Errorf("the window summary, cold: got\n%s\nwant\n%s\n%s", got, want, sql)
	}
	if got, want, sql := summary(10*time.Minute+30*time.Second, 3*time.Minute); got == want || !strings.Contains(sql, "from an earlier read") {
		t.Errorf("the window summary from settled points read before the late point: got\n%s\n(the exporter's tables\n%s)\n%.600s", got, want, sql)
	}
	if got, want, _ := summary(11*time.Minute+30*time.Second, 4*time.Minute); got != want {
		t.Errorf("the window summary the TTL after the settled points were read: got\n%s\nwant\n%s", got, want)
	}
}

// verifiedUpTo is what the SQL of a read that took the points up to upTo
// from an earlier one, having counted the rows stored there, says, and
// where its points statement starts.
func verifiedUpTo(upTo time.Time) []string {
	return []string{"-- the points up to " + upTo.UTC().Format(time.RFC3339Nano) + " from an earlier read too",
		fmt.Sprintf("TimeUnix > toDateTime(%d)", upTo.Unix())}
}

// A read of recent points takes the kept read's points newer than its
// settled ones too when the rows stored there are as many as it holds
// (verified points, settled.go): a refresh a minute on reads only the
// newest points, and a late point among those counted is seen at once,
// not the TTL later as among settled ones.
func TestVerifiedPoints(t *testing.T) {
	conn, counter := recentTablesWithCounters(t)
	for i, svc := range []string{"api", "web"} {
		counter("visits_total", svc, 0, 3600, func(s int) float64 { return float64(s * (i + 1) / 15) })
	}
	at := t0.Add(45 * time.Minute)
	now := at
	rec, eng, plain := settlingEngines(conn, &now)
	ctx := context.Background()
	const increase = `sum by (service) (increase(visits_total[20m]))`
	// query runs the increase at the clock, after minutes.
	query := func(minutes, wantReads int) (got, want, sql string) {
		t.Helper()
		now = at.Add(time.Duration(minutes) * time.Minute)
		g, err := eng.InstantQuery(ctx, increase, now)
		if err != nil {
			t.Fatal(err)
		}
		w, err := plain.InstantQuery(ctx, increase, now)
		if err != nil {
			t.Fatal(err)
		}
		if reads, _ := rec.take(); reads != wantReads {
			t.Errorf("after %d minutes: %d reads of points, want %d", minutes, reads, wantReads)
		}
		return answerText(g), answerText(w), g.SQL
	}
	if got, want, _ := query(0, 1); got != want {
		t.Fatalf("the first read: got\n%s\nwant\n%s", got, want)
	}
	// A minute on: the points up to a minute before the first read's
	// clock counted, not read.
	got, want, sql := query(1, 1)
	if got != want {
		t.Errorf("a minute on: got\n%s\nwant\n%s", got, want)
	}
	for _, say := range verifiedUpTo(at.Add(-time.Minute)) {
		if !strings.Contains(sql, say) {
			t.Errorf("a minute on: the SQL does not say %q:\n%s", say, sql)
		}
	}
	// A point stored late among those the next read counts (after the
	// points settled a minute on, 9 minutes before at): the counts differ,
	// and it reads them again (the newest ones were read with the count).
	counter("visits_total", "api", 45*60-5*60+7, 45*60-5*60+7, func(int) float64 { return 1e6 })
	got, want, sql = query(2, 2)
	if got != want {
		t.Errorf("a late point among those counted: got\n%s\nwant (the exporter's tables)\n%s", got, want)
	}
	for _, say := range []string{"-- rows stored since an earlier read", fmt.Sprintf("TimeUnix > toDateTime(%d)", at.Add(-9*time.Minute).Unix())} {
		if !strings.Contains(sql, say) {
			t.Errorf("a late point among those counted: the SQL does not say %q:\n%s", say, sql)
		}
	}
}

// recentTablesWithCounters starts the exporter's tables with the series
// and recent extensions installed; counter inserts a counter's points
// every 15 s from from to to seconds after t0.
func recentTablesWithCounters(t *testing.T) (conn driver.Conn, counter func(metric, svc string, from, to int, value func(s int) float64)) {
	_, conn = otelfixture.Start(t)
	chtest.InstallSeriesTables(t, conn, "otel", false)
	chtest.InstallRecentTables(t, conn, "otel", false)
	return conn, func(metric, svc string, from, to int, value func(s int) float64) {
		var pts []otelfixture.Point
		for s := from; s <= to; s += 15 {
			pts = append(pts, otelfixture.Point{At: t0.Add(time.Duration(s) * time.Second), Value: value(s)})
		}
		otelfixture.Insert(t, conn, "otel_metrics_sum", metric, map[string]string{"service": svc}, pts)
	}
}

// settlingEngines are an engine whose reads of recent points rec counts,
// with the default cache's TTL and Freshness (10 minutes) on a clock
// reading *now, and one reading the exporter's tables.
func settlingEngines(conn driver.Conn, now *time.Time) (rec *pointsConn, eng, plain *engine.Engine) {
	rec = &pointsConn{Conn: conn}
	eng = engine.New(rec, engine.Config{Strategy: engine.StrategyNative,
		Cache: engine.CacheConfig{TTL: 10 * time.Minute, Freshness: 10 * time.Minute, Recent: 5 * time.Second, MaxPoints: 100000, Now: func() time.Time { return *now }}})
	return rec, eng, engine.New(conn, engine.Config{Strategy: engine.StrategyNative, IgnoreSeriesTables: true})
}
