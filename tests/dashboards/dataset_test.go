package dashboards

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/teststorage"
)

// traefikBounds are Traefik's default histogram buckets.
var traefikBounds = []float64{0.1, 0.3, 1.2, 5}

type kind int

const (
	sum kind = iota
	gauge
	histogram
)

// point is one scraped sample: a value, or per-bucket counts (not
// cumulative across buckets, cumulative over time) and a sum.
type point struct {
	t      time.Time
	v      float64
	stale  bool
	counts []uint64
	sum    float64
}

// series is one series as the receiver writes it: the scrape job and
// target become resource service.name and service.instance.id.
type series struct {
	kind     kind
	metric   string
	job      string
	instance string
	attrs    map[string]string
	points   []point
}

// insert writes the series into the exporter's tables as the clickhouse
// exporter (v0.161.0) does.
func insert(t testing.TB, conn driver.Conn, ss []*series) {
	t.Helper()
	ctx := context.Background()
	stmts := map[kind]string{
		sum:       "INSERT INTO otel.otel_metrics_sum (ResourceAttributes, ServiceName, MetricName, Attributes, StartTimeUnix, TimeUnix, Value, Flags, AggregationTemporality, IsMonotonic)",
		gauge:     "INSERT INTO otel.otel_metrics_gauge (ResourceAttributes, ServiceName, MetricName, Attributes, StartTimeUnix, TimeUnix, Value, Flags)",
		histogram: "INSERT INTO otel.otel_metrics_histogram (ResourceAttributes, ServiceName, MetricName, Attributes, StartTimeUnix, TimeUnix, Count, Sum, BucketCounts, ExplicitBounds, Flags, AggregationTemporality)",
	}
	for k, stmt := range stmts {
		batch, err := conn.PrepareBatch(ctx, stmt)
		if err != nil {
			t.Fatal(err)
		}
		rows := 0
		for _, s := range ss {
			if s.kind != k {
				continue
			}
			res := map[string]string{"service.name": s.job, "service.instance.id": s.instance}
			for _, p := range s.points {
				flags := uint32(0)
				if p.stale {
					flags = 1
				}
				var row []any
				switch k {
				case sum:
					row = []any{res, s.job, s.metric, s.attrs, time.Unix(0, 0), p.t, p.v, flags, int32(2), true}
				case gauge:
					row = []any{res, s.job, s.metric, s.attrs, time.Unix(0, 0), p.t, p.v, flags}
				case histogram:
					var n uint64
					for _, c := range p.counts {
						n += c
					}
					row = []any{res, s.job, s.metric, s.attrs, time.Unix(0, 0), p.t, n, p.sum, p.counts, traefikBounds, flags, int32(2)}
				}
				if err := batch.Append(row...); err != nil {
					t.Fatal(err)
				}
				rows++
			}
		}
		if rows == 0 {
			_ = batch.Abort()
			continue
		}
		if err := batch.Send(); err != nil {
			t.Fatal(err)
		}
	}
}

// promStorage holds the same samples as Prometheus would after scraping
// the same expositions: job and instance labels from the target, a
// histogram as _bucket{le} (cumulative across buckets), _count and _sum.
func promStorage(t testing.TB, ss []*series) storage.Storage {
	t.Helper()
	st := teststorage.New(t)
	app := st.Appender(context.Background())
	add := func(name string, base *series, le string, f func(point) float64) {
		b := labels.NewBuilder(labels.EmptyLabels())
		b.Set(labels.MetricName, name)
		b.Set("job", base.job)
		b.Set("instance", base.instance)
		for k, v := range base.attrs {
			b.Set(k, v)
		}
		if le != "" {
			b.Set("le", le)
		}
		lset := b.Labels()
		for _, p := range base.points {
			v := f(p)
			if p.stale {
				v = math.Float64frombits(value.StaleNaN)
			}
			if _, err := app.Append(0, lset, p.t.UnixMilli(), v); err != nil {
				t.Fatalf("prometheus append %s: %v", lset, err)
			}
		}
	}
	for _, s := range ss {
		if s.kind != histogram {
			add(s.metric, s, "", func(p point) float64 { return p.v })
			continue
		}
		for i := 0; i <= len(traefikBounds); i++ {
			le := math.Inf(1)
			if i < len(traefikBounds) {
				le = traefikBounds[i]
			}
			add(s.metric+"_bucket", s, labels.FormatOpenMetricsFloat(le), func(p point) float64 {
				var c uint64
				for _, n := range p.counts[:i+1] {
					c += n
				}
				return float64(c)
			})
		}
		add(s.metric+"_count", s, "", func(p point) float64 {
			var c uint64
			for _, n := range p.counts {
				c += n
			}
			return float64(c)
		})
		add(s.metric+"_sum", s, "", func(p point) float64 { return p.sum })
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	return st
}

// scrapes are the scrape times from start to end (inclusive) every step.
func scrapes(start, end time.Time, step time.Duration) []time.Time {
	var out []time.Time
	for at := start; !at.After(end); at = at.Add(step) {
		out = append(out, at)
	}
	return out
}

// counter accumulates per-scrape increments into a cumulative series; a
// reset time restarts it from zero (a proxy restart).
func counter(metric, job, instance string, attrs map[string]string, times []time.Time, reset time.Time, inc func(i int, at time.Time) float64) *series {
	s := &series{kind: sum, metric: metric, job: job, instance: instance, attrs: attrs}
	v := 0.0
	for i, at := range times {
		if !reset.IsZero() && at.Equal(reset) {
			v = 0
		}
		v += inc(i, at)
		s.points = append(s.points, point{t: at, v: v})
	}
	return s
}

// hist accumulates per-scrape bucket increments (one count per bucket,
// +Inf last) and a sum of durations.
func hist(metric, job, instance string, attrs map[string]string, times []time.Time, inc func(i int, at time.Time) ([]uint64, float64)) *series {
	s := &series{kind: histogram, metric: metric, job: job, instance: instance, attrs: attrs}
	counts := make([]uint64, len(traefikBounds)+1)
	total := 0.0
	for i, at := range times {
		add, secs := inc(i, at)
		if len(add) != len(counts) {
			panic(fmt.Sprintf("histogram %s: %d bucket counts, want %d", metric, len(add), len(counts)))
		}
		for b := range counts {
			counts[b] += add[b]
		}
		total += secs
		s.points = append(s.points, point{t: at, counts: append([]uint64(nil), counts...), sum: total})
	}
	return s
}

// gaugeOf is a gauge sampled at every scrape.
func gaugeOf(metric, job, instance string, attrs map[string]string, times []time.Time, v func(i int, at time.Time) float64) *series {
	s := &series{kind: gauge, metric: metric, job: job, instance: instance, attrs: attrs}
	for i, at := range times {
		s.points = append(s.points, point{t: at, v: v(i, at)})
	}
	return s
}

func attrs(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}
