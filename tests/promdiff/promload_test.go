package promdiff

import (
	"context"
	"fmt"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/util/teststorage"
)

// lookback is the lookback delta of both engines: Prometheus' default.
const lookback = 5 * time.Minute

// promSample is a Prometheus float sample: milliseconds, and StaleNaN for
// a stale marker.
type promSample struct {
	t int64
	v float64
}

// promSeries is one Prometheus series of the data set.
type promSeries struct {
	lset    labels.Labels
	samples []promSample
}

// toPrometheus converts the data set to what Prometheus stores after
// scraping the same exposition: job and instance labels from the target,
// and a classic histogram as <name>_bucket{le} series with cumulative
// counts (le formatted as Prometheus 3 does: "5.0", "+Inf"), <name>_count
// and <name>_sum.
func toPrometheus(ds *dataset) []promSeries {
	var out []promSeries
	for _, s := range ds.series {
		base := labels.NewBuilder(labels.EmptyLabels())
		base.Set("job", s.target.job)
		base.Set("instance", s.target.instance)
		for _, a := range s.attrs {
			base.Set(a[0], a[1])
		}
		named := func(name, le string) labels.Labels {
			b := labels.NewBuilder(base.Labels())
			b.Set(labels.MetricName, name)
			if le != "" {
				b.Set("le", le)
			}
			return b.Labels()
		}
		if s.kind != histogram {
			ps := promSeries{lset: named(s.name, "")}
			for _, p := range s.points {
				ps.samples = append(ps.samples, promSample{p.t * 1000, floatOrStale(p, p.v)})
			}
			out = append(out, ps)
			continue
		}
		for i := 0; i <= len(histBounds); i++ {
			bound := math.Inf(1)
			if i < len(histBounds) {
				bound = histBounds[i]
			}
			ps := promSeries{lset: named(s.name+"_bucket", labels.FormatOpenMetricsFloat(bound))}
			for _, p := range s.points {
				var cum uint64
				for _, c := range p.buckets[:i+1] {
					cum += c
				}
				ps.samples = append(ps.samples, promSample{p.t * 1000, floatOrStale(p, float64(cum))})
			}
			out = append(out, ps)
		}
		count := promSeries{lset: named(s.name+"_count", "")}
		sum := promSeries{lset: named(s.name+"_sum", "")}
		for _, p := range s.points {
			count.samples = append(count.samples, promSample{p.t * 1000, floatOrStale(p, float64(p.count()))})
			sum.samples = append(sum.samples, promSample{p.t * 1000, floatOrStale(p, p.sum)})
		}
		out = append(out, count, sum)
	}
	return out
}

func floatOrStale(p point, v float64) float64 {
	if p.stale {
		return math.Float64frombits(value.StaleNaN)
	}
	return v
}

// loadPrometheus writes the series into a fresh test storage and checks
// that they read back sample for sample (stale markers included).
func loadPrometheus(t testing.TB, ps []promSeries) storage.Storage {
	t.Helper()
	st := teststorage.New(t)
	app := st.Appender(context.Background())
	for _, s := range ps {
		var ref storage.SeriesRef
		for _, smp := range s.samples {
			var err error
			if ref, err = app.Append(ref, s.lset, smp.t, smp.v); err != nil {
				t.Fatalf("prometheus append %s @%d: %v", s.lset, smp.t, err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatalf("prometheus commit: %v", err)
	}
	if err := checkPrometheus(st, ps); err != nil {
		t.Fatalf("prometheus read-back: %v", err)
	}
	return st
}

// checkPrometheus reads every series back from the storage.
func checkPrometheus(st storage.Storage, want []promSeries) error {
	q, err := st.Querier(math.MinInt64/2, math.MaxInt64/2)
	if err != nil {
		return err
	}
	defer q.Close()
	set := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, ".+"))
	got := map[string][]promSample{}
	for set.Next() {
		s := set.At()
		it := s.Iterator(nil)
		var smps []promSample
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			if vt != chunkenc.ValFloat {
				return fmt.Errorf("%s: unexpected sample type %v", s.Labels(), vt)
			}
			ts, v := it.At()
			smps = append(smps, promSample{ts, v})
		}
		got[s.Labels().String()] = smps
	}
	if err := set.Err(); err != nil {
		return err
	}
	if len(got) != len(want) {
		return fmt.Errorf("%d series stored, want %d", len(got), len(want))
	}
	for _, w := range want {
		g := got[w.lset.String()]
		if len(g) != len(w.samples) {
			return fmt.Errorf("%s: %d samples stored, want %d", w.lset, len(g), len(w.samples))
		}
		for i := range g {
			// Bit for bit: the XOR chunks keep NaN payloads, so a stale
			// marker must come back as a stale marker.
			if g[i].t != w.samples[i].t || math.Float64bits(g[i].v) != math.Float64bits(w.samples[i].v) {
				return fmt.Errorf("%s: sample %d is %v@%d, want %v@%d", w.lset, i, g[i].v, g[i].t, w.samples[i].v, w.samples[i].t)
			}
		}
	}
	return nil
}

// promEvaluator answers queries with the Prometheus engine: the reference.
type promEvaluator struct {
	ng *promql.Engine
	st storage.Queryable
}

func newPromEvaluator(st storage.Queryable) *promEvaluator {
	// As a Prometheus 3 server runs it: 5 m lookback, @ and negative
	// offsets always on, no feature flags (so no delayed __name__ removal).
	ng := promql.NewEngine(promql.EngineOpts{
		MaxSamples:           50_000_000,
		Timeout:              time.Minute,
		LookbackDelta:        lookback,
		EnableAtModifier:     true,
		EnableNegativeOffset: true,
	})
	return &promEvaluator{ng: ng, st: st}
}

func (p *promEvaluator) rangeQuery(ctx context.Context, expr string, start, end time.Time, step time.Duration) (*answer, error) {
	q, err := p.ng.NewRangeQuery(ctx, p.st, nil, expr, start, end, step)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	return fromPromResult(q.Exec(ctx))
}

func (p *promEvaluator) instantQuery(ctx context.Context, expr string, ts time.Time) (*answer, error) {
	q, err := p.ng.NewInstantQuery(ctx, p.st, nil, expr, ts)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	return fromPromResult(q.Exec(ctx))
}

func fromPromResult(res *promql.Result) (*answer, error) {
	if res.Err != nil {
		return nil, res.Err
	}
	a := &answer{typ: string(res.Value.Type())}
	switch v := res.Value.(type) {
	case promql.Matrix:
		for _, s := range v {
			if len(s.Histograms) > 0 {
				return nil, fmt.Errorf("%s: native histogram samples in the answer", s.Metric)
			}
			as := answerSeries{key: labelKey(s.Metric), lset: s.Metric}
			for _, f := range s.Floats {
				as.points = append(as.points, answerPoint{f.T, f.F})
			}
			a.series = append(a.series, as)
		}
	case promql.Vector:
		for _, s := range v {
			if s.H != nil {
				return nil, fmt.Errorf("%s: a native histogram sample in the answer", s.Metric)
			}
			a.series = append(a.series, answerSeries{key: labelKey(s.Metric), lset: s.Metric, points: []answerPoint{{s.T, s.F}}})
		}
	case promql.Scalar:
		a.series = []answerSeries{{key: "{}", points: []answerPoint{{v.T, v.V}}}}
	default:
		return nil, fmt.Errorf("unexpected answer type %s", res.Value.Type())
	}
	sort.Slice(a.series, func(i, j int) bool { return a.series[i].key < a.series[j].key })
	return a, nil
}
