package release

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"sigs.k8s.io/yaml"

	"github.com/forma3d/meshmetrics/pkg/models"
)

// datasourcesFile is Grafana's datasource provisioning format, the keys
// this project's files use and a few common ones; decoding is strict.
type datasourcesFile struct {
	APIVersion        int                     `json:"apiVersion"`
	DeleteDatasources []map[string]any        `json:"deleteDatasources,omitempty"`
	Datasources       []provisionedDatasource `json:"datasources"`
}

type provisionedDatasource struct {
	Name           string            `json:"name"`
	UID            string            `json:"uid"`
	Type           string            `json:"type"`
	Access         string            `json:"access"`
	URL            string            `json:"url,omitempty"`
	IsDefault      bool              `json:"isDefault"`
	OrgID          int               `json:"orgId"`
	Editable       bool              `json:"editable"`
	Version        int               `json:"version,omitempty"`
	JSONData       map[string]any    `json:"jsonData"`
	SecureJSONData map[string]string `json:"secureJsonData"`
}

// grafanaVariable is what Grafana's provisioning reads as a variable
// reference: $NAME or ${...} (whatever is between the braces is taken as
// the name, so ${NAME:-default} reads a variable called "NAME:-default").
var grafanaVariable = regexp.MustCompile(`\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// grafanaExpand expands s as Grafana's provisioning does: "$$" is a
// literal "$", every other $NAME / ${NAME} is os.Expand against env. It
// reports each reference that Grafana would turn into an empty string: a
// name not set in env, or a ${NAME:-default} form Grafana does not know.
func grafanaExpand(s string, env map[string]string) (string, []string) {
	var problems []string
	parts := strings.Split(s, "$$")
	for i, part := range parts {
		for _, m := range grafanaVariable.FindAllStringSubmatch(part, -1) {
			name := m[1] + m[2]
			switch {
			case !identifier.MatchString(name):
				problems = append(problems, fmt.Sprintf("%s: Grafana expands only $VAR and ${VAR}; ${%s} reads a variable of that whole name and becomes empty", m[0], name))
			default:
				if _, ok := env[name]; !ok {
					problems = append(problems, fmt.Sprintf("%s is not set in Grafana's environment", m[0]))
				}
			}
		}
		parts[i] = os.Expand(part, func(name string) string { return env[name] })
	}
	return strings.Join(parts, "$"), problems
}

// expandTree expands every string of a decoded YAML tree.
func expandTree(v any, env map[string]string, problems *[]string) any {
	switch x := v.(type) {
	case string:
		out, p := grafanaExpand(x, env)
		*problems = append(*problems, p...)
		return out
	case map[string]any:
		out := map[string]any{}
		for k, child := range x {
			out[k] = expandTree(child, env, problems)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, child := range x {
			out[i] = expandTree(child, env, problems)
		}
		return out
	default:
		return v
	}
}

// provisionDatasources decodes a datasource provisioning file strictly,
// expands it with Grafana's rules in env, and loads each Mesh Metrics
// datasource's settings with the plugin's own validation, as the plugin
// will see them after provisioning.
func provisionDatasources(t *testing.T, where string, raw []byte, env map[string]string) map[string]models.Settings {
	t.Helper()
	var file datasourcesFile
	if err := yaml.UnmarshalStrict(raw, &file); err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	if file.APIVersion != 1 || len(file.Datasources) == 0 {
		t.Fatalf("%s: apiVersion %d with %d datasources", where, file.APIVersion, len(file.Datasources))
	}
	out := map[string]models.Settings{}
	for _, ds := range file.Datasources {
		if ds.Type != pluginID {
			continue
		}
		var problems []string
		jsonData := expandTree(map[string]any(ds.JSONData), env, &problems)
		secure := map[string]string{}
		for k, v := range ds.SecureJSONData {
			out, p := grafanaExpand(v, env)
			problems = append(problems, p...)
			secure[k] = out
		}
		for _, p := range problems {
			t.Errorf("%s, datasource %s: %s", where, ds.UID, p)
		}
		b, err := json.Marshal(jsonData)
		if err != nil {
			t.Fatal(err)
		}
		settings, err := models.LoadSettings(backend.DataSourceInstanceSettings{UID: ds.UID, JSONData: b, DecryptedSecureJSONData: secure})
		if err != nil {
			t.Errorf("%s, datasource %s after expansion: %v", where, ds.UID, err)
			continue
		}
		out[ds.UID] = settings
	}
	if len(out) == 0 && !t.Failed() {
		t.Fatalf("%s provisions no %s datasource", where, pluginID)
	}
	return out
}

// alertRuleRefs are the uppercase environment variables the mesh alert
// rules read and the datasource uids their queries name.
func alertRuleRefs(t *testing.T) (variables []string, uids []string) {
	t.Helper()
	raw := repoFile(t, "provisioning/grafana/alerting/mesh-alerts.yaml")
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile(`\$\{?([A-Z][A-Z0-9_]+)\}?`).FindAllStringSubmatch(string(raw), -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			variables = append(variables, m[1])
		}
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Data []struct {
					DatasourceUID string `json:"datasourceUid"`
				} `json:"data"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatalf("mesh-alerts.yaml: %v", err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			for _, d := range r.Data {
				if d.DatasourceUID != "__expr__" && !seen["uid:"+d.DatasourceUID] {
					seen["uid:"+d.DatasourceUID] = true
					uids = append(uids, d.DatasourceUID)
				}
			}
		}
	}
	if len(uids) == 0 {
		t.Fatal("the mesh alert rules query no datasource")
	}
	return variables, uids
}

