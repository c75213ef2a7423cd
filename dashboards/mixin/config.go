// Package mixin holds the "Service Mesh Traffic" dashboard and the mesh
// alert rules as data, kubernetes-mixin style: every selector, noise
// filter and threshold is in Config, and the dashboard JSON and the alert
// rules' provisioning YAML are both rendered from it (go run
// ./dashboards/mixin/generate). tests/dashboards fails when the committed
// files differ from what this package renders.
package mixin

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

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
	// PairJob is the job (resource service.name) of the opt-in access-log
	// agent's pair metrics, traefik_mesh_pair_* (docs/pipeline.md): every
	// pair panel and rule selects it, so nothing else of that name counts.
	PairJob string
	// Noise is the probe and scrape traffic every dashboard query and
	// alert rule leaves out.
	Noise Noise
	// Namespaces are the mesh's namespaces, as in the collector's
	// relabelling list (docs/pipeline.md). Series scraped before that
	// relabelling have no destination_* labels; the logs query reads their
	// service name out of the service label with this list, longest first.
	Namespaces []string

	// AlertWindow is the rate window of the ratio and latency rules.
	AlertWindow time.Duration
	// ErrorRatio is the 5xx share of a service's requests that warns.
	ErrorRatio float64
	// LatencyQuantile and LatencySeconds: the quantile that warns above
	// the threshold.
	LatencyQuantile float64
	LatencySeconds  float64
	// PairErrorRatio and PairLatencySeconds are the per-pair (caller →
	// service) rules' thresholds: the 5xx share of a pair's requests and
	// its LatencyQuantile in seconds over AlertWindow.
	PairErrorRatio     float64
	PairLatencySeconds float64
	// TrafficFor and ProxyDownFor are the rules' pending periods.
	TrafficFor   time.Duration
	ProxyDownFor time.Duration
	// ProxyLookback is how far back "fewer proxies than before" looks.
	ProxyLookback time.Duration
	// CertExpiry warns when a certificate expires sooner than this.
	CertExpiry time.Duration
	// EvalInterval is how often Grafana evaluates the rule group.
	EvalInterval time.Duration

	// RouteLabels are put on every rule for the users' notification
	// policy tree to route on: the rules name no contact point, so no
	// name can be missing or wrong (docs/alerts.md).
	RouteLabels map[string]string
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

		ProxyJob: "traefik-mesh",
		PairJob:  "traefik-mesh-pairs",
		Noise: Noise{
			Services:    []string{"readiness@.*"},
			Entrypoints: []string{"readiness", "liveness", "traefik"},
		},
		Namespaces: []string{"forma3d-dev", "forma3d"},

		AlertWindow:        5 * time.Minute,
		ErrorRatio:         0.05,
		LatencyQuantile:    0.99,
		LatencySeconds:     2,
		PairErrorRatio:     0.05,
		PairLatencySeconds: 2,
		TrafficFor:         5 * time.Minute,
		ProxyDownFor:       2 * time.Minute,
		ProxyLookback:      time.Hour,
		CertExpiry:         7 * 24 * time.Hour,
		EvalInterval:       time.Minute,

		RouteLabels: map[string]string{"component": "service-mesh"},
		AlertFolder: "Service Mesh",
		RunbookURL:  "https://github.com/forma3d/meshmetrics/blob/main/docs/alerts.md",
	}
}

// Noise names probe and scrape traffic. Services are regular expressions
// of the service label (kubelet readiness probes through a proxy land on
// readiness@…); Entrypoints are the proxies' entrypoint names that carry
// no mesh traffic: readiness and liveness (kubelet probes) and traefik
// (the metrics scrape and the API).
type Noise struct {
	Services    []string
	Entrypoints []string
}

// serviceMatcher leaves the probe services out of a service metric.
func (n Noise) serviceMatcher() string {
	return `service!~"` + strings.Join(n.Services, "|") + `"`
}

// entrypointMatcher leaves the probe entrypoints out of an entrypoint
// metric.
func (n Noise) entrypointMatcher() string {
	quoted := make([]string, len(n.Entrypoints))
	for i, e := range n.Entrypoints {
		quoted[i] = regexp.QuoteMeta(e)
	}
	return `entrypoint!~"` + strings.Join(quoted, "|") + `"`
}

// namespaceName is a Kubernetes namespace name (an RFC 1123 label): it
// goes into a regular expression inside a SQL string unescaped.
var namespaceName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// Validate reports the first setting the files cannot be rendered with.
func (c Config) Validate() error {
	if len(c.Noise.Services) == 0 || len(c.Noise.Entrypoints) == 0 {
		return fmt.Errorf("config Noise: services and entrypoints must both be set")
	}
	if len(c.Namespaces) == 0 {
		return fmt.Errorf("config Namespaces: empty (list the mesh's namespaces as the collector does)")
	}
	for _, ns := range c.Namespaces {
		if !namespaceName.MatchString(ns) {
			return fmt.Errorf("config Namespaces: %q is not a Kubernetes namespace name", ns)
		}
	}
	if c.ProxyJob == "" || c.PairJob == "" || c.ProxyJob == c.PairJob {
		return fmt.Errorf("config ProxyJob %q and PairJob %q: both must be set and differ (the proxies' scrape job and the access-log agent's)", c.ProxyJob, c.PairJob)
	}
	if c.ErrorRatio <= 0 || c.ErrorRatio >= 1 || c.PairErrorRatio <= 0 || c.PairErrorRatio >= 1 {
		return fmt.Errorf("config ErrorRatio %v, PairErrorRatio %v: a ratio threshold lies between 0 and 1", c.ErrorRatio, c.PairErrorRatio)
	}
	if c.LatencySeconds <= 0 || c.PairLatencySeconds <= 0 {
		return fmt.Errorf("config LatencySeconds %v, PairLatencySeconds %v: latency thresholds must be positive", c.LatencySeconds, c.PairLatencySeconds)
	}
	for k, v := range c.RouteLabels {
		if k == "" || v == "" || strings.Contains(k+v, "$") {
			return fmt.Errorf("config RouteLabels: %q=%q: routing labels need a literal name and value (an unset environment variable would leave them empty)", k, v)
		}
	}
	return nil
}

// namespacesLongestFirst is the namespace list as the relabelling tries
// it: forma3d-dev before forma3d, so the longer name wins.
func (c Config) namespacesLongestFirst() []string {
	ns := slices.Clone(c.Namespaces)
	slices.SortStableFunc(ns, func(a, b string) int { return len(b) - len(a) })
	return ns
}
