package dashboards

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/forma3d/meshmetrics/dashboards/mixin"
	"github.com/forma3d/meshmetrics/pkg/dialect"
	"github.com/forma3d/meshmetrics/pkg/engine"
	"github.com/forma3d/meshmetrics/pkg/models"
	"github.com/forma3d/meshmetrics/pkg/plan"
)

const (
	meshType = "forma3d-meshmetrics-datasource"
	logsType = "grafana-clickhouse-datasource"
)

// The committed dashboard, its bundled copy and the alert rules are what
// the mixin renders: editing the JSON or YAML by hand, or the mixin
// without regenerating, fails here.
func TestCommittedFilesAreGenerated(t *testing.T) {
	files, err := mixin.Default().Files()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if got := repoFile(t, f.Path); !bytes.Equal(got, f.Content) {
			t.Errorf("%s is stale: run `go run ./dashboards/mixin/generate` from the repository root", f.Path)
		}
	}
}

// plugin.json includes the dashboard at the path webpack copies it to:
// src/**/*.json lands in dist/ under the same relative path.
func TestPluginIncludesTheBundledDashboard(t *testing.T) {
	var pj struct {
		Includes []struct{ Type, Name, Path string } `json:"includes"`
	}
	if err := json.Unmarshal(repoFile(t, "src/plugin.json"), &pj); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, inc := range pj.Includes {
		if inc.Type == "dashboard" {
			paths = append(paths, inc.Path)
		}
	}
	if !slices.Equal(paths, []string{"dashboards/service-mesh-traffic.json"}) {
		t.Fatalf("plugin.json dashboard includes %v, want the one bundled dashboard", paths)
	}
	if !bytes.Equal(repoFile(t, "src/"+paths[0]), repoFile(t, "dashboards/service-mesh-traffic.json")) {
		t.Error("src/dashboards/service-mesh-traffic.json differs from dashboards/service-mesh-traffic.json")
	}
	if !strings.Contains(string(repoFile(t, ".config/bundler/copyFiles.ts")), `'**/*.json'`) {
		t.Error("the webpack copy patterns no longer copy src/**/*.json: the included dashboard would be missing from dist/")
	}
	// After a build (make test builds first), dist/ holds it where
	// plugin.json says.
	if _, err := os.Stat(filepath.Join(repoRoot(t), "dist", "plugin.json")); err == nil {
		if !bytes.Equal(repoFile(t, "dist/"+paths[0]), repoFile(t, "dashboards/service-mesh-traffic.json")) {
			t.Error("dist/" + paths[0] + " is missing or stale: run make build")
		}
	}
}

// defaultVars are the variable values of a user looking at one service.
func defaultVars(t testing.TB, d dashboardJSON) map[string]varValue {
	t.Helper()
	iv, ok := d.variable("interval")
	if !ok {
		t.Fatal("no $interval variable")
	}
	interval, _ := iv.Current.Value.(string)
	if _, err := time.ParseDuration(interval); err != nil {
		t.Fatalf("$interval's current value %q is not a duration", interval)
	}
	return map[string]varValue{
		"datasource":   {value: "meshmetrics"},
		"logs":         {value: "clickhouse-logs"},
		"namespace":    {value: "forma3d", multi: true},
		"service":      {value: "forma3d-api-gateway-8080@http"},
		"service_name": {value: "api-gateway"},
		"interval":     {value: interval},
	}
}

// backendMacros are the references the plugin's backend expands.
var backendMacros = []string{"__interval", "__interval_ms", "__rate_interval", "__rate_interval_ms", "__range", "__range_s", "__range_ms"}

