// Package plan is the one intermediate form between a parsed PromQL
// expression and SQL: a tree of typed steps, each evaluated over the same
// grid of evaluation times. Every vector step yields rows (labels, i, v):
// a series' label set, a grid index and a value; a scalar step yields one
// value per grid index. The SQL builder turns each node into one common
// table expression, so the plan's shape is the SQL's shape.
package plan

import (
	"fmt"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// Grid is the set of evaluation times: Start + i·Step for i in [0, N).
// An instant query is a grid of one point. Times are Unix milliseconds.
type Grid struct {
	StartMs int64
	StepMs  int64
	N       int
}

// EndMs is the last evaluation time.
func (g Grid) EndMs() int64 { return g.StartMs + int64(g.N-1)*g.StepMs }

// Time is evaluation time i.
func (g Grid) Time(i int) time.Time { return time.UnixMilli(g.StartMs + int64(i)*g.StepMs).UTC() }

// NewRangeGrid checks and builds the grid of a range query.
func NewRangeGrid(start, end time.Time, step time.Duration, maxPoints int) (Grid, error) {
	if step <= 0 {
		return Grid{}, fmt.Errorf("step must be positive, got %s", step)
	}
	if end.Before(start) {
		return Grid{}, fmt.Errorf("end %s is before start %s", end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	stepMs := step.Milliseconds()
	if stepMs == 0 {
		return Grid{}, fmt.Errorf("step must be at least 1ms, got %s", step)
	}
	n := (end.UnixMilli()-start.UnixMilli())/stepMs + 1
	if maxPoints > 0 && n > int64(maxPoints) {
		return Grid{}, fmt.Errorf("exceeded maximum resolution of %d points per series: %d steps of %s; use a larger step", maxPoints, n, step)
	}
	return Grid{StartMs: start.UnixMilli(), StepMs: stepMs, N: int(n)}, nil
}

// Index is the grid index of t, one of the grid's times.
func (g Grid) Index(t time.Time) int { return int((t.UnixMilli() - g.StartMs) / g.StepMs) }

// NewInstantGrid is the one-point grid of an instant query.
func NewInstantGrid(t time.Time) Grid {
	return Grid{StartMs: t.UnixMilli(), StepMs: 1000, N: 1}
}

// Node is one step of a plan.
type Node interface {
	// Scalar reports whether the step yields a scalar (one value per grid
	// index, no labels) rather than a vector.
	Scalar() bool
}

// TableKind is which of the exporter's per-type tables holds a metric.
type TableKind string

// The exporter's metric tables.
const (
	TableSum       TableKind = "sum"
	TableGauge     TableKind = "gauge"
	TableHistogram TableKind = "histogram"
)

// Part is which value of a table row a PromQL name addresses.
type Part string

// Parts: a plain value, or a classic histogram's series.
const (
	PartValue  Part = "value"  // Value of a sum or gauge point
	PartBucket Part = "bucket" // <name>_bucket{le}: cumulative bucket counts
	PartCount  Part = "count"  // <name>_count
	PartSum    Part = "sum"    // <name>_sum
)

// Source is one place a metric's samples are read from.
type Source struct {
	// Name is the PromQL metric name these samples carry as __name__.
	Name  string
	Table TableKind
	// Metric is the MetricName stored in the table (for histograms the base
	// name without _bucket/_count/_sum).
	Metric string
	Part   Part
}

// AsPart is the source of part p of s's histogram, under the part's
// PromQL name (<metric>_<part>).
func (s Source) AsPart(p Part) Source {
	return Source{Name: s.Metric + "_" + string(p), Table: s.Table, Metric: s.Metric, Part: p}
}

// NamedPart says whether s is a histogram's bucket, _sum or _count under
// its own PromQL name, the name its part's series lists and sids are
// derived under.
func (s Source) NamedPart() bool {
	return s.Table == TableHistogram && s.Part != PartValue && s == s.AsPart(s.Part)
}

// Selector reads the samples of the metrics its name matcher resolved to:
// their sources, the matchers on the other labels, and an offset. A
// selector without sources selects nothing.
type Selector struct {
	Sources  []Source
	Matchers []*labels.Matcher
	Offset   time.Duration
	// Pos is the selector's byte offset in the expression, for errors that
	// point at it.
	Pos int
}

// InstantSelector is a selector evaluated at every grid time: the newest
// sample within the lookback window (t-lookback, t], unless that sample is
// a stale marker.
type InstantSelector struct {
	Selector
	Lookback time.Duration
}

// RangeFunction applies a range function (rate, …_over_time) to every
// window (t-Range, t] of a selector's samples. Stale markers are not
// samples here, as in Prometheus.
type RangeFunction struct {
	Func string
	Selector
	Range time.Duration
}

// Aggregation groups a vector by labels at each grid index.
type Aggregation struct {
	Op       string // sum, avg, min, max, count, topk, bottomk
	Grouping []string
	Without  bool
	// K is topk/bottomk's parameter.
	K     float64
	Input Node
}

// Matching is how two vectors' series are paired.
type Matching struct {
	// Card is one-to-one, many-to-one (group_left), one-to-many
	// (group_right) or many-to-many (set operators).
	Card string
	On   bool
	// Labels are the on(…)/ignoring(…) labels.
	Labels []string
	// Include are the group_left/group_right labels copied from the one side.
	Include []string
}

// Cardinalities of a Matching.
const (
	CardOneToOne   = "one-to-one"
	CardManyToOne  = "many-to-one"
	CardOneToMany  = "one-to-many"
	CardManyToMany = "many-to-many"
)

// Binary is an arithmetic, comparison or set operator.
type Binary struct {
	Op         string // + - * / % ^ == != > < >= <= and or unless
	LHS, RHS   Node
	ReturnBool bool
	// Matching is set when both sides are vectors.
	Matching *Matching
}

// Negate is unary minus.
type Negate struct{ Input Node }

// Call is a function of one input node with literal arguments.
type Call struct {
	Func  string
	Input Node // nil for time()
	// Number is round's to_nearest, clamp_min/clamp_max's bound or
	// histogram_quantile's φ.
	Number float64
	// Strings are label_replace's dst, replacement, src, regex.
	Strings []string
	// AbsentLabels are the labels absent() returns, from its selector's
	// equality matchers.
	AbsentLabels labels.Labels
}

// Number is a literal.
type Number struct{ Value float64 }

// Scalar implementations.
func (*InstantSelector) Scalar() bool { return false }
func (*RangeFunction) Scalar() bool   { return false }
func (*Aggregation) Scalar() bool     { return false }
func (b *Binary) Scalar() bool        { return b.LHS.Scalar() && b.RHS.Scalar() }
func (n *Negate) Scalar() bool        { return n.Input.Scalar() }
func (*Number) Scalar() bool          { return true }

// Scalar is true for time() and scalar(); every other function returns a
// vector.
func (c *Call) Scalar() bool { return c.Func == "time" || c.Func == "scalar" }

// Plan is a query's plan: its root and its grid.
type Plan struct {
	Root Node
	Grid Grid
}
