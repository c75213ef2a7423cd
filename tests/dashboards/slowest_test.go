package dashboards

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/forma3d/meshmetrics/pkg/plugin"
)

// table is a panel's data after transformations: named columns of rows.
type table struct {
	cols []string
	rows [][]any
}

func (tb table) col(name string) int { return slices.Index(tb.cols, name) }

// merge joins frames as Grafana's merge transformation does: the fields
// every frame has (by name) are the row key; rows with equal keys become
// one row holding each frame's other fields.
func merge(t *testing.T, frames data.Frames) table {
	t.Helper()
	var common []string
	for i, f := range frames {
		var names []string
		for _, fl := range f.Fields {
			names = append(names, fl.Name)
		}
		if i == 0 {
			common = names
			continue
		}
		common = slices.DeleteFunc(common, func(n string) bool { return !slices.Contains(names, n) })
	}
	out := table{cols: slices.Clone(common)}
	for _, f := range frames {
		for _, fl := range f.Fields {
			if !slices.Contains(out.cols, fl.Name) {
				out.cols = append(out.cols, fl.Name)
			}
		}
	}
	byKey := map[string][]any{}
	var order []string
	for _, f := range frames {
		for i := 0; i < f.Rows(); i++ {
			var key []string
			for _, n := range common {
				fl, _ := f.FieldByName(n)
				b, _ := json.Marshal(fl.At(i))
				key = append(key, string(b))
			}
			k := strings.Join(key, "\x00")
			row, ok := byKey[k]
			if !ok {
				row = make([]any, len(out.cols))
				byKey[k] = row
				order = append(order, k)
			}
			for _, fl := range f.Fields {
				row[out.col(fl.Name)] = fl.At(i)
			}
		}
	}
	for _, k := range order {
		out.rows = append(out.rows, byKey[k])
	}
	return out
}

// organize and sortBy apply the panel's organize (exclude, rename) and
// sortBy (one field, descending or not) transformations.
func transformTable(t *testing.T, p panelJSON, tb table) table {
	t.Helper()
	for _, tr := range p.Transformations[1:] {
		switch tr.ID {
		case "organize":
			var o struct {
				ExcludeByName map[string]bool   `json:"excludeByName"`
				RenameByName  map[string]string `json:"renameByName"`
			}
			if err := json.Unmarshal(tr.Options, &o); err != nil {
				t.Fatal(err)
			}
			next := table{}
			var keep []int
			for i, c := range tb.cols {
				if o.ExcludeByName[c] {
					continue
				}
				keep = append(keep, i)
				if r, ok := o.RenameByName[c]; ok {
					c = r
				}
				next.cols = append(next.cols, c)
			}
			for _, r := range tb.rows {
				var nr []any
				for _, i := range keep {
					nr = append(nr, r[i])
				}
				next.rows = append(next.rows, nr)
			}
			tb = next
		case "sortBy":
			var o struct {
				Sort []struct {
					Field string `json:"field"`
					Desc  bool   `json:"desc"`
				} `json:"sort"`
			}
			if err := json.Unmarshal(tr.Options, &o); err != nil || len(o.Sort) != 1 {
				t.Fatalf("sortBy options %s: %v", tr.Options, err)
			}
			i := tb.col(o.Sort[0].Field)
			if i < 0 {
				t.Fatalf("sortBy field %q is not a column of %v", o.Sort[0].Field, tb.cols)
			}
			sort.SliceStable(tb.rows, func(a, b int) bool {
				x, y := tb.rows[a][i].(float64), tb.rows[b][i].(float64)
				if o.Sort[0].Desc {
					return x > y
				}
				return x < y
			})
		default:
			t.Fatalf("transformation %s not simulated", tr.ID)
		}
	}
	return tb
}

