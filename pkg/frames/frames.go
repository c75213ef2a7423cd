// Package frames turns engine results into Grafana data frames in the
// data-plane formats that panels, Explore and Grafana alerting read:
// timeseries-multi for range queries, numeric-multi for instant queries,
// and one wide table for table queries.
package frames

import (
	"regexp"
	"sort"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/forma3d/meshmetrics/pkg/engine"
)

// TimeSeries is one frame per series (time, value), the series' labels on
// the value field, as the timeseries-multi contract asks. Alerting reads
// each frame's labels as the alert instance's.
func TimeSeries(res *engine.Result, legendFormat, refID string) data.Frames {
	out := make(data.Frames, 0, len(res.Series))
	for _, s := range res.Series {
		times := make([]time.Time, len(s.Points))
		values := make([]float64, len(s.Points))
		for i, p := range s.Points {
			times[i], values[i] = p.T, p.V
		}
		value := data.NewField(data.TimeSeriesValueFieldName, labelsOf(s.Labels), values)
		value.Config = displayName(s.Labels, legendFormat)
		f := data.NewFrame("", data.NewField(data.TimeSeriesTimeFieldName, nil, times), value)
		f.RefID = refID
		f.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1}, ExecutedQueryString: res.SQL}
		out = append(out, f)
	}
	if len(out) == 0 {
		// An empty answer is still an answer: one frame without series, so
		// alerting sees "no data" rather than a malformed response.
		f := data.NewFrame("", data.NewField(data.TimeSeriesTimeFieldName, nil, []time.Time{}), data.NewField(data.TimeSeriesValueFieldName, nil, []float64{}))
		f.RefID = refID
		f.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1}, ExecutedQueryString: res.SQL}
		out = append(out, f)
	}
	return out
}

// Numeric is one frame per series with a single value field (numeric-multi),
// what stat and gauge panels and alert conditions read from an instant
// query. A scalar answer is one series without labels.
func Numeric(res *engine.Result, legendFormat, refID string) data.Frames {
	out := make(data.Frames, 0, len(res.Series))
	for _, s := range res.Series {
		var vals []float64
		if len(s.Points) > 0 {
			vals = []float64{s.Points[0].V}
		}
		value := data.NewField(data.TimeSeriesValueFieldName, labelsOf(s.Labels), vals)
		value.Config = displayName(s.Labels, legendFormat)
		f := data.NewFrame("", value)
		f.RefID = refID
		f.Meta = &data.FrameMeta{Type: data.FrameTypeNumericMulti, TypeVersion: data.FrameTypeVersion{0, 1}, ExecutedQueryString: res.SQL}
		out = append(out, f)
	}
	if len(out) == 0 {
		f := data.NewFrame("", data.NewField(data.TimeSeriesValueFieldName, nil, []float64{}))
		f.RefID = refID
		f.Meta = &data.FrameMeta{Type: data.FrameTypeNumericMulti, TypeVersion: data.FrameTypeVersion{0, 1}, ExecutedQueryString: res.SQL}
		out = append(out, f)
	}
	return out
}

// TableValueField names a table query's value field as Grafana's Prometheus
// datasource does (its frontend's transformDFToTable): "Value" when the
// request holds one table query, "Value #<refId>" when it holds several, so
// that a panel's merge and organize transformations written for Prometheus
// tables (renameByName "Value #A") work unchanged.
func TableValueField(refID string, tableQueries int) string {
	if tableQueries > 1 {
		return "Value #" + refID
	}
	return "Value"
}

// Table is an instant answer as one wide table: Time, one column per label
// name (sorted), the value field valueField; a row per series, as Grafana's
// Prometheus table (see TableValueField for the value field's name).
func Table(res *engine.Result, refID, valueField string) data.Frames {
	names := map[string]bool{}
	for _, s := range res.Series {
		for _, l := range s.Labels {
			names[l.Name] = true
		}
	}
	cols := make([]string, 0, len(names))
	for n := range names {
		cols = append(cols, n)
	}
	sort.Strings(cols)
	times := make([]time.Time, 0, len(res.Series))
	values := make([]float64, 0, len(res.Series))
	labelCols := make([][]string, len(cols))
	for _, s := range res.Series {
		if len(s.Points) == 0 {
			continue
		}
		times = append(times, s.Points[0].T)
		values = append(values, s.Points[0].V)
		for i, c := range cols {
			labelCols[i] = append(labelCols[i], s.Labels.Get(c))
		}
	}
	fields := []*data.Field{data.NewField("Time", nil, times)}
	for i, c := range cols {
		fields = append(fields, data.NewField(c, nil, append([]string{}, labelCols[i]...)))
	}
	fields = append(fields, data.NewField(valueField, nil, values))
	f := data.NewFrame("", fields...)
	f.RefID = refID
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable, ExecutedQueryString: res.SQL}
	return data.Frames{f}
}

func labelsOf(ls engine.Labels) data.Labels {
	out := make(data.Labels, len(ls))
	for _, l := range ls {
		out[l.Name] = l.Value
	}
	return out
}

var legendVar = regexp.MustCompile(`\{\{\s*(.+?)\s*\}\}`)

// displayName renders a legend format ({{label}} as in Prometheus); with
// none, Grafana names the series from its labels itself.
func displayName(ls engine.Labels, legendFormat string) *data.FieldConfig {
	if legendFormat == "" || legendFormat == "__auto" {
		return nil
	}
	name := legendVar.ReplaceAllStringFunc(legendFormat, func(m string) string {
		return ls.Get(legendVar.FindStringSubmatch(m)[1])
	})
	return &data.FieldConfig{DisplayNameFromDS: name}
}
