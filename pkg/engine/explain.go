package engine

import (
	"context"
	"fmt"

	"github.com/forma3d/meshmetrics/pkg/dialect"
	"github.com/forma3d/meshmetrics/pkg/plan"
	"github.com/forma3d/meshmetrics/pkg/sqlgen"
)

// ExplainOffline renders the SQL of expr without a server: metric names
// resolve by naming convention alone (…_total is a counter, …_bucket /
// _count / _sum a histogram, anything else a gauge) and TimeUnix is taken
// to be DateTime, as exporter v0.161.0 creates it. The statement a server
// runs can differ where the stored names differ from the convention.
func ExplainOffline(expr string, grid plan.Grid, cfg Config) (string, error) {
	cfg = New(nil, cfg).cfg
	if cfg.Strategy == StrategyAuto {
		// Without a server there is no version to choose by.
		cfg.Strategy = StrategyPortable
	}
	if cfg.Strategy != StrategyPortable && cfg.Strategy != StrategyNative {
		return "", fmt.Errorf("unknown sql strategy %q: expected %q or %q", cfg.Strategy, StrategyPortable, StrategyNative)
	}
	ast, err := dialect.Parse(expr)
	if err != nil {
		return "", err
	}
	p, err := plan.Build(context.Background(), ast, grid, plan.Options{Lookback: cfg.Lookback}, plan.NamingCatalog{})
	if err != nil {
		return "", err
	}
	schema := sqlgen.Schema{Database: cfg.Database, Sum: cfg.Tables.Sum, Gauge: cfg.Tables.Gauge, Histogram: cfg.Tables.Histogram}
	return sqlgen.Build(p, schema, sqlgen.Options{MaxSeries: cfg.MaxSeries, Native: cfg.Strategy == StrategyNative})
}
