package models

import (
	"bytes"
	"encoding/json"
	"fmt"
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
	// are drawn between (defaults: instance, the proxy, and service).
	SourceLabel string `json:"sourceLabel,omitempty"`
	TargetLabel string `json:"targetLabel,omitempty"`
	// ErrorExpr and LatencyExpr are a service graph's optional per-edge
	// error rate and latency (seconds), aggregated by the same two labels
	// as Expr, the request rate.
	ErrorExpr   string `json:"errorExpr,omitempty"`
	LatencyExpr string `json:"latencyExpr,omitempty"`
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
	if q.QueryType == QueryTypeServiceGraph {
		q.SourceLabel = strings.TrimSpace(q.SourceLabel)
		q.TargetLabel = strings.TrimSpace(q.TargetLabel)
		if q.SourceLabel == "" {
			q.SourceLabel = DefaultSourceLabel
		}
		if q.TargetLabel == "" {
			q.TargetLabel = DefaultTargetLabel
		}
		if q.SourceLabel == q.TargetLabel {
			return q, &QueryError{Field: "targetLabel", Problem: fmt.Sprintf("source and target label are both %q: edges need two different labels", q.SourceLabel)}
		}
	}
	return q, nil
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
