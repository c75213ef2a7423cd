package dashboards

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
)

// answer is a query's series, keyed by their label set, as either side
// returned them: what the plugin's frames hold and what Prometheus says.
type answer map[string][]sample

type sample struct {
	t int64 // ms
	v float64
}

func labelKey(ls map[string]string) string {
	keys := make([]string, 0, len(ls))
	for k := range ls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, ls[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// oracle is the Prometheus engine over the same samples.
type oracle struct {
	ng *promql.Engine
	st storage.Storage
}

func newOracle(st storage.Storage) *oracle {
	return &oracle{st: st, ng: promql.NewEngine(promql.EngineOpts{
		MaxSamples: 50_000_000, Timeout: time.Minute, LookbackDelta: 5 * time.Minute,
	})}
}

func (o *oracle) instant(t testing.TB, expr string, at time.Time) answer {
	t.Helper()
	q, err := o.ng.NewInstantQuery(context.Background(), o.st, nil, expr, at)
	if err != nil {
		t.Fatalf("prometheus: %s: %v", expr, err)
	}
	defer q.Close()
	return promAnswer(t, expr, q.Exec(context.Background()))
}

func (o *oracle) rangeQuery(t testing.TB, expr string, start, end time.Time, step time.Duration) answer {
	t.Helper()
	q, err := o.ng.NewRangeQuery(context.Background(), o.st, nil, expr, start, end, step)
	if err != nil {
		t.Fatalf("prometheus: %s: %v", expr, err)
	}
	defer q.Close()
	return promAnswer(t, expr, q.Exec(context.Background()))
}

func promAnswer(t testing.TB, expr string, res *promql.Result) answer {
	t.Helper()
	if res.Err != nil {
		t.Fatalf("prometheus: %s: %v", expr, res.Err)
	}
	out := answer{}
	switch v := res.Value.(type) {
	case promql.Vector:
		for _, s := range v {
			out[labelKey(s.Metric.Map())] = []sample{{s.T, s.F}}
		}
	case promql.Matrix:
		for _, s := range v {
			var pts []sample
			for _, p := range s.Floats {
				pts = append(pts, sample{p.T, p.F})
			}
			out[labelKey(s.Metric.Map())] = pts
		}
	case promql.Scalar:
		out["{}"] = []sample{{v.T, v.V}}
	default:
		t.Fatalf("prometheus: %s: unexpected %T", expr, res.Value)
	}
	return out
}

// expandForOracle resolves Grafana's interval macros independently of the
// plugin, by their documented definitions: $__rate_interval is
// max($__interval + scrape interval, 4 × scrape interval).
func expandForOracle(expr string, step, rng, scrapeInterval time.Duration) string {
	d := func(x time.Duration) string { return model.Duration(x).String() }
	return strings.NewReplacer(
		"$__rate_interval", d(max(step+scrapeInterval, 4*scrapeInterval)),
		"$__interval", d(step),
		"$__range", d(rng),
	).Replace(expr)
}

// framesAnswer reads the plugin's time series (timeseries-multi), numeric
// (numeric-multi) or table frames into an answer; at is the time of an
// instant query's value.
func framesAnswer(t testing.TB, frames data.Frames, at time.Time) answer {
	t.Helper()
	out := answer{}
	for _, f := range frames {
		switch {
		case f.Meta != nil && f.Meta.Type == data.FrameTypeTimeSeriesMulti:
			if f.Rows() == 0 {
				continue
			}
			var pts []sample
			for i := 0; i < f.Rows(); i++ {
				pts = append(pts, sample{f.Fields[0].At(i).(time.Time).UnixMilli(), f.Fields[1].At(i).(float64)})
			}
			out[labelKey(f.Fields[1].Labels)] = pts
		case f.Meta != nil && f.Meta.Type == data.FrameTypeNumericMulti:
			if f.Rows() == 0 {
				continue
			}
			out[labelKey(f.Fields[0].Labels)] = []sample{{at.UnixMilli(), f.Fields[0].At(0).(float64)}}
		case f.Meta != nil && f.Meta.PreferredVisualization == data.VisTypeTable:
			for i := 0; i < f.Rows(); i++ {
				ls := map[string]string{}
				var v float64
				for _, fl := range f.Fields {
					switch {
					case fl.Name == "Time":
					case fl.Name == "Value", fl.Name == "Value #"+f.RefID:
						v = fl.At(i).(float64)
					default:
						// A series without the label has "" in its
						// column; in PromQL an empty label is no label.
						if v := fl.At(i).(string); v != "" {
							ls[fl.Name] = v
						}
					}
				}
				out[labelKey(ls)] = []sample{{at.UnixMilli(), v}}
			}
		default:
			t.Fatalf("unexpected frame %q meta %+v", f.Name, f.Meta)
		}
	}
	return out
}

// sameAnswer reports the first difference between two answers: series,
// timestamps, and values within 1e-9 relative (NaN equals NaN).
func sameAnswer(got, want answer) error {
	for k := range want {
		if _, ok := got[k]; !ok {
			return fmt.Errorf("series %s missing (plugin has %v)", k, keys(got))
		}
	}
	for k, g := range got {
		w, ok := want[k]
		if !ok {
			return fmt.Errorf("unexpected series %s (prometheus has %v)", k, keys(want))
		}
		if len(g) != len(w) {
			return fmt.Errorf("series %s: %d points, prometheus %d", k, len(g), len(w))
		}
		for i := range g {
			if g[i].t != w[i].t || !near(g[i].v, w[i].v) {
				return fmt.Errorf("series %s point %d: %v @%s, prometheus %v @%s", k, i,
					g[i].v, time.UnixMilli(g[i].t).UTC().Format(time.TimeOnly), w[i].v, time.UnixMilli(w[i].t).UTC().Format(time.TimeOnly))
			}
		}
	}
	return nil
}

func near(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	if a == b {
		return true
	}
	// Relative, with an absolute floor: a difference of cumulative bucket
	// counts can leave 1e-15 where Prometheus has 0.
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

func keys(a answer) []string {
	out := make([]string, 0, len(a))
	for k := range a {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
