package engine

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/forma3d/meshmetrics/pkg/sqlgen"
)

// Status is what a health check reports about the server and its data.
type Status struct {
	Version  string
	Strategy string
	// TTL is each metric table's TTL expression ("" when none).
	TTL map[string]string
	// NewestMesh is the newest Traefik point in the last day; zero when
	// there is none.
	NewestMesh time.Time
	// SeriesTables says whether the series extension
	// (provisioning/clickhouse/002) is installed, current and in use.
	SeriesTables string
	// RecentTables says the same of the recent tables
	// (provisioning/clickhouse/003).
	RecentTables string
}

// meshProbeMetrics are the counters every Traefik proxy exports (v2 and
// v3) once it has served a request; a scrape with none has no mesh data.
var meshProbeMetrics = []string{"traefik_service_requests_total", "traefik_entrypoint_requests_total", "traefik_config_reloads_total"}

var ttlClause = regexp.MustCompile(`\bTTL\s+(.+?)(?:\s+SETTINGS\b|$)`)

// Status reads the server version, the metric tables (which must all
// exist) and how fresh the mesh's data is. Its errors are for a user.
func (e *Engine) Status(ctx context.Context) (*Status, error) {
	schema, err := e.detectSchema(ctx)
	if err != nil {
		return nil, err
	}
	st := &Status{TTL: map[string]string{}}
	e.mu.Lock()
	st.SeriesTables = e.seriesTables
	st.RecentTables = e.recentTables
	e.mu.Unlock()
	if st.Strategy, err = e.strategy(); err != nil {
		return nil, err
	}
	if err := e.conn.QueryRow(ctx, "SELECT version()").Scan(&st.Version); err != nil {
		return nil, queryError(err)
	}
	rows, err := e.conn.Query(ctx, fmt.Sprintf("SELECT name, engine_full FROM system.tables WHERE database = %s AND name IN %s",
		sqlgen.QuoteString(schema.Database), sqlgen.StringList([]string{schema.Sum, schema.Gauge, schema.Histogram})))
	if err != nil {
		return nil, queryError(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, engine string
		if err := rows.Scan(&name, &engine); err != nil {
			return nil, err
		}
		st.TTL[name] = ""
		if m := ttlClause.FindStringSubmatch(engine); m != nil {
			st.TTL[name] = m[1]
		}
	}
	if err := rows.Err(); err != nil {
		return nil, queryError(err)
	}
	now := time.Now()
	var newest time.Time
	query := fmt.Sprintf("SELECT max(TimeUnix) FROM %s WHERE MetricName IN %s AND %s",
		schema.Table(schema.Sum), sqlgen.StringList(meshProbeMetrics), schema.TimeRange(now.Add(-24*time.Hour).UnixMilli(), now.Add(time.Hour).UnixMilli()))
	if err := e.conn.QueryRow(ctx, query).Scan(&newest); err != nil {
		return nil, queryError(err)
	}
	if newest.Unix() > 0 {
		st.NewestMesh = newest
	}
	return st, nil
}
