package bench

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Template variables as Grafana resolves them: options from a variable
// query's answer, and the value a selection gives each variable.

// labelValuesQuery is a parsed label_values(selector, label) or
// label_values(label) (src/metricFind.ts).
var labelValuesQuery = regexp.MustCompile(`(?s)^label_values\(\s*(?:(.+?)\s*,\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$`)

// variableOptions turns a variable query's answer into its options as
// Grafana does (metricNamesToVariableValues): the regex keeps and
// rewrites values (named groups value/text, else the first group), the
// options are made unique by value, then sorted.
func variableOptions(v variableJSON, found []string) ([]string, error) {
	type option struct{ text, value string }
	var opts []option
	var re *regexp.Regexp
	if v.Regex != "" {
		pattern, flags := v.Regex, ""
		if strings.HasPrefix(pattern, "/") && strings.LastIndex(pattern, "/") > 0 {
			last := strings.LastIndex(pattern, "/")
			pattern, flags = pattern[1:last], pattern[last+1:]
		}
		if strings.Contains(flags, "i") {
			pattern = "(?i)" + pattern
		}
		var err error
		if re, err = regexp.Compile(pattern); err != nil {
			return nil, fmt.Errorf("variable %s: regex %q: %v", v.Name, v.Regex, err)
		}
	}
	for _, s := range found {
		if re == nil {
			opts = append(opts, option{s, s})
			continue
		}
		matches := re.FindAllStringSubmatch(s, -1)
		if len(matches) == 0 {
			continue
		}
		value, text := "", ""
		for _, m := range matches {
			for i, name := range re.SubexpNames() {
				if name == "value" && value == "" {
					value = m[i]
				}
				if name == "text" && text == "" {
					text = m[i]
				}
			}
		}
		switch {
		case value != "" || text != "":
			if value == "" {
				value = text
			}
			if text == "" {
				text = value
			}
			opts = append(opts, option{text, value})
		case len(matches[0]) > 1:
			for _, m := range matches {
				opts = append(opts, option{m[1], m[1]})
			}
		default:
			opts = append(opts, option{s, s})
		}
	}
	seen := map[string]bool{}
	uniq := opts[:0]
	for _, o := range opts {
		if !seen[o.value] {
			seen[o.value] = true
			uniq = append(uniq, o)
		}
	}
	opts = uniq
	// Grafana's sort: 0 none, 1/2 alphabetical (asc/desc), 3/4 numerical,
	// 5/6 alphabetical case-insensitive; by text.
	less := map[int]func(a, b option) bool{
		1: func(a, b option) bool { return a.text < b.text },
		2: func(a, b option) bool { return a.text > b.text },
		5: func(a, b option) bool { return strings.ToLower(a.text) < strings.ToLower(b.text) },
		6: func(a, b option) bool { return strings.ToLower(a.text) > strings.ToLower(b.text) },
	}
	if v.Sort != 0 {
		f, ok := less[v.Sort]
		if !ok {
			return nil, fmt.Errorf("variable %s: sort %d is not supported", v.Name, v.Sort)
		}
		sort.SliceStable(opts, func(i, j int) bool { return f(opts[i], opts[j]) })
	}
	out := make([]string, len(opts))
	for i, o := range opts {
		out[i] = o.value
	}
	return out, nil
}

// selection is which values the dashboard's variables take.
type selection int

const (
	// selectAll: every variable with an All option at All, the others
	// at their first option (what Grafana shows when nothing is chosen).
	selectAll selection = iota
	// selectOne: every variable at its first option.
	selectOne
)

func (s selection) String() string { return [...]string{"all", "one"}[s] }

// choose is v's value under sel, given its options and its saved
// current value ("" for none): All for a variable with an All option
// under selectAll, else the current value if it is an option, else the
// first option.
func choose(v variableJSON, options []string, current string, sel selection) (varValue, error) {
	regexy := v.Multi || v.IncludeAll
	if sel == selectAll && v.IncludeAll {
		if v.AllValue != "" {
			return varValue{values: []string{v.AllValue}, rawAll: true}, nil
		}
		if len(options) == 0 {
			return varValue{}, fmt.Errorf("variable %s has no values to make All of", v.Name)
		}
		return varValue{values: options, regexy: true}, nil
	}
	if len(options) == 0 {
		return varValue{}, fmt.Errorf("variable %s has no values", v.Name)
	}
	for _, o := range options {
		if o == current {
			return varValue{values: []string{o}, regexy: regexy}, nil
		}
	}
	return varValue{values: options[:1], regexy: regexy}, nil
}

// current is the variable's saved current value, "" when none is saved
// (or it is a list, as a multi-value variable saves it).
func (v variableJSON) current() string {
	var s string
	if len(v.Current.Value) > 0 && json.Unmarshal(v.Current.Value, &s) == nil {
		return s
	}
	return ""
}

// staticOptions are the options of a variable that needs no query
// (interval, custom, constant, textbox).
func staticOptions(v variableJSON) ([]string, error) {
	if v.Auto {
		return nil, fmt.Errorf("variable %s: auto intervals are not supported", v.Name)
	}
	q, err := v.queryText()
	if err != nil {
		return nil, err
	}
	switch v.Type {
	case "constant", "textbox":
		return []string{q}, nil
	case "interval", "custom":
		var opts []string
		for _, s := range strings.Split(q, ",") {
			if s = strings.TrimSpace(s); s != "" {
				opts = append(opts, s)
			}
		}
		return opts, nil
	}
	return nil, fmt.Errorf("variable %s: type %q needs a query", v.Name, v.Type)
}
