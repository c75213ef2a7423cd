package release

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// The bundled dashboard is the generated one (dashboards/, from the mixin),
// and it names no datasource by a fixed uid: the Mesh Metrics datasource
// and the logs datasource are picked through its variables.
func TestBundledDashboard(t *testing.T) {
	z := openRelease(t)
	p := z.pluginJSON(t)
	var dashPath string
	for _, inc := range p.Includes {
		if inc.Type == "dashboard" {
			dashPath = inc.Path
		}
	}
	if dashPath == "" {
		t.Fatal("plugin.json includes no dashboard")
	}
	bundled := z.read(t, dashPath)
	if !bytes.Equal(bundled, repoFile(t, "dashboards/service-mesh-traffic.json")) {
		t.Errorf("%s in the zip differs from dashboards/service-mesh-traffic.json (regenerate and rebuild: make package)", dashPath)
	}
	var dash struct {
		Title      string `json:"title"`
		UID        string `json:"uid"`
		Panels     []any  `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(bundled, &dash); err != nil {
		t.Fatalf("%s: %v", dashPath, err)
	}
	if dash.Title != "Service Mesh Traffic" || dash.UID == "" || len(dash.Panels) == 0 {
		t.Errorf("dashboard %q uid %q with %d panels", dash.Title, dash.UID, len(dash.Panels))
	}
	variables := map[string]bool{}
	pluginVariable := false
	for _, v := range dash.Templating.List {
		variables[v.Name] = true
		if v.Type == "datasource" && v.Query == pluginID {
			pluginVariable = true
		}
	}
	if !pluginVariable {
		t.Errorf("the dashboard has no datasource variable of type %s", pluginID)
	}
	var generic any
	if err := json.Unmarshal(bundled, &generic); err != nil {
		t.Fatal(err)
	}
	walkDatasources(generic, func(ds map[string]any) {
		uid, _ := ds["uid"].(string)
		switch {
		case uid == "" || uid == "__expr__" || uid == "-- Grafana --" || uid == "grafana":
		case strings.HasPrefix(uid, "${") && strings.HasSuffix(uid, "}"):
			if name := strings.TrimSuffix(strings.TrimPrefix(uid, "${"), "}"); !variables[name] {
				t.Errorf("datasource uid %s names no dashboard variable", uid)
			}
		default:
			t.Errorf("datasource %v is pinned to uid %q: it would not resolve in another Grafana", ds["type"], uid)
		}
	})
}

func walkDatasources(v any, visit func(map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			if ds, ok := child.(map[string]any); ok && k == "datasource" {
				visit(ds)
			}
			walkDatasources(child, visit)
		}
	case []any:
		for _, child := range x {
			walkDatasources(child, visit)
		}
	}
}

// The source map the catalog's validator asks for: it maps only to the
// plugin's own sources (equal to src/ byte for byte) and the webpack
// runtime, never to a path on the build machine.
func TestSourceMap(t *testing.T) {
	z := openRelease(t)
	var m struct {
		Sources        []string `json:"sources"`
		SourcesContent []string `json:"sourcesContent"`
	}
	if err := json.Unmarshal(z.read(t, "module.js.map"), &m); err != nil {
		t.Fatalf("module.js.map: %v", err)
	}
	if len(m.Sources) == 0 || len(m.Sources) != len(m.SourcesContent) {
		t.Fatalf("module.js.map: %d sources, %d contents", len(m.Sources), len(m.SourcesContent))
	}
	prefix := "webpack://" + pluginID + "/"
	own := 0
	for i, s := range m.Sources {
		rel, ok := strings.CutPrefix(s, prefix)
		switch {
		case !ok:
			t.Errorf("source %q is not under %s", s, prefix)
		case strings.HasPrefix(rel, "external amd "), strings.HasPrefix(rel, "webpack/"), rel == "./node_modules/grafana-public-path.js":
		case strings.HasPrefix(rel, "./node_modules/"):
			// Bundled third-party code is allowed; its content is scanned below.
		case strings.HasPrefix(rel, "./"):
			own++
			src, err := os.ReadFile(filepath.Join(repoRoot(t), "src", filepath.FromSlash(strings.TrimPrefix(rel, "./"))))
			if err != nil {
				t.Errorf("source %s is not in src/: %v", rel, err)
			} else if string(src) != m.SourcesContent[i] {
				t.Errorf("source %s differs from src/ (a stale build: make package)", rel)
			}
		default:
			t.Errorf("source %q is neither the plugin's nor webpack's", s)
		}
	}
	if own == 0 {
		t.Error("the source map maps to none of src/")
	}
	for i, content := range m.SourcesContent {
		for _, finding := range secretFindings(content) {
			t.Errorf("source map content of %s: %s", m.Sources[i], finding)
		}
	}
}

var secretPatterns = []struct {
	what string
	re   *regexp.Regexp
}{
	// A key's header alone is the config editor's placeholder; a key has a body.
	{"a private key", regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----\s*[A-Za-z0-9+/=\s]{40,}`)},
	{"a Grafana Cloud access policy token", regexp.MustCompile(`\bglc_[A-Za-z0-9+/=_-]{20,}`)},
	{"a Grafana service account token", regexp.MustCompile(`\bglsa_[A-Za-z0-9_]{20,}`)},
	{"a GitHub token", regexp.MustCompile(`\bgh[pousr]_[A-Za-z0-9]{30,}`)},
	{"an AWS access key", regexp.MustCompile(`\bAKIA[0-9A-Z]{16}\b`)},
	{"a DigitalOcean token", regexp.MustCompile(`\bdop_v1_[a-f0-9]{40,}`)},
	{"a password assigned a literal", regexp.MustCompile(`(?i)\b(password|passwd|secret|token)["']?\s*[:=]\s*["'][^"'$\s{}]{6,}["']`)},
	{"a path on the build machine", regexp.MustCompile(`(/work/|/root/|/home/[a-z]+/)[\w.-]+`)},
}

