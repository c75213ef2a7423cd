package promqlreplay

import (
	"sort"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/util/convertnhcb"
)

// nativeReasons finds the cases that read native histograms, which the
// adapter does not copy (they are the exporter's exponential histograms,
// outside the dialect): for each such case (by line), the reason that
// excludes it. It follows the storage through the file's load and clear
// commands: a series is native when a load gives it a histogram sample
// ({{…}}), and load_with_nhcb also adds a native histogram with custom
// buckets for each classic histogram (name without _bucket/_count/_sum).
func (f *testFile) nativeReasons() map[int]string {
	native := map[string]labels.Labels{}
	out := map[int]string{}
	for _, cmd := range f.cmds {
		head := strings.Fields(strings.TrimSpace(f.lines[cmd.first]))[0]
		switch cmd.word {
		case "clear":
			native = map[string]labels.Labels{}
		case "load":
			for i := cmd.first + 1; i <= cmd.last; i++ {
				l := strings.TrimSpace(f.lines[i])
				if first, _, _ := strings.Cut(l, " "); strings.HasSuffix(first, "@st") {
					continue // a start-timestamp line: the samples follow
				}
				m, vals, err := parserForTests.ParseSeriesDesc(l)
				if err != nil {
					continue // promqltest reports it
				}
				for _, v := range vals {
					if v.Histogram != nil {
						native[m.String()] = m
						break
					}
				}
				if head == "load_with_nhcb" {
					if suffix, name := convertnhcb.GetHistogramMetricBaseName(m.Get(labels.MetricName)); suffix != convertnhcb.SuffixNone {
						base := convertnhcb.GetHistogramMetricBase(m, name)
						native[base.String()] = base
					}
				}
			}
		case "eval":
			for _, c := range f.cases {
				if c.first != cmd.first {
					continue
				}
				if names := readsNative(c.expr, native); len(names) > 0 {
					out[c.line] = "outside the dialect: native histograms (" + strings.Join(names, ", ") + ")"
				}
			}
		}
	}
	return out
}

// readsNative lists the names of the native series some selector of expr
// matches.
func readsNative(expr string, native map[string]labels.Labels) []string {
	ast, err := parserForTests.ParseExpr(expr)
	if err != nil {
		return nil
	}
	found := map[string]bool{}
	parser.Inspect(ast, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		for _, lset := range native {
			matches := true
			for _, m := range vs.LabelMatchers {
				if !m.Matches(lset.Get(m.Name)) {
					matches = false
					break
				}
			}
			if matches {
				found[lset.Get(labels.MetricName)] = true
			}
		}
		return nil
	})
	names := make([]string, 0, len(found))
	for n := range found {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
