package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/forma3d/meshmetrics/pkg/dialect"
)

var _ backend.CallResourceHandler = (*Datasource)(nil)

// defaultMetadataRange is the time range metadata calls look at when the
// caller gives none: recent enough to be cheap, long enough to hold every
// series that is still scraped.
const defaultMetadataRange = time.Hour

// CallResource serves the query editor and template variables:
//
//	GET metrics?match=REGEX&start=&end=        metric names with type, unit, description
//	GET labels?match=SELECTOR&start=&end=      label names of the selector's series
//	GET label-values?label=NAME&match=SELECTOR label values
//	GET explain?expr=EXPR&start=&end=&step=    the SQL of a range query
//
// start and end are Unix seconds (Grafana's time range), default the last
// hour. Answers are {"data": …}; errors {"error": "…"} with a 4xx/5xx code.
func (d *Datasource) CallResource(ctx context.Context, req *backend.CallResourceRequest, sender backend.CallResourceResponseSender) error {
	if d.settingsErr != nil {
		return sendJSON(sender, http.StatusBadRequest, map[string]string{"error": d.settingsProblem()})
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		return sendJSON(sender, http.StatusBadRequest, map[string]string{"error": "cannot parse the request URL: " + err.Error()})
	}
	q := u.Query()
	from, to, err := timeRange(q)
	if err != nil {
		return sendJSON(sender, http.StatusBadRequest, map[string]string{"error": err.Error()})
	}
	var data any
	switch req.Path {
	case "metrics":
		data, err = d.engine.Metrics(ctx, q.Get("match"), from, to)
	case "labels":
		data, err = d.engine.LabelNames(ctx, q.Get("match"), from, to)
	case "label-values":
		data, err = d.engine.LabelValues(ctx, q.Get("label"), q.Get("match"), from, to)
	case "explain":
		data, err = d.explain(ctx, q, from, to)
	default:
		return sendJSON(sender, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no resource %q: expected metrics, labels, label-values or explain", req.Path)})
	}
	if err != nil {
		return sendJSON(sender, http.StatusBadRequest, map[string]string{"error": redact(err, d)})
	}
	return sendJSON(sender, http.StatusOK, map[string]any{"data": data})
}

// explain renders the SQL of expr as a range query over the time range,
// with the step the panel would use.
func (d *Datasource) explain(ctx context.Context, q url.Values, from, to time.Time) (string, error) {
	step := Step(from, to, 0, 0, 1000)
	if s := q.Get("step"); s != "" {
		secs, err := strconv.ParseFloat(s, 64)
		if err != nil || secs <= 0 {
			return "", fmt.Errorf("step: expected a positive number of seconds, got %q", s)
		}
		step = time.Duration(secs * float64(time.Second))
	}
	start, end := alignToStep(from, to, step)
	// As QueryData would run it: Grafana's interval macros expanded.
	expr := dialect.ExpandMacros(q.Get("expr"), dialect.Macros{Interval: step, ScrapeInterval: d.settings.ScrapeInterval, Range: to.Sub(from)})
	return d.engine.Explain(ctx, expr, start, end, step)
}

// timeRange reads start and end (Unix seconds).
func timeRange(q url.Values) (time.Time, time.Time, error) {
	to := time.Now()
	from := to.Add(-defaultMetadataRange)
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"start", &from}, {"end", &to}} {
		raw := q.Get(p.name)
		if raw == "" {
			continue
		}
		secs, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return from, to, fmt.Errorf("%s: expected Unix seconds, got %q", p.name, raw)
		}
		*p.t = time.UnixMilli(int64(secs * 1000)).UTC()
	}
	if !to.After(from) {
		return from, to, fmt.Errorf("end (%s) must be after start (%s)", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	return from, to, nil
}

func sendJSON(sender backend.CallResourceResponseSender, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return sender.Send(&backend.CallResourceResponse{
		Status:  status,
		Headers: map[string][]string{"Content-Type": {"application/json"}},
		Body:    body,
	})
}
