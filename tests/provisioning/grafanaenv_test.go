package provisioning

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/forma3d/meshmetrics/tests/meshstack"
)

// grafanaEnvironments are the environments Grafana starts with, read from
// where they are defined: docker-compose.yaml's grafana service (Compose's
// own ${VAR:-default} resolved with nothing set, as on a fresh checkout)
// and the demo's (tests/meshstack, which cmd/demo starts Grafana with).
func grafanaEnvironments(t *testing.T) map[string]map[string]string {
	t.Helper()
	compose := map[string]string{}
	for k, v := range loadCompose(t).Services["grafana"].Environment {
		compose[k] = interpolate(t, "grafana environment "+k, v)
	}
	demoList, err := meshstack.GrafanaEnv("127.0.0.1:18123")
	if err != nil {
		t.Fatal(err)
	}
	demo := map[string]string{}
	for _, kv := range demoList {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("demo grafana environment entry %q is not NAME=value", kv)
		}
		demo[k] = v
	}
	return map[string]map[string]string{"docker-compose.yaml": compose, "the demo": demo}
}

// grafanaExpand expands one provisioning value as Grafana's
// provisioning/values package does: "$$" is a literal "$", every other
// part goes through os.Expand (os.ExpandEnv with env as the environment:
// $VAR and ${VAR}, no defaults). read records each variable looked up.
func grafanaExpand(val string, env map[string]string, read map[string]bool) string {
	parts := strings.Split(val, "$$")
	for i, p := range parts {
		parts[i] = os.Expand(p, func(name string) string {
			read[name] = true
			return env[name]
		})
	}
	return strings.Join(parts, "$")
}

var bracedVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// grafanaExpandBraced is alert rule annotations' expansion: ${VAR} only, so
// that {{ $labels.x }} templates stay as written.
func grafanaExpandBraced(val string, env map[string]string, read map[string]bool) string {
	return bracedVar.ReplaceAllStringFunc(val, func(m string) string {
		name := bracedVar.FindStringSubmatch(m)[1]
		read[name] = true
		return env[name]
	})
}

// expandTree expands every string of a decoded provisioning file as
// Grafana does for its kind: alert rule annotations braced variables only,
// alert query models not at all (Grafana uses them raw), everything else
// fully (datasources, dashboard providers and the rest of alerting are
// values.* fields).
func expandTree(v any, path []string, env map[string]string, read map[string]bool) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = expandTree(e, append(path, k), env, read)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = expandTree(e, path, env, read)
		}
		return x
	case string:
		switch {
		case slices.Contains(path, "data") && slices.Contains(path, "model"):
			return x
		case slices.Contains(path, "annotations"):
			return grafanaExpandBraced(x, env, read)
		default:
			return grafanaExpand(x, env, read)
		}
	default:
		return v
	}
}

// The datasource as Grafana decodes it after expansion.
type provisionedDatasources struct {
	Datasources []struct {
		Name           string            `json:"name"`
		Type           string            `json:"type"`
		JSONData       map[string]any    `json:"jsonData"`
		SecureJSONData map[string]string `json:"secureJsonData"`
	} `json:"datasources"`
}