// The Slowest services panel as Grafana runs it: both table queries in one
// request. The plugin names the values Value #A and Value #B as Grafana's
// Prometheus datasource does, the two frames have the same label fields,
// and the panel's merge, organize and sortBy give one row per service with
// its p99 and mean (equal to Prometheus' on the same samples), slowest
// first, old series without destination labels included under All.
func (e *meshEnv) checkSlowest(t *testing.T, d dashboardJSON) {
	panel, _, tr, queries, exprs, resp := e.runTablePanel(t, d, "Slowest services")
	var frames data.Frames
	var labelFields [][]string
	for _, q := range queries {
		r := resp.Responses[q.RefID]
		if r.Error != nil || len(r.Frames) != 1 {
			t.Fatalf("%s: %v, %d frames", q.RefID, r.Error, len(r.Frames))
		}
		f := r.Frames[0]
		var labels []string
		for _, fl := range f.Fields[:len(f.Fields)-1] {
			labels = append(labels, fl.Name)
		}
		if v := f.Fields[len(f.Fields)-1].Name; v != "Value #"+q.RefID {
			t.Errorf("%s: value field %q, want %q as Grafana's Prometheus datasource names it", q.RefID, v, "Value #"+q.RefID)
		}
		labelFields = append(labelFields, labels)
		frames = append(frames, f)
	}
	if !slices.Equal(labelFields[0], labelFields[1]) || !slices.Contains(labelFields[0], "service") {
		t.Fatalf("label fields %v and %v: merge would not join them by service", labelFields[0], labelFields[1])
	}
	step := plugin.Step(tr.From, tr.To, panelInterval, 0, panelMaxData)
	want := map[string]map[string]float64{} // service → refId → value
	for refID, expr := range exprs {
		for k, pts := range e.o.instant(t, expandForOracle(expr, step, tr.To.Sub(tr.From), scrape), tr.To) {
			svc := parseKey(t, k)["service"]
			if want[svc] == nil {
				want[svc] = map[string]float64{}
			}
			want[svc][refID] = pts[0].v
		}
	}
	tb := transformTable(t, *panel, merge(t, frames))
	si, p99, mean := tb.col("service"), tb.col("p99"), tb.col("mean")
	if si < 0 || p99 < 0 || mean < 0 {
		t.Fatalf("columns %v: want service, p99 and mean", tb.cols)
	}
	// The service's logs link reads destination_service from the row: the
	// field must survive the transformations (hidden, not excluded).
	if tb.col("destination_service") < 0 {
		t.Errorf("columns %v: destination_service, which the logs link reads, was removed", tb.cols)
	}
	hidden := false
	for _, o := range panel.FieldConfig.Overrides {
		for _, p := range o.Properties {
			var hide struct{ Viz bool }
			if o.Matcher.Options == "destination_service" && p.ID == "custom.hideFrom" && json.Unmarshal(p.Value, &hide) == nil {
				hidden = hidden || hide.Viz
			}
		}
	}
	if !hidden {
		t.Error("destination_service is not hidden from the table")
	}
	if len(tb.rows) != len(want) {
		t.Fatalf("%d rows, want one per service (%d): %v", len(tb.rows), len(want), tb.rows)
	}
	var services []string
	for i, r := range tb.rows {
		svc, _ := r[si].(string)
		services = append(services, svc)
		w, ok := want[svc]
		if !ok {
			t.Errorf("row %d: service %q not in prometheus' answer", i, svc)
			continue
		}
		got99, _ := r[p99].(float64)
		gotMean, _ := r[mean].(float64)
		if !near(got99, w["A"]) || !near(gotMean, w["B"]) {
			t.Errorf("%s: p99 %v mean %v, prometheus %v %v", svc, got99, gotMean, w["A"], w["B"])
		}
		if i > 0 && tb.rows[i-1][p99].(float64) < got99 {
			t.Errorf("row %d (%s) is slower than the row above: not slowest first", i, svc)
		}
	}
	if !slices.Contains(services, "forma3d-order-history-9000@http") || !slices.Contains(services, "forma3d-dev-api-gateway-8080@http") {
		t.Errorf("services %v: want both namespaces and the old series under All", services)
	}
}

// runTablePanel sends a two-query table panel's queries in one request, as
// Grafana does, with namespace at All over the dashboard's range: the
// panel, its variables, range, queries, their exprs by refId and the
// answer.
func (e *meshEnv) runTablePanel(t *testing.T, d dashboardJSON, title string) (*panelJSON, map[string]varValue, backend.TimeRange, []backend.DataQuery, map[string]string, *backend.QueryDataResponse) {
	t.Helper()
	var panel *panelJSON
	for _, p := range leafPanels(d) {
		if p.Title == title {
			panel = &p
		}
	}
	if panel == nil || len(panel.Targets) != 2 || len(panel.Transformations) == 0 || panel.Transformations[0].ID != "merge" {
		t.Fatalf("no %s table with two queries and a merge", title)
	}
	tr := dashboardRange()
	vars := withVars(defaultVars(t, d), map[string]varValue{"namespace": {value: ".*", all: true}})
	var queries []backend.DataQuery
	exprs := map[string]string{}
	for _, tg := range panel.Targets {
		q, fields := dataQuery(t, tg, vars, tr)
		queries = append(queries, q)
		exprs[q.RefID] = fields["expr"]
	}
	resp, err := e.p.QueryData(callCtx(t), e.ds, nil, queries...)
	if err != nil {
		t.Fatal(err)
	}
	return panel, vars, tr, queries, exprs, resp
}
