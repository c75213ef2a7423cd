package plan

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/forma3d/meshmetrics/pkg/dialect"
)

// describe renders a plan tree compactly, for table-driven tests.
func describe(n Node) string {
	switch n := n.(type) {
	case *InstantSelector:
		return "select(" + sources(n.Selector) + " lookback=" + n.Lookback.String() + ")"
	case *RangeFunction:
		return n.Func + "(" + sources(n.Selector) + "[" + n.Range.String() + "])"
	case *Aggregation:
		mod := "by"
		if n.Without {
			mod = "without"
		}
		return n.Op + " " + mod + "(" + strings.Join(n.Grouping, ",") + ") " + describe(n.Input)
	case *Binary:
		m := ""
		if n.Matching != nil {
			m = " " + n.Matching.Card
			if n.Matching.On {
				m += " on(" + strings.Join(n.Matching.Labels, ",") + ")"
			}
		}
		return "(" + describe(n.LHS) + " " + n.Op + m + " " + describe(n.RHS) + ")"
	case *Negate:
		return "-" + describe(n.Input)
	case *Number:
		return "number"
	case *Call:
		if n.Input == nil {
			return n.Func + "()"
		}
		return n.Func + "(" + describe(n.Input) + ")"
	}
	return "?"
}

func sources(s Selector) string {
	var parts []string
	for _, src := range s.Sources {
		parts = append(parts, string(src.Table)+":"+src.Metric+"/"+string(src.Part))
	}
	if s.Offset != 0 {
		parts = append(parts, "offset "+s.Offset.String())
	}
	return strings.Join(parts, " ")
}

func TestBuild(t *testing.T) {
	cases := []struct{ expr, want string }{
		{`up`, `select(gauge:up/value lookback=5m0s)`},
		{`rate(traefik_service_requests_total[5m] offset 1m)`, `rate(sum:traefik_service_requests_total/value offset 1m0s[5m0s])`},
		{`histogram_quantile(0.9, sum by (le) (rate(d_bucket[1m])))`, `histogram_quantile(sum by(le) rate(histogram:d/bucket[1m0s]))`},
		{`sum without (code) (x_total) / on(service) group_left y`, `(sum without(code) select(sum:x_total/value lookback=5m0s) / many-to-one on(service) select(gauge:y/value lookback=5m0s))`},
		{`a and b`, `(select(gauge:a/value lookback=5m0s) and many-to-many select(gauge:b/value lookback=5m0s))`},
		{`-time() + 1`, `(-time() + number)`},
		{`d_count`, `select(histogram:d/count lookback=5m0s)`},
	}
	grid := NewInstantGrid(time.Unix(1700000000, 0))
	for _, c := range cases {
		ast, err := dialect.Parse(c.expr)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		p, err := Build(context.Background(), ast, grid, Options{}, NamingCatalog{})
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		if got := describe(p.Root); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.expr, got, c.want)
		}
	}
}

func TestCandidatesAndAbsentLabels(t *testing.T) {
	var got []string
	for _, c := range Candidates("x_total") {
		got = append(got, string(c.Table)+":"+c.Metric)
	}
	if strings.Join(got, " ") != "sum:x_total gauge:x_total sum:x" {
		t.Errorf("candidates of x_total: %v", got)
	}
	ast, _ := dialect.Parse(`absent(x{a="1", b=~"2", c="3", c="4"})`)
	p, err := Build(context.Background(), ast, NewInstantGrid(time.Unix(0, 0)), Options{}, NamingCatalog{})
	if err != nil {
		t.Fatal(err)
	}
	// Equality matchers only, and not a name matched twice.
	if got := p.Root.(*Call).AbsentLabels; !labels.Equal(got, labels.FromStrings("a", "1")) {
		t.Errorf("absent labels %v", got)
	}
}

func TestRangeGridLimits(t *testing.T) {
	start := time.Unix(1700000000, 0)
	if _, err := NewRangeGrid(start, start.Add(4*time.Hour), time.Second, 11000); err == nil || !strings.Contains(err.Error(), "11000 points") {
		t.Errorf("14401 points over an 11000 limit: %v", err)
	}
	if _, err := NewRangeGrid(start, start.Add(-time.Second), time.Second, 0); err == nil {
		t.Error("end before start accepted")
	}
	g, err := NewRangeGrid(start, start.Add(100*time.Second), 30*time.Second, 0)
	if err != nil || g.N != 4 || !g.Time(3).Equal(start.Add(90*time.Second)) {
		t.Errorf("grid %+v %v", g, err)
	}
}

// A matcher that accepts every value (Grafana's "All", =~".*") selects
// nothing away and is dropped; every other matcher stays.
func TestMatchersThatMatchAll(t *testing.T) {
	ast, err := dialect.Parse(`x{a=~".*", b="1", c=~".+", d!~".*", e=~".*x"}`)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(context.Background(), ast, NewInstantGrid(time.Unix(1700000000, 0)), Options{}, NamingCatalog{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range p.Root.(*InstantSelector).Matchers {
		got = append(got, m.String())
	}
	if want := `b="1" c=~".+" d!~".*" e=~".*x"`; strings.Join(got, " ") != want {
		t.Errorf("matchers %q, want %q", strings.Join(got, " "), want)
	}
}
