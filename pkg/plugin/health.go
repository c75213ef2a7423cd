package plugin

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/forma3d/meshmetrics/pkg/chconn"
)

// CheckHealth backs the "Save & test" button: settings first, then the
// server, the exporter's tables and whether mesh metrics arrive. Each
// problem is one sentence saying what to check.
func (d *Datasource) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	if d.settingsErr != nil {
		return healthError(d.settingsProblem()), nil
	}
	ctx, cancel := context.WithTimeout(ctx, d.settings.DialTimeout+d.settings.QueryTimeout)
	defer cancel()
	version, err := chconn.ServerVersion(ctx, d.conn)
	if err != nil {
		return healthError(chconn.Describe(err, d.settings)), nil
	}
	st, err := d.engine.Status(ctx)
	if err != nil {
		return healthError(fmt.Sprintf("connected to ClickHouse %s, but %s", version.Version.String(), redact(err, d))), nil
	}
	var ttl []string
	for table, expr := range st.TTL {
		if expr == "" {
			expr = "none"
		}
		ttl = append(ttl, table+": "+expr)
	}
	sort.Strings(ttl)
	summary := fmt.Sprintf("ClickHouse %s, database %q, SQL strategy %s; TTL %s; series tables %s; recent samples %s", st.Version, d.settings.Database, st.Strategy, strings.Join(ttl, ", "), st.SeriesTables, st.RecentTables)
	if st.NewestMesh.IsZero() {
		return healthError("no Traefik Mesh metrics (traefik_service_requests_total, traefik_entrypoint_requests_total) in the last 24 hours: is the collector scraping the proxies on :8080/metrics? " + summary), nil
	}
	age := time.Since(st.NewestMesh).Truncate(time.Second)
	return &backend.CheckHealthResult{
		Status:  backend.HealthStatusOk,
		Message: fmt.Sprintf("mesh metrics present, newest sample %s ago; %s", age, summary),
	}, nil
}

func healthError(msg string) *backend.CheckHealthResult {
	return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: msg}
}
