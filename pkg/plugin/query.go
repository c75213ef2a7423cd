package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/forma3d/meshmetrics/pkg/chconn"
	"github.com/forma3d/meshmetrics/pkg/dialect"
	"github.com/forma3d/meshmetrics/pkg/engine"
	"github.com/forma3d/meshmetrics/pkg/frames"
	"github.com/forma3d/meshmetrics/pkg/models"
)

// maxParallelQueries bounds how many queries of one request run at once:
// a dashboard's panels arrive as separate requests, so this only limits a
// panel with many queries.
const maxParallelQueries = 4

// QueryData answers every query of a request; a problem with one query is
// that query's error, never the whole request's.
func (d *Datasource) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp := backend.NewQueryDataResponse()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxParallelQueries)
	tables := countTableQueries(req.Queries)
	for _, q := range req.Queries {
		wg.Add(1)
		sem <- struct{}{}
		go func(q backend.DataQuery) {
			defer wg.Done()
			defer func() { <-sem }()
			r := d.query(ctx, q, tables)
			mu.Lock()
			resp.Responses[q.RefID] = r
			mu.Unlock()
		}(q)
	}
	wg.Wait()
	return resp, nil
}

// countTableQueries counts the request's table queries: a panel's queries
// arrive in one request, and Grafana's Prometheus datasource names table
// value fields by how many table results the panel asked for.
func countTableQueries(queries []backend.DataQuery) int {
	n := 0
	for _, q := range queries {
		var m struct {
			QueryType string `json:"queryType"`
		}
		if json.Unmarshal(q.JSON, &m) == nil && m.QueryType == models.QueryTypeTable {
			n++
		}
	}
	return n
}

// query answers one query; tableQueries is how many table queries the
// request holds (see frames.TableValueField).
func (d *Datasource) query(ctx context.Context, dq backend.DataQuery, tableQueries int) backend.DataResponse {
	if d.settingsErr != nil {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, d.settingsProblem())
	}
	q, err := models.ParseQuery(dq.JSON)
	if err != nil {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, err.Error())
	}
	minStep, _ := q.MinStepDuration() // checked by ParseQuery
	step := Step(dq.TimeRange.From, dq.TimeRange.To, dq.Interval, minStep, dq.MaxDataPoints)
	macros := dialect.Macros{
		Interval:       step,
		ScrapeInterval: d.settings.ScrapeInterval,
		Range:          dq.TimeRange.To.Sub(dq.TimeRange.From),
	}
	expr := dialect.ExpandMacros(q.Expr, macros)
	switch q.QueryType {
	case models.QueryTypeRange, models.QueryTypeHeatmap:
		start, end := alignToStep(dq.TimeRange.From, dq.TimeRange.To, step)
		res, err := d.engine.RangeQuery(ctx, expr, start, end, step)
		if err != nil {
			return d.queryError(err)
		}
		if q.QueryType == models.QueryTypeRange {
			return backend.DataResponse{Frames: frames.TimeSeries(res, q.LegendFormat, dq.RefID)}
		}
		fr, err := frames.Heatmap(res, dq.RefID)
		if err != nil {
			return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, err.Error())
		}
		return backend.DataResponse{Frames: fr}
	case models.QueryTypeInstant, models.QueryTypeTable:
		res, err := d.engine.InstantQuery(ctx, expr, dq.TimeRange.To)
		if err != nil {
			return d.queryError(err)
		}
		if q.QueryType == models.QueryTypeTable {
			return backend.DataResponse{Frames: frames.Table(res, dq.RefID, frames.TableValueField(dq.RefID, tableQueries))}
		}
		return backend.DataResponse{Frames: frames.Numeric(res, q.LegendFormat, dq.RefID)}
	}
	return d.serviceGraph(ctx, q, dq, macros)
}

// serviceGraph evaluates the graph's queries at the end of the time range
// and draws their (source, target) series as nodes and edges. When the
// request expression has no series and the query has a fallback graph,
// the fallback is drawn instead, with a notice saying so.
//
// The existence check is the request query itself, not an extra one: the
// engine resolves every metric name against the tables before it plans
// any scan (its catalog probe: one LIMIT 1 select per candidate table on
// MetricName, part of the exporter's sorting key, and the time range, which
// prunes partitions), so when the access-log agent is not deployed the
// pair query costs that probe alone and returns no series; when it is
// deployed the answer is the graph's data. Absent pair metrics and pair metrics without a
// series at the end of the range (the agent stopped, or no caller sent a
// request in the window) both fall back: the proxies' view then shows
// what they forwarded, and no edge is ever made up from the other.
func (d *Datasource) serviceGraph(ctx context.Context, q models.Query, dq backend.DataQuery, macros dialect.Macros) backend.DataResponse {
	g, r := d.graph(ctx, dq, macros, graphQuery{q.Expr, q.ErrorExpr, q.LatencyExpr, q.SourceLabel, q.TargetLabel}, "")
	if r != nil {
		return *r
	}
	if len(g.Requests.Series) == 0 && q.FallbackExpr != "" {
		fb := graphQuery{q.FallbackExpr, q.FallbackErrorExpr, q.FallbackLatencyExpr, q.FallbackSourceLabel, q.FallbackTargetLabel}
		g, r = d.graph(ctx, dq, macros, fb, "fallback")
		if r != nil {
			return *r
		}
		g.Notice = fmt.Sprintf("The graph's query (%s) has no series at the end of the time range: drawn instead is its fallback, whose sources are: %s.", q.Expr, g.SourceKind)
	}
	fr, err := frames.ServiceGraph(g, dq.RefID)
	if err != nil {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, err.Error())
	}
	return backend.DataResponse{Frames: fr}
}

