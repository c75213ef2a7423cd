package mixin

import (
	"bytes"
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// AlertsFile is where the rule group is committed, in Grafana's alerting
// file-provisioning format (apiVersion 1).
const AlertsFile = "provisioning/grafana/alerting/mesh-alerts.yaml"

// AlertFile is a Grafana alerting provisioning file.
type AlertFile struct {
	APIVersion int          `yaml:"apiVersion"`
	Groups     []AlertGroup `yaml:"groups"`
}

// AlertGroup is one evaluated rule group.
type AlertGroup struct {
	OrgID    int         `yaml:"orgId"`
	Name     string      `yaml:"name"`
	Folder   string      `yaml:"folder"`
	Interval string      `yaml:"interval"`
	Rules    []AlertRule `yaml:"rules"`
}

// AlertRule is one Grafana-managed rule: queries and server-side
// expressions, the condition's refId, pending period and states.
type AlertRule struct {
	UID          string            `yaml:"uid"`
	Title        string            `yaml:"title"`
	Condition    string            `yaml:"condition"`
	Data         []AlertQuery      `yaml:"data"`
	NoDataState  string            `yaml:"noDataState"`
	ExecErrState string            `yaml:"execErrState"`
	For          string            `yaml:"for"`
	Annotations  map[string]string `yaml:"annotations"`
	Labels       map[string]string `yaml:"labels"`
	IsPaused     bool              `yaml:"isPaused"`
	// No notification_settings: a rule that names a contact point fails
	// Grafana's provisioning (and Grafana's start) when the name does not
	// exist. The rules route through the users' policy tree by label.
}

// AlertQuery is one entry of a rule's data: a datasource query (the
// plugin's query model) or a server-side expression (__expr__).
type AlertQuery struct {
	RefID             string         `yaml:"refId"`
	RelativeTimeRange RelativeRange  `yaml:"relativeTimeRange"`
	DatasourceUID     string         `yaml:"datasourceUid"`
	Model             map[string]any `yaml:"model"`
}

// RelativeRange is seconds before the evaluation time.
type RelativeRange struct {
	From int `yaml:"from"`
	To   int `yaml:"to"`
}

// ExprDatasourceUID is Grafana's uid of server-side expressions.
const ExprDatasourceUID = "__expr__"

// pairRef names an alert instance's pair in a template: caller → service.
const pairRef = "{{ $labels.source_namespace }}/{{ $labels.source_workload }} → {{ $labels.destination_namespace }}/{{ $labels.destination_service }}"

// rule builds query A → reduce B (last) → threshold C.
func (c Config) rule(uid, title, expr, op string, threshold float64, pending time.Duration, severity, noData string, ann map[string]string) AlertRule {
	window := int((c.ProxyLookback + 10*time.Minute) / time.Second)
	exprDS := map[string]string{"type": ExprDatasourceUID, "uid": ExprDatasourceUID}
	ann["runbook_url"] = c.RunbookURL + "#" + uid
	labels := map[string]string{"severity": severity}
	for k, v := range c.RouteLabels {
		labels[k] = v
	}
	return AlertRule{
		UID: uid, Title: title, Condition: "C",
		Data: []AlertQuery{
			{RefID: "A", RelativeTimeRange: RelativeRange{From: window}, DatasourceUID: c.DatasourceUID,
				Model: map[string]any{"refId": "A", "expr": expr, "queryType": "instant", "intervalMs": 60000, "maxDataPoints": 43200}},
			{RefID: "B", RelativeTimeRange: RelativeRange{From: window}, DatasourceUID: ExprDatasourceUID,
				Model: map[string]any{"refId": "B", "type": "reduce", "expression": "A", "reducer": "last", "settings": map[string]string{"mode": "dropNN"}, "datasource": exprDS}},
			{RefID: "C", RelativeTimeRange: RelativeRange{From: window}, DatasourceUID: ExprDatasourceUID,
				Model: map[string]any{"refId": "C", "type": "threshold", "expression": "B", "datasource": exprDS,
					"conditions": []map[string]any{{"evaluator": map[string]any{"type": op, "params": []float64{threshold}}}}}},
		},
		NoDataState: noData, ExecErrState: "Error", For: dur(pending),
		Annotations: ann,
		Labels:      labels,
	}
}

// Alerts renders the mesh rule group as provisioning YAML.
func (c Config) Alerts() ([]byte, error) {
	w := dur(c.AlertWindow)
	pct := num(c.ErrorRatio * 100)
	rules := []AlertRule{
		c.rule("mesh-service-5xx-ratio", "Mesh service 5xx ratio above "+pct+"%", c.AlertErrorRatioExpr(), "gt", c.ErrorRatio, c.TrafficFor, "warning", "OK", map[string]string{
			"summary":     "{{ $labels.service }} answers {{ humanizePercentage $values.B.Value }} of its requests with 5xx",
			"description": fmt.Sprintf("More than %s%% of the requests the mesh proxies forwarded to {{ $labels.service }} over the last %s were answered 5xx, for at least %s. No traffic (or no errors) is no alert.", pct, w, dur(c.TrafficFor)),
		}),
		c.rule("mesh-service-p99-latency", fmt.Sprintf("Mesh service p%s latency above %s s", num(c.LatencyQuantile*100), num(c.LatencySeconds)), c.AlertLatencyExpr(), "gt", c.LatencySeconds, c.TrafficFor, "warning", "OK", map[string]string{
			"summary": fmt.Sprintf("{{ $labels.service }} p%s latency is {{ humanize $values.B.Value }} s", num(c.LatencyQuantile*100)),
			"description": fmt.Sprintf("The p%s of traefik_service_request_duration_seconds for {{ $labels.service }} over the last %s is above %s s, for at least %s. "+
				"With Traefik's default buckets (0.1, 0.3, 1.2, 5) any p%s between 1.2 and 5 s is interpolated linearly inside that bucket: the value is only known to lie in (1.2, 5]. "+
				"Add a bucket bound at %s s on the proxies (docs/alerts.md) to make the threshold exact.", num(c.LatencyQuantile*100), w, num(c.LatencySeconds), dur(c.TrafficFor), num(c.LatencyQuantile*100), num(c.LatencySeconds)),
		}),
		c.rule("mesh-pair-5xx-ratio", "Mesh caller → service 5xx ratio above "+num(c.PairErrorRatio*100)+"%", c.AlertPairErrorRatioExpr(), "gt", c.PairErrorRatio, c.TrafficFor, "warning", "OK", map[string]string{
			"summary": pairRef + " gets {{ humanizePercentage $values.B.Value }} of its requests answered 5xx",
			"description": fmt.Sprintf("More than %s%% of the requests %s sent through the mesh over the last %s were answered 5xx, for at least %s. "+
				"From the access-log agent's pair metrics (opt-in): without the agent this rule has no data and stays quiet; the per-service rule still covers the service. A caller of unknown/unknown is one the agent could not resolve.",
				num(c.PairErrorRatio*100), pairRef, w, dur(c.TrafficFor)),
		}),
		c.rule("mesh-pair-p99-latency", fmt.Sprintf("Mesh caller → service p%s latency above %s s", num(c.LatencyQuantile*100), num(c.PairLatencySeconds)), c.AlertPairLatencyExpr(), "gt", c.PairLatencySeconds, c.TrafficFor, "warning", "OK", map[string]string{
			"summary": fmt.Sprintf("%s p%s latency is {{ humanize $values.B.Value }} s", pairRef, num(c.LatencyQuantile*100)),
			"description": fmt.Sprintf("The p%s of the access-log durations of %s over the last %s is above %s s, for at least %s. "+
				"The agent buckets durations as Traefik does (0.1, 0.3, 1.2, 5): any p%s between 1.2 and 5 s is interpolated linearly inside that bucket (docs/alerts.md). "+
				"From the access-log agent's pair metrics (opt-in): without the agent this rule has no data and stays quiet.",
				num(c.LatencyQuantile*100), pairRef, w, num(c.PairLatencySeconds), dur(c.TrafficFor), num(c.LatencyQuantile*100)),
		}),
		c.rule("mesh-proxy-down", "Mesh proxy scrape target down", c.AlertProxyDownExpr(), "lt", 1, c.ProxyDownFor, "critical", "Alerting", map[string]string{
			"summary": "Mesh proxy {{ $labels.instance }} is not answering its metrics scrape",
			"description": fmt.Sprintf("up{job=%q} has been 0 for {{ $labels.instance }} for %s: the collector cannot scrape that Traefik Mesh proxy, which usually means the proxy pod is down or not ready, and traffic through its node is at risk. "+
				"No up series at all for the job means the collector scrapes no proxy: that alerts too.", c.ProxyJob, dur(c.ProxyDownFor)),
		}),
		c.rule("mesh-proxies-missing", "Fewer mesh proxies reporting than in the last hour", c.AlertProxiesMissingExpr(), "gt", 0, c.ProxyDownFor, "critical", "OK", map[string]string{
			"summary": "{{ $values.B.Value }} mesh proxy target(s) reported in the last hour but not now",
			"description": fmt.Sprintf("Fewer proxy scrape targets of job %q report up = 1 than reported in the last %s, for %s. A proxy pod vanished (node gone, DaemonSet pod evicted) rather than failing its scrape. "+
				"A deliberate scale-down fires this too, until the lookback has passed.", c.ProxyJob, dur(c.ProxyLookback), dur(c.ProxyDownFor)),
		}),
		c.rule("mesh-certificate-expiry", "Mesh certificate expires within "+dur(c.CertExpiry), c.AlertCertExpr(), "lt", c.CertExpiry.Seconds(), 0, "warning", "OK", map[string]string{
			"summary":     "Certificate {{ $labels.cn }} expires in {{ humanizeDuration $values.B.Value }}",
			"description": fmt.Sprintf("A certificate the proxies serve (traefik_tls_certs_not_after, cn {{ $labels.cn }}, serial {{ $labels.serial }}) expires in less than %s. Traefik Mesh itself has no mTLS: with no certificates there is nothing to alert on and no NoData alert.", dur(c.CertExpiry)),
		}),
	}
	f := AlertFile{APIVersion: 1, Groups: []AlertGroup{{OrgID: 1, Name: "service-mesh", Folder: c.AlertFolder, Interval: dur(c.EvalInterval), Rules: rules}}}
	var buf bytes.Buffer
	buf.WriteString("# Generated by `go run ./dashboards/mixin/generate` from dashboards/mixin: edit there.\n" +
		"# The rules name no contact point: they route through your notification\n" +
		"# policy tree (its default policy, or a route matching their labels), so no\n" +
		"# contact point name can be missing or wrong here; see docs/alerts.md.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("render alert rules: %w", err)
	}
	return buf.Bytes(), nil
}
