package promdiff

import (
	"context"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/forma3d/meshmetrics/pkg/dialect"
	"github.com/forma3d/meshmetrics/pkg/engine"
)

// evaluator is the engine under test (pkg/engine.Engine).
type evaluator interface {
	RangeQuery(ctx context.Context, expr string, start, end time.Time, step time.Duration) (*engine.Result, error)
	InstantQuery(ctx context.Context, expr string, ts time.Time) (*engine.Result, error)
}

// run is one engine configuration under test: a SQL strategy and a table
// layout (the series extension's tables, or the exporter's only).
type run struct {
	strategy     string
	seriesTables bool
}

func (r run) name() string {
	if r.seriesTables {
		return r.strategy + "/series-tables"
	}
	return r.strategy + "/exporter-tables"
}

// runs are the configurations under test. By default two, so that every
// strategy and every layout replays every query in the time of two runs:
// native on the series extension's tables (the production path) and
// portable on the exporter's (a database without the extension). The
// source SQL of a layout does not depend on the strategy (pkg/sqlgen
// source). PROMDIFF_STRATEGIES=portable,native and
// PROMDIFF_LAYOUTS=series,exporter (comma-separated) run every pair of the
// chosen ones.
func runs() []run {
	strategies, layouts := os.Getenv("PROMDIFF_STRATEGIES"), os.Getenv("PROMDIFF_LAYOUTS")
	if strategies == "" && layouts == "" {
		return []run{{engine.StrategyNative, true}, {engine.StrategyPortable, false}}
	}
	if strategies == "" {
		strategies = engine.StrategyPortable + "," + engine.StrategyNative
	}
	if layouts == "" {
		layouts = "series,exporter"
	}
	var rs []run
	for _, s := range strings.Split(strategies, ",") {
		for _, l := range strings.Split(layouts, ",") {
			rs = append(rs, run{s, l == "series"})
		}
	}
	return rs
}

// evalGrid is where every query is evaluated.
type evalGrid struct {
	start, end time.Time
	step       time.Duration
	instants   []time.Time
}

// newEvalGrid spans the data with room on both sides: steps before the
// first sample, steps after the last one beyond the lookback delta, and a
// step (70 s) that does not divide the range (3h15m), so the last step
// falls 10 s before end. The instants probe the edges of the data.
func newEvalGrid(ds *dataset) evalGrid {
	g := evalGrid{
		start: dataStart.Add(-5 * time.Minute),
		end:   dataStart.Add(3*time.Hour + 10*time.Minute),
		step:  70 * time.Second,
	}
	var onSample time.Time // a scrape time of proxy 0: left-open windows start or end on samples
	for _, s := range ds.series {
		if s.target == targets[0] && s.name == "up" {
			onSample = time.Unix(s.points[200].t, 0).UTC()
		}
	}
	g.instants = []time.Time{
		dataStart.Add(-30 * time.Second),         // before the first sample
		dataStart.Add(time.Hour + 7*time.Minute), // an ordinary time
		onSample,
		dataStart.Add(410 * scrapeInterval * time.Second), // proxy 1 is down
		ds.last.Add(2 * time.Minute),                      // after the last sample, inside the lookback
	}
	return g
}

// reference caches Prometheus' answers: every strategy compares with them.
type reference struct {
	prom *promEvaluator
	mu   sync.Mutex
	memo map[string]refAnswer
}

type refAnswer struct {
	a   *answer
	err error
}

func (r *reference) get(key string, eval func() (*answer, error)) (*answer, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ra, ok := r.memo[key]; ok {
		return ra.a, ra.err
	}
	a, err := eval()
	r.memo[key] = refAnswer{a, err}
	return a, err
}

func TestDifferential(t *testing.T) {
	ds := generate()
	ps := toPrometheus(ds)
	ref := &reference{prom: newPromEvaluator(loadPrometheus(t, ps)), memo: map[string]refAnswer{}}
	conn := startClickHouse(t, ds)
	t.Log(describe(ds, ps))
	queries := readQueries(t)
	divergences := readDivergences(t, queries)
	g := newEvalGrid(ds)
	if testing.Short() {
		// -short: the three edge instants (before the data, on a sample,
		// after the data) instead of five.
		g.instants = []time.Time{g.instants[0], g.instants[2], g.instants[4]}
	}
	ctx := context.Background()

	for _, r := range runs() {
		strategy := r.strategy
		t.Run(r.name(), func(t *testing.T) {
			ev := engine.New(conn, engine.Config{Database: otelDatabase, Lookback: lookback, Strategy: strategy, IgnoreSeriesTables: !r.seriesTables})
			// A strategy that is not there yet fails once, loudly, rather
			// than once per query.
			if _, err := ev.InstantQuery(ctx, "vector(1)", g.instants[1]); err != nil && strings.Contains(err.Error(), "not implemented") {
				t.Fatalf("strategy %s: %v", strategy, err)
			}
			var tally tally
			t.Cleanup(func() { t.Log(tally.summary(r.name(), len(queries))) })
			for _, q := range queries {
				t.Run(q.id, func(t *testing.T) {
					// The engine's time is mostly ClickHouse's: overlap
					// queries (go test -parallel, GOMAXPROCS by default).
					t.Parallel()
					reason, ok := divergences[q.expr]
					if !ok {
						reason, ok = divergences[strategy+": "+q.expr]
					}
					if ok {
						tally.add(&tally.skipped, q.id)
						t.Skipf("accepted divergence (testdata/divergences.txt): %s\n  reason: %s", q.expr, reason)
					}
					t.Cleanup(func() {
						if t.Failed() {
							tally.add(&tally.failed, q.id)
						}
					})
					compareQuery(t, ref, ev, q, g)
				})
			}
		})
	}
}