// Every panel uses the Mesh Metrics datasource variable (the logs panel
// the logs datasource variable); every expression, interpolated as
// Grafana would, is a valid query model, parses in the dialect, plans and
// renders SQL, and filters probe and scrape noise.
func TestEveryPanelQueryIsSupported(t *testing.T) {
	d := loadDashboard(t)
	vars := defaultVars(t, d)
	grid, err := plan.NewRangeGrid(meshEnd.Add(-time.Hour), meshEnd, time.Minute, 11000)
	if err != nil {
		t.Fatal(err)
	}
	logsPanels, queries := 0, 0
	for _, p := range leafPanels(d) {
		for _, text := range []string{p.Title, p.Description} {
			if left := leftoverRefs(interpolate(text, vars)); len(left) > 0 {
				t.Errorf("panel %q: unresolved variables %v in its title or description", p.Title, left)
			}
		}
		if p.Type == "text" {
			if len(p.Targets) > 0 {
				t.Errorf("text panel %q has queries", p.Title)
			}
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q (%s) has no query", p.Title, p.Type)
		}
		for _, tg := range p.Targets {
			ds := targetDatasource(t, p, tg)
			switch {
			case ds.Type == logsType && ds.UID == "${logs}":
				logsPanels++
				if p.Type != "logs" {
					t.Errorf("panel %q queries the logs datasource but is a %s panel", p.Title, p.Type)
				}
				continue
			case ds.Type != meshType || ds.UID != "${datasource}":
				t.Errorf("panel %q: datasource %+v, want {%s ${datasource}}", p.Title, ds, meshType)
				continue
			}
			raw, _ := json.Marshal(tg)
			q, err := models.ParseQuery(raw)
			if err != nil {
				t.Errorf("panel %q: query model: %v", p.Title, err)
				continue
			}
			for field, expr := range map[string]string{"expr": q.Expr, "errorExpr": q.ErrorExpr, "latencyExpr": q.LatencyExpr,
				"fallbackExpr": q.FallbackExpr, "fallbackErrorExpr": q.FallbackErrorExpr, "fallbackLatencyExpr": q.FallbackLatencyExpr} {
				if expr == "" {
					continue
				}
				queries++
				checkExpr(t, p.Title+" "+field, expr, vars, grid)
			}
		}
	}
	if logsPanels != 1 {
		t.Errorf("%d panels query the logs datasource, want the one correlate panel", logsPanels)
	}
	if queries < 20 {
		t.Errorf("only %d expressions checked: panels lost their queries?", queries)
	}
}

func checkExpr(t *testing.T, where, expr string, vars map[string]varValue, grid plan.Grid) {
	t.Helper()
	in := interpolate(expr, vars)
	for _, ref := range leftoverRefs(in) {
		if !slices.Contains(backendMacros, ref) {
			t.Errorf("%s: $%s is neither a dashboard variable nor a macro the backend expands", where, ref)
		}
	}
	expanded := dialect.ExpandMacros(in, dialect.Macros{Interval: time.Minute, ScrapeInterval: 15 * time.Second, Range: time.Hour})
	ast, err := dialect.Parse(expanded)
	if err != nil {
		t.Errorf("%s: %v\n%s", where, err, expanded)
		return
	}
	if _, err := engine.ExplainOffline(expanded, grid, engine.Config{}); err != nil {
		t.Errorf("%s: not supported: %v\n%s", where, err, expanded)
	}
	if err := noiseFiltered(ast); err != "" {
		t.Errorf("%s: %s\n%s", where, err, expanded)
	}
}

// probeEntrypoints are the proxies' entrypoints that carry probes and the
// metrics scrape, not mesh traffic.
var probeEntrypoints = []string{"readiness", "liveness", "traefik"}

// noiseFiltered checks every selector of a service or entrypoint metric:
// probe noise (service readiness@…) and the probe entrypoints are out,
// mesh traffic (a service, an entrypoint http-5000) is in, as the
// selector's matchers on that label decide.
func noiseFiltered(ast parser.Expr) string {
	var problem string
	parser.Inspect(ast, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok || problem != "" {
			return nil
		}
		admits := func(name, value string) bool {
			for _, m := range vs.LabelMatchers {
				if m.Name == name && !m.Matches(value) {
					return false
				}
			}
			return true
		}
		switch {
		case strings.HasPrefix(vs.Name, "traefik_service_"):
			if admits("service", "readiness@http") {
				problem = vs.String() + " lets readiness@http (probe noise) through"
			}
			if !admits("service", "forma3d-api-gateway-8080@http") {
				problem = vs.String() + " drops a mesh service"
			}
		case strings.HasPrefix(vs.Name, "traefik_entrypoint_"), vs.Name == "traefik_open_connections":
			for _, ep := range probeEntrypoints {
				if admits("entrypoint", ep) {
					problem = vs.String() + " lets the probe entrypoint " + ep + " through"
				}
			}
			if !admits("entrypoint", "http-5000") {
				problem = vs.String() + " drops a mesh entrypoint"
			}
		}
		return nil
	})
	return problem
}

var labelValuesCall = regexp.MustCompile(`^label_values\((.+),\s*(\w+)\)$`)

