// Package engine evaluates the dialect against ClickHouse: parse
// (package dialect) → plan (package plan) → SQL (package sqlgen) → one
// statement → Result. Callers expand Grafana's macros before.
package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/forma3d/meshmetrics/pkg/dialect"
	"github.com/forma3d/meshmetrics/pkg/plan"
	"github.com/forma3d/meshmetrics/pkg/sqlgen"
)

// Tables names the exporter's metric tables.
type Tables struct{ Sum, Gauge, Histogram string }

// DefaultTables are the clickhouse exporter's table names.
var DefaultTables = Tables{Sum: "otel_metrics_sum", Gauge: "otel_metrics_gauge", Histogram: "otel_metrics_histogram"}

// SQL strategies.
const (
	StrategyAuto     = "auto"
	StrategyPortable = "portable"
	StrategyNative   = "native"
)

// nativeSince is the first ClickHouse version whose timeSeries*ToGrid
// functions match Prometheus exactly; auto picks native from there on.
var nativeSince = [2]int{25, 9}

// Config are an engine's settings; zero values take the defaults.
type Config struct {
	Database string // default "otel"
	Tables   Tables
	// Lookback is how far an instant selector looks back (default 5m).
	Lookback time.Duration
	// MaxSeries bounds the series of an answer (default 10,000).
	MaxSeries int
	// MaxPoints bounds the points per series of a range query (default
	// 11,000, as Prometheus).
	MaxPoints int
	// MaxRange bounds the time a query may read, from the first window's
	// start to the last evaluation time (default 100 days: the exporter's
	// tables keep 90).
	MaxRange time.Duration
	// QueryTimeout bounds one statement's run on the server
	// (max_execution_time, whole seconds; 0: none). The caller's context
	// still cancels it.
	QueryTimeout time.Duration
	// Strategy is the SQL strategy: "portable" (any ClickHouse from 23.8),
	// "native" (ClickHouse's timeSeries*ToGrid functions for rate,
	// increase, delta, irate and idelta; 25.9+) or "auto" (the default:
	// native when the server is 25.9 or newer).
	Strategy string
	// Cache keeps range answers' immutable past (cache.go); the zero value
	// keeps nothing.
	Cache CacheConfig
	// SliceSeriesSeconds bounds what one statement of a sum reads, in
	// series times seconds of samples each (default 64 million); a sum
	// over more runs in slices of its series (slices.go).
	SliceSeriesSeconds float64
	// IgnoreSeriesTables reads the exporter's tables even where the series
	// extension (provisioning/clickhouse/002) is installed: for tests and
	// benchmarks that compare the two layouts.
	IgnoreSeriesTables bool
}

// Engine evaluates queries over one ClickHouse connection pool.
type Engine struct {
	conn driver.Conn
	cfg  Config

	mu       sync.Mutex
	schema   *sqlgen.Schema // detected on first use, again after schemaRefresh
	schemaAt time.Time      // when schema was read
	version  [2]int         // the server's major.minor, read with the schema
	// seriesTables says whether the series extension is in use, and why
	// not (read with the schema).
	seriesTables string
	// recentTables says the same of the recent tables, and recentInUse
	// whether short windows read them (recent.go).
	recentTables string
	recentInUse  bool
	// now is the engine's clock: the result cache's, which tests set.
	now func() time.Time

	cache *resultCache // nil: no cache
	// upperEngine evaluates split queries above their leaves (split.go).
	upperEngine *promql.Engine
	// seriesLists keeps flat sums' series lookups (flat.go).
	seriesLists *kept[string, *seriesList]
	// probeAnswers keeps the catalog's name probes (catalog.go), and
	// heldNames the listings of names held on days (held.go).
	probeAnswers *probeAnswers
	heldNames    *kept[daySpan, heldNames]
	// metadataAnswers keeps label names and values by statement
	// (metadata.go).
	metadataAnswers *kept[string, []string]
	// labelSets keeps metrics' label sets for metadata (labelsets.go).
	labelSets *kept[string, *labelSets]
	// summaries keeps window summaries by selector (summaries.go); nil
	// without a result cache.
	summaries *kept[string, *summaryStore]
	// recentPoints keeps sources' recent points by source, pointsReads
	// the reads in flight (points.go).
	recentPoints *kept[string, *recentPoints]
	pointsReads  *pointsReads
	// settledPoints keeps each source's last read for the next one
	// (settled.go); nil without a result cache.
	settledPoints *kept[string, *recentPoints]
	// pointsRefused: the sources not read whole (readPoints,
	// readHistogramPoints) and the whole lists refused (wholeList), for a
	// while.
	pointsRefused *kept[string, struct{}]
}

