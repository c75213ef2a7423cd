// Command releasezip writes the release zip of the Mesh Metrics plugin from
// what `make build` and the mage platform targets left in dist/:
//
//	release/forma3d-meshmetrics-datasource-<version>.zip   one top folder named by the plugin id
//	release/forma3d-meshmetrics-datasource-<version>.zip.sha256
//
// The version comes from package.json alone (webpack writes it into
// dist/plugin.json, mage into the binaries' build info); CHANGELOG.md must
// have an entry for it. Only the executables of -platforms go in, each with
// mode 0755, whatever else an earlier build left in dist/. With
// GRAFANA_ACCESS_POLICY_TOKEN set the folder is signed first (a private
// signature for GRAFANA_ROOT_URLS); without it the zip is unsigned.
//
// `make package` runs it (go run ./scripts/releasezip) from the repository root; -root points it elsewhere.
package main

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// signPluginVersion pins @grafana/sign-plugin so that a release is signed by
// the tool the docs describe.
const signPluginVersion = "3.3.3"

// knownPlatforms are the six the plugin SDK's mage targets build.
var knownPlatforms = []string{"linux/amd64", "linux/arm64", "linux/arm", "darwin/amd64", "darwin/arm64", "windows/amd64"}

var semverPattern = regexp.MustCompile(`^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

func main() {
	root := flag.String("root", ".", "repository root (package.json, CHANGELOG.md, LICENSE, dist/)")
	platforms := flag.String("platforms", "linux/amd64 linux/arm64", "space- or comma-separated GOOS/GOARCH list, or \"all\"")
	out := flag.String("out", "release", "output directory, relative to -root")
	flag.Parse()
	zipPath, err := run(*root, *platforms, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "releasezip:", err)
		os.Exit(1)
	}
	fmt.Println("releasezip: wrote", zipPath, "and", zipPath+".sha256")
}

func run(root, platformList, out string) (string, error) {
	platforms, err := parsePlatforms(platformList)
	if err != nil {
		return "", err
	}
	version, err := packageVersion(filepath.Join(root, "package.json"))
	if err != nil {
		return "", err
	}
	changelog, err := os.ReadFile(filepath.Join(root, "CHANGELOG.md"))
	if err != nil {
		return "", fmt.Errorf("read CHANGELOG.md: %w", err)
	}
	if !HasChangelogEntry(string(changelog), version) {
		return "", fmt.Errorf("CHANGELOG.md has no entry for version %s (package.json): add a heading \"## %s\" with what changed", version, version)
	}
	dist := filepath.Join(root, "dist")
	meta, err := readPluginJSON(filepath.Join(dist, "plugin.json"), version)
	if err != nil {
		return "", err
	}

	outDir := filepath.Join(root, out)
	staging := filepath.Join(outDir, ".staging")
	if err := os.RemoveAll(staging); err != nil {
		return "", err
	}
	pluginDir := filepath.Join(staging, meta.ID)
	if err := stage(root, dist, pluginDir, meta.Executable, platforms); err != nil {
		return "", err
	}
	if err := maybeSign(staging, pluginDir); err != nil {
		return "", err
	}
	zipPath := filepath.Join(outDir, fmt.Sprintf("%s-%s.zip", meta.ID, version))
	if err := writeZip(zipPath, staging, meta.ID, meta.Executable); err != nil {
		return "", err
	}
	if err := writeChecksum(zipPath); err != nil {
		return "", err
	}
	return zipPath, os.RemoveAll(staging)
}

func parsePlatforms(list string) ([]string, error) {
	if strings.TrimSpace(list) == "all" {
		return knownPlatforms, nil
	}
	var out []string
	for _, p := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' }) {
		if !slices.Contains(knownPlatforms, p) {
			return nil, fmt.Errorf("-platforms: %q is not one of %s", p, strings.Join(knownPlatforms, ", "))
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("-platforms: no platform given")
	}
	return out, nil
}

func packageVersion(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var pkg struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if !semverPattern.MatchString(pkg.Version) {
		return "", fmt.Errorf("%s: version %q is not a semantic version (x.y.z)", path, pkg.Version)
	}
	return pkg.Version, nil
}

// HasChangelogEntry reports whether a second-level heading names the
// version: "## 1.2.0", "## 1.2.0 (2026-12-04)", "## [1.2.0] - …".
func HasChangelogEntry(changelog, version string) bool {
	heading := regexp.MustCompile(`(?m)^##\s+\[?v?` + regexp.QuoteMeta(version) + `\]?(\s|$)`)
	return heading.MatchString(changelog)
}

type pluginMeta struct {
	ID         string `json:"id"`
	Executable string `json:"executable"`
	Info       struct {
		Version string `json:"version"`
	} `json:"info"`
}

