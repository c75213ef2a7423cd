package bench

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/forma3d/meshmetrics/pkg/dialect"
	"github.com/forma3d/meshmetrics/pkg/models"
	"github.com/forma3d/meshmetrics/pkg/plugin"
)

// What Grafana does with a dashboard before the plugin sees a query: the
// dashboard JSON read from the file, template variables resolved and
// interpolated (src/interpolate.ts's formatter), the panel's interval and
// the plugin's step. Nothing here is specific to the bundled dashboard's
// current queries: the variables come from its templating list.

// pluginType is the datasource type of the plugin's targets.
const pluginType = "forma3d-meshmetrics-datasource"

// panelWidth is the width in pixels Grafana divides the range by when a
// panel sets no maxDataPoints: a ~1,000 px wide panel.
const panelWidth = 1000

type dashboardFile struct {
	Title      string      `json:"title"`
	Panels     []panelJSON `json:"panels"`
	Templating struct {
		List []variableJSON `json:"list"`
	} `json:"templating"`
}

type dsRef struct {
	Type string `json:"type"`
}

type panelJSON struct {
	Type          string            `json:"type"`
	Title         string            `json:"title"`
	Datasource    *dsRef            `json:"datasource"`
	Interval      string            `json:"interval"`
	MaxDataPoints int64             `json:"maxDataPoints"`
	Targets       []json.RawMessage `json:"targets"`
	Panels        []panelJSON       `json:"panels"`
}

type variableJSON struct {
	Type       string          `json:"type"`
	Name       string          `json:"name"`
	Query      json.RawMessage `json:"query"` // a string, or {"query": "…"}
	Regex      string          `json:"regex"`
	Sort       int             `json:"sort"`
	IncludeAll bool            `json:"includeAll"`
	AllValue   string          `json:"allValue"`
	Multi      bool            `json:"multi"`
	Auto       bool            `json:"auto"`
	Current    struct {
		Value json.RawMessage `json:"value"`
	} `json:"current"`
	Options []struct {
		Value string `json:"value"`
	} `json:"options"`
}

// queryText is a variable's query, whichever of its two JSON forms.
func (v variableJSON) queryText() (string, error) {
	if len(v.Query) == 0 {
		return "", nil
	}
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s, nil
	}
	var obj struct {
		Query string `json:"query"`
	}
	if err := json.Unmarshal(v.Query, &obj); err != nil {
		return "", fmt.Errorf("variable %s: query is neither a string nor {\"query\": …}: %v", v.Name, err)
	}
	return obj.Query, nil
}

// dashboardQuery is one expression a panel sends to the plugin.
type dashboardQuery struct {
	panel, refID string
	// field is the target's field holding expr: expr, or a service
	// graph's errorExpr and latencyExpr.
	field string
	// instant: evaluated at the range's end (instant, table, service
	// graph); otherwise a range query (range, heatmap).
	instant bool
	expr    string // as written in the dashboard, variables and macros in
	// interval and maxDataPoints are the panel's (zero: none set);
	// minStep the target's.
	interval      time.Duration
	maxDataPoints int64
	minStep       time.Duration
}

func (q dashboardQuery) name() string {
	name := q.panel + " " + q.refID
	if q.field != "expr" {
		name += " " + q.field
	}
	return name
}

// readDashboard reads a dashboard file relative to the repository root.
func readDashboard(rel string) (dashboardFile, error) {
	_, file, _, _ := runtime.Caller(0)
	var d dashboardFile
	raw, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", rel))
	if err != nil {
		return d, err
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return d, fmt.Errorf("%s: %v", rel, err)
	}
	return d, nil
}

// queries lists every expression of every target of the plugin's type,
// nested panels (rows) included, in the dashboard's order.
func (d dashboardFile) queries() ([]dashboardQuery, error) {
	var out []dashboardQuery
	var walk func([]panelJSON) error
	walk = func(ps []panelJSON) error {
		for _, p := range ps {
			if err := walk(p.Panels); err != nil {
				return err
			}
			var interval time.Duration
			if p.Interval != "" {
				var err error
				if interval, err = parseGrafanaDuration(p.Interval); err != nil {
					return fmt.Errorf("panel %q: interval: %v", p.Title, err)
				}
			}
			for i, raw := range p.Targets {
				var tg struct {
					RefID      string `json:"refId"`
					Datasource *dsRef `json:"datasource"`
				}
				if err := json.Unmarshal(raw, &tg); err != nil {
					return fmt.Errorf("panel %q target %d: %v", p.Title, i, err)
				}
				ds := tg.Datasource
				if ds == nil {
					ds = p.Datasource
				}
				if ds == nil || ds.Type != pluginType {
					continue
				}
				q, err := models.ParseQuery(raw)
				if err != nil {
					return fmt.Errorf("panel %q target %s: %v", p.Title, tg.RefID, err)
				}
				minStep, _ := q.MinStepDuration() // checked by ParseQuery
				base := dashboardQuery{panel: p.Title, refID: tg.RefID, field: "expr", expr: q.Expr,
					interval: interval, maxDataPoints: p.MaxDataPoints, minStep: minStep}
				switch q.QueryType {
				case models.QueryTypeRange, models.QueryTypeHeatmap:
					out = append(out, base)
				case models.QueryTypeInstant, models.QueryTypeTable:
					base.instant = true
					out = append(out, base)
				case models.QueryTypeServiceGraph:
					base.instant = true
					for _, part := range []struct{ field, expr string }{{"expr", q.Expr}, {"errorExpr", q.ErrorExpr}, {"latencyExpr", q.LatencyExpr}} {
						if strings.TrimSpace(part.expr) != "" {
							base.field, base.expr = part.field, part.expr
							out = append(out, base)
						}
					}
				default:
					return fmt.Errorf("panel %q target %s: query type %q is not benchmarked", p.Title, tg.RefID, q.QueryType)
				}
			}
		}
		return nil
	}
	return out, walk(d.Panels)
}

