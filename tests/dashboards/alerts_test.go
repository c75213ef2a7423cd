package dashboards

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/forma3d/meshmetrics/pkg/dialect"
)

// meshRuleUIDs are the rules the group must hold: per service, per caller
// → service pair (the access-log agent's metrics), proxies, certificates.
var meshRuleUIDs = []string{"mesh-service-5xx-ratio", "mesh-service-p99-latency", "mesh-pair-5xx-ratio", "mesh-pair-p99-latency",
	"mesh-proxy-down", "mesh-proxies-missing", "mesh-certificate-expiry"}

// Every rule has what a page needs (severity, summary, description,
// runbook), queries the provisioned Mesh Metrics datasource with an
// expression the dialect accepts, and ends in reduce → threshold. How the
// rules route: alertprovisioning_test.go.
func TestAlertRulesAreComplete(t *testing.T) {
	f, rules := loadRules(t)
	if f.APIVersion != 1 || len(f.Groups) != 1 {
		t.Fatalf("apiVersion %d, %d groups", f.APIVersion, len(f.Groups))
	}
	for _, uid := range meshRuleUIDs {
		if _, ok := rules[uid]; !ok {
			t.Errorf("no rule %s", uid)
		}
	}
	runbook := string(repoFile(t, "docs/alerts.md"))
	for uid, r := range rules {
		if !slices.Contains([]string{"warning", "critical"}, r.Labels["severity"]) {
			t.Errorf("%s: severity %q", uid, r.Labels["severity"])
		}
		for _, a := range []string{"summary", "description", "runbook_url"} {
			if r.Annotations[a] == "" {
				t.Errorf("%s: no %s", uid, a)
			}
		}
		if !strings.HasSuffix(r.Annotations["runbook_url"], "docs/alerts.md#"+uid) || !strings.Contains(runbook, `<a id="`+uid+`"></a>`) {
			t.Errorf("%s: runbook %q has no section in docs/alerts.md", uid, r.Annotations["runbook_url"])
		}
		if len(r.Data) != 3 || r.Data[0].DatasourceUID != "meshmetrics" || r.Condition != r.Data[2].RefID ||
			str(r.Data[1].Model["type"]) != "reduce" || str(r.Data[2].Model["type"]) != "threshold" {
			t.Errorf("%s: want A (meshmetrics) → reduce → threshold as the condition", uid)
			continue
		}
		ast, err := dialect.Parse(str(r.Data[0].Model["expr"]))
		if err != nil {
			t.Errorf("%s: %v", uid, err)
		} else if p := noiseFiltered(ast); p != "" {
			t.Errorf("%s: %s", uid, p)
		}
		if str(r.Data[0].Model["queryType"]) != "instant" {
			t.Errorf("%s: query type %v", uid, r.Data[0].Model["queryType"])
		}
	}
	if d := rules["mesh-service-p99-latency"].Annotations["description"]; !strings.Contains(d, "1.2 and 5 s") {
		t.Errorf("the latency rule does not explain the bucket interpolation: %q", d)
	}
	if ds := string(repoFile(t, "provisioning/grafana/datasources/datasources.yml")); !strings.Contains(ds, "uid: meshmetrics") {
		t.Error("the provisioned datasource's uid is not meshmetrics, the rules' datasourceUid")
	}
}

