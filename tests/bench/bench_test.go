package bench

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/almost"

	"github.com/forma3d/meshmetrics/pkg/engine"
	"github.com/forma3d/meshmetrics/tests/clickhouse/chtest"
)

// queries are the three panels the issue names, each a range query over
// the whole data set.
var queries = []struct{ name, expr string }{
	{"rate", `rate(traefik_service_requests_total[5m])`},
	{"sum_by", `sum by (service) (rate(traefik_service_requests_total[5m]))`},
	{"histogram_quantile", `histogram_quantile(0.99, sum by (le, service) (rate(traefik_service_request_duration_seconds_bucket[5m])))`},
}

var strategies = []string{engine.StrategyPortable, engine.StrategyNative}

// env is one loaded data set: the embedded ClickHouse with an engine per
// strategy, and Prometheus' storage with its engine.
type env struct {
	s       shape
	srv     *chtest.Server
	conn    driver.Conn
	engines []*engine.Engine // in the order of strategies
	prom    *promql.Engine
	st      storage.Storage
	// eventsCost is what reading system.events itself adds to SelectedRows.
	eventsCost uint64
	// overCap remembers, by strategy+expr, the peak RSS (MB) of queries
	// that failed on the memory cap, so that later runs do not spend
	// minutes failing again.
	overCap map[string]float64
	// keepMemory: the memory the last query freed is not handed back
	// before the next (the dashboard's queries, a load after a purge);
	// otherwise each query starts after a purge (handBack).
	keepMemory bool
}

// handBack returns the memory both sides keep to the system: ClickHouse's
// allocator (jemalloc keeps freed memory for seconds; the 7-day portable
// rate leaves ~5 GB resident) and this process's Go heap. The caches
// (marks, uncompressed blocks) stay warm.
func (e *env) handBack(b *testing.B) {
	if err := e.conn.Exec(context.Background(), "SYSTEM JEMALLOC PURGE"); err != nil {
		b.Fatal(err)
	}
	debug.FreeOSMemory()
}

func BenchmarkDay(b *testing.B)  { benchShape(b, day.sized()) }
func BenchmarkWeek(b *testing.B) { benchShape(b, week.sized()) }

// benchShape loads the data set once (a parent benchmark runs once) and
// measures each query in a sub-benchmark.
func benchShape(b *testing.B, s shape) {
	e := newEnv(b, s)
	for _, strategy := range strategies {
		// No result cache: each iteration measures the whole query.
		e.engines = append(e.engines, e.newEngine(b, strategy, engine.CacheConfig{}))
	}
	for _, q := range queries {
		b.Run(q.name, func(b *testing.B) { benchQuery(b, e, q.expr) })
	}
}

// newEnv loads s into the embedded ClickHouse and Prometheus' storage and
// sets up the Prometheus engine.
func newEnv(b *testing.B, s shape) *env {
	e := &env{s: s, overCap: map[string]float64{}}
	e.srv, e.conn = loadClickHouse(b, s)
	e.st = loadPrometheus(b, s)
	// As a Prometheus 3 server evaluates: 5 m lookback; limits out of the way.
	e.prom = promql.NewEngine(promql.EngineOpts{MaxSamples: 1e9, Timeout: time.Hour, LookbackDelta: 5 * time.Minute})
	before := e.selectedRows(b)
	e.eventsCost = e.selectedRows(b) - before
	b.Logf("%s: %d series per service metric, %d scrapes each, %d proxies; clickhouse pid %d RSS %.0f MB after loading",
		s.name, s.series(), s.scrapes, s.proxies, e.srv.PID(), procMB(strconv.Itoa(e.srv.PID()), "VmRSS"))
	return e
}

// newEngine is an engine of the strategy and result cache on the loaded
// data, as the plugin configures one, whose first query (reading the
// schema) is done.
func (e *env) newEngine(b *testing.B, strategy string, cache engine.CacheConfig) *engine.Engine {
	eng := engine.New(e.conn, engine.Config{Database: "otel", Strategy: strategy, MaxSeries: 100000, Cache: cache})
	if _, err := eng.Explain(context.Background(), "vector(1)", e.s.start(), e.s.end(), time.Minute); err != nil {
		b.Fatal(err)
	}
	return eng
}

