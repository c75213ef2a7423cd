package sqlgen_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/forma3d/meshmetrics/pkg/dialect"
	"github.com/forma3d/meshmetrics/pkg/plan"
	"github.com/forma3d/meshmetrics/pkg/sqlgen"
)

var schema = sqlgen.Schema{Database: "otel", Sum: "otel_metrics_sum", Gauge: "otel_metrics_gauge", Histogram: "otel_metrics_histogram"}

// FuzzTranslate feeds arbitrary expressions through parse → plan → SQL:
// nothing may panic, and every label value and regex of the query must
// reach the SQL only inside string literals that hold exactly it.
//
//	go test ./pkg/sqlgen -run '^$' -fuzz FuzzTranslate -fuzztime 30s
func FuzzTranslate(f *testing.F) {
	for _, seed := range []string{
		`sum by (service) (rate(traefik_service_requests_total{code=~"5.."}[5m]))`,
		`histogram_quantile(0.99, sum by (le) (rate(x_bucket{a="b"}[1m])))`,
		`a{b="c'd"} / on(b) group_left(e) f{g!~"\\\\'"}`,
		`label_replace(up{job="x"}, "dst", "$1'", "job", "(.*)'")`,
		`up{job="\u0000"} or absent(y{z="w\\"}) unless vector(1)`,
		`topk(3, a offset 5m) > bool 2`,
		`clamp_min(max_over_time(g[10m]), -1) + time()`,
		"A{A!~\"\\n\"} or B{b=\"x\\r\\ny\"}",
	} {
		f.Add(seed)
	}
	grid, err := plan.NewRangeGrid(time.Unix(1700000000, 0), time.Unix(1700003600, 0), time.Minute, 11000)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		ast, err := dialect.Parse(expr)
		if err != nil {
			return
		}
		p, err := plan.Build(context.Background(), ast, grid, plan.Options{}, plan.NamingCatalog{})
		if err != nil {
			return
		}
		sql, err := sqlgen.Build(p, schema, sqlgen.Options{MaxSeries: 10})
		if err != nil {
			return
		}
		literals, ok := stringLiterals(sql)
		if !ok {
			t.Fatalf("unterminated string literal in the SQL of %q:\n%s", expr, sql)
		}
		for _, want := range queryStrings(ast) {
			if !literals[want] {
				t.Fatalf("%q of %q is not one whole string literal in the SQL:\n%s", want, expr, sql)
			}
		}
	})
}

// queryStrings are the user-supplied strings that must reach the SQL as
// literals: matcher values (regexes anchored) and label_replace arguments.
func queryStrings(ast parser.Expr) []string {
	var out []string
	parser.Inspect(ast, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			for _, m := range n.LabelMatchers {
				switch {
				case m.Name == labels.MetricName || m.Name == "le":
					// decided without SQL, or matched after bucket expansion
				case m.Type == labels.MatchRegexp || m.Type == labels.MatchNotRegexp:
					out = append(out, "^(?s:"+m.Value+")$")
				default:
					out = append(out, m.Value)
				}
			}
		case *parser.Call:
			if n.Func.Name == "label_replace" {
				out = append(out, n.Args[1].(*parser.StringLiteral).Val)
			}
		}
		return nil
	})
	return out
}

// stringLiterals scans ClickHouse SQL for '…' literals and returns their
// unescaped contents; ok is false when a literal does not end.
func stringLiterals(sql string) (map[string]bool, bool) {
	out := map[string]bool{}
	for i := 0; i < len(sql); i++ {
		switch sql[i] {
		case '`':
			end := strings.IndexByte(sql[i+1:], '`')
			if end < 0 {
				return out, false
			}
			i += end + 1
		case '\'':
			var lit strings.Builder
			closed := false
			for i++; i < len(sql); i++ {
				c := sql[i]
				if c == '\\' && i+1 < len(sql) {
					i++
					switch sql[i] {
					case '0':
						lit.WriteByte(0)
					case 'n':
						lit.WriteByte('\n')
					case 'r':
						lit.WriteByte('\r')
					default:
						lit.WriteByte(sql[i])
					}
					continue
				}
				if c == '\'' {
					closed = true
					break
				}
				lit.WriteByte(c)
			}
			if !closed {
				return out, false
			}
			out[lit.String()] = true
		}
	}
	return out, true
}
