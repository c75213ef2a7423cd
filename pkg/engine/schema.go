package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/forma3d/meshmetrics/pkg/sqlgen"
)

// schemaRefresh bounds how long a detected schema is used: installing or
// rolling back the series extension is seen within it.
const schemaRefresh = 5 * time.Minute

// detectSchema reads the TimeUnix column type (the exporter writes DateTime
// (seconds) since v0.12x, DateTime64(9) in older versions) and whether the
// series and recent extensions are installed, at most every
// schemaRefresh, in one statement (three took 12–42 ms at 20 services). A
// failed detection is retried on the next query.
func (e *Engine) detectSchema(ctx context.Context) (sqlgen.Schema, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.schema != nil && time.Since(e.schemaAt) < schemaRefresh {
		return e.withRecent(*e.schema), nil
	}
	s := sqlgen.Schema{Database: e.cfg.Database, Sum: e.cfg.Tables.Sum, Gauge: e.cfg.Tables.Gauge, Histogram: e.cfg.Tables.Histogram}
	exporter := []string{s.Sum, s.Gauge, s.Histogram}
	found, version, err := e.tablesOf(ctx, s.Database, append(append(append([]string{}, exporter...), seriesExtensionNames...), recentExtensionNames...))
	if err != nil {
		return s, err
	}
	for _, t := range exporter {
		typ := found[t].timeType
		switch {
		case typ == "":
			return s, fmt.Errorf("table %s.%s does not exist or has no TimeUnix column: has the collector's clickhouse exporter written metrics to database %q yet?", s.Database, t, s.Database)
		case strings.HasPrefix(typ, "DateTime64"):
			s.TimeType = sqlgen.TimeDateTime64
		case strings.HasPrefix(typ, "DateTime"):
		default:
			return s, fmt.Errorf("table %s.%s: TimeUnix is %s, expected DateTime or DateTime64", s.Database, t, typ)
		}
	}
	state := e.seriesTablesState(s, found)
	s.SeriesTables = state == seriesTablesInUse
	e.seriesTables = state
	if e.schema != nil && e.schema.SeriesTables != s.SeriesTables {
		// Reads move between the exporter's tables and the extension's:
		// what probes and listings found of one is not the other's
		// (names held.go answered absent may be in the exporter's rows,
		// not backfilled).
		e.probeAnswers.clear()
		e.heldNames.clear()
		e.recentPoints.clear()
		e.settledPoints.clear()
	}
	e.recentTables, e.recentInUse = recentTablesState(s, found)
	e.schema, e.schemaAt = &s, time.Now()
	fmt.Sscanf(version, "%d.%d", &e.version[0], &e.version[1])
	return e.withRecent(s), nil
}

const seriesTablesInUse = "installed (" + sqlgen.SeriesTablesVersion + "), in use"

// seriesExtensionViews are the materialized views that fill the series
// extension's tables.
var seriesExtensionViews = []string{
	"meshmetrics_samples_sum_mv", "meshmetrics_samples_gauge_mv", "meshmetrics_samples_histogram_mv",
	"meshmetrics_series_sum_mv", "meshmetrics_series_gauge_mv", "meshmetrics_series_histogram_mv",
}

// seriesExtensionNames are the series extension's tables and views.
var seriesExtensionNames = append(append([]string{}, sqlgen.SeriesExtensionTables...), seriesExtensionViews...)

// seriesTablesState says whether the series extension is installed and
// current in s.Database, from what found says of its tables and views
// (found may hold others):
// its four tables carry the version comment, its six views exist and the
// samples tables' TimeUnix has the exporter's type. Anything else is a
// sentence saying what is missing; queries then read the exporter's
// tables.
func (e *Engine) seriesTablesState(s sqlgen.Schema, found map[string]extensionTable) string {
	names := seriesExtensionNames
	if found = only(found, names); len(found) == 0 {
		return "not installed (provisioning/clickhouse/002_series_tables.up.sql): queries read the exporter's tables, slower"
	}
	var missing, outdated []string
	for _, n := range names {
		if _, ok := found[n]; !ok {
			missing = append(missing, n)
		}
	}
	wantTime := "DateTime"
	if s.TimeType == sqlgen.TimeDateTime64 {
		wantTime = "DateTime64(9)"
	}
	for _, n := range sqlgen.SeriesExtensionTables {
		t, ok := found[n]
		switch {
		case !ok:
		case t.comment != sqlgen.SeriesTablesVersion:
			outdated = append(outdated, fmt.Sprintf("%s is %q, not %q", n, t.comment, sqlgen.SeriesTablesVersion))
		case n != sqlgen.SeriesTable && strings.HasPrefix(t.timeType, "DateTime64") != (s.TimeType == sqlgen.TimeDateTime64):
			outdated = append(outdated, fmt.Sprintf("%s has TimeUnix %s, the exporter's tables %s", n, t.timeType, wantTime))
		}
	}
	var problems []string
	if len(missing) > 0 {
		problems = append(problems, "missing "+strings.Join(missing, ", "))
	}
	problems = append(problems, outdated...)
	if len(problems) > 0 {
		return "incomplete or outdated (" + strings.Join(problems, "; ") + "): queries read the exporter's tables, slower; run provisioning/clickhouse/002_series_tables.up.sql"
	}
	if e.cfg.IgnoreSeriesTables {
		return "installed (" + sqlgen.SeriesTablesVersion + "), not used (configured to read the exporter's tables)"
	}
	return seriesTablesInUse
}

