package promqlreplay

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/stats"

	"github.com/forma3d/meshmetrics/pkg/engine"
)

// adapter is a promql.QueryEngine that answers with our engine: before a
// query it copies the promqltest storage into ClickHouse (when its content
// changed since the last copy), then runs the query string through
// pkg/engine, the same path QueryData and meshql take.
type adapter struct {
	conn     driver.Conn
	strategy string
	eng      *engine.Engine

	loaded uint64 // snapshot hash of what ClickHouse holds
	hasRun bool   // loaded is meaningful

	// pinnable: the expressions of the file's replayed cases, by their
	// canonical form (parser String()); see pinned.
	pinnable map[string]string

	// memo: answers by storage content and query, because promqltest asks
	// the same instant query once per @ variant of a case.
	memo map[memoKey]memoAnswer
}

type memoKey struct {
	data       uint64
	expr       string
	start, end int64
	step       time.Duration
	instant    bool
}

type memoAnswer struct {
	res *engine.Result
	err error
}

// lookback is the Prometheus engine's default, which promqltest's own
// engine uses (NewTestEngine with a lookback delta of 0).
const lookback = 5 * time.Minute

func newAdapter(conn driver.Conn, strategy string) *adapter {
	return &adapter{conn: conn, strategy: strategy, eng: newTestEngine(conn, strategy), memo: map[memoKey]memoAnswer{}}
}

func newTestEngine(conn driver.Conn, strategy string) *engine.Engine {
	return engine.New(conn, engine.Config{Database: otelDatabase, Lookback: lookback, Strategy: strategy, IgnoreSeriesTables: !seriesTablesFor(strategy)})
}

// sync copies q into ClickHouse unless it holds the same content already.
func (a *adapter) sync(ctx context.Context, q storage.Queryable) (uint64, error) {
	snap, err := readStorage(ctx, q)
	if err != nil {
		return 0, fmt.Errorf("read promqltest storage: %w", err)
	}
	if a.hasRun && snap.hash == a.loaded {
		return snap.hash, nil
	}
	if err := load(ctx, a.conn, snap); err != nil {
		return 0, fmt.Errorf("copy promqltest storage to clickhouse: %w", err)
	}
	a.loaded, a.hasRun = snap.hash, true
	// A load replaces every row, which never happens to a datasource: the
	// engine keeps name probes and series lookups on the premise that rows
	// are only ever added, so the new rows get a new engine.
	a.eng = newTestEngine(a.conn, a.strategy)
	return snap.hash, nil
}

// parserForTests is the parser promqltest's own engine uses.
var parserForTests = parser.NewParser(promqltest.TestParserOpts)

// pinned recognises the variants promqltest derives from every instant
// case (atModifierTestCases): the same expression with each selector
// pinned by "@ T" to the case's time T, evaluated at other times, which
// must give the case's answer. `@` is outside the dialect, so the adapter
// answers such a variant with the unpinned expression evaluated at T, which
// is what `@` means for a step-invariant expression. It does so only when
// every selector is pinned to the same T and the unpinned expression is
// one of the replayed cases: an `@` written in a case reaches the engine
// as written and is rejected there. The engine gets the case's own text:
// the canonical form may spell names in ways the dialect's parser does
// not take (unquoted UTF-8 names).
func (a *adapter) pinned(qs string) (expr string, at time.Time, ok bool) {
	ast, err := parserForTests.ParseExpr(qs)
	if err != nil {
		return "", time.Time{}, false
	}
	var ts *int64
	uniform := true
	parser.Inspect(ast, func(n parser.Node, _ []parser.Node) error {
		var vs *parser.VectorSelector
		switch n := n.(type) {
		case *parser.VectorSelector:
			vs = n
		case *parser.SubqueryExpr:
			uniform = false
			return nil
		default:
			return nil
		}
		switch {
		case vs.Timestamp == nil || vs.StartOrEnd != 0:
			uniform = false
		case ts == nil:
			ts = vs.Timestamp
		case *ts != *vs.Timestamp:
			uniform = false
		}
		vs.Timestamp = nil
		return nil
	})
	original, ok := a.pinnable[ast.String()]
	if ts == nil || !uniform || !ok {
		return "", time.Time{}, false
	}
	return original, time.UnixMilli(*ts).UTC(), true
}

// canonical is an expression as promqltest prints it, "" if it does not
// parse.
func canonical(expr string) string {
	ast, err := parserForTests.ParseExpr(expr)
	if err != nil {
		return ""
	}
	return ast.String()
}

func (a *adapter) NewInstantQuery(_ context.Context, q storage.Queryable, _ promql.QueryOpts, qs string, ts time.Time) (promql.Query, error) {
	return &query{a: a, q: q, qs: qs, start: ts, end: ts, instant: true}, nil
}