// compareQuery runs q as a range query and as instant queries on both
// sides.
func compareQuery(t *testing.T, ref *reference, ev evaluator, q query, g evalGrid) {
	ctx := context.Background()
	t.Run("range", func(t *testing.T) {
		desc := fmt.Sprintf("range %s … %s step %s", g.start.Format(time.RFC3339), g.end.Format(time.RFC3339), g.step)
		want, werr := ref.get(q.expr+"|range", func() (*answer, error) {
			return ref.prom.rangeQuery(ctx, q.expr, g.start, g.end, g.step)
		})
		res, gerr := ev.RangeQuery(ctx, q.expr, g.start, g.end, g.step)
		check(t, q, desc, want, werr, res, gerr)
	})
	t.Run("instant", func(t *testing.T) {
		for _, ts := range g.instants {
			desc := "instant at " + fmtT(ts.UnixMilli())
			want, werr := ref.get(q.expr+"|"+ts.String(), func() (*answer, error) {
				return ref.prom.instantQuery(ctx, q.expr, ts)
			})
			res, gerr := ev.InstantQuery(ctx, q.expr, ts)
			check(t, q, desc, want, werr, res, gerr)
		}
	})
}

// tally collects which queries failed or were skipped, for one summary
// line per strategy.
type tally struct {
	mu              sync.Mutex
	failed, skipped []string
}

func (c *tally) add(list *[]string, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	*list = append(*list, id)
}

func (c *tally) summary(strategy string, n int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	sort.Strings(c.failed)
	sort.Strings(c.skipped)
	return fmt.Sprintf("strategy %s: %d of %d queries agree with Prometheus; %d differ %v; %d skipped as accepted divergences %v",
		strategy, n-len(c.failed)-len(c.skipped), n, len(c.failed), c.failed, len(c.skipped), c.skipped)
}

// check compares one evaluation and reports a difference with everything
// needed to reproduce it.
func check(t *testing.T, q query, desc string, want *answer, werr error, res *engine.Result, gerr error) {
	t.Helper()
	head := fmt.Sprintf("%s (queries.txt:%d)\n  query: %s\n  %s", q.id, q.line, q.expr, desc)
	switch {
	case werr != nil && gerr != nil:
		t.Logf("%s\n  both fail: prometheus: %v\n  engine: %v", head, werr, gerr)
	case werr != nil:
		t.Errorf("%s\n  prometheus fails: %v\n  the engine answers: %s\n  SQL:\n%s", head, werr, fmtAnswer(fromEngine(res)), indent(res.SQL))
	case gerr != nil:
		t.Errorf("%s\n  engine error: %v\n  prometheus answers: %s", head, gerr, fmtAnswer(want))
	default:
		got := fromEngine(res)
		if d := compare(want, got); len(d) > 0 {
			t.Errorf("%s\n  prometheus: %s; engine: %s\n  differences:\n    %s\n  SQL:\n%s",
				head, fmtAnswer(want), fmtAnswer(got), strings.Join(d, "\n    "), indent(got.sql))
		}
	}
}

