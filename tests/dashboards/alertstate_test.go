package dashboards

import (
	"fmt"
	"sort"
	"testing"
	"time"
)

// Alert states as Grafana's state manager moves them.
const (
	normal   = "Normal"
	pending  = "Pending"
	alerting = "Alerting"
)

// noDataKey is the instance Grafana creates for a NoData result.
const noDataKey = "{NoData}"

type instance struct {
	state string
	since time.Time
}

// stateMachine tracks a rule's alert instances across evaluations.
type stateMachine struct {
	rule ruleYAML
	wait time.Duration
	inst map[string]*instance
}

func newStateMachine(t *testing.T, r ruleYAML) *stateMachine {
	return &stateMachine{rule: r, wait: r.pending(t), inst: map[string]*instance{}}
}

// step applies one evaluation and returns every instance's state.
func (m *stateMachine) step(t *testing.T, ev ruleEval, at time.Time) map[string]string {
	t.Helper()
	results := ev.condition
	if ev.noData {
		switch m.rule.NoDataState {
		case "OK":
			results = map[string]float64{}
		case "Alerting":
			results = map[string]float64{noDataKey: 1}
		default:
			t.Fatalf("rule %s: noDataState %q is not evaluated here", m.rule.UID, m.rule.NoDataState)
		}
	}
	for k := range m.inst {
		if _, ok := results[k]; !ok {
			delete(m.inst, k) // no longer returned: resolved
		}
	}
	out := map[string]string{}
	for k, v := range results {
		in, ok := m.inst[k]
		if !ok {
			in = &instance{state: normal}
			m.inst[k] = in
		}
		switch {
		case v == 0:
			in.state = normal
		case in.state == normal && m.wait == 0:
			in.state, in.since = alerting, at
		case in.state == normal:
			in.state, in.since = pending, at
		case in.state == pending && at.Sub(in.since) >= m.wait:
			in.state = alerting
		}
		out[k] = in.state
	}
	return out
}

// timeline is each instance's states over the evaluations.
type timeline map[string][]string

func (tl timeline) String() string {
	ks := make([]string, 0, len(tl))
	for k := range tl {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	s := ""
	for _, k := range ks {
		s += fmt.Sprintf("\n  %s: %v", k, tl[k])
	}
	return s
}
