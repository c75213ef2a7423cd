package mixin

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// pairNote is on every panel of caller → service pairs: they exist only
// where the opt-in access-log agent runs.
const pairNote = "Caller → service pairs come from the proxies' access logs, turned into metrics by the access-log agent (opt-in, docs/pipeline.md); without the agent this panel is empty. A caller the agent could not resolve shows as unknown/unknown. Summed over the agents (one per node)."

const bucketNote = "Traefik's default buckets are 0.1, 0.3, 1.2 and 5 s: a quantile between two bounds is interpolated linearly, so a p99 shown as 2 s only says it lies between 1.2 and 5 s (see docs/alerts.md)."

func (c Config) traffic(l *layout) {
	l.row("Traffic: $namespace")
	by := func(labels string, extra ...string) string {
		return sumBy(labels, rate(c.nsSel(requestsTotal, extra...), varInterval))
	}
	l.add(12, 8, timeseries("Request rate by service", "Requests per second each service received through the mesh.", "reqps",
		c.q("A", "range", by("service"), "{{service}}")))
	l.add(12, 8, timeseries("Request rate by proxy → service", "Requests per second per proxy and destination service. The source is the proxy (instance): Traefik Mesh metrics carry no source service.", "reqps",
		c.q("A", "range", by("instance, service"), "{{instance}} → {{service}}")))
	l.add(8, 8, timeseries("Errors by service and status code", "4xx and 5xx answers per second, by service and status code.", "reqps",
		c.q("A", "range", by("service, code", `code=~"4..|5.."`), "{{service}} {{code}}")))
	ratio := timeseries("5xx ratio by service", fmt.Sprintf("Share of each service's requests answered 5xx; the alert warns above %s%%.", num(c.ErrorRatio*100)), "percentunit",
		c.q("A", "range", errorRatio(c.nsSel, "service", varInterval), "{{service}}"))
	ratio.FieldConfig.Defaults.Thresholds = steps("transparent", c.ErrorRatio, "red")
	ratio.FieldConfig.Defaults.Custom["thresholdsStyle"] = map[string]string{"mode": "line"}
	l.add(8, 8, ratio)
	var lat []Target
	for i, qv := range []float64{0.5, 0.95, 0.99} {
		label := fmt.Sprintf("p%s", num(qv*100))
		lat = append(lat, c.q(string(rune('A'+i)), "range", quantile(qv, "service", c.nsSel(durationBucket), varInterval), "{{service}} "+label))
	}
	l.add(8, 8, timeseries("Latency p50 / p95 / p99 by service", "Request duration quantiles from the proxies' histogram. "+bucketNote, "s", lat...))
	c.pairTraffic(l)
}

// pairTraffic is the caller → service panels of the services of $namespace
// (the destination's namespace: a caller may live in another one).
func (c Config) pairTraffic(l *layout) {
	byPairRate := func(labels string, extra ...string) string {
		return sumBy(labels, rate(c.pairSel(pairRequests, extra...), varInterval))
	}
	l.add(8, 8, timeseries("Request rate by caller → service", "Requests per second from each calling workload to each service of $namespace. "+pairNote, "reqps",
		c.q("A", "range", byPairRate(byPair), pairLegend)))
	l.add(8, 8, timeseries("4xx / 5xx by caller → service", "4xx and 5xx answers per second by caller → service and status code. "+pairNote, "reqps",
		c.q("A", "range", byPairRate(byPair+", code", `code=~"4..|5.."`), pairLegend+" {{code}}")))
	var lat []Target
	for i, qv := range []float64{0.5, 0.95, 0.99} {
		lat = append(lat, c.q(string(rune('A'+i)), "range", quantile(qv, byPair, c.pairSel(pairDurationBucket), varInterval), pairLegend+fmt.Sprintf(" p%s", num(qv*100))))
	}
	l.add(8, 8, timeseries("Latency p50 / p95 / p99 by caller → service", "Request duration quantiles per caller → service, from the access-log durations in Traefik's buckets. "+bucketNote+" "+pairNote, "s", lat...))
}

