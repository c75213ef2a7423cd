package meshstack

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/forma3d/meshmetrics/tests/pluginharness"
)

// Querier asks the plugin binary over gRPC, as Grafana does.
type Querier struct {
	Plugin *pluginharness.Plugin
	DS     backend.DataSourceInstanceSettings
}

// NewQuerier configures a datasource for ClickHouse at addr (HTTP
// interface), database otel, as the exporter writes it.
func NewQuerier(p *pluginharness.Plugin, clickhouseAddr string, scrapeInterval time.Duration) (*Querier, error) {
	host, port, err := net.SplitHostPort(clickhouseAddr)
	if err != nil {
		return nil, err
	}
	ds, err := pluginharness.Datasource("meshstack", map[string]any{
		"host": host, "port": port, "protocol": "http", "database": "otel",
		"scrapeInterval": scrapeInterval.String(),
	}, nil)
	if err != nil {
		return nil, err
	}
	return &Querier{Plugin: p, DS: ds}, nil
}

// Sample is one series of an instant query's answer.
type Sample struct {
	Labels data.Labels
	Value  float64
}

// Instant evaluates expr at the instant at through QueryData.
func (q *Querier) Instant(ctx context.Context, expr string, at time.Time) ([]Sample, error) {
	body, err := json.Marshal(map[string]any{"expr": expr, "queryType": "instant"})
	if err != nil {
		return nil, err
	}
	resp, err := q.Plugin.QueryData(ctx, q.DS, nil, backend.DataQuery{
		RefID: "A", JSON: body, Interval: time.Second, MaxDataPoints: 1,
		TimeRange: backend.TimeRange{From: at.Add(-time.Minute), To: at},
	})
	if err != nil {
		return nil, fmt.Errorf("QueryData %q: %w", expr, err)
	}
	r, ok := resp.Responses["A"]
	if !ok {
		return nil, fmt.Errorf("QueryData %q: no response for ref A", expr)
	}
	if r.Error != nil {
		return nil, fmt.Errorf("query %q: %w", expr, r.Error)
	}
	var out []Sample
	for _, f := range r.Frames {
		for _, fl := range f.Fields {
			if fl.Len() == 0 {
				continue
			}
			var v float64
			switch x := fl.At(fl.Len() - 1).(type) {
			case float64:
				v = x
			case *float64:
				if x == nil {
					continue
				}
				v = *x
			default:
				continue
			}
			out = append(out, Sample{Labels: fl.Labels, Value: v})
		}
	}
	return out, nil
}

// ByLabel is an instant answer keyed by one label's value.
func ByLabel(samples []Sample, label string) map[string]float64 {
	m := make(map[string]float64, len(samples))
	for _, s := range samples {
		m[s.Labels[label]] = s.Value
	}
	return m
}

// Target runs one panel target (its JSON model, as Grafana sends it) over
// the time range [from, to].
func (q *Querier) Target(ctx context.Context, model []byte, from, to time.Time, interval time.Duration) (backend.DataResponse, error) {
	resp, err := q.Plugin.QueryData(ctx, q.DS, nil, backend.DataQuery{
		RefID: "A", JSON: model, Interval: interval, MaxDataPoints: 200,
		TimeRange: backend.TimeRange{From: from, To: to},
	})
	if err != nil {
		return backend.DataResponse{}, err
	}
	r, ok := resp.Responses["A"]
	if !ok {
		return backend.DataResponse{}, fmt.Errorf("no response for ref A")
	}
	return r, nil
}