// Every file under provisioning/grafana, expanded as Grafana expands it
// with each environment Grafana starts with: every variable it reads is
// set, and the Mesh Metrics datasource gets host, port, protocol and
// username.
func TestGrafanaProvisioningExpands(t *testing.T) {
	root := repoRoot(t)
	var files []string
	err := filepath.WalkDir(filepath.Join(root, "provisioning", "grafana"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml")) {
			files = append(files, p)
		}
		return err
	})
	if err != nil || len(files) == 0 {
		t.Fatalf("provisioning/grafana: %d files, %v", len(files), err)
	}
	for envName, env := range grafanaEnvironments(t) {
		datasources := 0
		for _, f := range files {
			rel, _ := filepath.Rel(root, f)
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var tree any
			if err := yaml.Unmarshal(b, &tree); err != nil {
				t.Fatalf("%s: %v", rel, err)
			}
			read := map[string]bool{}
			tree = expandTree(tree, nil, env, read)
			for name := range read {
				v, ok := env[name]
				if !ok || (v == "" && !strings.HasSuffix(name, "_PASSWORD")) {
					t.Errorf("%s: %s reads $%s, which %s does not set (Grafana would expand it to nothing)", envName, rel, name, envName)
				}
			}
			if !strings.Contains(filepath.ToSlash(rel), "/datasources/") {
				continue
			}
			expanded, err := yaml.Marshal(tree)
			if err != nil {
				t.Fatal(err)
			}
			var ds provisionedDatasources
			if err := yaml.Unmarshal(expanded, &ds); err != nil {
				t.Fatalf("%s expanded: %v", rel, err)
			}
			for _, d := range ds.Datasources {
				if d.Type != meshstack.PluginID {
					continue
				}
				datasources++
				for _, field := range []string{"host", "port", "protocol", "username"} {
					if s, _ := d.JSONData[field].(string); strings.TrimSpace(s) == "" {
						t.Errorf("%s: %s datasource %q: jsonData.%s is empty after expansion (%v)", envName, rel, d.Name, field, d.JSONData[field])
					}
				}
				if p, err := strconv.Atoi(d.JSONData["port"].(string)); err != nil || p < 1 || p > 65535 {
					t.Errorf("%s: %s datasource %q: jsonData.port %v is not a port", envName, rel, d.Name, d.JSONData["port"])
				}
				if proto := d.JSONData["protocol"]; proto != "native" && proto != "http" {
					t.Errorf("%s: %s datasource %q: jsonData.protocol %v, want native or http", envName, rel, d.Name, proto)
				}
				t.Logf("%s: %s → host %v, port %v, protocol %v, username %v", envName, d.Name, d.JSONData["host"], d.JSONData["port"], d.JSONData["protocol"], d.JSONData["username"])
			}
		}
		if datasources == 0 {
			t.Errorf("%s: no %s datasource provisioned", envName, meshstack.PluginID)
		}
	}
}

// collectorDefault is the collector's own ${env:NAME:-default} (its
// confmap resolves it; tests/e2e runs the built collector on these files).
var collectorDefault = regexp.MustCompile(`\$\{env:[A-Za-z_][A-Za-z0-9_]*:-[^}]*\}`)

// No shell-style default (":-") under provisioning/, which Grafana would
// not understand. Two kinds are not Grafana's and stay: the collector's
// ${env:NAME:-default} in its configs, and shell scripts' own.
func TestNoShellDefaultsUnderProvisioning(t *testing.T) {
	root := repoRoot(t)
	err := filepath.WalkDir(filepath.Join(root, "provisioning"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".sh") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		text := string(b)
		rel, _ := filepath.Rel(root, p)
		if base := filepath.Base(p); strings.HasPrefix(base, "otelcol-") && strings.HasSuffix(base, ".yaml") {
			text = collectorDefault.ReplaceAllString(text, "")
		}
		for i, line := range strings.Split(text, "\n") {
			if strings.Contains(line, ":-") {
				t.Errorf("%s line %d: %q holds \":-\"", rel, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// docker-compose's Grafana: anonymous visitors as Viewer (Grafana 12.4
// ignores any other anonymous role) and no plugin preinstall from
// grafana.com at start.
func TestComposeGrafanaSettings(t *testing.T) {
	env := loadCompose(t).Services["grafana"].Environment
	for k, want := range map[string]string{
		"GF_AUTH_ANONYMOUS_ENABLED":      "true",
		"GF_AUTH_ANONYMOUS_ORG_ROLE":     "Viewer",
		"GF_PLUGINS_PREINSTALL_DISABLED": "true",
	} {
		if got := env[k]; got != want {
			t.Errorf("grafana environment %s = %q, want %q", k, got, want)
		}
	}
}
