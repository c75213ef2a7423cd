package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/forma3d/meshmetrics/pkg/sqlgen"
)

// detectSchema reads the TimeUnix column type once: the exporter writes
// DateTime (seconds) since v0.12x, DateTime64(9) in older versions. A
// failed detection is retried on the next query.
func (e *Engine) detectSchema(ctx context.Context) (sqlgen.Schema, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.schema != nil {
		return *e.schema, nil
	}
	s := sqlgen.Schema{Database: e.cfg.Database, Sum: e.cfg.Tables.Sum, Gauge: e.cfg.Tables.Gauge, Histogram: e.cfg.Tables.Histogram}
	query := fmt.Sprintf("SELECT table, type, version() FROM system.columns WHERE database = %s AND table IN %s AND name = 'TimeUnix'",
		sqlgen.QuoteString(s.Database), sqlgen.StringList([]string{s.Sum, s.Gauge, s.Histogram}))
	rows, err := e.conn.Query(ctx, query)
	if err != nil {
		return s, queryError(err)
	}
	defer rows.Close()
	types := map[string]string{}
	var version string
	for rows.Next() {
		var table, typ string
		if err := rows.Scan(&table, &typ, &version); err != nil {
			return s, err
		}
		types[table] = typ
	}
	if err := rows.Err(); err != nil {
		return s, queryError(err)
	}
	for _, t := range []string{s.Sum, s.Gauge, s.Histogram} {
		typ, ok := types[t]
		switch {
		case !ok:
			return s, fmt.Errorf("table %s.%s does not exist or has no TimeUnix column: has the collector's clickhouse exporter written metrics to database %q yet?", s.Database, t, s.Database)
		case strings.HasPrefix(typ, "DateTime64"):
			s.TimeType = sqlgen.TimeDateTime64
		case strings.HasPrefix(typ, "DateTime"):
		default:
			return s, fmt.Errorf("table %s.%s: TimeUnix is %s, expected DateTime or DateTime64", s.Database, t, typ)
		}
	}
	e.schema = &s
	fmt.Sscanf(version, "%d.%d", &e.version[0], &e.version[1])
	return s, nil
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
