package models

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseQuery(t *testing.T) {
	q, err := ParseQuery([]byte(`{"refId":"A","expr":"  up ","minStep":"30s"}`))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if q.Expr != "up" || q.QueryType != QueryTypeRange {
		t.Fatalf("got %+v, want expr up and the range type by default", q)
	}
	if d, _ := q.MinStepDuration(); d != 30*time.Second {
		t.Fatalf("min step %v, want 30s", d)
	}
}

// A graph's labels may be lists ("a, b" names a node a/b); a fallback
// graph gets the same defaults as the graph.
func TestParseServiceGraphLabels(t *testing.T) {
	q, err := ParseQuery([]byte(`{"expr":"x","queryType":"serviceGraph","sourceLabel":" source_namespace , source_workload","targetLabel":"destination_namespace,destination_service","fallbackExpr":" y "}`))
	if err != nil {
		t.Fatal(err)
	}
	if q.SourceLabel != "source_namespace,source_workload" || q.TargetLabel != "destination_namespace,destination_service" {
		t.Errorf("labels %q → %q", q.SourceLabel, q.TargetLabel)
	}
	if q.FallbackExpr != "y" || q.FallbackSourceLabel != DefaultSourceLabel || q.FallbackTargetLabel != DefaultTargetLabel {
		t.Errorf("fallback %q %q → %q", q.FallbackExpr, q.FallbackSourceLabel, q.FallbackTargetLabel)
	}
	if got := GraphLabelNames(q.SourceLabel); len(got) != 2 || got[1] != "source_workload" {
		t.Errorf("names %v", got)
	}
}

func TestParseQueryErrors(t *testing.T) {
	cases := []struct{ name, json, field, problem string }{
		{"no json", ``, "", "empty query JSON"},
		{"bad json", `{"expr":`, "", "cannot decode"},
		{"empty expr", `{"refId":"A"}`, "expr", "empty expression"},
		{"blank expr", `{"expr":"   "}`, "expr", "empty expression"},
		{"query type", `{"expr":"up","queryType":"graph"}`, "queryType", `got "graph"`},
		{"min step", `{"expr":"up","minStep":"often"}`, "minStep", "duration"},
		{"same graph labels", `{"expr":"up","queryType":"serviceGraph","sourceLabel":"a, b","targetLabel":"a,b"}`, "targetLabel", `both "a,b"`},
		{"bad graph label", `{"expr":"up","queryType":"serviceGraph","sourceLabel":"a,,b"}`, "sourceLabel", `"" is not a label name`},
		{"bad fallback label", `{"expr":"up","queryType":"serviceGraph","fallbackExpr":"up","fallbackTargetLabel":"x-y"}`, "fallbackTargetLabel", `"x-y" is not a label name`},
		{"fallback outside a graph", `{"expr":"up","queryType":"instant","fallbackExpr":"up"}`, "fallbackExpr", "belongs to a serviceGraph"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseQuery([]byte(c.json))
			var qe *QueryError
			if !errors.As(err, &qe) {
				t.Fatalf("error %v, want a *QueryError", err)
			}
			if qe.Field != c.field || !strings.Contains(err.Error(), c.problem) {
				t.Fatalf("error %q (field %q), want field %q and %q", err, qe.Field, c.field, c.problem)
			}
		})
	}
}
