package mixin

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// DashboardUID is the dashboard's uid, stable across imports.
const DashboardUID = "meshmetrics-service-mesh-traffic"

// DashboardFile is where the dashboard is committed (provisioning reads
// it there); BundledDashboardFile is the copy webpack bundles into dist/
// (it copies src/**/*.json), which plugin.json includes.
const (
	DashboardFile        = "dashboards/service-mesh-traffic.json"
	BundledDashboardFile = "src/dashboards/service-mesh-traffic.json"
)

// Dashboard renders the "Service Mesh Traffic" dashboard as indented JSON.
func (c Config) Dashboard() ([]byte, error) {
	l := &layout{}
	c.overview(l)
	c.traffic(l)
	c.deepDive(l)
	c.mapAndLatency(l)
	d := map[string]any{
		"uid":           DashboardUID,
		"title":         "Service Mesh Traffic",
		"description":   "Traefik Mesh traffic between services, from the proxies' metrics in ClickHouse (Mesh Metrics datasource). Traefik Mesh has no mTLS and its metrics carry no source service: the caller → service panels and map edges come from the proxies' access logs through the opt-in access-log agent (docs/pipeline.md) and are empty (the map: proxy → service) without it.",
		"tags":          []string{"traefik-mesh", "service-mesh", "meshmetrics"},
		"schemaVersion": 41,
		"version":       1,
		"editable":      true,
		"graphTooltip":  1,
		"time":          map[string]string{"from": "now-6h", "to": "now"},
		"refresh":       "1m",
		"timezone":      "browser",
		"templating":    map[string]any{"list": c.variables()},
		"annotations": map[string]any{"list": []map[string]any{{
			"builtIn": 1, "datasource": map[string]string{"type": "grafana", "uid": "-- Grafana --"},
			"enable": true, "hide": true, "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard",
		}}},
		"links":  []any{},
		"panels": l.panels,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep & and < readable in URLs and text
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("render dashboard: %w", err)
	}
	return buf.Bytes(), nil
}

func (c Config) mesh() *DSRef { return &DSRef{Type: c.PluginType, UID: "${datasource}"} }
func (c Config) logs() *DSRef { return &DSRef{Type: c.LogsPluginType, UID: "${logs}"} }

// q is a Mesh Metrics target.
func (c Config) q(refID, queryType, expr, legend string) Target {
	return Target{RefID: refID, Datasource: *c.mesh(), QueryType: queryType, Expr: expr, LegendFormat: legend}
}

func (c Config) variables() []map[string]any {
	query := func(name, label, expr, regex string, extra map[string]any) map[string]any {
		v := map[string]any{
			"type": "query", "name": name, "label": label,
			"datasource": c.mesh(),
			"query":      map[string]string{"refId": "Var-" + name, "query": expr},
			"definition": expr,
			"regex":      regex,
			"refresh":    2, // on time range change: services come and go
			"sort":       1,
			"current":    map[string]any{},
			"options":    []any{},
		}
		for k, val := range extra {
			v[k] = val
		}
		return v
	}
	return []map[string]any{
		{"type": "datasource", "name": "datasource", "label": "Mesh Metrics", "query": c.PluginType,
			"current": map[string]string{"text": "Mesh Metrics", "value": c.DatasourceUID}, "options": []any{}, "refresh": 1, "regex": ""},
		{"type": "datasource", "name": "logs", "label": "Logs (ClickHouse)", "query": c.LogsPluginType,
			"description": "Your existing ClickHouse datasource that reads the application logs (" + c.LogsTable + ")",
			"current":     map[string]any{}, "options": []any{}, "refresh": 1, "regex": ""},
		// The namespace is the collector's destination_namespace label
		// (read with the configured namespace list, so forma3d-dev is not
		// forma3d). All is ".*": it matches series without the label too
		// (scraped before the relabelling), which a named namespace cannot.
		query("namespace", "Namespace", "label_values("+c.meshSel(requestsTotal)+", "+labelNamespace+")",
			"", map[string]any{"includeAll": true, "allValue": ".*", "multi": false}),
		// $service is the exact service label (unambiguous, and present on
		// old series too), shown without its @provider suffix.
		query("service", "Service", "label_values("+c.nsSel(requestsTotal)+", service)",
			`/^(?<value>(?<text>[^@]+)@.+)$/`, map[string]any{"includeAll": false, "multi": false}),
		// $service_name is $service's destination_service label, the
		// Kubernetes service name the logs panel matches; hidden. A series
		// without the label leaves it empty and the logs query falls back.
		query("service_name", "Service name", "label_values("+c.svcSel(requestsTotal)+", "+labelService+")",
			"", map[string]any{"includeAll": false, "multi": false, "hide": 2}),
		{"type": "interval", "name": "interval", "label": "Rate window", "query": "1m,2m,5m,10m,30m,1h", "auto": false,
			"description": "Window of rate() in the traffic panels; at least 4 scrape intervals.",
			"current":     map[string]string{"text": "5m", "value": "5m"},
			"options":     intervalOptions("5m", "1m", "2m", "5m", "10m", "30m", "1h"), "refresh": 2},
	}
}

