package engine

import (
	"fmt"
	"slices"

	"github.com/forma3d/meshmetrics/pkg/sqlgen"
)

// Part lists: a histogram's _sum and _count series are its stored series
// once each, and its buckets the same series once per bound; a panel
// such as "Slowest services" (p99 of the buckets beside _sum / _count)
// ran three lookups of the same rows, 15–35 ms each. A part's list is
// therefore derived from a kept list of its buckets or of its other part
// (derivedList): each stored series once, its labels without le and
// named as the part, its sid the part's (sqlgen.PartSid, computed as
// ClickHouse computes it). Exact as derived lists are: a sid the values
// statement returns that the list lacks makes the lookup run.

// asPart is l's stored series as the histogram part named name, l a
// list of the histogram's buckets (buckets: each label set has le, the
// bound, to leave out) or of its other part. ok is false when two of
// them would share a label set, which the part's own lookup refuses
// (sqlgen.DuplicateSeries) and so must decide, or when a bucket's label
// set does not name one le (a point attribute le as well: which is the
// bound is not known).
func (l *seriesList) asPart(name string, buckets bool) (part *seriesList, ok bool) {
	key := fmt.Sprintf("part %s %v", name, buckets)
	if d, kept := l.derived.get(key); kept {
		return d, d != nil
	}
	part, ok = l.derivePart(name, buckets)
	l.derived.put(key, part, len(l.sids))
	return part, ok
}

// derivePart is asPart, derived.
func (l *seriesList) derivePart(name string, buckets bool) (part *seriesList, ok bool) {
	part = &seriesList{at: l.at}
	seen := map[uint64]bool{}
	sets := map[string]bool{}
	for k, stored := range l.stored {
		if seen[stored] {
			continue
		}
		seen[stored] = true
		var names, values []string
		if buckets && countOf(l.names[k], "le") != 1 {
			return nil, false
		}
		for i, n := range l.names[k] {
			v := l.values[k][i]
			switch {
			case buckets && n == "le":
				continue
			case n == "__name__":
				v = name
			}
			names, values = append(names, n), append(values, v)
		}
		key := labelSetKey(names, values)
		if sets[key] {
			return nil, false
		}
		sets[key] = true
		part.sids = append(part.sids, sqlgen.PartSid(name, stored))
		part.stored = append(part.stored, stored)
		part.names = append(part.names, slices.Clip(names))
		part.values = append(part.values, slices.Clip(values))
	}
	return part, true
}

// countOf is how many times name is in names.
func countOf(names []string, name string) int {
	n := 0
	for _, x := range names {
		if x == name {
			n++
		}
	}
	return n
}