func (a *adapter) NewRangeQuery(_ context.Context, q storage.Queryable, _ promql.QueryOpts, qs string, start, end time.Time, step time.Duration) (promql.Query, error) {
	return &query{a: a, q: q, qs: qs, start: start, end: end, step: step}, nil
}

// eval runs one query through the engine, or returns its memoised answer.
func (a *adapter) eval(ctx context.Context, k memoKey) (*engine.Result, error) {
	if m, ok := a.memo[k]; ok {
		return m.res, m.err
	}
	var (
		res *engine.Result
		err error
	)
	if k.instant {
		res, err = a.eng.InstantQuery(ctx, k.expr, time.UnixMilli(k.start).UTC())
	} else {
		res, err = a.eng.RangeQuery(ctx, k.expr, time.UnixMilli(k.start).UTC(), time.UnixMilli(k.end).UTC(), k.step)
	}
	a.memo[k] = memoAnswer{res, err}
	return res, err
}

// query is one promql.Query; everything happens in Exec.
type query struct {
	a          *adapter
	q          storage.Queryable
	qs         string
	start, end time.Time
	step       time.Duration
	instant    bool
}

func (q *query) Exec(ctx context.Context) *promql.Result {
	data, err := q.a.sync(ctx, q.q)
	if err != nil {
		return &promql.Result{Err: err}
	}
	expr, at, pinned := q.a.pinned(q.qs)
	if !pinned {
		k := memoKey{data: data, expr: q.qs, start: q.start.UnixMilli(), end: q.end.UnixMilli(), step: q.step, instant: q.instant}
		res, err := q.a.eval(ctx, k)
		if err != nil {
			return &promql.Result{Err: err}
		}
		v, err := q.convert(res, nil)
		return &promql.Result{Value: v, Err: err}
	}
	// A pinned variant: its answer is the same at every evaluation time.
	res, err := q.a.eval(ctx, memoKey{data: data, expr: expr, start: at.UnixMilli(), end: at.UnixMilli(), instant: true})
	if err != nil {
		return &promql.Result{Err: err}
	}
	var times []int64
	for t := q.start; !t.After(q.end); t = t.Add(q.step) {
		times = append(times, t.UnixMilli())
		if q.instant {
			break
		}
	}
	v, err := q.convert(res, times)
	return &promql.Result{Value: v, Err: err}
}

// convert turns our engine's answer into promqltest's value: a Matrix for
// a range query, a Vector or Scalar for an instant one. times, when set,
// replaces the answer's one point by one point per time (pinned variants).
func (q *query) convert(res *engine.Result, times []int64) (parser.Value, error) {
	points := func(s engine.Series) []promql.FPoint {
		var out []promql.FPoint
		if times != nil {
			for _, p := range s.Points {
				for _, t := range times {
					out = append(out, promql.FPoint{T: t, F: p.V})
				}
			}
			return out
		}
		for _, p := range s.Points {
			out = append(out, promql.FPoint{T: p.T.UnixMilli(), F: p.V})
		}
		return out
	}
	lset := func(s engine.Series) labels.Labels {
		b := labels.NewScratchBuilder(len(s.Labels))
		for _, l := range s.Labels {
			b.Add(l.Name, l.Value)
		}
		b.Sort()
		return b.Labels()
	}
	if !q.instant {
		m := promql.Matrix{}
		for _, s := range res.Series {
			if pts := points(s); len(pts) > 0 {
				m = append(m, promql.Series{Metric: lset(s), Floats: pts})
			}
		}
		// promqltest requires a matrix sorted by labels, as Prometheus'.
		sort.Sort(m)
		return m, nil
	}
	t := q.start.UnixMilli()
	if res.Type == engine.ValueScalar {
		if len(res.Series) != 1 || len(res.Series[0].Points) != 1 {
			return nil, fmt.Errorf("the engine answered a scalar query with %d series instead of one point", len(res.Series))
		}
		return promql.Scalar{T: t, V: res.Series[0].Points[0].V}, nil
	}
	vec := promql.Vector{}
	for _, s := range res.Series {
		for _, p := range s.Points {
			vec = append(vec, promql.Sample{Metric: lset(s), T: t, F: p.V})
		}
	}
	return vec, nil
}

func (q *query) Close()                      {}
func (q *query) Statement() parser.Statement { return nil }
func (q *query) Stats() *stats.Statistics    { return &stats.Statistics{} }
func (q *query) Cancel()                     {}
func (q *query) String() string              { return q.qs }

var _ promql.QueryEngine = (*adapter)(nil)

// setCases tells the adapter which cases of f are replayed, for pinned.
func (a *adapter) setCases(f *testFile, keep func(evalCase) bool) {
	a.pinnable = map[string]string{}
	for _, c := range f.cases {
		if keep(c) {
			a.pinnable[canonical(c.expr)] = c.expr
		}
	}
}