func indent(s string) string {
	if s == "" {
		return "    (none)"
	}
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// describe summarises the data set for the test log.
func describe(ds *dataset, ps []promSeries) string {
	perKind := map[kind][2]int{}
	stale := 0
	for _, s := range ds.series {
		c := perKind[s.kind]
		c[0]++
		c[1] += len(s.points)
		perKind[s.kind] = c
		for _, p := range s.points {
			if p.stale {
				stale++
			}
		}
	}
	samples := 0
	for _, s := range ps {
		samples += len(s.samples)
	}
	return fmt.Sprintf("data set %s … %s: %d counter series (%d rows), %d gauge series (%d rows), %d histogram series (%d rows), %d stale points; Prometheus: %d series, %d samples",
		ds.first.Format(time.RFC3339), ds.last.Format(time.RFC3339),
		perKind[counter][0], perKind[counter][1], perKind[gauge][0], perKind[gauge][1],
		perKind[histogram][0], perKind[histogram][1], stale, len(ps), samples)
}

// TestQueryList checks the query list against Prometheus alone, so it
// stays meaningful whatever the engine does: every query is inside the
// dialect, and Prometheus answers it as its comment says (an answer with
// data unless `# empty`, no error unless `# error`). A typo in a metric
// name would otherwise compare two empty answers and pass.
func TestQueryList(t *testing.T) {
	ds := generate()
	prom := newPromEvaluator(loadPrometheus(t, toPrometheus(ds)))
	queries := readQueries(t)
	readDivergences(t, queries)
	if len(queries) < 200 {
		t.Errorf("%d queries, want at least 200", len(queries))
	}
	g := newEvalGrid(ds)
	for _, q := range queries {
		if _, err := dialect.Parse(q.expr); err != nil {
			t.Errorf("%s (queries.txt:%d) is outside the dialect: %v\n  %s", q.id, q.line, err, q.expr)
		}
		checkNoTies(t, prom, q, g)
		a, err := prom.rangeQuery(context.Background(), q.expr, g.start, g.end, g.step)
		switch {
		case q.expect == "error":
			if err == nil {
				t.Errorf("%s (queries.txt:%d) is marked `# error` but Prometheus answers it: %s\n  %s", q.id, q.line, fmtAnswer(a), q.expr)
			}
		case err != nil:
			t.Errorf("%s (queries.txt:%d): Prometheus fails: %v\n  %s", q.id, q.line, err, q.expr)
		case q.expect == "empty" && len(a.series) > 0:
			t.Errorf("%s (queries.txt:%d) is marked `# empty` but Prometheus answers %s\n  %s", q.id, q.line, fmtAnswer(a), q.expr)
		case q.expect == "" && len(a.series) == 0:
			t.Errorf("%s (queries.txt:%d): Prometheus answers nothing (mark it `# empty` if intended)\n  %s", q.id, q.line, q.expr)
		}
	}
}

// checkNoTies fails a topk/bottomk query whose choice Prometheus leaves
// open: two candidates of one group with the same value (or both NaN)
// straddling the k-th place at some evaluation time.
func checkNoTies(t *testing.T, prom *promEvaluator, q query, g evalGrid) {
	t.Helper()
	ast, err := parser.NewParser(parser.Options{}).ParseExpr(q.expr)
	if err != nil {
		return // reported by the dialect check
	}
	parser.Inspect(ast, func(n parser.Node, _ []parser.Node) error {
		agg, ok := n.(*parser.AggregateExpr)
		if !ok || agg.Op != parser.TOPK && agg.Op != parser.BOTTOMK {
			return nil
		}
		k, _ := dialect.NumberValue(agg.Param)
		inner := agg.Expr.String()
		answers := []*answer{}
		if a, err := prom.rangeQuery(context.Background(), inner, g.start, g.end, g.step); err == nil {
			answers = append(answers, a)
		}
		for _, ts := range g.instants {
			if a, err := prom.instantQuery(context.Background(), inner, ts); err == nil {
				answers = append(answers, a)
			}
		}
		type groupStep struct {
			group string
			t     int64
		}
		// Keyed by series too: an instant may coincide with a range step.
		values := map[groupStep]map[string]float64{}
		for _, s := range allSeries(answers) {
			ls := s.lset
			var group labels.Labels
			if agg.Without {
				group = labels.NewBuilder(ls).Del(append(agg.Grouping, labels.MetricName)...).Labels()
			} else {
				group = labels.NewBuilder(ls).Keep(agg.Grouping...).Labels()
			}
			for _, p := range s.points {
				key := groupStep{group.String(), p.t}
				if values[key] == nil {
					values[key] = map[string]float64{}
				}
				values[key][s.key] = p.v
			}
		}
		for key, bySeries := range values {
			var vs []float64
			for _, v := range bySeries {
				vs = append(vs, v)
			}
			if int(k) < 1 || len(vs) <= int(k) {
				continue
			}
			// NaN sorts last for both, as in Prometheus.
			sort.Slice(vs, func(i, j int) bool {
				if math.IsNaN(vs[j]) {
					return !math.IsNaN(vs[i])
				}
				if agg.Op == parser.TOPK {
					return vs[i] > vs[j]
				}
				return vs[i] < vs[j]
			})
			a, b := vs[int(k)-1], vs[int(k)]
			if a == b || math.IsNaN(a) && math.IsNaN(b) {
				t.Errorf("%s (queries.txt:%d): %s ties at %s in group %s (%v and %v at places %d and %d): Prometheus' choice is unspecified\n  %s",
					q.id, q.line, agg.Op, fmtT(key.t), key.group, a, b, int(k), int(k)+1, q.expr)
				return nil
			}
		}
		return nil
	})
}

func allSeries(answers []*answer) []answerSeries {
	var out []answerSeries
	for _, a := range answers {
		out = append(out, a.series...)
	}
	return out
}