// extensionTable is what system.tables says of a table or view (the
// exporter's, or an extension's): its comment, and its TimeUnix type (""
// for a view).
type extensionTable struct{ comment, timeType string }

// tablesOf reads those of names that exist in database, and the server's
// version.
func (e *Engine) tablesOf(ctx context.Context, database string, names []string) (found map[string]extensionTable, version string, err error) {
	rows, err := e.conn.Query(ctx, fmt.Sprintf(`SELECT t.name, t.comment, ifNull(c.type, ''), version() FROM system.tables AS t
LEFT JOIN (SELECT table, type FROM system.columns WHERE database = %[1]s AND name = 'TimeUnix') AS c ON c.table = t.name
WHERE t.database = %[1]s AND t.name IN %[2]s`, sqlgen.QuoteString(database), sqlgen.StringList(names)))
	if err != nil {
		return nil, "", queryError(err)
	}
	defer rows.Close()
	found = map[string]extensionTable{}
	for rows.Next() {
		var name string
		var t extensionTable
		if err := rows.Scan(&name, &t.comment, &t.timeType, &version); err != nil {
			return nil, "", err
		}
		found[name] = t
	}
	if err := rows.Err(); err != nil {
		return nil, "", queryError(err)
	}
	return found, version, nil
}

// only is what found says of names.
func only(found map[string]extensionTable, names []string) map[string]extensionTable {
	out := map[string]extensionTable{}
	for _, n := range names {
		if t, ok := found[n]; ok {
			out[n] = t
		}
	}
	return out
}

// ErrQueryTimeout marks a query stopped by the query timeout, on the
// server (max_execution_time) or in the client.
var ErrQueryTimeout = errors.New("the query took longer than the query timeout allows: narrow the time range or the selector, or raise the timeout")

// timeoutError says "timeout" plainly for the client-side ways a query
// runs out of time (the context's deadline, the HTTP read timeout).
func (e *Engine) timeoutError(err error) error {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() || strings.Contains(err.Error(), "timeout awaiting response headers") {
		return fmt.Errorf("%w (%s)", ErrQueryTimeout, e.cfg.QueryTimeout)
	}
	return err
}

// ClickHouse error codes the engine explains.
const (
	codeTimeout  = 159 // TIMEOUT_EXCEEDED
	codeThrowIf  = 395 // FUNCTION_THROW_IF_VALUE_IS_NON_ZERO
	codeMemLimit = 241 // MEMORY_LIMIT_EXCEEDED
)

// throwIfMessage finds the statement's own message in ClickHouse's: older
// servers prefix it, every server appends where it was thrown.
var throwIfMessage = regexp.MustCompile(`^(?s)(?:.*Value passed to 'throwIf' function is non-zero: )?(.*?)(?:: while executing.*)?$`)

// queryError turns server errors into what a query's author can act on:
// PromQL's own messages for the checks the SQL makes with throwIf.
func queryError(err error) error {
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) {
		return fmt.Errorf("clickhouse: %w", err)
	}
	switch ex.Code {
	case codeThrowIf:
		if m := throwIfMessage.FindStringSubmatch(ex.Message); m != nil {
			return errors.New(m[1])
		}
		return errors.New(ex.Message)
	case codeTimeout:
		return fmt.Errorf("%w (the server's max_execution_time): %s", ErrQueryTimeout, ex.Message)
	case codeMemLimit:
		return fmt.Errorf("the query needs more memory than the server allows: narrow the time range or the selector: %s", ex.Message)
	}
	return fmt.Errorf("clickhouse error %d: %s", ex.Code, ex.Message)
}
