package release

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const composeDir = "provisioning/install/compose"

// installCompose is the part of the Compose specification compose.yaml
// uses; strict decoding fails on anything else.
type installCompose struct {
	Name     string `json:"name"`
	Services map[string]struct {
		Image       string            `json:"image"`
		Environment map[string]string `json:"environment"`
		Volumes     []string          `json:"volumes"`
		Ports       []string          `json:"ports"`
		Restart     string            `json:"restart"`
	} `json:"services"`
	Volumes map[string]struct{} `json:"volumes"`
}

var composeReference = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// composeInterpolate resolves a file as Compose does before parsing it:
// $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error},
// ${VAR?error}, ${VAR:+alt}; it returns the errors Compose would stop on.
func composeInterpolate(s string, env map[string]string) (string, []string) {
	var errs []string
	out := composeReference.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		sub := composeReference.FindStringSubmatch(m)
		name, op, arg := sub[1]+sub[4], sub[2], sub[3]
		v, set := env[name]
		empty := !set || (strings.HasPrefix(op, ":") && v == "")
		switch strings.TrimPrefix(op, ":") {
		case "-":
			if empty {
				return arg
			}
		case "?":
			if empty {
				errs = append(errs, fmt.Sprintf("%s: %s", name, arg))
			}
		case "+":
			if empty {
				return ""
			}
			return arg
		}
		return v
	})
	return out, errs
}

// composeInterpolateTree interpolates the string values of a parsed
// Compose file (Compose interpolates values, never comments or keys).
func composeInterpolateTree(v any, env map[string]string) (any, []string) {
	var errs []string
	var walk func(any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case string:
			out, e := composeInterpolate(x, env)
			errs = append(errs, e...)
			return out
		case map[string]any:
			out := map[string]any{}
			for k, child := range x {
				out[k] = walk(child)
			}
			return out
		case []any:
			out := make([]any, len(x))
			for i, child := range x {
				out[i] = walk(child)
			}
			return out
		}
		return v
	}
	return walk(v), errs
}

func walkStrings(v any, visit func(string)) {
	switch x := v.(type) {
	case string:
		visit(x)
	case map[string]any:
		for _, child := range x {
			walkStrings(child, visit)
		}
	case []any:
		for _, child := range x {
			walkStrings(child, visit)
		}
	}
}

