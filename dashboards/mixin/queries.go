package mixin

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// Traefik metric names (v2.5 as Traefik Mesh runs it; v3 where it differs).
const (
	requestsTotal      = "traefik_service_requests_total"
	durationBucket     = "traefik_service_request_duration_seconds_bucket"
	durationSum        = "traefik_service_request_duration_seconds_sum"
	durationCount      = "traefik_service_request_duration_seconds_count"
	serviceConnections = "traefik_service_open_connections" // v2 only
	openConnections    = "traefik_open_connections"         // v3 only
	entrypointRequests = "traefik_entrypoint_requests_total"
	certsNotAfter      = "traefik_tls_certs_not_after"
)

// The access-log agent's pair metrics (opt-in; docs/pipeline.md): a
// request counter and Traefik's duration histogram per caller → service,
// one series per agent (instance), summed over instance everywhere.
const (
	pairRequests       = "traefik_mesh_pair_requests_total"
	pairDurationBucket = "traefik_mesh_pair_request_duration_seconds_bucket"
)

// The pair metrics' caller labels (the destination ones are labelNamespace
// and labelService); unknown/unknown is a caller the agent could not
// resolve.
const (
	labelSourceNamespace = "source_namespace"
	labelSourceWorkload  = "source_workload"
)

// byPair groups by caller and destination, summing over the agents
// (instance), codes and methods.
const byPair = labelSourceNamespace + ", " + labelSourceWorkload + ", " + labelNamespace + ", " + labelService

// pairLegend names a pair series as caller → service.
const pairLegend = "{{" + labelSourceNamespace + "}}/{{" + labelSourceWorkload + "}} → {{" + labelNamespace + "}}/{{" + labelService + "}}"

// The destination labels the collector's relabelling gives every
// traefik_service_* series, read from service = <namespace>-<service>-<port>@…
// with the configured namespace list (docs/pipeline.md). Series scraped
// before that relabelling lack them.
const (
	labelNamespace = "destination_namespace"
	labelService   = "destination_service"
)

// byDestination groups per service and keeps its destination labels, so
// an alert instance or table row says namespace and service by name (the
// labels follow from service: grouping by them adds no rows).
const byDestination = labelNamespace + ", " + labelService + ", service"

// Template variable references, as Grafana interpolates them.
const (
	varNamespace   = "$namespace"
	varService     = "$service"
	varServiceName = "$service_name"
	varInterval    = "$interval"
)

// sel renders a selector of metric with the given matchers.
func sel(metric string, matchers ...string) string {
	return metric + "{" + strings.Join(matchers, ", ") + "}"
}

// dur renders a Go duration as PromQL does ("5m", "1h", "7d").
func dur(d time.Duration) string { return model.Duration(d).String() }

