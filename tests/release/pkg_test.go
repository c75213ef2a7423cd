package release

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
)

const pluginID = "forma3d-meshmetrics-datasource"

// pluginJSON is every key src/plugin.json uses; decoding is strict, so a
// misspelt or unexpected key fails the test.
type pluginJSON struct {
	Schema     string `json:"$schema"`
	Type       string `json:"type"`
	Name       string `json:"name"`
	ID         string `json:"id"`
	Metrics    bool   `json:"metrics"`
	Alerting   bool   `json:"alerting"`
	Backend    bool   `json:"backend"`
	Executable string `json:"executable"`
	// BuildMode is added by the frontend build ("production").
	BuildMode string `json:"buildMode,omitempty"`
	Includes  []struct {
		Type string `json:"type"`
		Name string `json:"name"`
		Path string `json:"path"`
	} `json:"includes"`
	Info struct {
		Description string `json:"description"`
		Author      struct {
			Name string `json:"name"`
			URL  string `json:"url,omitempty"`
		} `json:"author"`
		Keywords []string `json:"keywords"`
		Logos    struct {
			Small string `json:"small"`
			Large string `json:"large"`
		} `json:"logos"`
		Links []struct {
			Name string `json:"name"`
			URL  string `json:"url"`
		} `json:"links"`
		Screenshots []struct {
			Name string `json:"name"`
			Path string `json:"path"`
		} `json:"screenshots"`
		Version string `json:"version"`
		Updated string `json:"updated"`
	} `json:"info"`
	Dependencies struct {
		GrafanaDependency string `json:"grafanaDependency"`
		Plugins           []any  `json:"plugins"`
	} `json:"dependencies"`
}

func decodeJSONStrict(b []byte, into any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the JSON value")
	}
	return nil
}

var rootOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
})

func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := rootOnce()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func repoFile(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func packageVersion(t testing.TB) string {
	t.Helper()
	var pkg struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(repoFile(t, "package.json"), &pkg); err != nil {
		t.Fatalf("package.json: %v", err)
	}
	return pkg.Version
}

// releaseZip is the zip `make package` wrote for package.json's version
// (MESHMETRICS_PACKAGE_ZIP names another one).
type releaseZip struct {
	path    string
	version string
	files   map[string]*zip.File // by name inside the zip
	names   []string
}

func openRelease(t testing.TB) *releaseZip {
	t.Helper()
	version := packageVersion(t)
	p := os.Getenv("MESHMETRICS_PACKAGE_ZIP")
	if p == "" {
		p = filepath.Join(repoRoot(t), "release", fmt.Sprintf("%s-%s.zip", pluginID, version))
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("release zip: %v: build it with `make package`", err)
	}
	r, err := zip.OpenReader(p)
	if err != nil {
		t.Fatalf("open %s: %v", p, err)
	}
	t.Cleanup(func() { _ = r.Close() })
	z := &releaseZip{path: p, version: version, files: map[string]*zip.File{}}
	for _, f := range r.File {
		if _, dup := z.files[f.Name]; dup {
			t.Errorf("%s appears twice in the zip", f.Name)
		}
		z.files[f.Name] = f
		z.names = append(z.names, f.Name)
	}
	sort.Strings(z.names)
	return z
}

// read returns the content of a file of the plugin folder (rel is relative
// to the top folder).
func (z *releaseZip) read(t testing.TB, rel string) []byte {
	t.Helper()
	f, ok := z.files[pluginID+"/"+rel]
	if !ok {
		t.Fatalf("%s is not in the zip", rel)
	}
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s from the zip: %v", rel, err)
	}
	return b
}

func (z *releaseZip) has(rel string) bool {
	_, ok := z.files[pluginID+"/"+rel]
	return ok
}

// executables are the plugin folder's files named <executable>_<os>_<arch>.
func (z *releaseZip) executables(executable string) map[string]*zip.File {
	out := map[string]*zip.File{}
	for name, f := range z.files {
		rel := strings.TrimPrefix(name, pluginID+"/")
		if !strings.Contains(rel, "/") && strings.HasPrefix(rel, executable+"_") {
			out[rel] = f
		}
	}
	return out
}

func (z *releaseZip) pluginJSON(t testing.TB) pluginJSON {
	t.Helper()
	var p pluginJSON
	if err := decodeJSONStrict(z.read(t, "plugin.json"), &p); err != nil {
		t.Fatalf("plugin.json in the zip: %v", err)
	}
	return p
}

