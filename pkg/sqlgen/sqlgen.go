// Package sqlgen turns a plan into one ClickHouse SELECT. Every plan node
// becomes one common table expression (CTE) of a fixed shape:
//
//	vector step:  labels Array(Tuple(String, String)), i UInt32, v Float64
//	scalar step:  i UInt32, v Float64   (a row for every grid index)
//
// labels is the series' label set sorted by name without empty values, so
// equal label sets are equal arrays and GROUP BY / JOIN can use them
// directly; i is the grid index of the evaluation time. The final SELECT
// groups the root's rows into one row per series.
//
// This file holds the builder and the final statement; sources.go reads the
// exporter's tables, windows.go evaluates selectors and range functions
// over the grid, and operators.go / functions.go the rest of PromQL.
package sqlgen

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/forma3d/meshmetrics/pkg/plan"
)

// TimeType is how the exporter stores TimeUnix: DateTime (seconds) since
// exporter v0.12x, DateTime64(9) before.
type TimeType int

// The TimeUnix column types the builder reads.
const (
	TimeDateTime TimeType = iota
	TimeDateTime64
)

// Schema says where the exporter's tables are.
type Schema struct {
	Database  string
	Sum       string
	Gauge     string
	Histogram string
	// TimeType is the TimeUnix column type, the same in every table.
	TimeType TimeType
	// SeriesTables: the series and samples tables of
	// provisioning/clickhouse/002_series_tables.up.sql are installed (at
	// SeriesTablesVersion) in Database; selectors read them instead of
	// the exporter's tables.
	SeriesTables bool
	// RecentFromMs, with SeriesTables: the recent tables of
	// provisioning/clickhouse/003_recent_samples.up.sql hold every sample
	// from this time (Unix ms) on; a read of at most RecentMaxSpan that
	// starts there or later reads them instead of the samples tables. 0:
	// not installed or not in use.
	RecentFromMs int64
}

// RecentMaxSpan is the longest read window the recent tables serve. They
// are ordered by time, so a short window reads only its rows where the
// samples tables (ordered by series) read a granule of every series; over
// longer windows the samples tables' order wins (the ToGrid states are
// fed one series at a time): measured over 1,800 bucket series, a
// 6-minute read took 32–37 ms against 103–122 ms, 15 minutes 75–80 against
// 113–150, 30 minutes about the same, an hour and more slower.
const RecentMaxSpan = 20 * time.Minute

// The series extension's tables (provisioning/clickhouse/002) and the
// comment its tables carry: the plugin reads them only at this version.
const (
	SeriesTable         = "meshmetrics_series"
	SamplesTablePrefix  = "meshmetrics_samples_"
	SeriesTablesVersion = "meshmetrics series v1"
)

// The recent tables (provisioning/clickhouse/003) and the comment they
// carry once backfilled: the plugin reads them only then.
const (
	RecentTablePrefix   = "meshmetrics_recent_"
	RecentTablesVersion = "meshmetrics recent v1 backfilled"
)

// RecentTables are the recent tables, one per samples table.
var RecentTables = []string{RecentTablePrefix + "sum", RecentTablePrefix + "gauge", RecentTablePrefix + "histogram"}

// SeriesExtensionTables are the extension's tables, series first.
var SeriesExtensionTables = []string{SeriesTable, SamplesTablePrefix + "sum", SamplesTablePrefix + "gauge", SamplesTablePrefix + "histogram"}

// Options shape a statement.
type Options struct {
	// MaxSeries is the most series the answer may have; 0 means no limit.
	MaxSeries int
	// Native uses ClickHouse's timeSeries*ToGrid aggregate functions for
	// rate, increase, delta, irate and idelta where the grid, range and
	// offset are whole seconds (their parameters are seconds); every other
	// step is rendered as in the portable strategy.
	Native bool
	// Fold is the server's arrayFold signature; FoldNone before 23.10.
	Fold FoldSyntax
	// MaxStatementBytes is the longest statement Build returns (0: no
	// limit); a longer one is a *StatementTooLargeError.
	MaxStatementBytes int
	// Slice, when set, limits the points read from the series extension's
	// samples tables to the stored series whose sid it holds: a sum
	// over many series runs as one statement per slice, its partial sums
	// added by the caller, so that no statement holds every series'
	// samples at once.
	Slice *SidSlice
}