// strategy is the SQL strategy in force: the configured one, or for auto
// the one the server's version supports.
func (e *Engine) strategy() (string, error) {
	switch e.cfg.Strategy {
	case StrategyPortable, StrategyNative:
		return e.cfg.Strategy, nil
	case StrategyAuto:
		e.mu.Lock()
		v := e.version
		e.mu.Unlock()
		if v[0] > nativeSince[0] || v[0] == nativeSince[0] && v[1] >= nativeSince[1] {
			return StrategyNative, nil
		}
		return StrategyPortable, nil
	}
	return "", fmt.Errorf("unknown sql strategy %q: expected %q, %q or %q", e.cfg.Strategy, StrategyAuto, StrategyPortable, StrategyNative)
}

// fold is the server's arrayFold signature (read with the schema).
func (e *Engine) fold() sqlgen.FoldSyntax {
	e.mu.Lock()
	defer e.mu.Unlock()
	return sqlgen.FoldFor(e.version[0], e.version[1])
}

// Strategy reports the SQL strategy queries use (after the first query,
// for auto), for health checks and explain.
func (e *Engine) Strategy() (string, error) { return e.strategy() }

// New returns an engine; it does not talk to the server until a query.
func New(conn driver.Conn, cfg Config) *Engine {
	if cfg.Database == "" {
		cfg.Database = "otel"
	}
	if cfg.Tables == (Tables{}) {
		cfg.Tables = DefaultTables
	}
	if cfg.Lookback <= 0 {
		cfg.Lookback = 5 * time.Minute
	}
	if cfg.SliceSeriesSeconds <= 0 {
		cfg.SliceSeriesSeconds = defaultSliceSeriesSeconds
	}
	if cfg.MaxSeries <= 0 {
		cfg.MaxSeries = 10000
	}
	if cfg.MaxPoints <= 0 {
		cfg.MaxPoints = 11000
	}
	if cfg.MaxRange <= 0 {
		cfg.MaxRange = 100 * 24 * time.Hour
	}
	if cfg.Strategy == "" {
		cfg.Strategy = StrategyAuto
	}
	// The result cache's clock, which tests set, is the probes' and the
	// recent tables' too.
	clock := time.Now
	if cfg.Cache.Now != nil {
		clock = cfg.Cache.Now
	}
	e := &Engine{conn: conn, cfg: cfg, now: clock, cache: newResultCache(cfg.Cache), upperEngine: newUpperEngine(cfg),
		seriesLists:     newKept[string, *seriesList](seriesListTTL, maxListedSeries, time.Now),
		probeAnswers:    newKept[plan.Source, probeAnswer](probeAnswerTTL, maxProbeAnswers, clock),
		heldNames:       newKept[daySpan, heldNames](probeAbsentKeep, maxProbeAnswers, clock),
		metadataAnswers: newKept[string, []string](metadataAnswerTTL, maxMetadataAnswers, clock),
		labelSets:       newKept[string, *labelSets](metadataAnswerTTL, maxMetadataAnswers, clock),
		pointsReads:     &pointsReads{calls: map[string]*pointsCall{}},
		pointsRefused:   newKept[string, struct{}](seriesListTTL, maxProbeAnswers, clock)}
	// Reads of recent points are kept as the recent evaluations are, and
	// not without a result cache (each query then reads its own).
	keepPoints := time.Duration(0)
	if e.cache != nil {
		e.summaries = newKept[string, *summaryStore](e.cache.cfg.TTL, maxSummaryCells, clock)
		keepPoints = e.cache.cfg.Recent
		e.settledPoints = newKept[string, *recentPoints](e.cache.cfg.TTL, maxKeptPoints, clock)
	}
	e.recentPoints = newKept[string, *recentPoints](keepPoints, maxKeptPoints, clock)
	return e
}

