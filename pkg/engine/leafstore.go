package engine

import (
	"context"
	"fmt"
	"strconv"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
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
	// grids holds a shared leaf's series as read from the cache, whose
	// points (leaves[i], nil until then) are made only when a selector
	// other than a folded sum reads them.
	grids [][]gridSeries
}

// add makes series or grid the next leaf's answer.
func (s *leafStorage) add(series []Series, grid []gridSeries) {
	s.leaves, s.grids = append(s.leaves, series), append(s.grids, grid)
}

// gridOf is leaf i's series on the grid.
func (s *leafStorage) gridOf(i int) []gridSeries {
	if s.grids[i] == nil {
		s.grids[i] = gridSeriesOf(s.leaves[i], s.grid)
	}
	return s.grids[i]
}

// seriesOf is leaf i's series as points.
func (s *leafStorage) seriesOf(i int) []Series {
	if s.leaves[i] == nil && s.grids[i] != nil {
		s.leaves[i] = seriesOfGrid(s.grids[i], s.grid)
	}
	return s.leaves[i]
}

func (s *leafStorage) Querier(_, _ int64) (storage.Querier, error) { return s, nil }

// Select answers a stand-in selector: its leaf's series, those of a
// shared leaf (shared.go) that its other matchers accept.
func (s *leafStorage) Select(_ context.Context, _ bool, _ *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	i := -1
	var others []*labels.Matcher
	for _, m := range ms {
		if m.Name != leafLabel {
			others = append(others, m)
			continue
		}
		n, err := strconv.Atoi(m.Value)
		if err != nil || n < 0 || n >= len(s.leaves) {
			return storage.ErrSeriesSet(fmt.Errorf("no leaf %q", m.Value))
		}
		i = n
	}
	if i < 0 {
		return storage.ErrSeriesSet(fmt.Errorf("a selector above the leaves names no leaf"))
	}
	all := s.seriesOf(i)
	series := all
	if len(others) > 0 {
		series = nil
		for _, ls := range all {
			if matchesLabels(others, ls.Labels) {
				series = append(series, ls)
			}
		}
	}
	return &leafSeriesSet{grid: s.grid, series: series, at: -1}
}

// matchesLabels says whether every matcher accepts its label's value in
// ls ("" when absent), as Prometheus' storage selects series.
func matchesLabels(ms []*labels.Matcher, ls Labels) bool { return matchersAccept(ms, ls.Get) }

// matchersAccept says whether every matcher accepts its label's value as
// value gives it ("" when absent).
func matchersAccept(ms []*labels.Matcher, value func(name string) string) bool {
	for _, m := range ms {
		if !m.Matches(value(m.Name)) {
			return false
		}
	}
	return true
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

// At is the current series with a sample at every grid point. It is a
// promql.StorageSeries, whose iterator reads its points without
// allocating per sample (Prometheus' engine reads each of them).
func (ss *leafSeriesSet) At() storage.Series {
	s := ss.series[ss.at]
	points := make([]promql.FPoint, ss.grid.N)
	for i := range points {
		points[i] = promql.FPoint{T: ss.grid.StartMs + int64(i)*ss.grid.StepMs, F: staleAt}
	}
	for _, p := range s.Points {
		points[ss.grid.Index(p.T)].F = p.V
	}
	return promql.NewStorageSeries(promql.Series{Metric: toLabels(s.Labels), Floats: points})
}

func (ss *leafSeriesSet) Err() error                        { return nil }
func (ss *leafSeriesSet) Warnings() annotations.Annotations { return nil }
