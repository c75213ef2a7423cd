package sqlgen_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/forma3d/meshmetrics/pkg/dialect"
	"github.com/forma3d/meshmetrics/pkg/plan"
	"github.com/forma3d/meshmetrics/pkg/sqlgen"
)

// TestStatementTooLarge: a statement over the limit is refused with its
// size, the limit and the position of a selector of the expression, the
// one at which the statement passed the limit; one under it is not.
func TestStatementTooLarge(t *testing.T) {
	grid := plan.NewInstantGrid(time.Unix(1700000000, 0))
	build := func(expr string, limit int) (string, error) {
		return offlineSQL(t, expr, grid, sqlgen.Options{MaxStatementBytes: limit})
	}
	for _, terms := range []int{2, 30, 200} {
		expr := strings.Repeat("up{job=\"mesh\"} + ", terms-1) + "up{job=\"mesh\"}"
		full, err := build(expr, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, limit := range []int{len(full), len(full) - 1, len(full) / 2, sqlgen.MaxQuerySize} {
			_, err := build(expr, limit)
			if len(full) <= limit {
				if err != nil {
					t.Errorf("%d terms, limit %d: %v, want the statement (%d bytes)", terms, limit, err, len(full))
				}
				continue
			}
			var tooLarge *sqlgen.StatementTooLargeError
			if !errors.As(err, &tooLarge) {
				t.Fatalf("%d terms, limit %d (statement %d bytes): error %v, want a StatementTooLargeError", terms, limit, len(full), err)
			}
			if tooLarge.Bytes != len(full) || tooLarge.Limit != limit {
				t.Errorf("%d terms: error says %d bytes over %d, want %d over %d", terms, tooLarge.Bytes, tooLarge.Limit, len(full), limit)
			}
			if !selectorStarts(t, expr)[tooLarge.Pos] {
				t.Errorf("%d terms, limit %d: position %d is not where a selector starts in %q", terms, limit, tooLarge.Pos, expr)
			}
		}
	}
}

// selectorStarts are the byte offsets where expr's selectors start.
func selectorStarts(t *testing.T, expr string) map[int]bool {
	ast, err := dialect.Parse(expr)
	if err != nil {
		t.Fatal(err)
	}
	starts := map[int]bool{}
	parser.Inspect(ast, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			starts[int(vs.PosRange.Start)] = true
		}
		return nil
	})
	return starts
}
