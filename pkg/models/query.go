package models

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Query types a panel can ask for.
const (
	QueryTypeRange        = "range"
	QueryTypeInstant      = "instant"
	QueryTypeTable        = "table"
	QueryTypeHeatmap      = "heatmap"
	QueryTypeServiceGraph = "serviceGraph"
)

// Query is one panel query as the query editor stores it.
type Query struct {
	Expr         string `json:"expr"`
	LegendFormat string `json:"legendFormat,omitempty"`
	QueryType    string `json:"queryType,omitempty"`
	// MinStep is a Grafana interval such as "30s"; empty means none.
	MinStep string `json:"minStep,omitempty"`
	// SourceLabel and TargetLabel name the labels a service graph's edges
	// are drawn between (defaults: instance, the proxy, and service). Each
	// may list several labels separated by commas: the node is then named
	// by their values joined with "/" (source_namespace,source_workload →
	// forma3d/web), so that equal names in two namespaces stay two nodes.
	SourceLabel string `json:"sourceLabel,omitempty"`
	TargetLabel string `json:"targetLabel,omitempty"`
	// ErrorExpr and LatencyExpr are a service graph's optional per-edge
	// error rate and latency (seconds), aggregated by the same two labels
	// as Expr, the request rate.
	ErrorExpr   string `json:"errorExpr,omitempty"`
	LatencyExpr string `json:"latencyExpr,omitempty"`
	// The Fallback… fields are a second service graph, drawn (with a
	// notice saying so) when Expr has no series at the end of the time
	// range: the bundled dashboard draws caller → service edges from the
	// opt-in access-log agent's pair metrics and falls back to the proxy
	// view when the agent is not deployed. Empty FallbackExpr: no fallback.
	FallbackExpr        string `json:"fallbackExpr,omitempty"`
	FallbackErrorExpr   string `json:"fallbackErrorExpr,omitempty"`
	FallbackLatencyExpr string `json:"fallbackLatencyExpr,omitempty"`
	FallbackSourceLabel string `json:"fallbackSourceLabel,omitempty"`
	FallbackTargetLabel string `json:"fallbackTargetLabel,omitempty"`
}

// Service graph defaults: Traefik Mesh metrics name the destination in
// "service" and carry no source service, so the source is the proxy.
const (
	DefaultSourceLabel = "instance"
	DefaultTargetLabel = "service"
)

// QueryError is a problem with one query's JSON, naming its field.
type QueryError struct {
	Field   string
	Problem string
}

func (e *QueryError) Error() string {
	if e.Field == "" {
		return "query: " + e.Problem
	}
	return fmt.Sprintf("query field %q: %s", e.Field, e.Problem)
}

// ParseQuery decodes a query's JSON and checks what can be checked without
// parsing the expression itself.
func ParseQuery(raw json.RawMessage) (Query, error) {
	var q Query
	if len(bytes.TrimSpace(raw)) == 0 {
		return q, &QueryError{Problem: "empty query JSON"}
	}
	if err := json.Unmarshal(raw, &q); err != nil {
		return q, &QueryError{Problem: "cannot decode query JSON: " + err.Error()}
	}
	q.Expr = strings.TrimSpace(q.Expr)
	if q.Expr == "" {
		return q, &QueryError{Field: "expr", Problem: "empty expression: write a PromQL-style query such as rate(traefik_service_requests_total[5m])"}
	}
	if q.QueryType == "" {
		q.QueryType = QueryTypeRange
	}
	switch q.QueryType {
	case QueryTypeRange, QueryTypeInstant, QueryTypeTable, QueryTypeHeatmap, QueryTypeServiceGraph:
	default:
		return q, &QueryError{Field: "queryType", Problem: fmt.Sprintf("expected range, instant, table, heatmap or serviceGraph, got %q", q.QueryType)}
	}
	if q.MinStep != "" {
		if _, err := q.MinStepDuration(); err != nil {
			return q, err
		}
	}
	q.FallbackExpr = strings.TrimSpace(q.FallbackExpr)
	if q.QueryType != QueryTypeServiceGraph {
		if q.FallbackExpr != "" {
			return q, &QueryError{Field: "fallbackExpr", Problem: "a fallback graph belongs to a serviceGraph query, this one is " + q.QueryType}
		}
		return q, nil
	}
	var err error
	if q.SourceLabel, q.TargetLabel, err = graphLabels(q.SourceLabel, q.TargetLabel, "sourceLabel", "targetLabel"); err != nil {
		return q, err
	}
	if q.FallbackExpr != "" {
		if q.FallbackSourceLabel, q.FallbackTargetLabel, err = graphLabels(q.FallbackSourceLabel, q.FallbackTargetLabel, "fallbackSourceLabel", "fallbackTargetLabel"); err != nil {
			return q, err
		}
	}
	return q, nil
}

// graphLabels checks and normalises a graph's source and target labels:
// defaults for empty ones, each a comma-separated list of label names,
// the two lists different.
func graphLabels(src, dst, srcField, dstField string) (string, string, error) {
	norm := func(v, def, field string) (string, error) {
		if strings.TrimSpace(v) == "" {
			return def, nil
		}
		names := GraphLabelNames(v)
		for _, n := range names {
			if !labelName.MatchString(n) {
				return "", &QueryError{Field: field, Problem: fmt.Sprintf("%q is not a label name (write one label, or several separated by commas)", n)}
			}
		}
		return strings.Join(names, ","), nil
	}
	src, err := norm(src, DefaultSourceLabel, srcField)
	if err != nil {
		return "", "", err
	}
	if dst, err = norm(dst, DefaultTargetLabel, dstField); err != nil {
		return "", "", err
	}
	if src == dst {
		return "", "", &QueryError{Field: dstField, Problem: fmt.Sprintf("source and target label are both %q: edges need two different labels", src)}
	}
	return src, dst, nil
}

// labelName is a Prometheus label name.
var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// GraphLabelNames splits a graph's label setting ("a, b") into names.
func GraphLabelNames(v string) []string {
	var out []string
	for _, n := range strings.Split(v, ",") {
		out = append(out, strings.TrimSpace(n))
	}
	return out
}

// MinStepDuration parses MinStep; zero when it is unset.
func (q Query) MinStepDuration() (time.Duration, error) {
	if strings.TrimSpace(q.MinStep) == "" {
		return 0, nil
	}
	d, err := parseDuration(q.MinStep, 0)
	if err != nil {
		return 0, &QueryError{Field: "minStep", Problem: err.Error()}
	}
	return d, nil
}