// selectedRows is ClickHouse's running count of rows read from tables.
// chDB keeps no system.query_log and its X-ClickHouse-Summary counts the
// result's rows, so rows read are this counter's difference around a
// query; nothing else runs on the server meanwhile.
func (e *env) selectedRows(b *testing.B) uint64 {
	var n uint64
	if err := e.conn.QueryRow(context.Background(), "SELECT value FROM system.events WHERE event = 'SelectedRows'").Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

// engineRun is one engine query as measured: its wall time, the rows
// ClickHouse read for it (name lookups included), ClickHouse's RSS before
// and at its peak during the query.
type engineRun struct {
	took           time.Duration
	rows           uint64
	baseMB, peakMB float64
	// overCap: the query failed on the memory cap (err is nil then).
	overCap bool
	answer  answer
	err     error
}

// measureEngine runs one engine query with the benchmark timer running
// only around it (the caller has stopped it). query returns how to turn
// its result into an answer, which runs after the clock stops: the
// comparison's map is not part of either side's time.
func (e *env) measureEngine(b *testing.B, query func(context.Context) (func() answer, error)) engineRun {
	ctx := context.Background()
	chPID := strconv.Itoa(e.srv.PID())
	// Purged, the peak is this query's own; kept, it is at most the
	// load's peak so far.
	if !e.keepMemory {
		e.handBack(b)
	}
	runtime.GC()
	var r engineRun
	r.baseMB = procMB(chPID, "VmRSS")
	_ = resetPeak(chPID)
	before := e.selectedRows(b)
	b.StartTimer()
	began := time.Now()
	convert, err := query(ctx)
	r.took = time.Since(began)
	b.StopTimer()
	if r.err = err; err == nil {
		r.answer = convert()
	}
	r.peakMB = procMB(chPID, "VmHWM")
	r.rows = e.selectedRows(b) - before - e.eventsCost
	if r.err != nil && strings.Contains(r.err.Error(), "needs more memory than the server allows") {
		// Over the cap: a result, not a bug.
		b.Logf("FAILED: over the %.1f GB cap after %v (peak RSS %.0f MB): %.300s",
			float64(*maxQueryMemory)/1e9, r.took.Round(time.Second), r.peakMB, r.err)
		r.overCap, r.err = true, nil
	}
	return r
}

// promRun is one Prometheus query as measured: wall time, this process's
// RSS before and at its peak, Go allocations and samples read (as the
// query reports them).
type promRun struct {
	took                    time.Duration
	baseMB, peakMB, allocMB float64
	samples                 float64
	answer                  answer
}

// measureProm runs one Prometheus query with the benchmark timer running
// only around it; an error fails the benchmark. query returns how to turn
// its result into an answer and samples read, run after the clock stops.
func (e *env) measureProm(b *testing.B, query func(context.Context) (func() (answer, float64), error)) promRun {
	ctx := context.Background()
	var r promRun
	// Garbage from earlier work is collected first (both sides live in
	// this process); the memory the Go runtime kept goes back to the
	// system too unless the env keeps memory (as measureEngine).
	if e.keepMemory {
		runtime.GC()
	} else {
		debug.FreeOSMemory()
	}
	r.baseMB = procMB("self", "VmRSS")
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	if err := resetPeak("self"); err != nil {
		b.Logf("cannot reset the peak RSS (%v): the MB columns are the process's peak so far", err)
	}
	b.StartTimer()
	began := time.Now()
	convert, err := query(ctx)
	r.took = time.Since(began)
	b.StopTimer()
	r.peakMB = procMB("self", "VmHWM")
	runtime.ReadMemStats(&ms1)
	r.allocMB = float64(ms1.TotalAlloc-ms0.TotalAlloc) / 1e6
	if err != nil {
		b.Fatalf("prometheus: %v", err)
	}
	r.answer, r.samples = convert()
	return r
}

// promQuery runs a query made by newQuery (NewRangeQuery + Exec, as
// before the refactoring). Converting its answer and samples read also
// releases the query (Close hands its matrix back to a pool).
func promQuery(ctx context.Context, newQuery func(context.Context) (promql.Query, error)) (func() (answer, float64), error) {
	q, err := newQuery(ctx)
	if err != nil {
		return nil, err
	}
	res := q.Exec(ctx)
	if res.Err != nil {
		q.Close()
		return nil, res.Err
	}
	return func() (answer, float64) {
		defer q.Close()
		return fromProm(res.Value), float64(q.Stats().Samples.SamplesRead)
	}, nil
}

// engineQuery adapts an engine query to measureEngine.
func engineQuery(res *engine.Result, err error) (func() answer, error) {
	if err != nil {
		return nil, err
	}
	return func() answer { return fromEngine(res) }, nil
}

// benchQuery runs, per iteration, Prometheus then each strategy on the
// same query, checks the strategies' answers against Prometheus', and
// reports each side's mean time and their ratios from the same run.
func benchQuery(b *testing.B, e *env, expr string) {
	ctx := context.Background()
	// The name lookup alone: Explain compiles (reading the catalog) but
	// does not run the statement.
	rows0 := e.selectedRows(b)
	began := time.Now()
	if _, err := e.engines[0].Explain(ctx, expr, e.s.start(), e.s.end(), e.s.step); err != nil {
		b.Fatal(err)
	}
	compile := time.Since(began)
	catalogRows := e.selectedRows(b) - rows0 - e.eventsCost

	var (
		took                  [3]time.Duration // portable, native, prometheus
		rows                  [2]uint64
		peakMB, baseMB        [3]float64 // RSS: peak during a query, before it
		promAlloc, promSample float64
		points, mismatches    int
		failed                [2]bool
	)
	b.ResetTimer()
	b.StopTimer()
	for range b.N {
		pr := e.measureProm(b, func(ctx context.Context) (func() (answer, float64), error) {
			return promQuery(ctx, func(ctx context.Context) (promql.Query, error) {
				return e.prom.NewRangeQuery(ctx, e.st, nil, expr, e.s.start(), e.s.end(), e.s.step)
			})
		})
		took[2] += pr.took
		baseMB[2], peakMB[2] = pr.baseMB, max(peakMB[2], pr.peakMB)
		promAlloc += pr.allocMB
		promSample += pr.samples
		points = pr.answer.points()

		for si, eng := range e.engines {
			if peak, ok := e.overCap[strategies[si]+expr]; ok {
				failed[si], peakMB[si] = true, peak
				continue
			}
			r := e.measureEngine(b, func(ctx context.Context) (func() answer, error) {
				return engineQuery(eng.RangeQuery(ctx, expr, e.s.start(), e.s.end(), e.s.step))
			})
			took[si] += r.took
			baseMB[si], peakMB[si] = r.baseMB, max(peakMB[si], r.peakMB)
			if r.overCap {
				failed[si], e.overCap[strategies[si]+expr] = true, peakMB[si]
				continue
			}
			if r.err != nil {
				b.Fatalf("%s: %v", strategies[si], r.err)
			}
			rows[si] = r.rows
			if diffs := compare(pr.answer, r.answer); len(diffs) > 0 {
				mismatches += len(diffs)
				b.Errorf("MISMATCH: %s differs from Prometheus in %d places on %s; first: %s", strategies[si], len(diffs), expr, strings.Join(diffs[:min(3, len(diffs))], "; "))
			}
		}
	}
	n := float64(b.N)
	ms := func(d time.Duration) float64 { return float64(d) / n / 1e6 }
	for si, strategy := range strategies {
		b.ReportMetric(nanIf(failed[si], ms(took[si])), strategy+"-ms")
		b.ReportMetric(nanIf(failed[si], float64(took[si])/float64(took[2])), strategy+"/prom")
		b.ReportMetric(nanIf(failed[si], float64(rows[si])), strategy+"-rows")
		b.ReportMetric(peakMB[si], strategy+"-MB")
	}
	b.ReportMetric(ms(took[2]), "prom-ms")
	b.ReportMetric(float64(compile)/1e6, "compile-ms")
	b.ReportMetric(float64(catalogRows), "catalog-rows")
	b.ReportMetric(promSample/n, "prom-samples")
	b.ReportMetric(float64(points), "points")
	b.ReportMetric(max(baseMB[0], baseMB[1]), "ch-base-MB")
	b.ReportMetric(peakMB[2], "prom-MB")
	b.ReportMetric(baseMB[2], "prom-base-MB")
	b.ReportMetric(promAlloc/n, "prom-alloc-MB")
	b.ReportMetric(float64(mismatches), "mismatches")
}

func nanIf(failed bool, v float64) float64 {
	if failed {
		return math.NaN()
	}
	return v
}

// answer is a range query's answer keyed by label set (empty values
// dropped, __name__ kept if present), each series' points in time order.
type answer map[string][]point

type point struct {
	t int64 // unix ms
	v float64
}

func (a answer) points() int {
	n := 0
	for _, ps := range a {
		n += len(ps)
	}
	return n
}

func labelKey(pairs [][2]string) string {
	var parts []string
	for _, p := range pairs {
		if p[1] != "" {
			parts = append(parts, p[0]+"="+strconv.Quote(p[1]))
		}
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, ",") + "}"
}

// fromProm reads a range query's matrix, an instant query's vector or a
// scalar (one unlabelled point, as the engine answers it).
func fromProm(v parser.Value) answer {
	a := answer{}
	key := func(m labels.Labels) string {
		var pairs [][2]string
		m.Range(func(l labels.Label) { pairs = append(pairs, [2]string{l.Name, l.Value}) })
		return labelKey(pairs)
	}
	switch v := v.(type) {
	case promql.Matrix:
		for _, s := range v {
			ps := make([]point, len(s.Floats))
			for i, f := range s.Floats {
				ps[i] = point{f.T, f.F}
			}
			a[key(s.Metric)] = ps
		}
	case promql.Vector:
		for _, s := range v {
			a[key(s.Metric)] = []point{{s.T, s.F}}
		}
	case promql.Scalar:
		a[labelKey(nil)] = []point{{v.T, v.V}}
	}
	return a
}

func fromEngine(r *engine.Result) answer {
	a := answer{}
	for _, s := range r.Series {
		var pairs [][2]string
		for _, l := range s.Labels {
			pairs = append(pairs, [2]string{l.Name, l.Value})
		}
		ps := make([]point, len(s.Points))
		for i, p := range s.Points {
			ps[i] = point{p.T.UnixMilli(), p.V}
		}
		a[labelKey(pairs)] = ps
	}
	return a
}

// compare lists where got differs from want: label sets, timestamps, and
// values beyond 1e-9 relative (almost.Equal, promqltest's rule: two NaNs
// are equal).
func compare(want, got answer) []string {
	var out []string
	for key, ws := range want {
		gs, ok := got[key]
		switch {
		case !ok:
			out = append(out, "missing series "+key)
			continue
		case len(gs) != len(ws):
			out = append(out, fmt.Sprintf("%s: %d points, want %d", key, len(gs), len(ws)))
			continue
		}
		for i := range ws {
			if gs[i].t != ws[i].t || !almost.Equal(gs[i].v, ws[i].v, 1e-9) {
				out = append(out, fmt.Sprintf("%s @%d: %v@%d, want %v", key, ws[i].t, gs[i].v, gs[i].t, ws[i].v))
			}
		}
	}
	for key := range got {
		if _, ok := want[key]; !ok {
			out = append(out, "unexpected series "+key)
		}
	}
	sort.Strings(out)
	return out
}