// timing is where and how one query runs: the range as the dashboard's
// time picker has it, and what Grafana and the plugin make of it.
type timing struct {
	from, to time.Time
	// start, end, step: a range query's grid (aligned to the step, as
	// the plugin does); an instant query runs at to.
	start, end time.Time
	step       time.Duration
	expr       string // the expression with Grafana's macros expanded
}

// timingOf is what the plugin does with q (its variables interpolated):
// Grafana's interval for the panel (rangeutil.calculateInterval: range /
// width, rounded, at least the panel's min interval), the plugin's step
// (plugin.Step with the panel's maxDataPoints, none when unset, so that
// the step is Grafana's interval), start and end aligned to it, and the
// macros expanded by the plugin's dialect.ExpandMacros.
func timingOf(q dashboardQuery, expr string, from, to time.Time, scrape time.Duration) timing {
	width := int64(panelWidth)
	if q.maxDataPoints > 0 {
		width = q.maxDataPoints
	}
	interval := max(roundInterval(to.Sub(from)/time.Duration(width)), q.interval)
	step := plugin.Step(from, to, interval, q.minStep, q.maxDataPoints)
	s := step.Milliseconds()
	return timing{from: from, to: to, step: step,
		start: time.UnixMilli(from.UnixMilli() / s * s).UTC(), end: time.UnixMilli(to.UnixMilli() / s * s).UTC(),
		expr: dialect.ExpandMacros(expr, dialect.Macros{Interval: step, ScrapeInterval: scrape, Range: to.Sub(from)})}
}

// roundInterval is Grafana's rangeutil.roundInterval: an interval rounded
// to one a person would pick.
func roundInterval(d time.Duration) time.Duration {
	ms := d.Milliseconds()
	steps := []struct{ below, to int64 }{
		{10, 1}, {15, 10}, {35, 20}, {75, 50}, {150, 100}, {350, 200}, {750, 500}, {1500, 1000}, {3500, 2000},
		{7500, 5000}, {12500, 10000}, {17500, 15000}, {25000, 20000}, {45000, 30000}, {90000, 60000},
		{210000, 120000}, {450000, 300000}, {1050000, 600000}, {1800000, 900000}, {3600000, 1200000},
		{7200000, 3600000}, {21600000, 7200000}, {43200000, 21600000}, {86400000, 43200000},
		{604800000, 86400000}, {1814400000, 604800000}, {3628800000, 2592000000},
	}
	for _, s := range steps {
		if ms < s.below {
			return time.Duration(s.to) * time.Millisecond
		}
	}
	return 365 * 24 * time.Hour
}

// parseGrafanaDuration reads 15s, 5m, 1h, 1d, 1w (and Go's forms).
func parseGrafanaDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	for unit, d := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, unit); ok {
			var k int
			if _, err := fmt.Sscanf(n, "%d", &k); err == nil && fmt.Sprint(k) == n {
				return time.Duration(k) * d, nil
			}
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 15s, 5m or 1h", s)
	}
	return d, nil
}

// varValue is a resolved template variable as the formatter sees it.
type varValue struct {
	values []string
	// rawAll: "All" with the variable's custom all value, which Grafana
	// puts in as is (values holds it).
	rawAll bool
	// regexy: multi-value or with an All option, so values are
	// regex-escaped and, when several, joined as (a|b).
	regexy bool
}

// Grafana's variable syntax: $name, [[name]], [[name:format]], ${name},
// ${name:format}.
var varRef = regexp.MustCompile(`\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?::([^}]+))?\}`)