func num(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// meshSel selects a service metric of the whole mesh without probe noise.
func (c Config) meshSel(metric string, extra ...string) string {
	return sel(metric, append([]string{c.Noise.serviceMatcher()}, extra...)...)
}

// nsSel selects a service metric of the services of $namespace. All is
// ".*", which also matches series without the label (scraped before the
// collector's relabelling): they show under All only.
func (c Config) nsSel(metric string, extra ...string) string {
	return sel(metric, append([]string{labelNamespace + `=~"` + varNamespace + `"`, c.Noise.serviceMatcher()}, extra...)...)
}

// svcSel selects a service metric of $service; the noise filter stays so
// that a stale variable value can never show probe traffic.
func (c Config) svcSel(metric string, extra ...string) string {
	return sel(metric, append([]string{`service="` + varService + `"`, c.Noise.serviceMatcher()}, extra...)...)
}

// pairSel selects a pair metric of the agent's job whose destination is in
// $namespace (the right side of caller → service).
func (c Config) pairSel(metric string, extra ...string) string {
	return sel(metric, append([]string{c.pairJobMatcher(), labelNamespace + `=~"` + varNamespace + `"`}, extra...)...)
}

// pairMeshSel selects a pair metric of the whole mesh (the alert rules).
func (c Config) pairMeshSel(metric string, extra ...string) string {
	return sel(metric, append([]string{c.pairJobMatcher()}, extra...)...)
}

// pairJobMatcher quotes the job as a PromQL string (Go's escapes are
// PromQL's): a configured name cannot break the selector.
func (c Config) pairJobMatcher() string { return "job=" + strconv.Quote(c.PairJob) }

func rate(selector, window string) string {
	return "rate(" + selector + "[" + window + "])"
}

func sumBy(labels, expr string) string {
	if labels == "" {
		return "sum(" + expr + ")"
	}
	return "sum by (" + labels + ") (" + expr + ")"
}

func quantile(q float64, by, bucketSel, window string) string {
	lb := "le"
	if by != "" {
		lb = by + ", le"
	}
	return fmt.Sprintf("histogram_quantile(%s, %s)", num(q), sumBy(lb, rate(bucketSel, window)))
}

// errorRatio is the 5xx share of requests, by the given labels, over window.
func errorRatio(selFn func(string, ...string) string, by, window string) string {
	return counterErrorRatio(selFn, requestsTotal, by, window)
}

// counterErrorRatio is errorRatio of any request counter with a code label.
func counterErrorRatio(selFn func(string, ...string) string, counter, by, window string) string {
	return sumBy(by, rate(selFn(counter, `code=~"5.."`), window)) + " / " + sumBy(by, rate(selFn(counter), window))
}

// activeConnections works on either Traefik: v2's per-service gauge, or
// when it is absent v3's per-entrypoint gauge.
func (c Config) activeConnections() string {
	return sumBy("", c.meshSel(serviceConnections)) + " or " + sumBy("", sel(openConnections, c.Noise.entrypointMatcher()))
}

// certRemaining is the time left on the soonest-expiring certificate, by
// the given labels; nothing at all when the proxies hold no certificate.
func certRemaining(by string) string {
	if by == "" {
		return "min(" + certsNotAfter + ") - time()"
	}
	return "min by (" + by + ") (" + certsNotAfter + ") - time()"
}

// Alert rule expressions: no variables, the windows fixed by Config.

// AlertErrorRatioExpr is the 5xx ratio per service.
func (c Config) AlertErrorRatioExpr() string {
	return errorRatio(c.meshSel, byDestination, dur(c.AlertWindow))
}

// AlertLatencyExpr is the latency quantile per service, in seconds.
func (c Config) AlertLatencyExpr() string {
	return quantile(c.LatencyQuantile, byDestination, c.meshSel(durationBucket), dur(c.AlertWindow))
}

// AlertPairErrorRatioExpr is the 5xx ratio per caller → service pair.
func (c Config) AlertPairErrorRatioExpr() string {
	return counterErrorRatio(c.pairMeshSel, pairRequests, byPair, dur(c.AlertWindow))
}

// AlertPairLatencyExpr is the latency quantile per pair, in seconds.
func (c Config) AlertPairLatencyExpr() string {
	return quantile(c.LatencyQuantile, byPair, c.pairMeshSel(pairDurationBucket), dur(c.AlertWindow))
}

// AlertProxyDownExpr is each proxy scrape target's up gauge.
func (c Config) AlertProxyDownExpr() string {
	return sel("up", `job="`+c.ProxyJob+`"`)
}

// AlertProxiesMissingExpr is how many proxy targets that reported during
// the lookback do not report up now (0 when all do).
func (c Config) AlertProxiesMissingExpr() string {
	up := c.AlertProxyDownExpr()
	return fmt.Sprintf("count(max_over_time(%s[%s])) - (count(%s == 1) or vector(0))", up, dur(c.ProxyLookback), up)
}

// AlertCertExpr is the seconds left per certificate.
func (c Config) AlertCertExpr() string { return certRemaining("cn, serial") }

// logsSQL is the correlate query for the users' ClickHouse datasource:
// the application's logs for the service's Kubernetes name over the
// panel's time range. nameRef renders the series' destination_service
// label as a quoted SQL string, serviceRef its service label (Grafana
// variable references such as ${service_name:sqlstring}); a series
// without destination_service (scraped before the relabelling) gets its
// name read out of service with the configured namespaces.
func (c Config) logsSQL(nameRef, serviceRef string) string {
	return "SELECT Timestamp AS timestamp, SeverityText AS level, Body AS body, ServiceName, TraceId\n" +
		"FROM " + c.LogsTable + "\n" +
		"WHERE $__timeFilter(Timestamp)\n" +
		"  AND ServiceName = if(" + nameRef + " != '', " + nameRef + ", extract(" + serviceRef + ", '" + c.legacyServiceNameRE() + "'))\n" +
		"ORDER BY Timestamp DESC\n" +
		"LIMIT 1000"
}

// legacyServiceNameRE captures <service> of <namespace>-<service>-<port>@…
// as the relabelling does: the configured namespaces longest first, then
// (a namespace not in the list) the first dash-separated word; SMI forms
// end in -traffic-target… / -traffic-split… before the @. Namespace names
// are validated (Config.Validate): no quoting needed in SQL or RE2.
func (c Config) legacyServiceNameRE() string {
	return `^(?:` + strings.Join(c.namespacesLongestFirst(), "|") + `|[^-]+)-(.+)-[0-9]+(?:-traffic-(?:target|split)[^@]*)?@`
}
