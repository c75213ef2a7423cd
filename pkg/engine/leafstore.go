package engine

import (
	"context"
	"fmt"
	"strconv"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/forma3d/meshmetrics/pkg/plan"
)

// leafStorage serves the leaves' answers to Prometheus' engine as
// storage: the stand-in selector {__meshmetrics_leaf__="i"} selects leaf
// i's series, each with a sample at every grid point (a stale marker where
// the leaf has no value), so that an instant selector evaluated at a grid
// point sees exactly the leaf's value there.
type leafStorage struct {
	grid   plan.Grid
	leaves [][]Series
}

func (s *leafStorage) Querier(_, _ int64) (storage.Querier, error) { return s, nil }

func (s *leafStorage) Select(_ context.Context, _ bool, _ *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	for _, m := range ms {
		if m.Name != leafLabel {
			continue
		}
		i, err := strconv.Atoi(m.Value)
		if err != nil || i < 0 || i >= len(s.leaves) {
			return storage.ErrSeriesSet(fmt.Errorf("no leaf %q", m.Value))
		}
		return &leafSeriesSet{grid: s.grid, series: s.leaves[i], at: -1}
	}
	return storage.ErrSeriesSet(fmt.Errorf("a selector above the leaves names no leaf"))
}

func (s *leafStorage) LabelValues(context.Context, string, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (s *leafStorage) LabelNames(context.Context, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (s *leafStorage) Close() error { return nil }

// leafSeriesSet walks one leaf's series, which come sorted by labels.
type leafSeriesSet struct {
	grid   plan.Grid
	series []Series
	at     int
}

func (ss *leafSeriesSet) Next() bool {
	ss.at++
	return ss.at < len(ss.series)
}

func (ss *leafSeriesSet) At() storage.Series {
	s := ss.series[ss.at]
	values := make([]float64, ss.grid.N)
	for i := range values {
		values[i] = staleAt
	}
	for _, p := range s.Points {
		values[ss.grid.Index(p.T)] = p.V
	}
	return &gridSeries{lset: toLabels(s.Labels), grid: ss.grid, values: values}
}

func (ss *leafSeriesSet) Err() error                        { return nil }
func (ss *leafSeriesSet) Warnings() annotations.Annotations { return nil }

// gridSeries is one series with a value at every grid point.
type gridSeries struct {
	lset   labels.Labels
	grid   plan.Grid
	values []float64
}

func (g *gridSeries) Labels() labels.Labels { return g.lset }

func (g *gridSeries) Iterator(chunkenc.Iterator) chunkenc.Iterator {
	return storage.NewListSeriesIterator(g)
}

// Get and Len make a gridSeries the samples of its own iterator.
func (g *gridSeries) Get(i int) chunks.Sample {
	return gridSample{t: g.grid.StartMs + int64(i)*g.grid.StepMs, f: g.values[i]}
}

func (g *gridSeries) Len() int { return len(g.values) }

// gridSample is one float sample of a gridSeries.
type gridSample struct {
	t int64
	f float64
}

func (s gridSample) T() int64                      { return s.t }
func (s gridSample) ST() int64                     { return 0 }
func (s gridSample) F() float64                    { return s.f }
func (s gridSample) H() *histogram.Histogram       { return nil }
func (s gridSample) FH() *histogram.FloatHistogram { return nil }
func (s gridSample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s gridSample) Copy() chunks.Sample           { return s }
