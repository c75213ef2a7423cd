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

func TestParseQueryErrors(t *testing.T) {
	cases := []struct{ name, json, field, problem string }{
		{"no json", ``, "", "empty query JSON"},
		{"bad json", `{"expr":`, "", "cannot decode"},
		{"empty expr", `{"refId":"A"}`, "expr", "empty expression"},
		{"blank expr", `{"expr":"   "}`, "expr", "empty expression"},
		{"query type", `{"expr":"up","queryType":"graph"}`, "queryType", `got "graph"`},
		{"min step", `{"expr":"up","minStep":"often"}`, "minStep", "duration"},
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