// Each rule evaluated through the plugin binary as Grafana alerting calls
// it, over crafted data: it goes Pending when the data breaks the
// threshold, Alerting only once the pending period has passed, and stays
// Normal for data that does not. Query A's values equal the Prometheus
// engine's, and the states follow from Prometheus' values too.
func TestAlertRulesFireOnCraftedData(t *testing.T) {
	_, rules := loadRules(t)
	e := startMesh(t, append(alertSeries(), pairAlertSeries()...))
	minutes := func(from time.Time, a, b int) []time.Time {
		var out []time.Time
		for m := a; m <= b; m++ {
			out = append(out, from.Add(time.Duration(m)*time.Minute))
		}
		return out
	}
	// devAPI and api carry the destination labels (the rules keep them on
	// the instance); web and slicer are old series without them.
	const (
		devAPI  = `{destination_namespace="forma3d-dev", destination_service="api-gateway", service="forma3d-dev-api-gateway-8080@http"}`
		api     = `{destination_namespace="forma3d", destination_service="api", service="forma3d-api-8080@http"}`
		web     = `{service="forma3d-web-3000@http"}`
		slicer  = `{service="forma3d-slicer-7000@http"}`
		noise   = `{service="readiness@http"}`
		proxy1I = `{__name__="up", instance="10.0.0.1:8080", job="traefik-mesh"}`
		proxy2I = `{__name__="up", instance="10.0.0.2:8080", job="traefik-mesh"}`
	)
	t.Run("5xx ratio", func(t *testing.T) {
		r := rules["mesh-service-5xx-ratio"]
		tl := e.timeline(t, r, minutes(ratioStart, 10, 30))
		firesAfterPending(t, tl, devAPI, r.pending(t))
		quiet(t, tl, web, noise)
	})
	t.Run("p99 latency", func(t *testing.T) {
		r := rules["mesh-service-p99-latency"]
		tl := e.timeline(t, r, minutes(latencyStart, 10, 32))
		firesAfterPending(t, tl, api, r.pending(t))
		// 1.3 s requests alert: the p99 is interpolated to 3.1 s inside the
		// (1.2, 5] bucket, as docs/alerts.md explains.
		firesAfterPending(t, tl, slicer, r.pending(t))
		quiet(t, tl, web, noise)
	})
	t.Run("caller → service pairs", func(t *testing.T) { e.checkPairRules(t, rules, minutes) })
	t.Run("proxy down", func(t *testing.T) {
		r := rules["mesh-proxy-down"]
		tl := e.timeline(t, r, minutes(downStart, 5, 20))
		firesAfterPending(t, tl, proxy2I, r.pending(t))
		quiet(t, tl, proxy1I)
		// No up series at all: the collector scrapes no proxy. The rule's
		// noDataState makes that an alert, after the same pending period.
		nd := e.timeline(t, r, minutes(noUpAt, 0, 3))
		firesAfterPending(t, nd, noDataKey, r.pending(t))
	})
	t.Run("proxies missing", func(t *testing.T) {
		r := rules["mesh-proxies-missing"]
		times := append(minutes(missingStart, 20, 35), minutes(missingStart, 90, 92)...)
		tl := e.timeline(t, r, times)
		states := tl["{}"]
		// 20…30 min: all three report; 31 min on: one fewer than in the last
		// hour; 90 min on: the lookback has passed.
		if len(states) != len(times) || states[0] != normal || states[11] != pending || states[12] != pending || states[13] != alerting || states[16] != normal {
			t.Fatalf("states %v", states)
		}
		// The down rule cannot see a vanished proxy: it has no up series.
		down := e.timeline(t, rules["mesh-proxy-down"], minutes(missingStart, 31, 35))
		quiet(t, down, proxy1I, proxy2I, `{__name__="up", instance="10.0.0.3:8080", job="traefik-mesh"}`)
	})
	t.Run("active connections on Traefik v3", func(t *testing.T) {
		d := loadDashboard(t)
		want := 0.0
		for ep, n := range v3Connections {
			if !slices.Contains(probeEntrypoints, ep) {
				want += n
			}
		}
		at := certStart.Add(5 * time.Minute)
		for _, p := range leafPanels(d) {
			if p.Title != "Active connections" {
				continue
			}
			resp, q := e.query(t, p.Targets[0], defaultVars(t, d), backend.TimeRange{From: at.Add(-time.Hour), To: at}, nil)
			got := framesAnswer(t, resp.Frames, at)
			if resp.Error != nil || len(got) != 1 || got["{}"][0].v != want {
				t.Errorf("active connections on v3: %v %v, want %v", resp.Error, got, want)
			}
			if err := sameAnswer(got, e.o.instant(t, q["expr"], at)); err != nil {
				t.Error(err)
			}
			return
		}
		t.Error("no Active connections panel")
	})
	t.Run("certificate expiry", func(t *testing.T) {
		r := rules["mesh-certificate-expiry"]
		tl := e.timeline(t, r, append(minutes(certStart, 5, 6), noCertAt))
		if s := tl[`{cn="soon.forma3d.example", serial="soon.forma3d.example"}`]; !slices.Equal(s, []string{alerting, alerting, "-"}) {
			t.Errorf("certificate expiring in 3 days: %v, want alerting at once (for %s), resolved once no certificate is reported", s, r.For)
		}
		quiet(t, tl, `{cn="later.forma3d.example", serial="later.forma3d.example"}`)
		// No certificates (Traefik Mesh has no mTLS): no alert, no NoData.
		last := e.timeline(t, r, []time.Time{noCertAt})
		if len(last) != 0 {
			t.Errorf("with no certificates the rule has instances %v", last)
		}
		// The dashboard's stat then gets no value (not 0, not an error) and
		// shows its noValue text.
		d := loadDashboard(t)
		for _, p := range leafPanels(d) {
			if p.Title != "Certificate expiry" {
				continue
			}
			if p.FieldConfig.Defaults.NoValue != "no certificates — Traefik Mesh has no mTLS" {
				t.Errorf("certificate stat noValue %q", p.FieldConfig.Defaults.NoValue)
			}
			for _, at := range []time.Time{certStart.Add(5 * time.Minute), noCertAt} {
				resp, _ := e.query(t, p.Targets[0], defaultVars(t, d), backend.TimeRange{From: at.Add(-time.Hour), To: at}, nil)
				a := framesAnswer(t, resp.Frames, at)
				if resp.Error != nil || (at.Equal(noCertAt) != (len(a) == 0)) {
					t.Errorf("certificate stat at %s: error %v, values %v", at.Format(time.TimeOnly), resp.Error, a)
				}
			}
			return
		}
		t.Error("no Certificate expiry panel")
	})
}