// The namespace and service variables query this datasource with a
// label_values call whose selector the dialect accepts and which leaves
// out probe noise; the values are parsed out of the service label by the
// variable's regex.
func TestVariables(t *testing.T) {
	d := loadDashboard(t)
	vars := defaultVars(t, d)
	for _, name := range []string{"datasource", "logs", "namespace", "service", "service_name", "interval"} {
		if _, ok := d.variable(name); !ok {
			t.Errorf("no $%s variable", name)
		}
	}
	for name, typ := range map[string]string{"datasource": meshType, "logs": logsType} {
		v, _ := d.variable(name)
		var q string
		_ = json.Unmarshal(v.Query, &q)
		if v.Type != "datasource" || q != typ {
			t.Errorf("$%s: type %s query %q, want a datasource variable of %s", name, v.Type, q, typ)
		}
	}
	// The namespace is the collector's label, never parsed out of service.
	for name, wantLabel := range map[string]string{"namespace": "destination_namespace", "service": "service", "service_name": "destination_service"} {
		v, _ := d.variable(name)
		sel, label := variableQuery(t, v)
		if v.Datasource == nil || v.Datasource.UID != "${datasource}" || label != wantLabel {
			t.Errorf("$%s: datasource %+v, label %q, want %s", name, v.Datasource, label, wantLabel)
		}
		ast, err := dialect.Parse(interpolate(sel, vars))
		if err != nil {
			t.Errorf("$%s: selector: %v", name, err)
			continue
		}
		if p := noiseFiltered(ast); p != "" {
			t.Errorf("$%s: %s", name, p)
		}
		if _, err := jsRegex(v.Regex); err != nil {
			t.Errorf("$%s: regex: %v", name, err)
		}
	}
}

// variableQuery splits a label_values(selector, label) variable query.
func variableQuery(t testing.TB, v variableJSON) (selector, label string) {
	t.Helper()
	var q struct{ Query string }
	if err := json.Unmarshal(v.Query, &q); err != nil {
		t.Fatalf("$%s: query: %v", v.Name, err)
	}
	m := labelValuesCall.FindStringSubmatch(q.Query)
	if m == nil {
		t.Fatalf("$%s: query %q is not label_values(selector, label)", v.Name, q.Query)
	}
	return m[1], m[2]
}

// jsRegex compiles a Grafana variable regex (/…/flags, JavaScript named
// groups (?<name>…), which RE2 accepts too).
func jsRegex(re string) (*regexp.Regexp, error) {
	if len(re) < 2 || re[0] != '/' || strings.LastIndex(re, "/") == 0 {
		return regexp.Compile(re)
	}
	end := strings.LastIndex(re, "/")
	return regexp.Compile(re[1:end])
}

// The certificate stat with no certificates (Traefik Mesh has no mTLS)
// reads neutral, not as an alarm. Grafana's stat shows no value through
// displayProcessor(null): a value mapping matching null gives the text and
// colour; without one the colour is the base threshold step's
// (scale(-Infinity)), which is red here for expiring certificates.
func TestCertificateStatWithoutCertificatesIsNeutral(t *testing.T) {
	for _, p := range leafPanels(loadDashboard(t)) {
		if p.Title != "Certificate expiry" {
			continue
		}
		dflt := p.FieldConfig.Defaults
		steps := dflt.Thresholds.Steps
		if len(steps) == 0 || steps[0].Value != nil {
			t.Fatalf("thresholds %+v: want a base step", steps)
		}
		text, color := dflt.NoValue, steps[0].Color
		for _, m := range dflt.Mappings {
			if m.Type == "special" && (m.Options.Match == "null" || m.Options.Match == "null+nan") {
				if m.Options.Result.Text != "" {
					text = m.Options.Result.Text
				}
				if m.Options.Result.Color != "" {
					color = m.Options.Result.Color
				}
				break
			}
		}
		if !strings.Contains(text, "no mTLS") {
			t.Errorf("no certificates reads %q", text)
		}
		if !slices.Contains([]string{"text", "transparent"}, color) {
			t.Errorf("no certificates is coloured %q, want the neutral text colour", color)
		}
		// A certificate expiring within the alert's 7 days is still red.
		if steps[0].Color != "red" || len(steps) < 2 || *steps[1].Value != 7*86400 {
			t.Errorf("thresholds %+v: want red below 7 days", steps)
		}
		return
	}
	t.Fatal("no Certificate expiry panel")
}
