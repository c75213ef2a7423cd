package promdiff

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/util/almost"

	"github.com/forma3d/meshmetrics/pkg/engine"
)

// epsilon is the relative tolerance of a value comparison; almost.Equal
// (the rule of Prometheus' own promqltest) also accepts two NaNs and
// requires ±Inf to match exactly.
const epsilon = 1e-9

// answer is either side's answer in one comparable form: series sorted by
// their label sets, each with its points in time order.
type answer struct {
	typ    string // matrix, vector or scalar
	series []answerSeries
	sql    string // the engine's statement, for failure messages
}

type answerSeries struct {
	key    string        // the label set rendered as {a="1", b="2"}, empty values dropped
	lset   labels.Labels // Prometheus' answers only
	points []answerPoint
}

type answerPoint struct {
	t int64 // unix milliseconds
	v float64
}

// labelKey renders Prometheus labels exactly as engine.Labels.String does.
func labelKey(ls labels.Labels) string {
	var el engine.Labels
	ls.Range(func(l labels.Label) {
		if l.Value != "" {
			el = append(el, engine.Label{Name: l.Name, Value: l.Value})
		}
	})
	el.Sort()
	return el.String()
}

// fromEngine converts the engine's Result. It keeps the series as given
// (unsorted label sets and duplicate series are reported by compare).
func fromEngine(r *engine.Result) *answer {
	a := &answer{typ: string(r.Type), sql: r.SQL}
	for _, s := range r.Series {
		ls := append(engine.Labels(nil), s.Labels...)
		as := answerSeries{key: ls.String()}
		ls.Sort()
		if sorted := ls.String(); sorted != as.key {
			as.key += " (labels not sorted: sorted " + sorted + ")"
		}
		for _, p := range s.Points {
			as.points = append(as.points, answerPoint{p.T.UnixMilli(), p.V})
		}
		a.series = append(a.series, as)
	}
	sort.SliceStable(a.series, func(i, j int) bool { return a.series[i].key < a.series[j].key })
	return a
}

// Limits on what one failure prints.
const (
	maxDiffLines     = 25
	maxPointsPerDiff = 4
)

// compare lists how got differs from want; nil means equal.
func compare(want, got *answer) []string {
	var d diffs
	if want.typ != got.typ {
		d.addf("result type %s, want %s", got.typ, want.typ)
	}
	wantByKey := map[string]answerSeries{}
	for _, s := range want.series {
		wantByKey[s.key] = s
	}
	gotByKey := map[string]answerSeries{}
	for _, s := range got.series {
		if _, dup := gotByKey[s.key]; dup {
			d.addf("duplicate series %s", s.key)
		}
		gotByKey[s.key] = s
		if strings.Contains(s.key, `=""`) {
			d.addf("series %s has an empty label value", s.key)
		}
	}
	for _, s := range want.series {
		if _, ok := gotByKey[s.key]; !ok {
			d.addf("missing series %s (%d points, first %s)", s.key, len(s.points), fmtPoints(s.points, 2))
		}
	}
	for _, s := range got.series {
		if _, ok := wantByKey[s.key]; !ok {
			d.addf("extra series %s (%d points, first %s)", s.key, len(s.points), fmtPoints(s.points, 2))
		}
	}
	for _, w := range want.series {
		if g, ok := gotByKey[w.key]; ok {
			comparePoints(&d, w, g)
		}
	}
	return d.lines()
}

// comparePoints aligns the two series by timestamp.
func comparePoints(d *diffs, want, got answerSeries) {
	gotAt := map[int64]float64{}
	for i, p := range got.points {
		if i > 0 && p.t <= got.points[i-1].t {
			d.addf("%s: points not in increasing time order at %s", got.key, fmtT(p.t))
			break
		}
		gotAt[p.t] = p.v
	}
	wantAt := map[int64]bool{}
	var missing, extra, wrong []string
	for _, w := range want.points {
		wantAt[w.t] = true
		g, ok := gotAt[w.t]
		switch {
		case !ok:
			missing = append(missing, fmt.Sprintf("%s=%v", fmtT(w.t), w.v))
		case !almost.Equal(w.v, g, epsilon):
			wrong = append(wrong, fmt.Sprintf("%s: %v, want %v", fmtT(w.t), g, w.v))
		}
	}
	for _, g := range got.points {
		if !wantAt[g.t] {
			extra = append(extra, fmt.Sprintf("%s=%v", fmtT(g.t), g.v))
		}
	}
	for _, c := range []struct {
		what string
		list []string
	}{{"missing points", missing}, {"extra points", extra}, {"wrong values", wrong}} {
		if len(c.list) > 0 {
			d.addf("%s: %d %s of %d: %s", want.key, len(c.list), c.what, len(want.points), strings.Join(first(c.list, maxPointsPerDiff), "; "))
		}
	}
}

type diffs struct {
	out     []string
	dropped int
}

func (d *diffs) addf(format string, args ...any) {
	if len(d.out) >= maxDiffLines {
		d.dropped++
		return
	}
	d.out = append(d.out, fmt.Sprintf(format, args...))
}

func (d *diffs) lines() []string {
	if d.dropped > 0 {
		return append(d.out, fmt.Sprintf("… and %d more differences", d.dropped))
	}
	return d.out
}

func first(list []string, n int) []string {
	if len(list) > n {
		return append(list[:n:n], fmt.Sprintf("… (%d more)", len(list)-n))
	}
	return list
}

func fmtPoints(ps []answerPoint, n int) string {
	var parts []string
	for _, p := range ps {
		parts = append(parts, fmt.Sprintf("%s=%v", fmtT(p.t), p.v))
	}
	return "[" + strings.Join(first(parts, n), " ") + "]"
}

// fmtT prints a timestamp as an offset from dataStart, which is how the
// data set is described (scrape k is near dataStart + 15k s).
func fmtT(ms int64) string {
	t := time.UnixMilli(ms).UTC()
	d := t.Sub(dataStart)
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	s := fmt.Sprintf("%s(start%s%s)", t.Format("15:04:05"), sign, d)
	if ms%1000 != 0 {
		s = t.Format("15:04:05.000") + s[8:]
	}
	return s
}

// fmtAnswer summarises an answer for a failure message.
func fmtAnswer(a *answer) string {
	if a == nil {
		return "<nil>"
	}
	n := 0
	for _, s := range a.series {
		n += len(s.points)
	}
	return fmt.Sprintf("%s, %d series, %d points", a.typ, len(a.series), n)
}
