package engine

import (
	"strings"
	"sync"

	"github.com/prometheus/prometheus/model/labels"
)

// Derived lists: a refresh's reads of recent points derive the same
// lists from their kept lists at every read, a histogram's _sum and
// _count lists from its buckets' (asPart) and each panel's series from
// those (filtered): 2,520 buckets' label sets walked and their parts'
// hashed, 5–10 ms of a 20-service refresh's histogram read. A kept list
// is not changed, so what it derives is kept on it, as long as it is
// kept: at most maxDerivedLists lists holding at most twice its series
// (its memory is what the kept lists are bounded by, seriesLists); other
// derivations are made each time.
const maxDerivedLists = 64

// derivedLists are the lists a list derived, by what derived them.
type derivedLists struct {
	mu     sync.Mutex
	kept   map[string]*seriesList
	series int // the kept lists' series
}

// get returns the list derived by key (nil when the derivation refused),
// and whether there is one.
func (d *derivedLists) get(key string) (*seriesList, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	l, ok := d.kept[key]
	return l, ok
}

// put keeps l (nil: refused) as derived by key from a list of of
// series, within the bounds above.
func (d *derivedLists) put(key string, l *seriesList, of int) {
	n := 0
	if l != nil {
		n = len(l.sids)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.kept[key]; ok || len(d.kept) >= maxDerivedLists || d.series+n > 2*of {
		return
	}
	if d.kept == nil {
		d.kept = map[string]*seriesList{}
	}
	d.kept[key], d.series = l, d.series+n
}

// filtered is the list of l's series that every matcher accepts.
func (l *seriesList) filtered(ms []*labels.Matcher) *seriesList {
	if len(ms) == 0 {
		return l
	}
	var key strings.Builder
	key.WriteString("filtered")
	for _, m := range ms {
		key.WriteString(" " + m.String())
	}
	if d, ok := l.derived.get(key.String()); ok {
		return d
	}
	out := l.filter(ms)
	l.derived.put(key.String(), out, len(l.sids))
	return out
}