func readPluginJSON(path, version string) (pluginMeta, error) {
	var m pluginMeta
	b, err := os.ReadFile(path)
	if err != nil {
		return m, fmt.Errorf("%w: build the frontend first (make build-frontend)", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s: %w", path, err)
	}
	switch {
	case m.ID == "" || m.Executable == "":
		return m, fmt.Errorf("%s: id and executable are required", path)
	case m.Info.Version != version:
		return m, fmt.Errorf("%s: info.version is %q, package.json says %q: rebuild the frontend (make build-frontend)", path, m.Info.Version, version)
	}
	return m, nil
}

// BinaryName is the SDK's name for an executable: gpx_x_linux_amd64,
// gpx_x_windows_amd64.exe.
func BinaryName(executable, platform string) string {
	name := executable + "_" + strings.ReplaceAll(platform, "/", "_")
	if strings.HasPrefix(platform, "windows/") {
		name += ".exe"
	}
	return name
}

// stage copies dist/ into the plugin folder: every file but the
// executables, then the executables of the chosen platforms. CHANGELOG.md
// and LICENSE come from the repository root (the frontend build copies them
// only when the frontend itself changed).
func stage(root, dist, pluginDir, executable string, platforms []string) error {
	exePrefix := filepath.Base(executable) + "_"
	err := filepath.WalkDir(dist, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dist, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(pluginDir, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("dist/%s is not a regular file", rel)
		}
		if strings.HasPrefix(d.Name(), exePrefix) || slices.Contains([]string{"standalone.txt", "pid.txt", "MANIFEST.txt"}, d.Name()) {
			return nil // executables are added below; debug files and old signatures never ship
		}
		return copyFile(path, filepath.Join(pluginDir, rel), 0o644)
	})
	if err != nil {
		return err
	}
	for _, name := range []string{"CHANGELOG.md", "LICENSE"} {
		if err := copyFile(filepath.Join(root, name), filepath.Join(pluginDir, name), 0o644); err != nil {
			return err
		}
	}
	for _, p := range platforms {
		name := BinaryName(executable, p)
		src := filepath.Join(dist, name)
		if _, err := os.Stat(src); err != nil {
			return fmt.Errorf("no executable for %s: %w (make package builds it with mage)", p, err)
		}
		if err := copyFile(src, filepath.Join(pluginDir, name), 0o755); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}

// maybeSign runs @grafana/sign-plugin on the staged folder when a token is
// present. A private signature is bound to the root URLs of the Grafanas
// that will load it, so they are required with the token.
func maybeSign(staging, pluginDir string) error {
	if os.Getenv("GRAFANA_ACCESS_POLICY_TOKEN") == "" {
		fmt.Println("releasezip: GRAFANA_ACCESS_POLICY_TOKEN is not set: the zip is unsigned (allow it with allow_loading_unsigned_plugins, see docs/install.md)")
		return nil
	}
	rootURLs := strings.TrimSpace(os.Getenv("GRAFANA_ROOT_URLS"))
	if rootURLs == "" {
		return errors.New("GRAFANA_ACCESS_POLICY_TOKEN is set but GRAFANA_ROOT_URLS is empty: a private signature needs the root URLs of your Grafanas (comma-separated, e.g. https://grafana.example.com/)")
	}
	cmd := exec.Command("npx", "--yes", "@grafana/sign-plugin@"+signPluginVersion, "--distDir", pluginDir, "--rootUrls", rootURLs)
	cmd.Dir = staging
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("sign-plugin: %w", err)
	}
	if _, err := os.Stat(filepath.Join(pluginDir, "MANIFEST.txt")); err != nil {
		return fmt.Errorf("sign-plugin wrote no MANIFEST.txt: %w", err)
	}
	return nil
}

// writeZip stores the staged tree under its top folder, sorted, with
// directories 0755, executables 0755 and every other file 0644.
func writeZip(zipPath, staging, id, executable string) error {
	var paths []string
	err := filepath.WalkDir(filepath.Join(staging, id), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, path)
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(paths)
	if err := os.MkdirAll(filepath.Dir(zipPath), 0o755); err != nil {
		return err
	}
	tmp := zipPath + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(f)
	modified := time.Now().UTC().Truncate(time.Second)
	exePrefix := filepath.Base(executable) + "_"
	for _, path := range paths {
		rel, err := filepath.Rel(staging, path)
		if err != nil {
			return err
		}
		info, err := os.Stat(path)
		if err != nil {
			return err
		}
		hdr := &zip.FileHeader{Name: filepath.ToSlash(rel), Modified: modified}
		switch {
		case info.IsDir():
			hdr.Name += "/"
			hdr.SetMode(fs.ModeDir | 0o755)
		case strings.HasPrefix(info.Name(), exePrefix):
			hdr.Method = zip.Deflate
			hdr.SetMode(0o755)
		default:
			hdr.Method = zip.Deflate
			hdr.SetMode(0o644)
		}
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		if info.IsDir() {
			continue
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		_, err = io.Copy(w, in)
		in.Close()
		if err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, zipPath)
}

// writeChecksum writes "<sha256>  <file name>", the format `sha256sum -c`
// reads, next to the zip.
func writeChecksum(zipPath string) error {
	f, err := os.Open(zipPath)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	line := fmt.Sprintf("%s  %s\n", hex.EncodeToString(h.Sum(nil)), filepath.Base(zipPath))
	return os.WriteFile(zipPath+".sha256", []byte(line), 0o644)
}