// graphQuery is one service graph's expressions and node labels.
type graphQuery struct{ expr, errorExpr, latencyExpr, sourceLabel, targetLabel string }

// graph evaluates one graph's queries; a non-nil response is an error,
// its field named (with prefix, "fallback", for the fallback's fields).
func (d *Datasource) graph(ctx context.Context, dq backend.DataQuery, macros dialect.Macros, gq graphQuery, prefix string) (frames.Graph, *backend.DataResponse) {
	g := frames.Graph{SourceLabels: models.GraphLabelNames(gq.sourceLabel), TargetLabels: models.GraphLabelNames(gq.targetLabel), SourceKind: sourceKind(gq.sourceLabel)}
	for _, part := range []struct {
		field, expr string
		dst         **engine.Result
	}{{"expr", gq.expr, &g.Requests}, {"errorExpr", gq.errorExpr, &g.Errors}, {"latencyExpr", gq.latencyExpr, &g.Latency}} {
		if strings.TrimSpace(part.expr) == "" {
			continue
		}
		res, err := d.engine.InstantQuery(ctx, dialect.ExpandMacros(part.expr, macros), dq.TimeRange.To)
		if err != nil {
			r := d.queryError(err)
			field := part.field
			if prefix != "" {
				field = prefix + strings.ToUpper(field[:1]) + field[1:]
			}
			r.Error = fmt.Errorf("%s: %w", field, r.Error)
			return g, &r
		}
		*part.dst = res
	}
	return g, nil
}

// sourceKind says what a graph's source nodes are. Traefik Mesh metrics
// name the destination only: the honest source is the proxy. The
// access-log agent's pair metrics name the caller: a workload, or
// unknown when the agent could not resolve the calling address.
func sourceKind(label string) string {
	switch label {
	case "instance", "pod", "node":
		return fmt.Sprintf("Traefik Mesh proxy (label %s): the mesh's metrics carry no source service", label)
	case "source_namespace,source_workload", "source_workload":
		return "calling workload (" + strings.ReplaceAll(label, ",", "/") + ", from the access-log agent; unknown/unknown: a caller it could not resolve)"
	}
	return fmt.Sprintf("source label %s", strings.ReplaceAll(label, ",", ", "))
}

// queryError attributes an engine error: a bad expression or a limit is the
// user's to fix (downstream of the plugin), anything else the plugin's or
// the server's.
func (d *Datasource) queryError(err error) backend.DataResponse {
	var de *dialect.Error
	status := backend.StatusBadRequest
	switch {
	case errors.As(err, &de):
	case errors.Is(err, engine.ErrQueryTimeout), errors.Is(err, context.DeadlineExceeded):
		status = backend.StatusTimeout
	case errors.Is(err, context.Canceled):
		status = backend.Status(499)
	}
	return backend.ErrDataResponseWithSource(status, backend.ErrorSourceDownstream, redact(err, d))
}

// Step is the range query step as Grafana's Prometheus datasource chooses
// it: the panel's interval, at least minStep, and coarse enough that the
// range fits in maxDataPoints (and Prometheus' 11,000 points).
func Step(from, to time.Time, interval, minStep time.Duration, maxDataPoints int64) time.Duration {
	step := max(interval, minStep, time.Second)
	rng := to.Sub(from)
	if maxDataPoints > 0 {
		step = max(step, roundUpSecond(rng/time.Duration(maxDataPoints)))
	}
	return max(step, roundUpSecond(rng/11000))
}

func roundUpSecond(d time.Duration) time.Duration {
	return (d + time.Second - 1).Truncate(time.Second)
}

// alignToStep moves start and end to multiples of step, as Grafana's
// Prometheus datasource does, so that refreshing a panel keeps its points
// on the same times.
func alignToStep(from, to time.Time, step time.Duration) (time.Time, time.Time) {
	s := step.Milliseconds()
	start := from.UnixMilli() / s * s
	end := to.UnixMilli() / s * s
	return time.UnixMilli(start).UTC(), time.UnixMilli(end).UTC()
}

// redact keeps secrets out of an error shown to the user.
func redact(err error, d *Datasource) string {
	return chconn.Redact(err.Error(), d.settings)
}
