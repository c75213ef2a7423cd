package dashboards

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"go.yaml.in/yaml/v3"
)

// The alerting provisioning file as Grafana reads it.
type alertFileYAML struct {
	APIVersion int `yaml:"apiVersion"`
	Groups     []struct {
		Name     string     `yaml:"name"`
		Folder   string     `yaml:"folder"`
		Interval string     `yaml:"interval"`
		Rules    []ruleYAML `yaml:"rules"`
	} `yaml:"groups"`
}

type ruleYAML struct {
	UID       string `yaml:"uid"`
	Title     string `yaml:"title"`
	Condition string `yaml:"condition"`
	Data      []struct {
		RefID             string `yaml:"refId"`
		RelativeTimeRange struct {
			From int `yaml:"from"`
			To   int `yaml:"to"`
		} `yaml:"relativeTimeRange"`
		DatasourceUID string         `yaml:"datasourceUid"`
		Model         map[string]any `yaml:"model"`
	} `yaml:"data"`
	NoDataState  string            `yaml:"noDataState"`
	ExecErrState string            `yaml:"execErrState"`
	For          string            `yaml:"for"`
	Annotations  map[string]string `yaml:"annotations"`
	Labels       map[string]string `yaml:"labels"`
}

func loadRules(t testing.TB) (alertFileYAML, map[string]ruleYAML) {
	t.Helper()
	var f alertFileYAML
	if err := yaml.Unmarshal(repoFile(t, "provisioning/grafana/alerting/mesh-alerts.yaml"), &f); err != nil {
		t.Fatalf("decode alert rules: %v", err)
	}
	rules := map[string]ruleYAML{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			rules[r.UID] = r
		}
	}
	return f, rules
}

func (r ruleYAML) pending(t testing.TB) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(r.For)
	if err != nil {
		t.Fatalf("rule %s: for %q: %v", r.UID, r.For, err)
	}
	return d
}

// sseItem is one value of a server-side expression: a number or a series
// with labels, as Grafana's mathexp holds them.
type sseItem struct {
	labels data.Labels
	number *float64
	series []float64
}

// sseResult is the values of one refId; noData when the query answered
// nothing.
type sseResult struct {
	noData bool
	items  []sseItem
}

// ruleEval is one evaluation: the condition's values by label set.
type ruleEval struct {
	noData    bool
	condition map[string]float64
	// queryA is what the datasource answered for refId A (labels → the
	// value), to compare with Prometheus.
	queryA answer
}

// evaluate runs a rule at one time as Grafana alerting does: each
// datasource query through the plugin (QueryData with the alerting
// headers, the time range relative to the evaluation time), then the
// rule's reduce and threshold expressions as the YAML defines them.
func (e *meshEnv) evaluate(t *testing.T, r ruleYAML, at time.Time) ruleEval {
	t.Helper()
	vars := map[string]sseResult{}
	var out ruleEval
	for _, q := range r.Data {
		if q.DatasourceUID != "__expr__" {
			if q.DatasourceUID != e.ds.UID {
				t.Fatalf("rule %s refId %s: datasource %q, the provisioned Mesh Metrics datasource is %q", r.UID, q.RefID, q.DatasourceUID, e.ds.UID)
			}
			js, err := json.Marshal(q.Model)
			if err != nil {
				t.Fatal(err)
			}
			intervalMs, _ := q.Model["intervalMs"].(int)
			maxPoints, _ := q.Model["maxDataPoints"].(int)
			tr := backend.TimeRange{From: at.Add(-time.Duration(q.RelativeTimeRange.From) * time.Second), To: at.Add(-time.Duration(q.RelativeTimeRange.To) * time.Second)}
			resp, err := e.p.QueryData(callCtx(t), e.ds, map[string]string{
				"FromAlert": "true", "X-Cache-Skip": "true", "X-Rule-Uid": r.UID, "X-Rule-Name": r.Title,
			}, backend.DataQuery{RefID: q.RefID, TimeRange: tr, Interval: time.Duration(intervalMs) * time.Millisecond, MaxDataPoints: int64(maxPoints), JSON: js})
			if err != nil {
				t.Fatalf("QueryData: %v", err)
			}
			dr := resp.Responses[q.RefID]
			if dr.Error != nil {
				t.Fatalf("rule %s at %s: %v", r.UID, at.Format(time.TimeOnly), dr.Error)
			}
			vars[q.RefID] = fromFrames(t, dr.Frames)
			if q.RefID == "A" {
				out.queryA = framesAnswer(t, dr.Frames, tr.To)
			}
			continue
		}
		input := vars[str(q.Model["expression"])]
		switch typ := str(q.Model["type"]); typ {
		case "reduce":
			vars[q.RefID] = reduce(t, q.Model, input)
		case "threshold":
			vars[q.RefID] = threshold(t, q.Model, input)
		default:
			t.Fatalf("rule %s: expression type %q is not evaluated here", r.UID, typ)
		}
	}
	cond, ok := vars[r.Condition]
	if !ok {
		t.Fatalf("rule %s: condition %q is no refId", r.UID, r.Condition)
	}
	out.noData = cond.noData
	out.condition = map[string]float64{}
	for _, it := range cond.items {
		out.condition[labelKey(it.labels)] = *it.number
	}
	return out
}