// RangeQuery evaluates expr at start, start+step, … up to end.
func (e *Engine) RangeQuery(ctx context.Context, expr string, start, end time.Time, step time.Duration) (*Result, error) {
	grid, err := plan.NewRangeGrid(start, end, step, e.cfg.MaxPoints)
	if err != nil {
		return nil, err
	}
	if e.cache == nil {
		return e.run(ctx, expr, grid, ValueMatrix)
	}
	r, err := e.renderer(ctx)
	if err != nil {
		return nil, err
	}
	ast, err := dialect.Parse(expr)
	if err != nil {
		return nil, err
	}
	// A negative offset reads samples after the evaluation time: those
	// must be old enough too.
	_, ahead := reach(ast)
	key := cacheKey{expr: expr, stepMs: grid.StepMs, phaseMs: grid.StartMs % grid.StepMs, strategy: r.strategy}
	return e.cache.cachedRange(ctx, key, grid, ahead, e.cfg.MaxSeries, false, func(ctx context.Context, g plan.Grid) (*Result, error) {
		return e.run(ctx, expr, g, ValueMatrix)
	})
}

// InstantQuery evaluates expr at one time.
func (e *Engine) InstantQuery(ctx context.Context, expr string, ts time.Time) (*Result, error) {
	return e.run(ctx, expr, plan.NewInstantGrid(ts), ValueVector)
}

// Explain returns the SQL of a range query without running it: its one
// statement, or a split query's leaf statements and what the plugin
// evaluates above them. The catalog still asks the server which metric
// names exist.
func (e *Engine) Explain(ctx context.Context, expr string, start, end time.Time, step time.Duration) (string, error) {
	grid, err := plan.NewRangeGrid(start, end, step, e.cfg.MaxPoints)
	if err != nil {
		return "", err
	}
	c, err := e.compile(ctx, expr, grid, true)
	if err != nil {
		return "", err
	}
	return c.explain(), nil
}

// statementContext is the context a statement runs in: cancelled with the
// caller's, but without its deadline, which clickhouse-go would turn into
// max_execution_time = deadline + 5 s, overriding the query timeout. The
// server enforces the query timeout itself, so a statement queued behind
// another (the embedded engine runs one at a time) is not cut short by a
// clock that started before it ran. settings are further settings of the
// statement.
func (e *Engine) statementContext(ctx context.Context, settings clickhouse.Settings) (context.Context, func()) {
	inner, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	if e.cfg.QueryTimeout > 0 {
		settings = maps.Clone(settings)
		if settings == nil {
			settings = clickhouse.Settings{}
		}
		settings["max_execution_time"] = max(1, int(e.cfg.QueryTimeout.Seconds()))
	}
	if len(settings) > 0 {
		inner = clickhouse.Context(inner, clickhouse.WithSettings(settings))
	}
	return inner, func() { stop(); cancel() }
}

// exactNames are the metric names expr's selectors name exactly.
func exactNames(expr parser.Expr) []string {
	var names []string
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			for _, m := range vs.LabelMatchers {
				if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
					names = append(names, m.Value)
				}
			}
		}
		return nil
	})
	return names
}

// reach is how far before the first evaluation time (the longest range
// plus offset) and after the last one (the most negative offset) expr may
// read samples, besides the lookback delta.
func reach(ast parser.Expr) (behind, ahead time.Duration) {
	parser.Inspect(ast, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.MatrixSelector:
			vs := n.VectorSelector.(*parser.VectorSelector)
			behind = max(behind, n.Range+vs.OriginalOffset)
		case *parser.VectorSelector:
			behind = max(behind, n.OriginalOffset)
			ahead = max(ahead, -n.OriginalOffset)
		}
		return nil
	})
	return behind, ahead
}

// noStatement stands for the SQL of a query whose answer is empty whatever
// is stored (plan.Empty): it runs no statement.
const noStatement = "-- no statement: a selector of this query names no stored metric in its range, so its answer is empty"

