package e2e

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/forma3d/meshmetrics/tests/meshstack"
)

const pluginType = "forma3d-meshmetrics-datasource"

// panelTarget is one Mesh Metrics query of the bundled dashboard.
type panelTarget struct {
	panel string
	model map[string]any
}

func dashboardTargets(t *testing.T) []panelTarget {
	t.Helper()
	root, err := meshstack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "dashboards", "service-mesh-traffic.json"))
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title      string           `json:"title"`
		Datasource map[string]any   `json:"datasource"`
		Targets    []map[string]any `json:"targets"`
		Panels     []panel          `json:"panels"`
	}
	var d struct {
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboards/service-mesh-traffic.json: %v", err)
	}
	var out []panelTarget
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			for _, tg := range p.Targets {
				ds, _ := tg["datasource"].(map[string]any)
				if ds == nil {
					ds = p.Datasource
				}
				if ds != nil && ds["type"] != pluginType {
					continue // the users' ClickHouse logs datasource
				}
				out = append(out, panelTarget{panel: p.Title, model: tg})
			}
		}
	}
	walk(d.Panels)
	if len(out) < 10 {
		t.Fatalf("only %d Mesh Metrics targets in the dashboard", len(out))
	}
	return out
}

// checkDashboard runs every Mesh Metrics panel query of the dashboard,
// with the dashboard's variables set to vars, over the data the pipeline
// stored: none may fail, none may show probe noise, and each returns data
// except the panels named in mayBeEmpty.
func checkDashboard(t *testing.T, q *meshstack.Querier, vars map[string]string, from, to time.Time, mayBeEmpty ...string) {
	t.Helper()
	ctx := testCtx(t, 3*time.Minute)
	for _, pt := range dashboardTargets(t) {
		b, err := json.Marshal(pt.model)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		// Longest name first: $service must not eat $service_name.
		names := slices.Collect(maps.Keys(vars))
		slices.SortFunc(names, func(a, b string) int { return len(b) - len(a) })
		for _, name := range names {
			text = strings.ReplaceAll(text, "$"+name, strings.ReplaceAll(vars[name], `"`, `\"`))
		}
		r, err := q.Target(ctx, []byte(text), from, to, scrapeInterval)
		if err != nil {
			t.Errorf("panel %q: %v", pt.panel, err)
			continue
		}
		if r.Error != nil {
			t.Errorf("panel %q: %v (query %s)", pt.panel, r.Error, text)
			continue
		}
		points := 0
		for _, f := range r.Frames {
			points += f.Rows()
			for _, fl := range f.Fields {
				if strings.HasPrefix(fl.Labels["service"], "readiness@") {
					t.Errorf("panel %q shows probe noise: %v", pt.panel, fl.Labels)
				}
			}
		}
		empty := points == 0
		allowed := false
		for _, p := range mayBeEmpty {
			allowed = allowed || p == pt.panel
		}
		if empty && !allowed {
			t.Errorf("panel %q returned no data (query %s)", pt.panel, text)
		}
	}
}