// timeline evaluates a rule at each time through the plugin and through
// Prometheus, checks query A agrees, and returns the plugin's states,
// which must equal those Prometheus' values lead to.
func (e *meshEnv) timeline(t *testing.T, r ruleYAML, times []time.Time) timeline {
	t.Helper()
	got, want := newStateMachine(t, r), newStateMachine(t, r)
	tlGot, tlWant := timeline{}, timeline{}
	for i, at := range times {
		ev := e.evaluate(t, r, at)
		oracleA := e.o.instant(t, str(r.Data[0].Model["expr"]), at)
		if err := sameAnswer(ev.queryA, oracleA); err != nil {
			t.Fatalf("rule %s at %s: %v", r.UID, at.Format(time.TimeOnly), err)
		}
		record(tlGot, got.step(t, ev, at), i)
		record(tlWant, want.step(t, oracleEval(t, r, oracleA), at), i)
	}
	if tlGot.String() != tlWant.String() {
		t.Fatalf("rule %s: plugin states%s\nprometheus states%s", r.UID, tlGot, tlWant)
	}
	return tlGot
}

// record appends this evaluation's states; an instance absent in an
// evaluation reads "-".
func record(tl timeline, states map[string]string, i int) {
	for k, s := range states {
		for len(tl[k]) < i {
			tl[k] = append(tl[k], "-")
		}
		tl[k] = append(tl[k], s)
	}
	for k := range tl {
		for len(tl[k]) < i+1 {
			tl[k] = append(tl[k], "-")
		}
	}
}

// oracleEval applies the rule's reduce and threshold to Prometheus' answer.
func oracleEval(t *testing.T, r ruleYAML, a answer) ruleEval {
	t.Helper()
	in := sseResult{}
	for k, pts := range a {
		v := pts[0].v
		in.items = append(in.items, sseItem{labels: parseKey(t, k), number: &v})
	}
	in.noData = len(in.items) == 0
	cond := threshold(t, r.Data[2].Model, reduce(t, r.Data[1].Model, in))
	ev := ruleEval{noData: cond.noData, condition: map[string]float64{}}
	for _, it := range cond.items {
		ev.condition[labelKey(it.labels)] = *it.number
	}
	return ev
}

// firesAfterPending: the instance starts Normal, turns Pending, stays
// Pending for exactly the pending period (one evaluation a minute), then
// Alerting until the end.
func firesAfterPending(t *testing.T, tl timeline, key string, wait time.Duration) {
	t.Helper()
	states, ok := tl[key]
	if !ok {
		t.Fatalf("no instance %s; instances:%s", key, tl)
	}
	first := slices.IndexFunc(states, func(s string) bool { return s == pending || s == alerting })
	if first < 0 {
		t.Fatalf("%s never left Normal: %v", key, states)
	}
	if key != noDataKey && first == 0 {
		t.Fatalf("%s was not Normal before the data broke the threshold: %v", key, states)
	}
	n := int(wait / time.Minute)
	for i := first; i < len(states); i++ {
		want := alerting
		if i < first+n {
			want = pending
		}
		if states[i] != want {
			t.Fatalf("%s: state %d is %s, want %s (pending %s from evaluation %d): %v", key, i, states[i], want, wait, first, states)
		}
	}
	if first+n >= len(states) {
		t.Fatalf("%s: never reached Alerting within the evaluations: %v", key, states)
	}
}

// quiet: the instances never leave Normal (or are never returned).
func quiet(t *testing.T, tl timeline, keys ...string) {
	t.Helper()
	for _, k := range keys {
		for _, s := range tl[k] {
			if s != normal && s != "-" {
				t.Errorf("%s went %s: %v", k, s, tl[k])
				break
			}
		}
	}
}