// SidSlice is the stored series numbers Lo ≤ sid ≤ Hi. The samples
// tables are ordered by (MetricName, sid, TimeUnix): a slice is a range
// of the primary key, read without touching the other series' granules.
type SidSlice struct{ Lo, Hi uint64 }

// SidSlices cuts the sid space into n slices of equal width; sids are
// hashes, so each holds about 1/n of a selector's series.
func SidSlices(n int) []SidSlice {
	if n <= 1 {
		return nil
	}
	out := make([]SidSlice, n)
	width := math.MaxUint64 / uint64(n)
	for k := range out {
		out[k].Lo = uint64(k) * width
		out[k].Hi = out[k].Lo + width - 1
	}
	out[n-1].Hi = math.MaxUint64
	return out
}

// MaxQuerySize is ClickHouse's default max_query_size: the server refuses
// to parse a longer statement (code 62).
const MaxQuerySize = 262144

// StatementTooLargeError says a plan's SQL is longer than the limit, and
// at which selector (its Pos) the statement passed it.
type StatementTooLargeError struct {
	Bytes, Limit, Pos int
}

func (e *StatementTooLargeError) Error() string {
	return fmt.Sprintf("the query's SQL is %d bytes, more than the %d bytes of ClickHouse's max_query_size; it passes the limit at the selector at byte %d: split the query or use fewer selectors", e.Bytes, e.Limit, e.Pos)
}

// FoldSyntax is how a server's arrayFold takes its lambda.
type FoldSyntax int

// arrayFold came in ClickHouse 23.10 as (x, acc) -> …; 23.11 swapped the
// lambda's arguments to (acc, x) -> ….
const (
	FoldAccFirst FoldSyntax = iota // 23.11 and later: the default
	FoldAccLast                    // 23.10
	FoldNone                       // before 23.10
)

// FoldFor is the arrayFold signature of a server version.
func FoldFor(major, minor int) FoldSyntax {
	switch {
	case major > 23 || major == 23 && minor >= 11:
		return FoldAccFirst
	case major == 23 && minor == 10:
		return FoldAccLast
	}
	return FoldNone
}

// Build renders p as one SELECT returning one row per series, ordered by
// labels: label names and values (Array(String) each, sorted by name), and
// the series' grid indexes and values (Array(UInt32), Array(Float64)) in
// time order. With Options.MaxSeries, at most MaxSeries+1 rows come back,
// so the caller can tell that the limit was passed.
func Build(p *plan.Plan, schema Schema, opts Options) (string, error) {
	b := &builder{schema: schema, grid: p.Grid, native: opts.Native, fold: opts.Fold, maxBytes: opts.MaxStatementBytes, overAt: -1, slice: opts.Slice}
	root, err := b.node(p.Root)
	if err != nil {
		return "", err
	}
	var final string
	if p.Root.Scalar() {
		final = fmt.Sprintf("SELECT CAST([], 'Array(String)') AS names, CAST([], 'Array(String)') AS values, groupArray(i) AS idx, groupArray(v) AS vals\nFROM (SELECT i, v FROM %s ORDER BY i)", root)
	} else {
		final = b.finalVector(root, opts.MaxSeries)
	}
	var sb strings.Builder
	if len(b.ctes) > 0 {
		sb.WriteString("WITH\n")
		for i, c := range b.ctes {
			fmt.Fprintf(&sb, "%s AS (\n%s\n)", c.name, indent(c.sql))
			if i < len(b.ctes)-1 {
				sb.WriteString(",")
			}
			sb.WriteString("\n")
		}
	}
	sb.WriteString(final)
	// ClickHouse's new query analyzer (the default from 24.3) takes seconds
	// to plan these statements where the old one takes tens of
	// milliseconds (docs/dialect.md has the measurements); the old one is
	// the default before 24.3 and still available under this name after.
	settings := []string{"allow_experimental_analyzer = 0"}
	if b.usesToGrid {
		settings = append(settings, "allow_experimental_ts_to_grid_aggregate_function = 1")
	}
	sb.WriteString("\nSETTINGS " + strings.Join(settings, ", "))
	if b.maxBytes > 0 && sb.Len() > b.maxBytes {
		pos := b.overAt
		if pos < 0 {
			pos = b.lastPos
		}
		return "", &StatementTooLargeError{Bytes: sb.Len(), Limit: b.maxBytes, Pos: pos}
	}
	return sb.String(), nil
}

