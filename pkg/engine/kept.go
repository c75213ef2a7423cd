package engine

import (
	"sync"
	"time"
)

// kept is what the engine remembers between queries, by key: flat sums'
// series lookups and the catalog's name probes. An entry is served until
// it is ttl old; when the entries' weights would pass max, all are
// forgotten at once, which keeps the bound without bookkeeping for what
// is worth little to keep. A nil *kept keeps nothing.
type kept[K comparable, V any] struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu      sync.Mutex
	entries map[K]keptEntry[V]
	weight  int // of all entries
}

type keptEntry[V any] struct {
	v      V
	at     time.Time // when v was found out
	weight int
}

func newKept[K comparable, V any](ttl time.Duration, max int, now func() time.Time) *kept[K, V] {
	return &kept[K, V]{ttl: ttl, max: max, now: now, entries: map[K]keptEntry[V]{}}
}

// get returns key's value, unless there is none or it is ttl old.
func (k *kept[K, V]) get(key K) (V, bool) {
	var zero V
	if k == nil {
		return zero, false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	e, ok := k.entries[key]
	if !ok || k.now().Sub(e.at) >= k.ttl {
		return zero, false
	}
	return e.v, true
}

// put keeps v, found out at at, as key's value.
func (k *kept[K, V]) put(key K, v V, at time.Time, weight int) {
	if k == nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.weight+weight > k.max {
		k.entries, k.weight = map[K]keptEntry[V]{}, 0
	}
	if old, ok := k.entries[key]; ok {
		k.weight -= old.weight
	}
	k.entries[key] = keptEntry[V]{v: v, at: at, weight: weight}
	k.weight += weight
}

// clock is the time by which entries age.
func (k *kept[K, V]) clock() time.Time {
	if k == nil {
		return time.Now()
	}
	return k.now()
}

// putNow keeps v, found out now, as key's value.
func (k *kept[K, V]) putNow(key K, v V, weight int) {
	if k == nil {
		return
	}
	k.put(key, v, k.now(), weight)
}

// each calls f with every entry not ttl old, under the lock: f must not
// call k.
func (k *kept[K, V]) each(f func(key K, v V)) {
	if k == nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	for key, e := range k.entries {
		if now.Sub(e.at) < k.ttl {
			f(key, e.v)
		}
	}
}

// clear forgets every entry.
func (k *kept[K, V]) clear() {
	if k == nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.entries, k.weight = map[K]keptEntry[V]{}, 0
}
