package promqlreplay

import (
	"fmt"
	"strings"
	"testing"

	"github.com/forma3d/meshmetrics/pkg/engine"
)

// tally counts the cases of one file (or all) by what the lists do with
// them.
type tally struct {
	cases, portable, native int // replayed by each strategy
	dialect, nativeHist     int // excluded: outside the dialect (construct, native histogram data)
	engineOpt, divergence   int // excluded: a promqltest engine option, a documented divergence
	known                   int // known failures
	annotated               int // replayed (portable) without their annotation assertions
}

func (s *tally) add(o tally) {
	s.cases += o.cases
	s.portable += o.portable
	s.native += o.native
	s.dialect += o.dialect
	s.nativeHist += o.nativeHist
	s.engineOpt += o.engineOpt
	s.divergence += o.divergence
	s.known += o.known
	s.annotated += o.annotated
}

func (s tally) row(name string) string {
	return fmt.Sprintf("%-26s %6d %9d %7d %8d %9d %10d %11d %6d %7d\n", name, s.cases, s.portable, s.native,
		s.dialect, s.nativeHist, s.engineOpt, s.divergence, s.known, s.annotated)
}

// TestSummary logs what the lists make of each included file: its eval
// cases, how many each strategy replays, how many are excluded by kind of
// reason, the known failures, and how many replayed cases lose their
// annotation assertions (see testFile.prepare). It needs no server:
//
//	go test -v -run TestSummary ./tests/promqltest
func TestSummary(t *testing.T) {
	ls, files := loadFiles(t)
	var b strings.Builder
	fmt.Fprintf(&b, "%-26s %6s %9s %7s %8s %9s %10s %11s %6s %7s\n", "file", "cases", "portable", "native",
		"dialect", "nat.hist", "engine-opt", "divergence", "known", "annot.")
	var total tally
	for _, f := range files {
		var n tally
		for _, c := range f.cases {
			n.cases++
			e, excluded := ls.excluded[c.key()]
			switch {
			case !excluded:
			case strings.HasPrefix(e.reason, "outside the dialect: native histograms"):
				n.nativeHist++
			case strings.HasPrefix(e.reason, "outside the dialect: delayed __name__ removal"):
				n.engineOpt++
			case strings.HasPrefix(e.reason, "outside the dialect: "):
				n.dialect++
			default:
				n.divergence++
			}
			if _, known := ls.known[c.key()]; known {
				n.known++
			}
			if !excluded && !ls.knownFor(c, engine.StrategyPortable) {
				n.portable++
			}
			if !excluded && !ls.knownFor(c, engine.StrategyNative) && covers(engine.StrategyNative, c) {
				n.native++
			}
		}
		n.annotated = f.prepare(func(c evalCase) bool {
			_, excluded := ls.excluded[c.key()]
			return !excluded && !ls.knownFor(c, engine.StrategyPortable)
		}).annotated
		b.WriteString(n.row(f.name))
		total.add(n)
	}
	b.WriteString(total.row("total"))
	t.Log("\n" + b.String())
}