// finalVector groups the root's rows by series. Two rows of one series at
// one grid index mean two series collapsed into one label set (e.g. rate()
// over two metric names that differ only in __name__): Prometheus refuses
// that, and so does the statement.
func (b *builder) finalVector(root string, maxSeries int) string {
	limit := ""
	if maxSeries > 0 {
		limit = fmt.Sprintf("\nLIMIT %d", maxSeries+1)
	}
	return fmt.Sprintf(`SELECT arrayMap(x -> x.1, labels) AS names, arrayMap(x -> x.2, labels) AS values, groupArray(i) AS idx, groupArray(v) AS vals
FROM (
  SELECT labels, i, v
  FROM %s
  ORDER BY labels, i
)
GROUP BY labels
HAVING throwIf(length(groupArray(i)) != length(groupUniqArray(i)), 'vector cannot contain metrics with the same labelset') = 0
ORDER BY labels%s`, root, limit)
}

type cte struct{ name, sql string }

// builder collects the CTEs of one statement.
type builder struct {
	schema Schema
	grid   plan.Grid
	native bool
	fold   FoldSyntax
	// usesToGrid: the statement calls the ToGrid aggregates, which
	// ClickHouse still flags as experimental.
	usesToGrid bool
	ctes       []cte
	// maxBytes is Options.MaxStatementBytes; size the CTEs' running
	// length; lastPos the Pos of the selector rendered last, and overAt
	// the lastPos when size first passed maxBytes (-1: not yet).
	maxBytes, size, lastPos, overAt int
	slice                           *SidSlice // Options.Slice
}

// add appends a CTE and returns its name; prefix says what it is.
func (b *builder) add(prefix, sql string) string {
	name := fmt.Sprintf("%s_%d", prefix, len(b.ctes)+1)
	b.ctes = append(b.ctes, cte{name: name, sql: sql})
	b.size += len(sql)
	if b.maxBytes > 0 && b.size > b.maxBytes && b.overAt < 0 {
		b.overAt = b.lastPos
	}
	return name
}

// node renders a plan node as a CTE and returns the CTE's name.
func (b *builder) node(n plan.Node) (string, error) {
	switch n := n.(type) {
	case *plan.InstantSelector:
		return b.instantSelector(n)
	case *plan.RangeFunction:
		return b.rangeFunction(n)
	case *plan.Aggregation:
		return b.aggregation(n)
	case *plan.Binary:
		return b.binary(n)
	case *plan.Negate:
		return b.negate(n)
	case *plan.Call:
		return b.call(n)
	case *plan.Number:
		return b.add("number", fmt.Sprintf("SELECT toUInt32(number) AS i, %s AS v FROM numbers(%d)", float(n.Value), b.grid.N)), nil
	}
	return "", fmt.Errorf("sqlgen: no SQL for plan node %T", n)
}

// evalTimeMs is the SQL expression of the evaluation time (Unix ms) of grid
// index i.
func (b *builder) evalTimeMs(i string) string {
	return fmt.Sprintf("(%d + %s * %d)", b.grid.StartMs, i, b.grid.StepMs)
}

// withoutName is a labels expression with __name__ removed.
func withoutName(labels string) string {
	return fmt.Sprintf("arrayFilter(x -> x.1 != '__name__', %s)", labels)
}

// keepLabels keeps only the named labels (by) or all but them (without).
func keepLabels(labels string, names []string, keep bool) string {
	if keep {
		return fmt.Sprintf("arrayFilter(x -> has(%s, x.1), %s)", stringArray(names), labels)
	}
	return fmt.Sprintf("arrayFilter(x -> NOT has(%s, x.1), %s)", stringArray(names), labels)
}

// labelValue reads one label's value ("" when absent) from a labels array.
func labelValue(labels, name string) string {
	return fmt.Sprintf("arrayFirst(x -> x.1 = %s, %s).2", quote(name), labels)
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

// TableOf is the name of the table that holds metrics of a kind.
func (s Schema) TableOf(kind plan.TableKind) string {
	switch kind {
	case plan.TableSum:
		return s.Sum
	case plan.TableHistogram:
		return s.Histogram
	}
	return s.Gauge
}

// Table is the quoted, database-qualified name of one of the tables.
func (s Schema) Table(name string) string { return ident(s.Database) + "." + ident(name) }

// TimeRange is a WHERE condition selecting points with from <= TimeUnix <= to.
func (s Schema) TimeRange(from, to int64) string {
	b := &builder{schema: s}
	return b.timeBounds(from-1, to)
}
