package engine

import (
	"context"
	"slices"

	"github.com/prometheus/prometheus/model/labels"

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
	buckets, whole := f.WholeSource()
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
	refusal := wholeRefusal(key)
	if _, refused := e.pointsRefused.get(refusal); refused {
		return nil, false, nil
	}
	if all, kept := e.seriesLists.get(key); kept && !all.filters(f.Matchers()) {
		// Listing it again would not help: f's own lookup runs.
		return nil, false, nil
	}
	sql, err := f.WholeLookupSQL(most + 1)
	if err != nil {
		return nil, false, err
	}
	all, ok, err := e.listUpTo(ctx, sql, most)
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, false, err
	case err != nil:
		// The selector's own lookup, smaller, may still run.
		return nil, false, nil
	case !ok:
		e.pointsRefused.putNow(refusal, struct{}{}, 1)
		return nil, false, nil
	}
	e.seriesLists.put(key, all, all.at, len(all.sids))
	if !all.filters(f.Matchers()) {
		return nil, false, nil
	}
	return all.filtered(f.Matchers()), true, nil
}

// namesLe says whether a matcher names le: a bucket's bound, or a
// point attribute of that name.
func namesLe(ms []*labels.Matcher) bool {
	return slices.ContainsFunc(ms, func(m *labels.Matcher) bool { return m.Name == "le" })
}

// filters says whether the plugin can filter l by the matchers as the
// statements select: not when a matcher names le and a label set names
// it twice (a point attribute le beside a bucket's bound), since the
// statements match le against the bound alone and which one is the bound
// is not known here.
func (l *seriesList) filters(ms []*labels.Matcher) bool {
	if !namesLe(ms) {
		return true
	}
	for _, names := range l.names {
		if countOf(names, "le") > 1 {
			return false
		}
	}
	return true
}

// keptWhole is a kept whole list of f's source over the days of (loMs,
// hiMs], or over a day more either side; ok is false when none is kept.
func (e *Engine) keptWhole(f *sqlgen.FlatSum, loMs, hiMs int64) (list *seriesList, ok bool) {
	whole := func(lo, hi int64) string { return f.LookupKeyWith(nil, lo, hi) }
	return e.keptOverDays(loMs, hiMs, whole, func(*seriesList) bool { return true })
}

// keptOverDays is a list kept under key(lo, hi) for the days lo to hi of
// (loMs, hiMs], or a day more either side, that accept takes; ok is
// false when none is.
func (e *Engine) keptOverDays(loMs, hiMs int64, key func(lo, hi int64) string, accept func(*seriesList) bool) (list *seriesList, ok bool) {
	lo, hi := floorDiv(loMs, dayMs), floorDiv(hiMs, dayMs)
	for wider := range 4 {
		if list, ok = e.seriesLists.get(key(lo-int64(wider&1), hi+int64(wider>>1))); ok && accept(list) {
			return list, true
		}
	}
	return nil, false
}
