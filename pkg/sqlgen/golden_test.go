package sqlgen_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/forma3d/meshmetrics/pkg/dialect"
	"github.com/forma3d/meshmetrics/pkg/plan"
	"github.com/forma3d/meshmetrics/pkg/sqlgen"
)

var update = flag.Bool("update", false, "rewrite the golden SQL files in testdata/golden")

// TestGoldenSQL pins the exact SQL of the dashboard's query shapes, so that
// a change to the generated statements is seen and reviewed in the diff.
// Regenerate with: go test ./pkg/sqlgen -run TestGoldenSQL -update
func TestGoldenSQL(t *testing.T) {
	cases := map[string]string{
		"selector":           `traefik_service_open_connections{service!~"readiness@.*", protocol="http"} offset 1m`,
		"error_ratio":        `sum by (service) (rate(traefik_service_requests_total{code=~"5.."}[5m])) / sum by (service) (rate(traefik_service_requests_total[5m]))`,
		"p99":                `histogram_quantile(0.99, sum by (le, service) (rate(traefik_service_request_duration_seconds_bucket[5m])))`,
		"topk_irate":         `topk(5, irate(traefik_entrypoint_requests_total{entrypoint!="traefik"}[1m]))`,
		"group_left":         `up * on(instance) group_left(version) go_info`,
		"set_ops":            `up == 0 or absent(up{job="traefik-mesh"})`,
		"label_replace":      `label_replace(up, "ns", "$1", "service", "([^-]+)-.*")`,
		"scalar_arithmetic":  `scalar(sum(up)) * 2 - time()`,
		"count_over_time_cm": `count_over_time(traefik_config_reloads_total[1h]) > bool 1`,
	}
	grid, err := plan.NewRangeGrid(time.Unix(1700000000, 0), time.Unix(1700003600, 0), time.Minute, 11000)
	if err != nil {
		t.Fatal(err)
	}
	// With the series extension (provisioning/clickhouse/002): the shapes
	// whose sources differ (plain, counter with matchers, histogram buckets,
	// _count and _sum beside each other).
	seriesCases := map[string]string{
		"selector":    cases["selector"],
		"error_ratio": cases["error_ratio"],
		"p99":         cases["p99"],
		"count_sum":   `traefik_service_request_duration_seconds_sum{service="a"} / traefik_service_request_duration_seconds_count{service="a"}`,
		// Series-key grouping over an instant selector, without(…).
		"avg_without": `avg without (instance) (traefik_service_open_connections{service!~"readiness@.*"})`,
	}
	// The native strategy on the series tables: series-key grouping sums
	// whole ToGrid arrays.
	nativeCases := map[string]string{"error_ratio": cases["error_ratio"], "p99": cases["p99"]}
	for _, layout := range []struct {
		dir          string
		cases        map[string]string
		tabs, native bool
	}{{"golden", cases, false, false}, {filepath.Join("golden", "series"), seriesCases, true, false}, {filepath.Join("golden", "series-native"), nativeCases, true, true}} {
		for name, expr := range layout.cases {
			t.Run(filepath.Join(layout.dir, name), func(t *testing.T) {
				goldenCase(t, layout.dir, name, expr, grid, layout.tabs, sqlgen.Options{MaxSeries: 10000, Native: layout.native})
			})
		}
	}
}

// goldenCase compares expr's statement with testdata/<dir>/<name>.sql.
func goldenCase(t *testing.T, dir, name, expr string, grid plan.Grid, seriesTables bool, opts sqlgen.Options) {
	s := schema
	s.SeriesTables = seriesTables
	sql, err := offlineSQLIn(t, expr, grid, s, opts)
	if err != nil {
		t.Fatal(err)
	}
	compareGolden(t, filepath.Join("testdata", dir, name+".sql"), "-- "+expr+"\n"+sql+"\n")
}

// compareGolden compares got with the file at path, or writes it there
// with -update.
func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s changed; review and run with -update:\n%s", path, firstDiff(string(want), got))
	}
}

// offlineSQL is expr's statement on grid, names resolved by convention
// (no server); a parse or plan error fails the test, sqlgen's is returned.
func offlineSQL(t *testing.T, expr string, grid plan.Grid, opts sqlgen.Options) (string, error) {
	t.Helper()
	return offlineSQLIn(t, expr, grid, schema, opts)
}

// offlineSQLIn is offlineSQL on a given schema.
func offlineSQLIn(t *testing.T, expr string, grid plan.Grid, schema sqlgen.Schema, opts sqlgen.Options) (string, error) {
	t.Helper()
	return sqlgen.Build(offlinePlan(t, expr, grid), schema, opts)
}

// offlinePlan is expr's plan on grid, names resolved by convention; a
// parse or plan error fails the test.
func offlinePlan(t *testing.T, expr string, grid plan.Grid) *plan.Plan {
	t.Helper()
	ast, err := dialect.Parse(expr)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Build(context.Background(), ast, grid, plan.Options{}, plan.NamingCatalog{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// firstDiff shows the first line where two texts differ.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) && i < len(g); i++ {
		if w[i] != g[i] {
			return "line " + itoa(i+1) + ":\n- " + w[i] + "\n+ " + g[i]
		}
	}
	return "length differs: " + itoa(len(w)) + " vs " + itoa(len(g)) + " lines"
}

func itoa(n int) string { return strconv.Itoa(n) }
