package engine

import (
	"fmt"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
)

// What a list derives is kept on it (derived.go): the same matchers or
// part give the same list, a refused part is refused again, other
// matchers give their own, and no more than maxDerivedLists, of at most
// twice the list's series, are kept.
func TestDerivedLists(t *testing.T) {
	buckets := &seriesList{}
	for i, svc := range []string{"api", "api", "web", "web"} {
		le := []string{"0.1", "+Inf"}[i%2]
		buckets.sids = append(buckets.sids, uint64(100+i))
		buckets.stored = append(buckets.stored, uint64(10+i/2))
		buckets.names = append(buckets.names, []string{"__name__", "le", "service"})
		buckets.values = append(buckets.values, []string{"d_bucket", le, svc})
	}
	api := []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "service", "api")}
	first := buckets.filtered(api)
	if len(first.sids) != 2 || buckets.filtered(api) != first {
		t.Errorf("service=api: %v, and again a list of its own", first.sids)
	}
	if web := buckets.filtered([]*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "service", "web")}); web == first || len(web.sids) != 2 || web.sids[0] != 102 {
		t.Errorf("service=web: %v, want 102 and 103, not api's list", web.sids)
	}
	if buckets.filtered(nil) != buckets {
		t.Errorf("no matchers: a copy, want the list itself")
	}
	sums, ok := buckets.asPart("d_sum", true)
	if again, okAgain := buckets.asPart("d_sum", true); !ok || !okAgain || again != sums || len(sums.sids) != 2 {
		t.Errorf("d_sum: %v (%v), then a list of its own (%v)", sums, ok, okAgain)
	}
	// Two series of one label set without le: refused, and again.
	twins := &seriesList{sids: []uint64{1, 2}, stored: []uint64{1, 2},
		names:  [][]string{{"__name__", "le"}, {"__name__", "le"}},
		values: [][]string{{"d_bucket", "0.1"}, {"d_bucket", "1"}}}
	for range 2 {
		if part, ok := twins.asPart("d_sum", true); ok || part != nil {
			t.Errorf("two series of one label set as d_sum: %v, want refused", part)
		}
	}
	// At most twice the list's series: two lists of all four kept, not a
	// third.
	whole := &seriesList{sids: buckets.sids, stored: buckets.stored, names: buckets.names, values: buckets.values}
	for i, m := range []*labels.Matcher{
		labels.MustNewMatcher(labels.MatchNotEqual, "service", "db"),
		labels.MustNewMatcher(labels.MatchRegexp, "service", "api|web"),
		labels.MustNewMatcher(labels.MatchRegexp, "le", ".+"),
	} {
		all := whole.filtered([]*labels.Matcher{m})
		if kept := whole.filtered([]*labels.Matcher{m}) == all; len(all.sids) != 4 || kept != (i < 2) {
			t.Errorf("%v: %d series, kept %v, want 4, kept %v", m, len(all.sids), kept, i < 2)
		}
	}
	for i := range maxDerivedLists + 10 {
		buckets.filtered([]*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "n", fmt.Sprint(i))})
	}
	if n := len(buckets.derived.kept); n != maxDerivedLists {
		t.Errorf("%d derived lists kept, want at most %d", n, maxDerivedLists)
	}
}
