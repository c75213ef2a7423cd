package dashboards

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// grafanaAlertingFile is Grafana's alerting file-provisioning format
// (apiVersion 1, pkg/services/provisioning/alerting: AlertingFileV1 and
// its rule group, rule, query and notification-settings shapes), every
// key it reads, so that a strict decode rejects anything Grafana would not
// know and shows every key Grafana would act on.
type grafanaAlertingFile struct {
	APIVersion          int              `yaml:"apiVersion"`
	Groups              []grafanaGroup   `yaml:"groups"`
	DeleteRules         []map[string]any `yaml:"deleteRules"`
	ContactPoints       []map[string]any `yaml:"contactPoints"`
	DeleteContactPoints []map[string]any `yaml:"deleteContactPoints"`
	Policies            []map[string]any `yaml:"policies"`
	ResetPolicies       []any            `yaml:"resetPolicies"`
	Templates           []map[string]any `yaml:"templates"`
	DeleteTemplates     []map[string]any `yaml:"deleteTemplates"`
	MuteTimes           []map[string]any `yaml:"muteTimes"`
	DeleteMuteTimes     []map[string]any `yaml:"deleteMuteTimes"`
}

type grafanaGroup struct {
	OrgID    int           `yaml:"orgId"`
	Name     string        `yaml:"name"`
	Folder   string        `yaml:"folder"`
	Interval string        `yaml:"interval"`
	Rules    []grafanaRule `yaml:"rules"`
}

type grafanaRule struct {
	UID          string            `yaml:"uid"`
	Title        string            `yaml:"title"`
	Condition    string            `yaml:"condition"`
	Data         []grafanaQuery    `yaml:"data"`
	DashboardUID string            `yaml:"dashboardUid"`
	PanelID      int               `yaml:"panelId"`
	NoDataState  string            `yaml:"noDataState"`
	ExecErrState string            `yaml:"execErrState"`
	For          string            `yaml:"for"`
	KeepFiring   string            `yaml:"keep_firing_for"`
	Annotations  map[string]string `yaml:"annotations"`
	Labels       map[string]string `yaml:"labels"`
	IsPaused     bool              `yaml:"isPaused"`
	// NotificationSettings names a contact point (receiver): Grafana
	// refuses the whole provisioning, and stops, when it does not exist.
	NotificationSettings *struct {
		Receiver            string   `yaml:"receiver"`
		GroupBy             []string `yaml:"group_by"`
		GroupWait           string   `yaml:"group_wait"`
		GroupInterval       string   `yaml:"group_interval"`
		RepeatInterval      string   `yaml:"repeat_interval"`
		MuteTimeIntervals   []string `yaml:"mute_time_intervals"`
		ActiveTimeIntervals []string `yaml:"active_time_intervals"`
	} `yaml:"notification_settings"`
	Record                      map[string]any `yaml:"record"`
	MissingSeriesEvalsToResolve *int           `yaml:"missing_series_evals_to_resolve"`
}

type grafanaQuery struct {
	RefID             string `yaml:"refId"`
	QueryType         string `yaml:"queryType"`
	RelativeTimeRange struct {
		From int `yaml:"from"`
		To   int `yaml:"to"`
	} `yaml:"relativeTimeRange"`
	DatasourceUID string         `yaml:"datasourceUid"`
	Model         map[string]any `yaml:"model"`
}

// The rule: a missing or wrong contact point name cannot fail the alert
// provisioning. The committed file, expanded as Grafana expands
// provisioning files (os.ExpandEnv) under any environment, decodes
// strictly into Grafana's shape and names no contact point, provisions
// no contact point or policy tree (which would replace the users' tree
// and their log alerts' routing), and every rule carries the literal
// labels the users' policy tree routes on.
func TestAlertProvisioningNamesNoContactPoint(t *testing.T) {
	raw := repoFile(t, "provisioning/grafana/alerting/mesh-alerts.yaml")
	envs := map[string]func(string) string{
		"empty environment": func(string) string { return "" },
		"a wrong contact point name": func(k string) string {
			return map[string]string{"MESH_ALERTS_CONTACT_POINT": "grafana-default-email"}[k]
		},
	}
	var decoded []string
	for name, env := range envs {
		t.Run(name, func(t *testing.T) {
			expanded := os.Expand(string(raw), env)
			dec := yaml.NewDecoder(bytes.NewReader([]byte(expanded)))
			dec.KnownFields(true)
			var f grafanaAlertingFile
			if err := dec.Decode(&f); err != nil {
				t.Fatalf("Grafana's provisioning shape: %v", err)
			}
			if len(f.ContactPoints)+len(f.DeleteContactPoints)+len(f.Policies)+len(f.ResetPolicies) > 0 {
				t.Errorf("the file provisions contact points or a policy tree (%d, %d, %d, %d): a policy tree replaces the users' whole tree",
					len(f.ContactPoints), len(f.DeleteContactPoints), len(f.Policies), len(f.ResetPolicies))
			}
			rules := 0
			for _, g := range f.Groups {
				for _, r := range g.Rules {
					rules++
					if r.NotificationSettings != nil {
						t.Errorf("%s: notification_settings names receiver %q: a name Grafana does not know fails the provisioning", r.UID, r.NotificationSettings.Receiver)
					}
					if r.Labels["component"] != "service-mesh" {
						t.Errorf("%s: labels %v: no component=service-mesh for the policy tree to route on", r.UID, r.Labels)
					}
					for k, v := range r.Labels {
						if k == "" || v == "" {
							t.Errorf("%s: label %q=%q is empty after expansion", r.UID, k, v)
						}
					}
				}
			}
			if rules != len(meshRuleUIDs) {
				t.Errorf("%d rules, want the %d mesh rules", rules, len(meshRuleUIDs))
			}
			decoded = append(decoded, expanded)
		})
	}
	// Routing does not depend on the environment at all.
	if len(decoded) == 2 && decoded[0] != decoded[1] {
		t.Error("the expanded file differs between environments: something in it still reads the environment")
	}
	if strings.Contains(string(raw), "receiver") {
		t.Error("the file mentions a receiver")
	}
}