func intervalOptions(current string, vals ...string) []map[string]any {
	var out []map[string]any
	for _, v := range vals {
		out = append(out, map[string]any{"text": v, "value": v, "selected": v == current})
	}
	return out
}

func stat(title, desc, unit string, t Target) Panel {
	return Panel{Type: "stat", Title: title, Description: desc, Targets: []Target{t},
		FieldConfig: &FieldConfig{Defaults: FieldDefaults{Unit: unit, Color: map[string]any{"mode": "thresholds"}, Thresholds: steps("blue")}, Overrides: []map[string]any{}},
		Options: map[string]any{"reduceOptions": map[string]any{"calcs": []string{"lastNotNull"}, "fields": "", "values": false},
			"colorMode": "value", "graphMode": "none", "textMode": "value", "justifyMode": "center"}}
}

func timeseries(title, desc, unit string, targets ...Target) Panel {
	return Panel{Type: "timeseries", Title: title, Description: desc, Targets: targets,
		FieldConfig: &FieldConfig{Defaults: FieldDefaults{Unit: unit, Color: map[string]any{"mode": "palette-classic"},
			Custom: map[string]any{"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never", "spanNulls": false}}, Overrides: []map[string]any{}},
		Options: map[string]any{"legend": map[string]any{"displayMode": "table", "placement": "right", "calcs": []string{"mean", "max"}},
			"tooltip": map[string]any{"mode": "multi", "sort": "desc"}}}
}

func (c Config) overview(l *layout) {
	l.row("Overview (whole mesh)")
	for _, p := range []Panel{
		stat("Mesh requests (24 h)", "Requests the mesh proxies forwarded to all services in the 24 hours up to the end of the time range (probes excluded).", "short",
			c.q("A", "instant", sumBy("", "increase("+c.meshSel(requestsTotal)+"[24h])"), "requests")),
		c.errorGauge(),
		stat("Active connections", "Open connections now: Traefik v2's per-service gauge ("+serviceConnections+"), or on Traefik v3, which dropped it, the per-entrypoint gauge ("+openConnections+").", "short",
			c.q("A", "instant", c.activeConnections(), "connections")),
		c.certStat(),
	} {
		l.add(6, 5, p)
	}
}

func (c Config) errorGauge() Panel {
	expr := "(" + sumBy("", rate(c.meshSel(requestsTotal, `code=~"5.."`), varInterval)) + " or vector(0)) / " + sumBy("", rate(c.meshSel(requestsTotal), varInterval))
	p := stat("Mesh 5xx error rate", fmt.Sprintf("Share of requests answered 5xx over the last $interval, all services. The alert warns above %s%% for one service.", num(c.ErrorRatio*100)), "percentunit",
		c.q("A", "instant", expr, "5xx ratio"))
	p.Type = "gauge"
	p.FieldConfig.Defaults.Min, p.FieldConfig.Defaults.Max = f64(0), f64(4*c.ErrorRatio)
	p.FieldConfig.Defaults.Thresholds = steps("green", c.ErrorRatio/5, "yellow", c.ErrorRatio, "red")
	p.Options = map[string]any{"reduceOptions": map[string]any{"calcs": []string{"lastNotNull"}, "fields": "", "values": false},
		"showThresholdMarkers": true, "showThresholdLabels": false}
	return p
}

func (c Config) certStat() Panel {
	days := c.CertExpiry.Hours() / 24
	p := stat("Certificate expiry", "Time left on the soonest-expiring certificate the proxies hold ("+certsNotAfter+"). Traefik Mesh itself has no mTLS: with no certificates this says so.", "dtdurations",
		c.q("A", "instant", certRemaining(""), "expires in"))
	noCerts := "no certificates — Traefik Mesh has no mTLS"
	p.FieldConfig.Defaults.NoValue = noCerts
	p.FieldConfig.Defaults.Thresholds = steps("red", days*86400, "yellow", 30*86400.0, "green")
	// With no value Grafana colours a stat by its base threshold step (red
	// here, for expiring certificates: displayProcessor(null) takes
	// scale(-Infinity)) unless a value mapping for null gives a colour;
	// "text" is the theme's neutral text colour.
	p.FieldConfig.Defaults.Mappings = []map[string]any{{"type": "special", "options": map[string]any{
		"match": "null", "result": map[string]any{"text": noCerts, "color": "text", "index": 0}}}}
	return p
}