func (c Config) deepDive(l *layout) {
	l.row("Deep dive: $service")
	in := func(labels string) string { return sumBy(labels, rate(c.svcSel(requestsTotal), varInterval)) }
	l.add(8, 8, timeseries("Inbound request rate", "Requests per second $service received, by status code.", "reqps",
		c.q("A", "range", in("code"), "{{code}}")))
	l.add(8, 8, timeseries("Requests by method", "Requests per second to $service by HTTP method.", "reqps",
		c.q("A", "range", in("method"), "{{method}}")))
	l.add(8, 8, timeseries("Requests by entrypoint (all services)", "Traefik's entrypoint metrics carry no service label: this is every service's traffic per proxy entrypoint (port), the probe entrypoints ("+strings.Join(c.Noise.Entrypoints, ", ")+") excluded.", "reqps",
		c.q("A", "range", sumBy("entrypoint", rate(sel(entrypointRequests, c.Noise.entrypointMatcher()), varInterval)), "{{entrypoint}}")))

	hm := Panel{Type: "heatmap", Title: "Latency distribution", Description: "Requests per second of $service in each duration bucket. " + bucketNote,
		Targets:     []Target{c.q("A", "heatmap", sumBy("le", rate(c.svcSel(durationBucket), "$__rate_interval")), "{{le}}")},
		FieldConfig: &FieldConfig{Overrides: []map[string]any{}},
		Options: map[string]any{"calculate": false, "yAxis": map[string]any{"unit": "s", "axisPlacement": "left"},
			"cellValues": map[string]any{"unit": "reqps"}, "color": map[string]any{"mode": "scheme", "scheme": "Oranges", "exponent": 0.5},
			"rowsFrame": map[string]any{"layout": "le"}, "tooltip": map[string]any{"mode": "single", "yHistogram": true}}}
	l.add(10, 8, hm)
	pie := Panel{Type: "piechart", Title: "Status codes", Description: "Requests to $service by status code over the dashboard's time range.",
		Targets:     []Target{c.q("A", "instant", sumBy("code", "increase("+c.svcSel(requestsTotal)+"[$__range])"), "{{code}}")},
		FieldConfig: &FieldConfig{Defaults: FieldDefaults{Unit: "short", Color: map[string]any{"mode": "palette-classic"}}, Overrides: []map[string]any{}},
		Options: map[string]any{"reduceOptions": map[string]any{"calcs": []string{"lastNotNull"}, "fields": "", "values": false},
			"pieType": "donut", "legend": map[string]any{"displayMode": "table", "placement": "right", "values": []string{"value", "percent"}}}}
	l.add(6, 8, pie)
	out := sumBy(byPair, rate(sel(pairRequests, c.pairJobMatcher(), labelSourceWorkload+`="`+varServiceName+`"`, labelSourceNamespace+`=~"`+varNamespace+`"`), varInterval))
	l.add(8, 8, timeseries("Outbound request rate of $service", "Requests per second $service sent, by the service called. The caller is the access log's source_workload: this assumes $service's workload is named like its service ("+labelService+"), as in Forma3D; a workload named otherwise shows nothing here. "+pairNote, "reqps",
		c.q("A", "range", out, pairLegend)))

	logs := Panel{Type: "logs", Title: "Application logs of $service", Datasource: c.logs(),
		Description: "The application's logs (" + c.LogsTable + ", through your ClickHouse datasource) for the same time range, matched on the OTel service.name = the service's destination_service label. Edit the query if your services report another service.name.",
		Targets:     []Target{c.logsTarget(`${service_name:sqlstring}`, `${service:sqlstring}`)},
		Options:     map[string]any{"showTime": true, "wrapLogMessage": true, "sortOrder": "Descending", "enableLogDetails": true, "dedupStrategy": "none"},
		Links:       []Link{{Title: "Open these logs in Explore", URL: c.exploreLogsURL("${service_name:percentencode}", "${service:percentencode}"), TargetBlank: true}},
	}
	l.add(24, 10, logs)
}