// One top folder named by the plugin id, nothing beside it; no file Grafana
// or the validator rejects (debug-mode markers, node_modules, TypeScript
// sources, environment files).
func TestZipLayout(t *testing.T) {
	z := openRelease(t)
	if got, want := filepath.Base(z.path), fmt.Sprintf("%s-%s.zip", pluginID, z.version); got != want {
		t.Errorf("zip named %s, want %s", got, want)
	}
	for _, name := range z.names {
		if name != pluginID+"/" && !strings.HasPrefix(name, pluginID+"/") {
			t.Errorf("%s is outside the top folder %s/", name, pluginID)
		}
		if strings.Contains(name, "..") || strings.HasPrefix(name, "/") || strings.Contains(name, `\`) {
			t.Errorf("unsafe path %q in the zip", name)
		}
		base := path.Base(name)
		switch {
		case base == "standalone.txt" || base == "pid.txt":
			t.Errorf("%s makes Grafana treat the plugin as a debug build", name)
		case strings.Contains(name, "node_modules/"), strings.HasSuffix(name, ".ts"), strings.HasSuffix(name, ".tsx"), strings.HasSuffix(name, ".go"):
			t.Errorf("%s: sources do not belong in the bundle", name)
		case strings.HasPrefix(base, ".env"), base == ".npmrc", strings.HasSuffix(base, ".pem"), strings.HasSuffix(base, ".key"):
			t.Errorf("%s: credentials files never ship", name)
		}
	}
	for _, rel := range []string{"plugin.json", "module.js", "module.js.map", "README.md", "CHANGELOG.md", "LICENSE", "go_plugin_build_manifest"} {
		if !z.has(rel) {
			t.Errorf("%s is missing from the plugin folder", rel)
		}
	}
}

// The .sha256 beside the zip is `sha256sum -c` input and matches.
func TestZipChecksum(t *testing.T) {
	z := openRelease(t)
	line, err := os.ReadFile(z.path + ".sha256")
	if err != nil {
		t.Fatalf("checksum file: %v", err)
	}
	m := regexp.MustCompile(`^([0-9a-f]{64})  (\S+)\n$`).FindStringSubmatch(string(line))
	if m == nil {
		t.Fatalf("%s.sha256 is %q, want \"<sha256>  <file>\\n\"", filepath.Base(z.path), line)
	}
	if m[2] != filepath.Base(z.path) {
		t.Errorf("checksum names %s, want %s", m[2], filepath.Base(z.path))
	}
	f, err := os.Open(z.path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != m[1] {
		t.Errorf("zip sha256 %s, checksum file says %s", got, m[1])
	}
}

// plugin.json: the source's keys with the build's version and date filled
// in, the catalog's required fields, and paths that exist in the zip.
func TestPluginJSON(t *testing.T) {
	z := openRelease(t)
	p := z.pluginJSON(t)
	var src pluginJSON
	if err := decodeJSONStrict(repoFile(t, "src/plugin.json"), &src); err != nil {
		t.Fatalf("src/plugin.json: %v", err)
	}
	if p.ID != pluginID || p.Type != "datasource" || !p.Backend || !p.Alerting || p.Executable == "" {
		t.Errorf("id %q type %q backend %v alerting %v executable %q", p.ID, p.Type, p.Backend, p.Alerting, p.Executable)
	}
	if p.Info.Version != z.version {
		t.Errorf("info.version %q, package.json %q", p.Info.Version, z.version)
	}
	if !regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`).MatchString(p.Info.Updated) {
		t.Errorf("info.updated %q is not the build date", p.Info.Updated)
	}
	if raw := string(z.read(t, "plugin.json")); strings.Contains(raw, "%VERSION%") || strings.Contains(raw, "%TODAY%") || strings.Contains(raw, "%PLUGIN_ID%") {
		t.Error("plugin.json in the zip still has a build placeholder")
	}
	if p.BuildMode != "production" || src.BuildMode != "" {
		t.Errorf("buildMode %q in the zip, %q in src/plugin.json: want a production build", p.BuildMode, src.BuildMode)
	}
	// Apart from the placeholders and the build mode, the zip's plugin.json is the source's.
	src.Info.Version, src.Info.Updated, src.BuildMode = p.Info.Version, p.Info.Updated, p.BuildMode
	if a, b := mustJSON(t, src), mustJSON(t, p); a != b {
		t.Errorf("plugin.json in the zip differs from src/plugin.json beyond version and date:\nsrc %s\nzip %s", a, b)
	}
	if strings.TrimSpace(p.Info.Description) == "" || len(p.Info.Keywords) == 0 {
		t.Error("the catalog needs a description and keywords")
	}
	if !regexp.MustCompile(`^>=\d+\.\d+\.\d+$`).MatchString(p.Dependencies.GrafanaDependency) {
		t.Errorf("grafanaDependency %q: want >=x.y.z", p.Dependencies.GrafanaDependency)
	}
	linkNames := map[string]bool{}
	for _, l := range p.Info.Links {
		if !strings.HasPrefix(l.URL, "https://") {
			t.Errorf("link %q: %q is not an https URL", l.Name, l.URL)
		}
		linkNames[strings.ToLower(l.Name)] = true
	}
	for _, want := range []string{"documentation", "report an issue"} {
		if !linkNames[want] {
			t.Errorf("info.links has no %q link", want)
		}
	}
	paths := []string{p.Info.Logos.Small, p.Info.Logos.Large}
	for _, s := range p.Info.Screenshots {
		paths = append(paths, s.Path)
	}
	for _, inc := range p.Includes {
		paths = append(paths, inc.Path)
	}
	for _, rel := range paths {
		switch {
		case rel == "":
			t.Error("an empty path in plugin.json (logo, screenshot or include)")
		case strings.HasPrefix(rel, ".") || strings.HasPrefix(rel, "/") || strings.Contains(rel, "://"):
			t.Errorf("plugin.json path %q must be relative to plugin.json, without ./ or /", rel)
		case !z.has(rel):
			t.Errorf("plugin.json names %s, which is not in the zip", rel)
		}
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