func str(v any) string { s, _ := v.(string); return s }

// fromFrames converts a datasource answer as Grafana's SSE does: a
// numeric frame's value fields become numbers, a time series frame's a
// series; no values at all is NoData.
func fromFrames(t *testing.T, frames data.Frames) sseResult {
	t.Helper()
	var res sseResult
	for _, f := range frames {
		for _, fl := range f.Fields {
			if fl.Type() != data.FieldTypeFloat64 || fl.Len() == 0 {
				continue
			}
			it := sseItem{labels: fl.Labels}
			if _, hasTime := f.FieldByName(data.TimeSeriesTimeFieldName); hasTime >= 0 {
				for i := 0; i < fl.Len(); i++ {
					it.series = append(it.series, fl.At(i).(float64))
				}
			} else {
				v := fl.At(0).(float64)
				it.number = &v
			}
			res.items = append(res.items, it)
		}
	}
	res.noData = len(res.items) == 0
	return res
}

func nonNumber(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }

// reduce applies a reduce expression (reducer, settings.mode) as
// Grafana's ReduceCommand: a number passes through, dropped by dropNN
// when it is NaN or ±Inf; a series is reduced to a number.
func reduce(t *testing.T, model map[string]any, in sseResult) sseResult {
	t.Helper()
	reducer := str(model["reducer"])
	settings, _ := model["settings"].(map[string]any)
	mode := str(settings["mode"])
	if mode != "" && mode != "dropNN" {
		t.Fatalf("reduce mode %q is not evaluated here", mode)
	}
	out := sseResult{noData: in.noData}
	for _, it := range in.items {
		if it.number != nil {
			if mode == "dropNN" && nonNumber(*it.number) {
				continue
			}
			out.items = append(out.items, it)
			continue
		}
		var vs []float64
		for _, v := range it.series {
			if mode != "dropNN" || !nonNumber(v) {
				vs = append(vs, v)
			}
		}
		r := math.NaN()
		switch reducer {
		case "last":
			if len(vs) > 0 {
				r = vs[len(vs)-1]
			}
		default:
			t.Fatalf("reducer %q is not evaluated here", reducer)
		}
		out.items = append(out.items, sseItem{labels: it.labels, number: &r})
	}
	return out
}

// threshold applies a threshold expression's first condition: 1 where
// the value is beyond the threshold, else 0.
func threshold(t *testing.T, model map[string]any, in sseResult) sseResult {
	t.Helper()
	conds, _ := model["conditions"].([]any)
	if len(conds) != 1 {
		t.Fatalf("threshold with %d conditions", len(conds))
	}
	ev := conds[0].(map[string]any)["evaluator"].(map[string]any)
	params := ev["params"].([]any)
	p := toFloat(t, params[0])
	out := sseResult{noData: in.noData}
	for _, it := range in.items {
		v := *it.number
		var fires bool
		switch typ := str(ev["type"]); typ {
		case "gt":
			fires = v > p
		case "lt":
			fires = v < p
		default:
			t.Fatalf("threshold type %q is not evaluated here", typ)
		}
		r := 0.0
		if fires {
			r = 1
		}
		out.items = append(out.items, sseItem{labels: it.labels, number: &r})
	}
	return out
}

func toFloat(t *testing.T, v any) float64 {
	t.Helper()
	switch n := v.(type) {
	case float64:
		return n
	case int:
		return float64(n)
	}
	t.Fatalf("threshold parameter %v is not a number", v)
	return 0
}
