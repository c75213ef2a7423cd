package plugin

import (
	"context"
	"fmt"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/forma3d/meshmetrics/pkg/chconn"
)

// CheckHealth backs the "Save & test" button: settings first, then the
// server itself.
func (d *Datasource) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	if d.settingsErr != nil {
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: d.settingsProblem()}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, d.settings.DialTimeout+d.settings.QueryTimeout)
	defer cancel()
	version, err := chconn.ServerVersion(ctx, d.conn)
	if err != nil {
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: chconn.Describe(err, d.settings)}, nil
	}
	return &backend.CheckHealthResult{
		Status:  backend.HealthStatusOk,
		Message: fmt.Sprintf("connected to ClickHouse %s, database %q", version.Version.String(), d.settings.Database),
	}, nil
}