// interpolate replaces dashboard variables in a PromQL expression as the
// plugin's frontend does (src/interpolate.ts): each string literal and
// each stretch of code outside them is replaced on its own, a value in a
// literal escaped for its quote. Grafana's own $__… variables are left
// for the plugin's backend, $1 … for label_replace; any other unknown
// variable is an error (Grafana would leave it, and the query fail).
func interpolate(expr string, vars map[string]varValue) (string, error) {
	var out strings.Builder
	var unknown []string
	for _, seg := range splitStrings(expr) {
		text := varRef.ReplaceAllStringFunc(seg.text, func(ref string) string {
			m := varRef.FindStringSubmatch(ref)
			name, format := m[1], ""
			switch {
			case m[2] != "":
				name, format = m[2], m[3]
			case m[4] != "":
				name, format = m[4], m[5]
			}
			v, ok := vars[name]
			if !ok {
				// $__… is Grafana's; $1 a capture group (label_replace).
				if !strings.HasPrefix(name, "__") && strings.Trim(name, "0123456789") != "" {
					unknown = append(unknown, name)
				}
				return ref
			}
			s, err := v.format(format, seg.quote)
			if err != nil {
				unknown = append(unknown, fmt.Sprintf("%s (%v)", name, err))
				return ref
			}
			return s
		})
		if seg.quote != 0 {
			out.WriteByte(seg.quote)
			out.WriteString(text)
			if seg.closed {
				out.WriteByte(seg.quote)
			}
			continue
		}
		out.WriteString(text)
	}
	if len(unknown) > 0 {
		return "", fmt.Errorf("cannot interpolate %q: unknown variable %s", expr, strings.Join(unknown, ", "))
	}
	return out.String(), nil
}

// format renders v as Grafana's templateSrv does with the plugin's
// formatter (no format) or an explicit ${name:format}.
func (v varValue) format(format string, quote byte) (string, error) {
	switch format {
	case "":
	case "raw":
		return strings.Join(v.values, ","), nil
	case "regex":
		if v.rawAll {
			return v.values[0], nil
		}
		return alternation(v.values), nil
	case "pipe":
		return strings.Join(v.values, "|"), nil
	case "sqlstring":
		var qs []string
		for _, s := range v.values {
			qs = append(qs, "'"+strings.ReplaceAll(s, "'", "''")+"'")
		}
		return strings.Join(qs, ","), nil
	case "percentencode":
		return strings.ReplaceAll(url.QueryEscape(strings.Join(v.values, ",")), "+", "%20"), nil
	default:
		return "", fmt.Errorf("format %q is not supported", format)
	}
	if v.rawAll {
		return v.values[0], nil
	}
	if !v.regexy {
		return escapeForQuote(strings.Join(v.values, ","), quote), nil
	}
	var escaped []string
	for _, s := range v.values {
		escaped = append(escaped, escapeForQuote(regexMeta.ReplaceAllString(s, `\$0`), quote))
	}
	if len(escaped) == 1 {
		return escaped[0], nil
	}
	return "(" + strings.Join(escaped, "|") + ")", nil
}

// regexMeta are RE2's metacharacters (src/interpolate.ts escapeRegex).
var regexMeta = regexp.MustCompile(`[\\^$.|?*+()\[\]{}]`)

func alternation(values []string) string {
	var escaped []string
	for _, s := range values {
		escaped = append(escaped, regexMeta.ReplaceAllString(s, `\$0`))
	}
	if len(escaped) == 1 {
		return escaped[0]
	}
	return "(" + strings.Join(escaped, "|") + ")"
}

// escapeForQuote escapes a value for the inside of a PromQL string
// literal with this quote (0: outside any literal).
func escapeForQuote(s string, quote byte) string {
	switch quote {
	case 0:
		return s
	case '`':
		return strings.ReplaceAll(s, "`", `\x60`)
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), string(quote), `\`+string(quote))
}

// segment is a stretch of code (quote 0) or a string literal's content.
type segment struct {
	text   string
	quote  byte
	closed bool
}

// splitStrings splits a PromQL expression into code and string contents
// (src/interpolate.ts splitStrings).
func splitStrings(expr string) []segment {
	var out []segment
	code := strings.Builder{}
	for i := 0; i < len(expr); {
		c := expr[i]
		if c != '"' && c != '\'' && c != '`' {
			code.WriteByte(c)
			i++
			continue
		}
		if code.Len() > 0 {
			out = append(out, segment{text: code.String()})
			code.Reset()
		}
		j := i + 1
		var text strings.Builder
		for j < len(expr) && expr[j] != c {
			// Raw (backtick) strings have no escapes.
			if expr[j] == '\\' && c != '`' && j+1 < len(expr) {
				text.WriteByte(expr[j])
				j++
			}
			text.WriteByte(expr[j])
			j++
		}
		out = append(out, segment{text: text.String(), quote: c, closed: j < len(expr)})
		i = j + 1
	}
	if code.Len() > 0 {
		out = append(out, segment{text: code.String()})
	}
	return out
}