func secretFindings(text string) []string {
	var out []string
	for _, p := range secretPatterns {
		if m := p.re.FindString(text); m != "" {
			out = append(out, fmt.Sprintf("%s: %.60q", p.what, m))
		}
	}
	return out
}

// No text file in the zip holds a credential or a path of the build
// machine; the environment the package was built in (GRAFANA_ACCESS_POLICY_TOKEN
// included) leaks into none of them.
func TestNoSecretsInTheBundle(t *testing.T) {
	z := openRelease(t)
	p := z.pluginJSON(t)
	exes := z.executables(p.Executable)
	envSecrets := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if len(v) >= 12 && regexp.MustCompile(`(?i)TOKEN|SECRET|PASSWORD|KEY`).MatchString(k) {
			envSecrets[k] = v
		}
	}
	for _, name := range z.names {
		rel := strings.TrimPrefix(name, pluginID+"/")
		if strings.HasSuffix(name, "/") || exes[rel] != nil || rel == "module.js.map" {
			continue
		}
		b := z.read(t, rel)
		if !utf8.Valid(b) {
			t.Errorf("%s is binary but not an executable", rel)
			continue
		}
		for _, f := range secretFindings(string(b)) {
			t.Errorf("%s: %s", rel, f)
		}
		for k, v := range envSecrets {
			if bytes.Contains(b, []byte(v)) {
				t.Errorf("%s contains the value of $%s", rel, k)
			}
		}
	}
}

// README, CHANGELOG (with this version's entry) and LICENSE are the
// repository's; README links are absolute (the catalog cannot follow
// relative ones) and it is not the template's.
func TestDocumentsInTheBundle(t *testing.T) {
	z := openRelease(t)
	for _, pair := range [][2]string{{"README.md", "src/README.md"}, {"CHANGELOG.md", "CHANGELOG.md"}, {"LICENSE", "LICENSE"}} {
		if !bytes.Equal(z.read(t, pair[0]), repoFile(t, pair[1])) {
			t.Errorf("%s in the zip is not %s", pair[0], pair[1])
		}
	}
	if !regexp.MustCompile(`(?m)^##\s+\[?v?` + regexp.QuoteMeta(z.version) + `\]?(\s|$)`).Match(z.read(t, "CHANGELOG.md")) {
		t.Errorf("CHANGELOG.md has no entry for %s", z.version)
	}
	if !bytes.Contains(z.read(t, "LICENSE"), []byte("Apache License")) || !bytes.Contains(z.read(t, "LICENSE"), []byte("Version 2.0")) {
		t.Error("LICENSE is not the Apache License 2.0 that package.json declares")
	}
	readme := z.read(t, "README.md")
	if regexp.MustCompile(`^# Grafana (Panel|Data Source|Data Source Backend) Plugin Template`).Match(readme) {
		t.Error("README.md is the plugin template's")
	}
	for _, m := range regexp.MustCompile(`\[[^\]]+\]\(([^)\s]+)[^)]*\)`).FindAllSubmatch(readme, -1) {
		link := string(m[1])
		if !strings.HasPrefix(link, "https://") && !strings.HasPrefix(link, "#") {
			t.Errorf("README.md link %q: the catalog needs absolute https links", link)
		}
	}
}

// go_plugin_build_manifest lists the plugin's Go sources with their
// current SHA-256, as the validator compares them.
func TestGoBuildManifest(t *testing.T) {
	z := openRelease(t)
	listed := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(z.read(t, "go_plugin_build_manifest")))
	for sc.Scan() {
		if sc.Text() == "" {
			continue
		}
		sum, file, ok := strings.Cut(sc.Text(), ":")
		if !ok || len(sum) != 64 {
			t.Fatalf("manifest line %q is not <sha256>:<file>", sc.Text())
		}
		listed[file] = sum
	}
	root := repoRoot(t)
	checked := 0
	err := filepath.WalkDir(filepath.Join(root, "pkg"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		switch got, ok := listed[filepath.ToSlash(rel)]; {
		case !ok:
			t.Errorf("%s is not in the build manifest", rel)
		case got != hex.EncodeToString(sum[:]):
			t.Errorf("%s changed since the build (make package)", rel)
		}
		checked++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("no Go source under pkg/")
	}
}