// run evaluates expr on grid: one statement, or a split query's leaves
// and the evaluation above them (split.go).
func (e *Engine) run(ctx context.Context, expr string, grid plan.Grid, want ValueType) (*Result, error) {
	c, err := e.compile(ctx, expr, grid, want == ValueMatrix)
	if err != nil {
		return nil, err
	}
	res, err := e.exec(ctx, expr, c, grid, want)
	if isMaxSeries(err) && c.shared {
		// A shared leaf over more series than the limit: the query's own
		// statements may stay under it.
		if c, err = e.compile(ctx, expr, grid, false); err != nil {
			return nil, err
		}
		res, err = e.exec(ctx, expr, c, grid, want)
	}
	if err != nil {
		return nil, err
	}
	sortAnswer(expr, res, want)
	return res, nil
}

// exec runs compiled statements: one, or a split query's leaves and the
// evaluation above them.
func (e *Engine) exec(ctx context.Context, expr string, c *compiled, grid plan.Grid, want ValueType) (*Result, error) {
	if c.upper != nil {
		return e.runSplit(ctx, expr, c, grid, want)
	}
	return e.runStatement(ctx, c.stmts[0], c.scalar, grid, want)
}

// runStatement runs one statement (or a flat sum's two) and reads its
// answer.
func (e *Engine) runStatement(ctx context.Context, st statement, scalar bool, grid plan.Grid, want ValueType) (*Result, error) {
	if st.flat != nil {
		return e.runFlatSum(ctx, st, grid, want)
	}
	sql := st.sql
	if sql == noStatement {
		// Only vectors are empty whatever is stored (plan.Empty), and a
		// leaf is never a scalar.
		return &Result{Type: want, SQL: sql}, nil
	}
	began := time.Now()
	ctx, release := e.statementContext(ctx, nil)
	defer release()
	rows, err := e.conn.Query(ctx, sql)
	if err != nil {
		return nil, e.timeoutError(queryError(err))
	}
	defer rows.Close()
	res := &Result{Type: want, SQL: sql, scalar: scalar}
	if scalar && want == ValueVector {
		res.Type = ValueScalar
	}
	for rows.Next() {
		var (
			names, values []string
			idx           []uint32
			vals          []float64
		)
		if err := rows.Scan(&names, &values, &idx, &vals); err != nil {
			return nil, fmt.Errorf("read query result: %w", err)
		}
		if len(res.Series) == e.cfg.MaxSeries {
			return nil, maxSeriesError{e.cfg.MaxSeries}
		}
		s := Series{Labels: make(Labels, len(names)), Points: make([]Point, len(idx))}
		for i := range names {
			s.Labels[i] = Label{Name: names[i], Value: values[i]}
		}
		for i, gi := range idx {
			s.Points[i] = Point{T: grid.Time(int(gi)), V: vals[i]}
		}
		res.Series = append(res.Series, s)
	}
	if err := rows.Err(); err != nil {
		return nil, e.timeoutError(queryError(err))
	}
	res.Stats.Elapsed = time.Since(began)
	if scalar && len(res.Series) == 0 {
		res.Series = []Series{{Labels: Labels{}}}
	}
	return res, nil
}

// orderTopK orders an instant topk/bottomk answer as Prometheus does: the
// groups in the order their first series appears (series come sorted by
// labels), within a group by value, largest first for topk.
func orderTopK(expr string, series []Series) {
	ast, err := dialect.Parse(expr)
	if err != nil {
		return
	}
	agg, ok := dialect.Unparen(ast).(*parser.AggregateExpr)
	if !ok || (agg.Op != parser.TOPK && agg.Op != parser.BOTTOMK) {
		return
	}
	group := func(s Series) string {
		var b strings.Builder
		for _, l := range s.Labels {
			listed := slices.Contains(agg.Grouping, l.Name)
			if l.Name != "__name__" && listed != agg.Without {
				b.WriteString(l.Name + "\xff" + l.Value + "\xff")
			}
		}
		return b.String()
	}
	first := map[string]int{}
	for i, s := range series {
		if _, ok := first[group(s)]; !ok {
			first[group(s)] = i
		}
	}
	sort.SliceStable(series, func(i, j int) bool {
		gi, gj := first[group(series[i])], first[group(series[j])]
		if gi != gj {
			return gi < gj
		}
		vi, vj := series[i].Points[0].V, series[j].Points[0].V
		if agg.Op == parser.TOPK {
			return vi > vj
		}
		return vi < vj
	})
}
