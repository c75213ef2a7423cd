package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/forma3d/meshmetrics/pkg/dialect"
	"github.com/forma3d/meshmetrics/pkg/plan"
	"github.com/forma3d/meshmetrics/pkg/sqlgen"
)

// compiled is a query turned into statements: one, or a split query's
// leaves (split.go).
type compiled struct {
	// stmts are the statements, one per leaf when split; a query empty
	// whatever is stored has the one noStatement.
	stmts []statement
	// upper is what lies above a split query's leaves; nil when not split.
	upper    parser.Expr
	leaves   []leaf
	scalar   bool
	strategy string // the SQL strategy the statements were rendered for
	shared   bool   // a leaf is a shared series leaf (shared.go)
}

// renderer turns plans into statements for one schema and strategy.
type renderer struct {
	schema   sqlgen.Schema
	strategy string
	opts     sqlgen.Options
}

func (e *Engine) renderer(ctx context.Context) (renderer, error) {
	schema, err := e.detectSchema(ctx)
	if err != nil {
		return renderer{}, err
	}
	strategy, err := e.strategy()
	if err != nil {
		return renderer{}, err
	}
	opts := sqlgen.Options{MaxSeries: e.cfg.MaxSeries, Native: strategy == StrategyNative, Fold: e.fold(), MaxStatementBytes: sqlgen.MaxQuerySize}
	return renderer{schema: schema, strategy: strategy, opts: opts}, nil
}

// catalog is a catalog for the samples n reads over grid, with the exact
// metric names of n's selectors asked about in one round trip.
func (e *Engine) catalog(ctx context.Context, r renderer, n parser.Expr, grid plan.Grid) (*catalog, error) {
	behind, ahead := reach(n)
	cat := &catalog{conn: e.conn, schema: r.schema, answers: e.probeAnswers, held: e.heldNames,
		fromMs: grid.StartMs - (behind + e.cfg.Lookback).Milliseconds(), toMs: grid.EndMs() + ahead.Milliseconds()}
	if err := cat.Prefetch(ctx, exactNames(n)); err != nil {
		return nil, err
	}
	return cat, nil
}

// compile parses and plans expr for grid and renders its statements;
// share lets aggregations read shared series leaves (shared.go).
func (e *Engine) compile(ctx context.Context, expr string, grid plan.Grid, share bool) (*compiled, error) {
	ast, err := dialect.Parse(expr)
	if err != nil {
		return nil, err
	}
	r, err := e.renderer(ctx)
	if err != nil {
		return nil, err
	}
	behind, ahead := reach(ast)
	span := time.Duration(grid.EndMs()-grid.StartMs)*time.Millisecond + behind + e.cfg.Lookback + ahead
	if span > e.cfg.MaxRange {
		return nil, fmt.Errorf("the query reads %s of data (time range plus ranges, offsets and lookback), more than the maximum of %s: narrow the time range", model.Duration(span), model.Duration(e.cfg.MaxRange))
	}
	// One catalog for the whole query: its leaves share the name lookups.
	cat, err := e.catalog(ctx, r, ast, grid)
	if err != nil {
		return nil, err
	}
	opts := plan.Options{Lookback: e.cfg.Lookback}
	p, err := plan.Build(ctx, ast, grid, opts, cat)
	if err != nil {
		return nil, err
	}
	c := &compiled{scalar: p.Root.Scalar(), strategy: r.strategy}
	if plan.Empty(p.Root) {
		c.stmts = []statement{{sql: noStatement}}
		return c, nil
	}
	var sharer func(*parser.AggregateExpr) (string, []*labels.Matcher, bool)
	if share && e.cache != nil {
		sharer = e.sharer(grid, r.strategy)
	}
	upper, leaves, split := splitQuery(expr, sharer)
	if !split {
		st, err := r.render(expr, p)
		if err != nil {
			return nil, err
		}
		c.stmts = []statement{st}
		return c, nil
	}
	c.upper, c.leaves = upper, leaves
	for _, l := range leaves {
		c.shared = c.shared || l.shared
		// The leaf's own tree, whose positions are the whole expression's.
		lp, err := plan.Build(ctx, l.node, grid, opts, cat)
		if err != nil {
			return nil, err
		}
		st, err := r.render(expr, lp)
		if err != nil {
			return nil, err
		}
		st.perSeries = l.shared
		c.stmts = append(c.stmts, st)
	}
	return c, nil
}

// compileLeaf renders leaf l of expr alone, for grid: a range query's
// leaf whose first evaluations came from the result cache runs for the
// rest only (split.go).
func (e *Engine) compileLeaf(ctx context.Context, expr string, l leaf, grid plan.Grid) (statement, error) {
	r, err := e.renderer(ctx)
	if err != nil {
		return statement{}, err
	}
	cat, err := e.catalog(ctx, r, l.node, grid)
	if err != nil {
		return statement{}, err
	}
	lp, err := plan.Build(ctx, l.node, grid, plan.Options{Lookback: e.cfg.Lookback}, cat)
	if err != nil {
		return statement{}, err
	}
	st, err := r.render(expr, lp)
	st.perSeries = l.shared
	return st, err
}

// render is p's statement: noStatement when p is empty whatever is
// stored, else its SQL, and a flat sum's two statements where p is one.
func (r renderer) render(expr string, p *plan.Plan) (statement, error) {
	if plan.Empty(p.Root) {
		return statement{sql: noStatement}, nil
	}
	var st statement
	flat, ok, err := sqlgen.FlatSumOf(p, r.schema, r.opts)
	if err != nil {
		return st, err
	}
	if ok {
		st.flat = flat
		st.slice = func(s sqlgen.SidSlice) (statement, error) {
			opts := r.opts
			opts.Slice = &s
			sliced, _, err := sqlgen.FlatSumOf(p, r.schema, opts)
			return statement{flat: sliced}, err
		}
	}
	// A flat sum keeps the one statement too: over many series and a
	// short range it is the faster of the two (flat.go).
	sql, err := sqlgen.Build(p, r.schema, r.opts)
	var tooLarge *sqlgen.StatementTooLargeError
	if errors.As(err, &tooLarge) {
		if st.flat != nil {
			return st, nil
		}
		// Point at the selector in the user's expression, not a byte offset.
		return st, &dialect.Error{Pos: tooLarge.Pos, Expr: expr, Msg: fmt.Sprintf(
			"the query is too large for one ClickHouse statement: its SQL would be %d bytes, more than ClickHouse's max_query_size of %d bytes, which it passes at this selector; narrow the selector's matchers or split the query",
			tooLarge.Bytes, tooLarge.Limit)}
	}
	st.sql = sql
	return st, err
}

// explain is the compiled query as text: its statements, and for a split
// query each leaf's expression and the evaluation above them.
func (c *compiled) explain() string {
	if c.upper == nil {
		return c.stmts[0].explain()
	}
	parts := make([]string, 0, len(c.stmts)+1)
	for i, st := range c.stmts {
		parts = append(parts, leafText(i, len(c.stmts), c.leaves[i].expr, st.explain()))
	}
	parts = append(parts, upperText(c.upper))
	return strings.Join(parts, "\n\n")
}