// checkGrafanaImage: an official image at a version plugin.json allows.
func checkGrafanaImage(t *testing.T, where, repository, tag string) {
	t.Helper()
	if repository != "grafana/grafana" && repository != "grafana/grafana-enterprise" {
		t.Errorf("%s: image %s is not Grafana's official image", where, repository)
	}
	var p pluginJSON
	if err := decodeJSONStrict(repoFile(t, "src/plugin.json"), &p); err != nil {
		t.Fatal(err)
	}
	var minMajor, minMinor, minPatch, major, minor, patch int
	if _, err := fmt.Sscanf(p.Dependencies.GrafanaDependency, ">=%d.%d.%d", &minMajor, &minMinor, &minPatch); err != nil {
		t.Fatalf("grafanaDependency %q: %v", p.Dependencies.GrafanaDependency, err)
	}
	if _, err := fmt.Sscanf(tag, "%d.%d.%d", &major, &minor, &patch); err != nil {
		t.Fatalf("%s: image tag %q is not a pinned x.y.z", where, tag)
	}
	if [3]int{major, minor, patch} != maxVersion([3]int{major, minor, patch}, [3]int{minMajor, minMinor, minPatch}) {
		t.Errorf("%s: Grafana %s is older than grafanaDependency %s", where, tag, p.Dependencies.GrafanaDependency)
	}
}

func maxVersion(a, b [3]int) [3]int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] > b[i] {
				return a
			}
			return b
		}
	}
	return a
}

func TestGrafanaExpansionRules(t *testing.T) {
	env := map[string]string{"HOST": "ch", "PORT": "9000"}
	cases := []struct {
		in, want string
		problems int
	}{
		{"$HOST:${PORT}", "ch:9000", 0},
		{"$$HOST", "$HOST", 0},
		{"${HOST:-clickhouse}", "", 1},
		{"${MISSING}", "", 1},
		{"plain", "plain", 0},
	}
	for _, c := range cases {
		got, problems := grafanaExpand(c.in, env)
		if got != c.want || len(problems) != c.problems {
			t.Errorf("grafanaExpand(%q) = %q with %v, want %q with %d problems", c.in, got, problems, c.want, c.problems)
		}
	}
}

// The removal files delete exactly the provisioned mesh rules and the
// datasource the install files provision (Grafana keeps both when their
// provisioning file is removed).
func TestRemovalFiles(t *testing.T) {
	var rules struct {
		APIVersion  int `json:"apiVersion"`
		DeleteRules []struct {
			OrgID int    `json:"orgId"`
			UID   string `json:"uid"`
		} `json:"deleteRules"`
	}
	if err := yaml.UnmarshalStrict(repoFile(t, "provisioning/install/remove/delete-mesh-rules.yaml"), &rules); err != nil {
		t.Fatal(err)
	}
	var provisioned struct {
		Groups []struct {
			OrgID int `json:"orgId"`
			Rules []struct {
				UID string `json:"uid"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(repoFile(t, "provisioning/grafana/alerting/mesh-alerts.yaml"), &provisioned); err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for _, g := range provisioned.Groups {
		for _, r := range g.Rules {
			want = append(want, fmt.Sprintf("%d/%s", g.OrgID, r.UID))
		}
	}
	for _, r := range rules.DeleteRules {
		got = append(got, fmt.Sprintf("%d/%s", r.OrgID, r.UID))
	}
	if rules.APIVersion != 1 || strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("delete-mesh-rules.yaml deletes %v; mesh-alerts.yaml provisions %v", got, want)
	}

	var ds struct {
		APIVersion        int `json:"apiVersion"`
		DeleteDatasources []struct {
			Name  string `json:"name"`
			OrgID int    `json:"orgId"`
		} `json:"deleteDatasources"`
	}
	if err := yaml.UnmarshalStrict(repoFile(t, "provisioning/install/remove/delete-mesh-datasource.yaml"), &ds); err != nil {
		t.Fatal(err)
	}
	if ds.APIVersion != 1 || len(ds.DeleteDatasources) != 1 {
		t.Fatalf("delete-mesh-datasource.yaml: %+v", ds)
	}
	var values struct {
		Datasources map[string]datasourcesFile `json:"datasources"`
	}
	if err := yaml.Unmarshal(repoFile(t, "provisioning/install/helm/values.yaml"), &values); err != nil {
		t.Fatal(err)
	}
	var project datasourcesFile
	if err := yaml.Unmarshal(repoFile(t, "provisioning/grafana/datasources/datasources.yml"), &project); err != nil {
		t.Fatal(err)
	}
	sources := map[string]datasourcesFile{"datasources.yml": project}
	for k, v := range values.Datasources {
		sources["values.yaml "+k] = v
	}
	for where, f := range sources {
		for _, d := range f.Datasources {
			if d.Type == pluginID && (d.Name != ds.DeleteDatasources[0].Name || d.OrgID != ds.DeleteDatasources[0].OrgID) {
				t.Errorf("%s provisions %q in org %d; delete-mesh-datasource.yaml deletes %q in org %d", where, d.Name, d.OrgID, ds.DeleteDatasources[0].Name, ds.DeleteDatasources[0].OrgID)
			}
		}
	}
}