func (c Config) logsTarget(nameRef, serviceRef string) Target {
	logsFormat := 2 // sqlutil.FormatOptionLogs
	return Target{RefID: "A", Datasource: *c.logs(), EditorType: "sql", QueryType: "logs", Format: &logsFormat, RawSQL: c.logsSQL(nameRef, serviceRef)}
}

// exploreLogsURL opens Explore on the logs datasource with the correlate
// query for one service over the panel's time range. The pane JSON is
// percent-encoded; Grafana fills in the ${…} references when the link is
// clicked (nameRef and serviceRef must be :percentencode references).
func (c Config) exploreLogsURL(nameRef, serviceRef string) string {
	const name, svc, uid, from, to = "MESHNAME", "MESHSERVICE", "MESHLOGSUID", "MESHFROM", "MESHTO"
	t := c.logsTarget("'"+name+"'", "'"+svc+"'")
	t.Datasource.UID = uid
	pane := map[string]any{"logs": map[string]any{"datasource": uid, "queries": []Target{t}, "range": map[string]string{"from": from, "to": to}}}
	b, _ := json.Marshal(pane) // plain maps and strings: cannot fail
	enc := url.QueryEscape(string(b))
	enc = strings.NewReplacer(name, nameRef, svc, serviceRef, uid, "${logs}", from, "${__from}", to, "${__to}").Replace(enc)
	return "/explore?schemaVersion=1&orgId=${__org}&panes=" + enc
}

func (c Config) mapAndLatency(l *layout) {
	l.row("Service map and slow services: $namespace")
	// Caller → service edges from the pair metrics; when they have no
	// series (the agent is not deployed) the plugin draws the fallback,
	// proxy → service, with a notice. Only pairs that carried requests in
	// the window are edges (> 0): a pair whose counter stood still is none.
	graph := c.q("A", "serviceGraph", sumBy(byPair, rate(c.pairSel(pairRequests), varInterval))+" > 0", "")
	graph.SourceLabel, graph.TargetLabel = labelSourceNamespace+","+labelSourceWorkload, labelNamespace+","+labelService
	graph.ErrorExpr = sumBy(byPair, rate(c.pairSel(pairRequests, `code=~"5.."`), varInterval))
	graph.LatencyExpr = quantile(0.99, byPair, c.pairSel(pairDurationBucket), varInterval)
	graph.FallbackExpr = sumBy("instance, service", rate(c.nsSel(requestsTotal), varInterval))
	graph.FallbackSourceLabel, graph.FallbackTargetLabel = "instance", "service"
	graph.FallbackErrorExpr = sumBy("instance, service", rate(c.nsSel(requestsTotal, `code=~"5.."`), varInterval))
	graph.FallbackLatencyExpr = quantile(0.99, "instance, service", c.nsSel(durationBucket), varInterval)
	l.add(14, 12, Panel{Type: "nodeGraph", Title: "Service map", Targets: []Target{graph},
		Description: "Caller → service edges (namespace/workload → namespace/service): requests per second, 5xx ratio, p99 latency, from the access-log agent's pair metrics (opt-in, docs/pipeline.md); unknown/unknown is a caller the agent could not resolve. " +
			"Without the agent's metrics the map falls back to proxy → service edges (and says so): Traefik Mesh's own metrics carry no source service, so those edges start at the proxy (instance) that forwarded the request, never at a calling service.",
		Options: map[string]any{"nodes": map[string]any{"mainStatUnit": "reqps", "secondaryStatUnit": "s"}, "edges": map[string]any{"mainStatUnit": "reqps", "secondaryStatUnit": "percentunit"}}})

	slow := Panel{Type: "table", Title: "Slowest services", Description: "Services of $namespace by p99 latency over the last $interval, with the mean (sum / count). Click a service for its logs. " + bucketNote,
		Targets: []Target{
			c.q("A", "table", quantile(0.99, byDestination, c.nsSel(durationBucket), varInterval), ""),
			c.q("B", "table", sumBy(byDestination, rate(c.nsSel(durationSum), varInterval))+" / "+sumBy(byDestination, rate(c.nsSel(durationCount), varInterval)), ""),
		},
		// Two table queries: the plugin names their values "Value #A" and
		// "Value #B" as Grafana's Prometheus datasource does; merge joins
		// the rows on the equal label fields (and Time, the same instant).
		Transformations: []map[string]any{
			{"id": "merge", "options": map[string]any{}},
			// destination_service stays in the frame (the service's data
			// link reads it; an excluded field would be gone) and is hidden
			// from the table by an override instead.
			{"id": "organize", "options": map[string]any{"excludeByName": map[string]bool{"Time": true},
				"renameByName": map[string]string{"Value #A": "p99", "Value #B": "mean", labelNamespace: "namespace"},
				"indexByName":  map[string]int{"service": 0, labelNamespace: 1, "Value #A": 2, "Value #B": 3, labelService: 4}}},
			{"id": "sortBy", "options": map[string]any{"sort": []map[string]any{{"field": "p99", "desc": true}}}},
		},
		FieldConfig: &FieldConfig{Defaults: FieldDefaults{Unit: "s", Decimals: new(3)},
			Overrides: []map[string]any{{
				"matcher":    map[string]string{"id": "byName", "options": "service"},
				"properties": []map[string]any{{"id": "links", "value": []Link{{Title: "Logs of ${__data.fields.service}", URL: c.exploreLogsURL("${__data.fields."+labelService+":percentencode}", "${__data.fields.service:percentencode}"), TargetBlank: true}}}},
			}, {
				"matcher":    map[string]string{"id": "byName", "options": labelService},
				"properties": []map[string]any{{"id": "custom.hideFrom", "value": map[string]bool{"viz": true, "legend": false, "tooltip": false}}},
			}}},
		Options: map[string]any{"showHeader": true, "cellHeight": "sm"}}
	l.add(10, 12, slow)
	l.add(24, 10, c.slowPairs())
}

