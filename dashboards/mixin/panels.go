package mixin

// The parts of Grafana's dashboard JSON model (schemaVersion 41) this
// dashboard uses.

// DSRef names a datasource; UID is usually a datasource variable.
type DSRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// Target is one panel query: Mesh Metrics' query model (pkg/models/query.go)
// or, for the logs panel, the ClickHouse datasource's SQL query.
type Target struct {
	RefID        string `json:"refId"`
	Datasource   DSRef  `json:"datasource"`
	Expr         string `json:"expr,omitempty"`
	LegendFormat string `json:"legendFormat,omitempty"`
	QueryType    string `json:"queryType,omitempty"`
	MinStep      string `json:"minStep,omitempty"`
	SourceLabel  string `json:"sourceLabel,omitempty"`
	TargetLabel  string `json:"targetLabel,omitempty"`
	ErrorExpr    string `json:"errorExpr,omitempty"`
	LatencyExpr  string `json:"latencyExpr,omitempty"`
	// A service graph's fallback, drawn when Expr has no series.
	FallbackExpr        string `json:"fallbackExpr,omitempty"`
	FallbackErrorExpr   string `json:"fallbackErrorExpr,omitempty"`
	FallbackLatencyExpr string `json:"fallbackLatencyExpr,omitempty"`
	FallbackSourceLabel string `json:"fallbackSourceLabel,omitempty"`
	FallbackTargetLabel string `json:"fallbackTargetLabel,omitempty"`

	// grafana-clickhouse-datasource (v4): SQL editor, logs result.
	EditorType string `json:"editorType,omitempty"`
	RawSQL     string `json:"rawSql,omitempty"`
	Format     *int   `json:"format,omitempty"`
}

// GridPos places a panel on the 24-column grid.
type GridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

// Link is a panel link or a data link.
type Link struct {
	Title       string `json:"title"`
	URL         string `json:"url"`
	TargetBlank bool   `json:"targetBlank,omitempty"`
}

// Panel is one panel or row.
type Panel struct {
	ID              int              `json:"id"`
	Type            string           `json:"type"`
	Title           string           `json:"title"`
	Description     string           `json:"description,omitempty"`
	GridPos         GridPos          `json:"gridPos"`
	Datasource      *DSRef           `json:"datasource,omitempty"`
	Targets         []Target         `json:"targets,omitempty"`
	FieldConfig     *FieldConfig     `json:"fieldConfig,omitempty"`
	Options         map[string]any   `json:"options,omitempty"`
	Transformations []map[string]any `json:"transformations,omitempty"`
	Links           []Link           `json:"links,omitempty"`
	Collapsed       *bool            `json:"collapsed,omitempty"`
	Panels          []Panel          `json:"panels,omitempty"`
}

// FieldConfig is a panel's field defaults and overrides.
type FieldConfig struct {
	Defaults  FieldDefaults    `json:"defaults"`
	Overrides []map[string]any `json:"overrides"`
}

// FieldDefaults are the defaults every field of a panel gets.
type FieldDefaults struct {
	Unit       string           `json:"unit,omitempty"`
	Decimals   *int             `json:"decimals,omitempty"`
	Min        *float64         `json:"min,omitempty"`
	Max        *float64         `json:"max,omitempty"`
	NoValue    string           `json:"noValue,omitempty"`
	Color      map[string]any   `json:"color,omitempty"`
	Thresholds *Thresholds      `json:"thresholds,omitempty"`
	Links      []Link           `json:"links,omitempty"`
	Mappings   []map[string]any `json:"mappings,omitempty"`
	Custom     map[string]any   `json:"custom,omitempty"`
}

// Thresholds are absolute steps; the first step's value is null (-∞).
type Thresholds struct {
	Mode  string `json:"mode"`
	Steps []Step `json:"steps"`
}

// Step is one threshold step.
type Step struct {
	Color string   `json:"color"`
	Value *float64 `json:"value"`
}

func f64(v float64) *float64 { return &v }

// steps builds thresholds: base color, then (value, color) pairs upwards.
func steps(base string, pairs ...any) *Thresholds {
	t := &Thresholds{Mode: "absolute", Steps: []Step{{Color: base}}}
	for i := 0; i+1 < len(pairs); i += 2 {
		t.Steps = append(t.Steps, Step{Color: pairs[i+1].(string), Value: f64(pairs[i].(float64))})
	}
	return t
}

// layout hands out grid positions left to right, top to bottom, and ids.
type layout struct {
	x, y, rowH, id int
	panels         []Panel
}

// row starts a new row titled title.
func (l *layout) row(title string) {
	l.newline()
	l.id++
	l.panels = append(l.panels, Panel{ID: l.id, Type: "row", Title: title, GridPos: GridPos{H: 1, W: 24, X: 0, Y: l.y}, Collapsed: new(bool)})
	l.y++
}

func (l *layout) newline() {
	if l.x > 0 {
		l.y += l.rowH
		l.x, l.rowH = 0, 0
	}
}

// add places p with width w and height h.
func (l *layout) add(w, h int, p Panel) {
	if l.x+w > 24 {
		l.newline()
	}
	l.id++
	p.ID = l.id
	p.GridPos = GridPos{H: h, W: w, X: l.x, Y: l.y}
	l.x += w
	l.rowH = max(l.rowH, h)
	l.panels = append(l.panels, p)
}
