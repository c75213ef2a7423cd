// Package dashboards checks the "Service Mesh Traffic" dashboard and the
// mesh alert rules as Grafana would use them: the committed JSON and YAML
// are decoded (not the generator's structs), variables interpolated as
// Grafana's templateSrv and the plugin's frontend do, and every query sent
// through the real plugin binary over gRPC, its answer compared with the
// Prometheus engine on the same samples.
package dashboards

import (
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// repoFile reads a file relative to the repository root.
func repoFile(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal(errors.New("no go.mod above the working directory"))
		}
		dir = parent
	}
}

// The dashboard JSON as Grafana reads it: only the fields checked here.
type dashboardJSON struct {
	UID        string      `json:"uid"`
	Title      string      `json:"title"`
	Panels     []panelJSON `json:"panels"`
	Templating struct {
		List []variableJSON `json:"list"`
	} `json:"templating"`
}

type dsRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type linkJSON struct {
	Title string `json:"title"`
	URL   string `json:"url"`
}

type panelJSON struct {
	ID          int                          `json:"id"`
	Type        string                       `json:"type"`
	Title       string                       `json:"title"`
	Description string                       `json:"description"`
	Datasource  *dsRef                       `json:"datasource"`
	Targets     []map[string]json.RawMessage `json:"targets"`
	Panels      []panelJSON                  `json:"panels"`
	Links       []linkJSON                   `json:"links"`
	Options     map[string]any               `json:"options"`
	// Transformations are Grafana's, in order: id and options.
	Transformations []struct {
		ID      string          `json:"id"`
		Options json.RawMessage `json:"options"`
	} `json:"transformations"`
	FieldConfig struct {
		Defaults struct {
			NoValue  string `json:"noValue"`
			Unit     string `json:"unit"`
			Mappings []struct {
				Type    string `json:"type"`
				Options struct {
					Match  string `json:"match"`
					Result struct {
						Text  string `json:"text"`
						Color string `json:"color"`
					} `json:"result"`
				} `json:"options"`
			} `json:"mappings"`
			Thresholds struct {
				Steps []struct {
					Color string   `json:"color"`
					Value *float64 `json:"value"`
				} `json:"steps"`
			} `json:"thresholds"`
		} `json:"defaults"`
		Overrides []struct {
			Matcher struct {
				ID      string `json:"id"`
				Options string `json:"options"`
			} `json:"matcher"`
			Properties []struct {
				ID    string          `json:"id"`
				Value json.RawMessage `json:"value"`
			} `json:"properties"`
		} `json:"overrides"`
	} `json:"fieldConfig"`
}

type variableJSON struct {
	Type       string          `json:"type"`
	Name       string          `json:"name"`
	Query      json.RawMessage `json:"query"`
	Regex      string          `json:"regex"`
	IncludeAll bool            `json:"includeAll"`
	AllValue   string          `json:"allValue"`
	Multi      bool            `json:"multi"`
	Datasource *dsRef          `json:"datasource"`
	Current    struct {
		Value any `json:"value"`
	} `json:"current"`
}

func loadDashboard(t testing.TB) dashboardJSON {
	t.Helper()
	var d dashboardJSON
	if err := json.Unmarshal(repoFile(t, "dashboards/service-mesh-traffic.json"), &d); err != nil {
		t.Fatalf("decode dashboard: %v", err)
	}
	return d
}

// leafPanels are the panels that are not rows, nested ones included.
func leafPanels(d dashboardJSON) []panelJSON {
	var out []panelJSON
	var walk func([]panelJSON)
	walk = func(ps []panelJSON) {
		for _, p := range ps {
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			out = append(out, p)
		}
	}
	walk(d.Panels)
	return out
}

func (d dashboardJSON) variable(name string) (variableJSON, bool) {
	for _, v := range d.Templating.List {
		if v.Name == name {
			return v, true
		}
	}
	return variableJSON{}, false
}

// targetString reads a string field of a target ("" when absent).
func targetString(t testing.TB, tg map[string]json.RawMessage, field string) string {
	t.Helper()
	raw, ok := tg[field]
	if !ok {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("target field %s: %v", field, err)
	}
	return s
}

func targetDatasource(t testing.TB, p panelJSON, tg map[string]json.RawMessage) dsRef {
	t.Helper()
	if raw, ok := tg["datasource"]; ok {
		var ds dsRef
		if err := json.Unmarshal(raw, &ds); err != nil {
			t.Fatalf("panel %q: target datasource: %v", p.Title, err)
		}
		return ds
	}
	if p.Datasource != nil {
		return *p.Datasource
	}
	return dsRef{}
}

// varValue is a template variable's current value as the formatter sees it.
type varValue struct {
	value string
	// all: "All" is selected and the variable has a custom all value,
	// which Grafana puts in raw.
	all bool
	// multi: the variable is multi-value or has an All option, so a value
	// is regex-escaped (src/interpolate.ts formatterFor).
	multi bool
}

var (
	// Grafana's variable syntax: $name, ${name}, ${name:format}.
	varRef = regexp.MustCompile(`\$(\w+)|\$\{([\w.]+)(?::([^}]+))?\}`)
	// RE2 metacharacters, escaped as src/interpolate.ts escapeRegex does.
	regexMeta = regexp.MustCompile(`[\\^$.|?*+()\[\]{}]`)
)

// interpolate replaces dashboard variables as templateSrv.replace with the
// plugin's formatter does for a PromQL expression: inside a "…" literal a
// value is escaped for that literal; :sqlstring and :percentencode as
// Grafana formats them. Grafana's own macros ($__interval, $__range, …)
// are not dashboard variables: they are left for the backend.
func interpolate(text string, vars map[string]varValue) string {
	inString := false
	var out strings.Builder
	last := 0
	for _, m := range varRef.FindAllStringSubmatchIndex(text, -1) {
		// Track whether the reference sits inside a "…" literal.
		for _, c := range text[last:m[0]] {
			if c == '"' {
				inString = !inString
			}
		}
		name, format := sub(text, m, 1), ""
		if name == "" {
			name, format = sub(text, m, 2), sub(text, m, 3)
		}
		out.WriteString(text[last:m[0]])
		last = m[1]
		v, ok := vars[name]
		if !ok {
			out.WriteString(text[m[0]:m[1]])
			continue
		}
		out.WriteString(formatValue(v, format, inString))
	}
	out.WriteString(text[last:])
	return out.String()
}

func sub(s string, m []int, i int) string {
	if m[2*i] < 0 {
		return ""
	}
	return s[m[2*i]:m[2*i+1]]
}

func formatValue(v varValue, format string, inString bool) string {
	switch format {
	case "sqlstring":
		return "'" + strings.ReplaceAll(v.value, "'", "''") + "'"
	case "percentencode":
		return strings.ReplaceAll(url.QueryEscape(v.value), "+", "%20")
	case "":
	default:
		return "unsupported-format-" + format
	}
	if v.all {
		return v.value
	}
	s := v.value
	if v.multi {
		s = regexMeta.ReplaceAllStringFunc(s, func(c string) string { return `\` + c })
	}
	if inString {
		s = strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`)
	}
	return s
}

// leftoverRefs are the $references interpolation left in text.
func leftoverRefs(text string) []string {
	var out []string
	for _, m := range varRef.FindAllStringSubmatch(text, -1) {
		name := m[1]
		if name == "" {
			name = m[2]
		}
		out = append(out, name)
	}
	return out
}
