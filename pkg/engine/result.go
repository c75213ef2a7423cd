package engine

import (
	"sort"
	"strings"
	"time"
)

// ValueType is the type of a query's answer, as in Prometheus' HTTP API.
type ValueType string

// The answer types.
const (
	ValueMatrix ValueType = "matrix"
	ValueVector ValueType = "vector"
	ValueScalar ValueType = "scalar"
)

// Label is one name/value pair of a series.
type Label struct {
	Name, Value string
}

// Labels is a series' label set, sorted by name, without empty values
// (Prometheus treats an empty value as an absent label).
type Labels []Label

// Get returns the value of name, or "" when it is absent.
func (ls Labels) Get(name string) string {
	for _, l := range ls {
		if l.Name == name {
			return l.Value
		}
	}
	return ""
}

// String renders the set as Prometheus does: {a="1", b="2"}.
// labelValueEscaper escapes a label value inside "…"; built once, as
// building a Replacer costs more than using it (the result cache keys
// every series by its labels' text).
var labelValueEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func (ls Labels) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, l := range ls {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(l.Name)
		b.WriteString(`="`)
		b.WriteString(labelValueEscaper.Replace(l.Value))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// Sort orders the set by name.
func (ls Labels) Sort() { sort.Slice(ls, func(i, j int) bool { return ls[i].Name < ls[j].Name }) }

// Point is one value at one evaluation time.
type Point struct {
	T time.Time
	V float64
}

// Series is one answer series: for a range query its points at the
// evaluation times where it has a value; for an instant query one point.
type Series struct {
	Labels Labels
	Points []Point
}

// Result is a query's answer. A scalar answer has one series without
// labels (one point for an instant query, one per step for a range query).
type Result struct {
	Type   ValueType
	Series []Series
	// SQL is the statement that produced the answer, for explain and logs.
	SQL string
	// Stats are ClickHouse's counters for the statement.
	Stats Stats
	// scalar: the expression is a scalar, whose answer has its one series
	// even without points.
	scalar bool
	// gridded, instead of Series: a cached leaf's series as its entry
	// keeps them (resultCache.cachedRange, inPlace).
	gridded []gridSeries
	// dataAt, when set, is when the rows of the answer's evaluations
	// newer than the cache's Freshness were read, earlier than the
	// answer (recent points read for several queries, a cached leaf): the
	// result cache counts their Recent from it.
	dataAt time.Time
	// settledAt, when set, is when the oldest rows of the answer's
	// evaluations older than the cache's Freshness were read, by the
	// engine's clock: settled points (settled.go), a cache entry's kept
	// evaluations. An entry keeping them ages from then.
	settledAt time.Time
}

// earlier is the earlier of two read times, zero meaning none.
func earlier(a, b time.Time) time.Time {
	if a.IsZero() || !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}

// Stats describe the work ClickHouse did for a query.
type Stats struct {
	RowsRead  uint64
	BytesRead uint64
	Elapsed   time.Duration
}