func readEnvFile(t *testing.T, rel string) (map[string]string, []string) {
	t.Helper()
	env := map[string]string{}
	var order []string
	sc := bufio.NewScanner(bytes.NewReader(repoFile(t, rel)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !identifier.MatchString(k) {
			t.Fatalf("%s: %q is not KEY=value", rel, line)
		}
		env[k] = v
		order = append(order, k)
	}
	return env, order
}

// The staging install: the official Grafana image at a version the plugin
// allows, the unsigned allowance for this plugin only, the unpacked zip
// as the plugin directory, the repository's provisioning, and every
// variable that provisioning reads set, expanded as Grafana expands it.
func TestComposeInstall(t *testing.T) {
	var tree any
	if err := yaml.Unmarshal(repoFile(t, composeDir+"/compose.yaml"), &tree); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	example, keys := readEnvFile(t, composeDir+"/env.example")

	// With env.example as shipped (no passwords), Compose refuses to start
	// and names each missing value.
	_, errs := composeInterpolateTree(tree, example)
	for _, k := range keys {
		if example[k] == "" && !slices.ContainsFunc(errs, func(e string) bool { return strings.HasPrefix(e, k+":") }) {
			t.Errorf("compose.yaml starts with %s empty", k)
		}
	}
	walkStrings(tree, func(s string) {
		for _, m := range composeReference.FindAllStringSubmatch(s, -1) {
			if name := m[1] + m[4]; name != "" && !slices.Contains(keys, name) {
				t.Errorf("compose.yaml reads $%s, which env.example does not list", name)
			}
		}
	})

	env := map[string]string{}
	for k, v := range example {
		env[k] = v
		if v == "" {
			env[k] = "test-" + strings.ToLower(k)
		}
	}
	rendered, errs := composeInterpolateTree(tree, env)
	if len(errs) > 0 {
		t.Fatalf("compose.yaml with every value set: %v", errs)
	}
	renderedJSON, err := json.Marshal(rendered)
	if err != nil {
		t.Fatal(err)
	}
	var c installCompose
	if err := yaml.UnmarshalStrict(renderedJSON, &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	g, ok := c.Services["grafana"]
	if !ok || len(c.Services) != 1 {
		t.Fatalf("want exactly a grafana service, got %d services", len(c.Services))
	}
	repo, tag, _ := strings.Cut(g.Image, ":")
	checkGrafanaImage(t, "compose.yaml", repo, tag)
	if !slices.Contains(strings.Split(g.Environment["GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS"], ","), pluginID) {
		t.Errorf("GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS=%q does not allow %s", g.Environment["GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS"], pluginID)
	}
	for _, p := range g.Ports {
		if !strings.HasPrefix(p, "127.0.0.1:") {
			t.Errorf("port %q is published on every interface", p)
		}
	}
	mounts := map[string]string{} // container path -> source
	for _, v := range g.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 {
			t.Fatalf("volume %q", v)
		}
		mounts[parts[1]] = parts[0]
		if src := parts[0]; !strings.HasPrefix(src, ".") {
			if _, ok := c.Volumes[src]; !ok {
				t.Errorf("volume %s is not declared", src)
			}
		}
	}
	if mounts["/var/lib/grafana"] == "" || strings.HasPrefix(mounts["/var/lib/grafana"], ".") {
		t.Error("Grafana's data (/var/lib/grafana) is not on a named volume: it would not survive an upgrade")
	}

	// The repository's provisioning, mounted from where it is.
	for _, sub := range []string{"datasources", "dashboards", "alerting"} {
		src := mounts["/etc/grafana/provisioning/"+sub]
		if path.Join(composeDir, src) != "provisioning/grafana/"+sub {
			t.Errorf("/etc/grafana/provisioning/%s is mounted from %q, want the repository's provisioning/grafana/%s", sub, src, sub)
		}
	}

	// The plugin directory and the dashboard folder are the unpacked zip,
	// as `unzip <zip> -d plugins/` leaves it.
	pluginSrc := mounts["/var/lib/grafana/plugins/"+pluginID]
	if pluginSrc != "./plugins/"+pluginID {
		t.Errorf("the plugin directory is mounted from %q, want ./plugins/%s (unzip -d plugins/)", pluginSrc, pluginID)
	}
	var provider struct {
		Providers []struct {
			Folder  string `json:"folder"`
			Options struct {
				Path string `json:"path"`
			} `json:"options"`
		} `json:"providers"`
	}
	if err := yaml.Unmarshal(repoFile(t, "provisioning/grafana/dashboards/meshmetrics.yaml"), &provider); err != nil || len(provider.Providers) != 1 {
		t.Fatalf("dashboard provider: %v", err)
	}
	unpacked := unzipRelease(t, filepath.Join(t.TempDir(), "plugins"))
	dashSrc := mounts[provider.Providers[0].Options.Path]
	if !strings.HasPrefix(dashSrc, "./plugins/") {
		t.Fatalf("the dashboard provider's path %s is mounted from %q, not from the unpacked zip", provider.Providers[0].Options.Path, dashSrc)
	}
	for _, rel := range []string{strings.TrimPrefix(pluginSrc, "./plugins/") + "/plugin.json", strings.TrimPrefix(dashSrc, "./plugins/") + "/service-mesh-traffic.json"} {
		if _, err := os.Stat(filepath.Join(unpacked, rel)); err != nil {
			t.Errorf("the unpacked zip has no %s: %v", rel, err)
		}
	}

	// The datasource and the alert rules with Grafana's environment.
	settings := provisionDatasources(t, "provisioning/grafana/datasources/datasources.yml", repoFile(t, "provisioning/grafana/datasources/datasources.yml"), g.Environment)
	for uid, s := range settings {
		if s.Host != env["MESHMETRICS_CLICKHOUSE_HOST"] || fmt.Sprint(s.Port) != env["MESHMETRICS_CLICKHOUSE_PORT"] || s.Secrets.Password != env["MESHMETRICS_CLICKHOUSE_PASSWORD"] || s.Username != env["MESHMETRICS_CLICKHOUSE_USER"] {
			t.Errorf("datasource %s reads %s@%s:%d, want the .env values", uid, s.Username, s.Host, s.Port)
		}
	}
	variables, uids := alertRuleRefs(t)
	for _, v := range variables {
		if g.Environment[v] == "" {
			t.Errorf("the alert rules read $%s; the grafana service does not set it", v)
		}
	}
	for _, uid := range uids {
		if _, ok := settings[uid]; !ok {
			t.Errorf("the alert rules query datasource %s, which is not provisioned", uid)
		}
	}
}

// unzipRelease unpacks the release zip into dir as unzip does and returns dir.
func unzipRelease(t *testing.T, dir string) string {
	t.Helper()
	z := openRelease(t)
	r, err := zip.OpenReader(z.path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, f := range r.File {
		target := filepath.Join(dir, filepath.FromSlash(f.Name))
		if f.FileInfo().IsDir() {
			if err := os.MkdirAll(target, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			t.Fatal(err)
		}
		extract(t, f, target)
	}
	return dir
}

// extract writes a zip entry to path with the entry's permissions, as
// unzip does.
func extract(t *testing.T, f *zip.File, path string) {
	t.Helper()
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, f.Mode().Perm())
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(out, rc)
	rc.Close()
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}
