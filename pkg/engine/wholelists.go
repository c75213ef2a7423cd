package engine

import (
	"context"

	"github.com/forma3d/meshmetrics/pkg/sqlgen"
)

// Whole lists: a dashboard's first selector of a metric lists every
// series of the metric (sqlgen.FlatSum.WholeSource), which costs about
// what its own lookup does (a noise filter leaves out a few), and its
// other selectors, with other matchers, filter that list in the plugin
// (derivedList) where each ran a lookup of 12–40 ms; the metric's recent
// points use it too (readPoints, readHistogramPoints). A source of more
// than maxPointsSeries series on those days (maxPointsBuckets buckets),
// or with two series of one label set (which only the selectors
// selecting both must refuse), is not listed whole over those days for a
// while (pointsRefused, under its own key); a whole lookup that fails
// otherwise leaves the selector's own to run.

// wholeList lists every series of f's source on f's days, keeps the list
// and returns it filtered by f's matchers; ok is false when f's source
// is not listed whole.
func (e *Engine) wholeList(ctx context.Context, f *sqlgen.FlatSum) (list *seriesList, ok bool, err error) {
	_, buckets, whole := f.WholeSource()
	if !whole {
		return nil, false, nil
	}
	most := maxPointsSeries
	if buckets {
		most = maxPointsBuckets
	}
	lo, hi := f.LookupDays()
	key := f.LookupKeyWith(nil, lo, hi)
	// Refused by source and days, apart from the recent points' refusals:
	// a month with many series gone does not refuse today's read.
	refusal := "whole list " + key
	if _, refused := e.pointsRefused.get(refusal); refused {
		return nil, false, nil
	}
	sql, err := f.WholeLookupSQL(most + 1)
	if err != nil {
		return nil, false, err
	}
	all, err := e.listSeries(ctx, sql)
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, false, err
	case err != nil && err.Error() != sqlgen.DuplicateSeries:
		// The selector's own lookup, smaller, may still run.
		return nil, false, nil
	case err != nil, len(all.sids) > most:
		e.pointsRefused.putNow(refusal, struct{}{}, 1)
		return nil, false, nil
	}
	e.seriesLists.put(key, all, all.at, len(all.sids))
	return all.filtered(f.Matchers()), true, nil
}

// keptWhole is a kept whole list of f's source over the days of (loMs,
// hiMs], or over a day more either side; ok is false when none is kept.
func (e *Engine) keptWhole(f *sqlgen.FlatSum, loMs, hiMs int64) (list *seriesList, ok bool) {
	lo, hi := floorDiv(loMs, dayMs), floorDiv(hiMs, dayMs)
	for wider := range 4 {
		if list, ok = e.seriesLists.get(f.LookupKeyWith(nil, lo-int64(wider&1), hi+int64(wider>>1))); ok {
			return list, true
		}
	}
	return nil, false
}
