// Package mixin holds the "Service Mesh Traffic" dashboard and the mesh
// alert rules as data, kubernetes-mixin style: every selector, noise
// filter and threshold is in Config, and the dashboard JSON and the alert
// rules' provisioning YAML are both rendered from it (go run
// ./dashboards/mixin/generate). tests/dashboards fails when the committed
// files differ from what this package renders.
package mixin

import "time"

// Config is everything an operator may want to change in one place.
type Config struct {
	// PluginType is the Mesh Metrics datasource's plugin id.
	PluginType string
	// DatasourceUID is the provisioned Mesh Metrics datasource the alert
	// rules query (alert rules cannot use a dashboard variable).
	DatasourceUID string
	// LogsPluginType is the users' existing ClickHouse datasource that
	// reads otel_logs; the dashboard picks one through a variable.
	LogsPluginType string
	// LogsTable is the exporter's logs table, database included.
	LogsTable string

	// ProxyJob is the collector's scrape job of the mesh proxies: the
	// receiver's up gauge carries it as job (resource service.name).
	ProxyJob string
	// ServiceNoise and EntrypointNoise are the matchers that drop probe
	// and scrape traffic: readiness probes land on readiness@…, the
	// metrics scrape and API on entrypoint traefik.
	ServiceNoise    string
	EntrypointNoise string

	// AlertWindow is the rate window of the ratio and latency rules.
	AlertWindow time.Duration
	// ErrorRatio is the 5xx share of a service's requests that warns.
	ErrorRatio float64
	// LatencyQuantile and LatencySeconds: the quantile that warns above
	// the threshold.
	LatencyQuantile float64
	LatencySeconds  float64
	// TrafficFor and ProxyDownFor are the rules' pending periods.
	TrafficFor   time.Duration
	ProxyDownFor time.Duration
	// ProxyLookback is how far back "fewer proxies than before" looks.
	ProxyLookback time.Duration
	// CertExpiry warns when a certificate expires sooner than this.
	CertExpiry time.Duration
	// EvalInterval is how often Grafana evaluates the rule group.
	EvalInterval time.Duration

	// ContactPoint is the name of the users' existing contact point (the
	// one their log alerts go to); the rules route there by name. The
	// default reads it from Grafana's environment at provisioning time.
	ContactPoint string
	// AlertFolder is the Grafana folder of the rule group.
	AlertFolder string
	// RunbookURL is where docs/alerts.md is published; each rule links
	// its section.
	RunbookURL string
}

// Default is the configuration the committed files are rendered with.
func Default() Config {
	return Config{
		PluginType:     "forma3d-meshmetrics-datasource",
		DatasourceUID:  "meshmetrics",
		LogsPluginType: "grafana-clickhouse-datasource",
		LogsTable:      "otel.otel_logs",

		ProxyJob:        "traefik-mesh",
		ServiceNoise:    `service!~"readiness@.*"`,
		EntrypointNoise: `entrypoint!="traefik"`,

		AlertWindow:     5 * time.Minute,
		ErrorRatio:      0.05,
		LatencyQuantile: 0.99,
		LatencySeconds:  2,
		TrafficFor:      5 * time.Minute,
		ProxyDownFor:    2 * time.Minute,
		ProxyLookback:   time.Hour,
		CertExpiry:      7 * 24 * time.Hour,
		EvalInterval:    time.Minute,

		ContactPoint: "$MESH_ALERTS_CONTACT_POINT",
		AlertFolder:  "Service Mesh",
		RunbookURL:   "https://github.com/forma3d/meshmetrics/blob/main/docs/alerts.md",
	}
}
