package promdiff

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/forma3d/meshmetrics/pkg/engine"
)

// query is one line of testdata/queries.txt.
type query struct {
	id   string // q001, q002, … in file order: the subtest name
	line int
	expr string
	// expect is what Prometheus answers, when that is the point of the
	// query: "empty" (no series at any step) or "error". The trailing
	// comment of the line says so: `absent(up)  # empty`.
	expect string
}

// readQueries reads testdata/queries.txt: one expression per line; blank
// lines and lines starting with # are ignored; a # after an expression
// starts its comment (so an expression cannot contain #).
func readQueries(t testing.TB) []query {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "queries.txt"))
	if err != nil {
		t.Fatalf("open query list: %v", err)
	}
	defer f.Close()
	var out []query
	seen := map[string]int{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		expr, comment, _ := strings.Cut(sc.Text(), "#")
		expr, comment = strings.TrimSpace(expr), strings.TrimSpace(comment)
		if expr == "" {
			continue
		}
		if prev, dup := seen[expr]; dup {
			t.Fatalf("queries.txt:%d repeats the query of line %d: %s", line, prev, expr)
		}
		seen[expr] = line
		q := query{id: fmt.Sprintf("q%03d", len(out)+1), line: line, expr: expr}
		for _, e := range []string{"empty", "error"} {
			if strings.HasPrefix(comment, e) {
				q.expect = e
			}
		}
		out = append(out, q)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read query list: %v", err)
	}
	return out
}

// readDivergences reads testdata/divergences.txt: accepted differences
// from Prometheus, one per line as `<query exactly as in queries.txt> => <reason>`.
// Every entry must name a query of the list, so none outlives its query.
func readDivergences(t testing.TB, queries []query) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "divergences.txt"))
	if err != nil {
		t.Fatalf("read divergence list: %v", err)
	}
	known := map[string]bool{}
	for _, q := range queries {
		known[q.expr] = true
	}
	out := map[string]string{}
	for i, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		expr, reason, ok := strings.Cut(l, " => ")
		expr, reason = strings.TrimSpace(expr), strings.TrimSpace(reason)
		// A "native: " or "portable: " prefix limits the entry to one
		// strategy; the key is then "<strategy>: <query>".
		key := expr
		for _, s := range []string{engine.StrategyPortable, engine.StrategyNative} {
			if rest, ok := strings.CutPrefix(expr, s+": "); ok {
				expr = rest
			}
		}
		switch {
		case !ok || reason == "":
			t.Fatalf("divergences.txt:%d: want `[strategy: ]<query> => <reason>`, got %q", i+1, l)
		case !known[expr]:
			t.Fatalf("divergences.txt:%d: %q is not in queries.txt", i+1, expr)
		}
		out[key] = reason
	}
	return out
}