// slowPairs is the top slow caller → service pairs: p99 and request rate
// per pair, merged into one row per pair, slowest first.
func (c Config) slowPairs() Panel {
	return Panel{Type: "table", Title: "Top slow caller → service pairs", Description: "Caller → service pairs of $namespace by p99 latency over the last $interval, with their request rate. " + bucketNote + " " + pairNote,
		// Only pairs with requests in the window: without any, the p99 is
		// NaN (>= 0 drops it) and the rate 0 (> 0 drops it).
		Targets: []Target{
			c.q("A", "table", quantile(0.99, byPair, c.pairSel(pairDurationBucket), varInterval)+" >= 0", ""),
			c.q("B", "table", sumBy(byPair, rate(c.pairSel(pairRequests), varInterval))+" > 0", ""),
		},
		// As in Slowest services: Value #A and Value #B merged on the
		// equal label fields.
		Transformations: []map[string]any{
			{"id": "merge", "options": map[string]any{}},
			{"id": "organize", "options": map[string]any{"excludeByName": map[string]bool{"Time": true},
				"renameByName": map[string]string{"Value #A": "p99", "Value #B": "req/s", labelSourceNamespace: "caller namespace", labelSourceWorkload: "caller",
					labelNamespace: "namespace", labelService: "service"},
				"indexByName": map[string]int{labelSourceNamespace: 0, labelSourceWorkload: 1, labelNamespace: 2, labelService: 3, "Value #A": 4, "Value #B": 5}}},
			{"id": "sortBy", "options": map[string]any{"sort": []map[string]any{{"field": "p99", "desc": true}}}},
		},
		FieldConfig: &FieldConfig{Defaults: FieldDefaults{Unit: "s", Decimals: new(3)},
			Overrides: []map[string]any{{
				"matcher":    map[string]string{"id": "byName", "options": "req/s"},
				"properties": []map[string]any{{"id": "unit", "value": "reqps"}},
			}}},
		Options: map[string]any{"showHeader": true, "cellHeight": "sm"}}
}
