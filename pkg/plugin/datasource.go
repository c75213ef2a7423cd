// Package plugin is the Grafana datasource: it answers Grafana's health
// checks and queries for one Mesh Metrics datasource instance.
package plugin

import (
	"context"
	"errors"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"

	"github.com/forma3d/meshmetrics/pkg/chconn"
	"github.com/forma3d/meshmetrics/pkg/engine"
	"github.com/forma3d/meshmetrics/pkg/models"
)

// Compile-time checks: Grafana only routes calls a plugin declares it handles.
var (
	_ backend.QueryDataHandler      = (*Datasource)(nil)
	_ backend.CheckHealthHandler    = (*Datasource)(nil)
	_ instancemgmt.InstanceDisposer = (*Datasource)(nil)
)

// Datasource is one configured Mesh Metrics datasource. Invalid settings do
// not fail its creation: the health check and every query report them,
// naming the setting, which is what a user looking at Grafana needs.
type Datasource struct {
	settings    models.Settings
	settingsErr error
	conn        driver.Conn
	engine      *engine.Engine
}

// NewDatasource is the instance factory Grafana's instance manager calls when
// a datasource is first used or its settings change.
func NewDatasource(_ context.Context, src backend.DataSourceInstanceSettings) (instancemgmt.Instance, error) {
	s, err := models.LoadSettings(src)
	if err != nil {
		return &Datasource{settingsErr: err}, nil
	}
	conn, err := chconn.Open(s)
	if err != nil {
		return &Datasource{settings: s, settingsErr: err}, nil
	}
	return &Datasource{settings: s, conn: conn, engine: engine.New(conn, engineConfig(s))}, nil
}

// engineConfig maps the datasource settings onto the query engine's.
func engineConfig(s models.Settings) engine.Config {
	return engine.Config{
		Database:  s.Database,
		Tables:    engine.Tables{Sum: s.Tables.Sum, Gauge: s.Tables.Gauge, Histogram: s.Tables.Histogram},
		Lookback:  s.LookbackDelta,
		MaxSeries: s.MaxSeries,
		// The pool's read timeout is the same: the client gives up then.
		QueryTimeout: s.QueryTimeout,
		Strategy:     s.SQLStrategy, // auto, native and portable mean the same to both
		// A dashboard refresh computes only what is new (engine/cache.go
		// has the bound on late rows, docs/dialect.md the rest).
		Cache: engine.CacheConfig{TTL: s.ResultCacheTTL, Freshness: engine.DefaultCache.Freshness, Recent: engine.DefaultCache.Recent, MaxPoints: engine.DefaultCache.MaxPoints},
	}
}

// Dispose closes the connection pool when Grafana replaces this instance.
func (d *Datasource) Dispose() {
	if d.conn != nil {
		if err := d.conn.Close(); err != nil {
			log.DefaultLogger.Warn("closing clickhouse connection pool", "error", chconn.Redact(err.Error(), d.settings))
		}
	}
}

// settingsProblem describes invalid settings for a user.
func (d *Datasource) settingsProblem() string {
	var se *models.SettingError
	if errors.As(d.settingsErr, &se) {
		return "invalid datasource settings: " + se.Error()
	}
	return "invalid datasource settings: " + chconn.Redact(d.settingsErr.Error(), d.settings)
}
