package release

import (
	"archive/zip"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

var packagerBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "releasezip")
	if err != nil {
		return "", err
	}
	root, err := rootOnce()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "releasezip")
	cmd := exec.Command("go", "build", "-o", bin, "./scripts/releasezip")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%w\n%s", err, out)
	}
	return bin, nil
})

// fakeRepo lays out what the packager reads: package.json, CHANGELOG.md,
// LICENSE and a dist/ as the builds leave it, including leftovers that must
// not ship (another platform's executable, a debug marker, an old
// signature).
func fakeRepo(t *testing.T, version, changelog string) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"package.json":                     `{"name":"x","version":"` + version + `"}`,
		"CHANGELOG.md":                     changelog,
		"LICENSE":                          "Apache License\nVersion 2.0\n",
		"dist/plugin.json":                 `{"id":"acme-fake-datasource","executable":"gpx_fake","info":{"version":"` + version + `"}}`,
		"dist/module.js":                   "define([],function(){})",
		"dist/CHANGELOG.md":                "stale copy",
		"dist/img/logo.svg":                "<svg/>",
		"dist/gpx_fake_linux_amd64":        "\x7fELF amd64",
		"dist/gpx_fake_linux_arm64":        "\x7fELF arm64",
		"dist/gpx_fake_darwin_amd64":       "left by an earlier mage build",
		"dist/standalone.txt":              "debug",
		"dist/MANIFEST.txt":                "old signature",
		"dist/go_plugin_build_manifest":    "",
		"dist/dashboards/a-dashboard.json": "{}",
	}
	for rel, content := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func runPackager(t *testing.T, root string, args ...string) (string, error) {
	t.Helper()
	bin, err := packagerBinary()
	if err != nil {
		t.Fatalf("build scripts/releasezip: %v", err)
	}
	cmd := exec.Command(bin, append([]string{"-root", root}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")} // no signing token
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// The packager refuses, naming what is wrong, rather than writing a zip
// that misleads.
func TestPackagerRefuses(t *testing.T) {
	cases := []struct {
		name, version, changelog string
		args                     []string
		want                     string
	}{
		{"no changelog entry", "2.1.0", "# Changelog\n\n## 2.0.0\n\nOlder.\n", nil, `CHANGELOG.md has no entry for version 2.1.0`},
		{"entry only in the text", "2.1.0", "# Changelog\n\nSee 2.1.0 soon.\n", nil, `no entry for version 2.1.0`},
		{"not a version", "two", "## two\n", nil, `version "two" is not a semantic version`},
		{"unknown platform", "2.1.0", "## 2.1.0\n", []string{"-platforms", "linux/amd64 plan9/386"}, `"plan9/386" is not one of`},
		{"platform not built", "2.1.0", "## 2.1.0\n", []string{"-platforms", "windows/amd64"}, `no executable for windows/amd64`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := fakeRepo(t, c.version, c.changelog)
			out, err := runPackager(t, root, c.args...)
			if err == nil {
				t.Fatalf("the packager succeeded; output:\n%s", out)
			}
			if !strings.Contains(out, c.want) {
				t.Fatalf("output %q does not say %q", out, c.want)
			}
			if _, err := os.Stat(filepath.Join(root, "release", "acme-fake-datasource-"+c.version+".zip")); err == nil {
				t.Error("a zip was written anyway")
			}
		})
	}
}

// On a dist/ with leftovers, only the chosen platforms' executables go in
// (0755), CHANGELOG.md comes from the repository, debug markers and old
// signatures stay out, and a "## x.y.z (date)" heading counts as the entry.
func TestPackagerSelectsWhatShips(t *testing.T) {
	root := fakeRepo(t, "2.1.0", "# Changelog\n\n## 2.1.0 (2026-12-04)\n\n- New.\n")
	out, err := runPackager(t, root, "-platforms", "linux/amd64,linux/arm64")
	if err != nil {
		t.Fatalf("packager: %v\n%s", err, out)
	}
	r, err := zip.OpenReader(filepath.Join(root, "release", "acme-fake-datasource-2.1.0.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var names []string
	for _, f := range r.File {
		names = append(names, f.Name)
		wantExec := strings.Contains(f.Name, "/gpx_fake_")
		if got := f.Mode().Perm() == 0o755; !f.Mode().IsDir() && got != wantExec {
			t.Errorf("%s has mode %v", f.Name, f.Mode())
		}
		if f.Name == "acme-fake-datasource/CHANGELOG.md" {
			rc, _ := f.Open()
			b := make([]byte, 64)
			n, _ := rc.Read(b)
			rc.Close()
			if !strings.Contains(string(b[:n]), "2.1.0") {
				t.Errorf("CHANGELOG.md in the zip is %q, not the repository's", b[:n])
			}
		}
	}
	sort.Strings(names)
	want := []string{
		"acme-fake-datasource/", "acme-fake-datasource/CHANGELOG.md", "acme-fake-datasource/LICENSE",
		"acme-fake-datasource/dashboards/", "acme-fake-datasource/dashboards/a-dashboard.json",
		"acme-fake-datasource/go_plugin_build_manifest", "acme-fake-datasource/gpx_fake_linux_amd64",
		"acme-fake-datasource/gpx_fake_linux_arm64", "acme-fake-datasource/img/", "acme-fake-datasource/img/logo.svg",
		"acme-fake-datasource/module.js", "acme-fake-datasource/plugin.json",
	}
	if strings.Join(names, "\n") != strings.Join(want, "\n") {
		t.Errorf("zip holds\n%s\nwant\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	if _, err := os.Stat(filepath.Join(root, "release", "acme-fake-datasource-2.1.0.zip.sha256")); err != nil {
		t.Errorf("no checksum file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "release", ".staging")); !os.IsNotExist(err) {
		t.Errorf("the staging folder was left behind: %v", err)
	}
}

// A signing token without the root URLs of the Grafanas is refused before
// anything is sent to Grafana's signing service.
func TestPackagerSigningNeedsRootURLs(t *testing.T) {
	bin, err := packagerBinary()
	if err != nil {
		t.Fatal(err)
	}
	root := fakeRepo(t, "2.1.0", "## 2.1.0\n")
	cmd := exec.Command(bin, "-root", root, "-platforms", "linux/amd64")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "GRAFANA_ACCESS_POLICY_TOKEN=not-a-real-token"}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "GRAFANA_ROOT_URLS is empty") {
		t.Fatalf("err %v, output %q: want a refusal naming GRAFANA_ROOT_URLS", err, out)
	}
}
