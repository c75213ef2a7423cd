package engine

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/forma3d/meshmetrics/pkg/dialect"
	"github.com/forma3d/meshmetrics/pkg/plan"
	"github.com/forma3d/meshmetrics/pkg/sqlgen"
)

// MaxMetadata bounds how many names or values a metadata call returns.
const MaxMetadata = 10000

// Metric is one metric name as PromQL addresses it, with what the exporter
// stored about it.
type Metric struct {
	Name        string `json:"name"`
	Type        string `json:"type"` // counter (sum), gauge, histogram
	Unit        string `json:"unit,omitempty"`
	Description string `json:"description,omitempty"`
}

// Metrics lists the metrics with points in [from, to] whose PromQL name the
// regex (fully anchored; empty for all) matches.
func (e *Engine) Metrics(ctx context.Context, regex string, from, to time.Time) ([]Metric, error) {
	var m *labels.Matcher
	var err error
	if regex != "" {
		if m, err = labels.NewMatcher(labels.MatchRegexp, labels.MetricName, regex); err != nil {
			return nil, fmt.Errorf("invalid metric name regex %q: %v", regex, err)
		}
	}
	schema, err := e.detectSchema(ctx)
	if err != nil {
		return nil, err
	}
	var parts []string
	for _, t := range []struct {
		kind  plan.TableKind
		table string
	}{{plan.TableSum, schema.Sum}, {plan.TableGauge, schema.Gauge}, {plan.TableHistogram, schema.Histogram}} {
		parts = append(parts, fmt.Sprintf("SELECT %s AS kind, MetricName AS name, any(MetricUnit) AS unit, any(MetricDescription) AS description FROM %s WHERE %s GROUP BY MetricName",
			sqlgen.QuoteString(string(t.kind)), schema.Table(t.table), schema.TimeRange(from.UnixMilli(), to.UnixMilli())))
	}
	rows, err := e.conn.Query(ctx, strings.Join(parts, "\nUNION ALL\n")+fmt.Sprintf("\nLIMIT %d", MaxMetadata))
	if err != nil {
		return nil, queryError(err)
	}
	defer rows.Close()
	var out []Metric
	for rows.Next() {
		var kind, name, unit, desc string
		if err := rows.Scan(&kind, &name, &unit, &desc); err != nil {
			return nil, err
		}
		for _, src := range namesOf(storedName{table: plan.TableKind(kind), metric: name}) {
			if m != nil && !m.Matches(src.Name) {
				continue
			}
			typ := map[plan.TableKind]string{plan.TableSum: "counter", plan.TableGauge: "gauge", plan.TableHistogram: "histogram"}[src.Table]
			out = append(out, Metric{Name: src.Name, Type: typ, Unit: unit, Description: desc})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, queryError(err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// LabelNames lists the label names of the series a selector (e.g.
// traefik_service_requests_total{code="200"}) has in [from, to].
func (e *Engine) LabelNames(ctx context.Context, selector string, from, to time.Time) ([]string, error) {
	return e.metadata(ctx, selector, from, to, func(s sqlgen.Schema, sel plan.Selector, fromMs, toMs int64) (string, error) {
		return sqlgen.LabelNamesSQL(s, sel, fromMs, toMs, MaxMetadata)
	}, func(names, _ []string) []string { return names })
}

// LabelValues lists the values of label on a selector's series in [from, to].
func (e *Engine) LabelValues(ctx context.Context, label, selector string, from, to time.Time) ([]string, error) {
	if label == "" {
		return nil, fmt.Errorf("label values: the label name is empty")
	}
	return e.metadata(ctx, selector, from, to, func(s sqlgen.Schema, sel plan.Selector, fromMs, toMs int64) (string, error) {
		return sqlgen.LabelValuesSQL(s, sel, label, fromMs, toMs, MaxMetadata)
	}, func(names, values []string) []string {
		if i := slices.Index(names, label); i >= 0 {
			return values[i : i+1 : i+1]
		}
		return nil
	})
}

// Kept metadata answers: with the series extension (002) a metadata
// statement reads only the series table, whose rows are per series and
// UTC day, so its answer depends on the days the range touches, not on
// the range itself. Rendered for those days' starts, it is the same
// statement for every range within them, and its answer is kept under
// it for metadataAnswerTTL: the dashboard's variables ask again on every
// refresh. The bound: a series stored after an answer shows in variable
// options at most metadataAnswerTTL later.
const (
	metadataAnswerTTL = 5 * time.Minute
	// maxMetadataAnswers bounds the values kept, over all answers.
	maxMetadataAnswers = 100_000
)

// dayStartMs is the start of ms's UTC day.
func dayStartMs(ms int64) int64 {
	return floorDiv(ms, dayMs) * dayMs
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// metadata answers a metadata call: render is its statement, fromSet
// what one label set (names, values) gives of its answer.
func (e *Engine) metadata(ctx context.Context, selector string, from, to time.Time, render func(s sqlgen.Schema, sel plan.Selector, fromMs, toMs int64) (string, error), fromSet func(names, values []string) []string) ([]string, error) {
	if !to.After(from) {
		return nil, fmt.Errorf("the time range is empty: end %s is not after start %s", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	if strings.TrimSpace(selector) == "" {
		// Every metric: bounded by the time range and the LIMIT.
		selector = `{__name__=~".+"}`
	}
	ast, err := dialect.Parse(selector)
	if err != nil {
		return nil, err
	}
	vs, ok := ast.(*parser.VectorSelector)
	if !ok {
		return nil, fmt.Errorf("expected a series selector such as metric{label=\"value\"}, got %q", selector)
	}
	schema, err := e.detectSchema(ctx)
	if err != nil {
		return nil, err
	}
	cat := &catalog{conn: e.conn, schema: schema, answers: e.probeAnswers, held: e.heldNames, fromMs: from.UnixMilli(), toMs: to.UnixMilli()}
	p, err := plan.Build(ctx, vs, plan.NewInstantGrid(to), plan.Options{}, cat)
	if err != nil {
		return nil, err
	}
	fromMs, toMs := from.UnixMilli(), to.UnixMilli()
	if schema.SeriesTables {
		// Whole UTC days: the series table's days are the server's
		// (toDate), and the last UTC day's end, not its start, keeps the
		// server's present day in on a server west of UTC.
		fromMs, toMs = dayStartMs(fromMs), dayStartMs(toMs)+dayMs-1
	}
	sel := p.Root.(*plan.InstantSelector).Selector
	if schema.SeriesTables {
		if out, ok, err := e.fromLabelSets(ctx, schema, sel, fromMs, toMs, fromSet); err != nil || ok {
			return out, err
		}
	}
	sql, err := render(schema, sel, fromMs, toMs)
	if err != nil {
		return nil, err
	}
	if !schema.SeriesTables {
		return e.runMetadata(ctx, sql)
	}
	if kept, ok := e.metadataAnswers.get(sql); ok {
		return slices.Clone(kept), nil
	}
	out, err := e.runMetadata(ctx, sql)
	if err != nil {
		return nil, err
	}
	e.metadataAnswers.putNow(sql, slices.Clone(out), len(out)+1)
	return out, nil
}

// runMetadata runs a metadata statement: one string column.
func (e *Engine) runMetadata(ctx context.Context, sql string) ([]string, error) {
	rows, err := e.conn.Query(ctx, sql)
	if err != nil {
		return nil, queryError(err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, queryError(err)
	}
	return out, nil
}
