package release

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

const helmDir = "provisioning/install/helm"

// chartValues are the keys of Grafana's Helm chart (grafana/grafana) these
// values use, typed as the chart's templates read them (_pod.tpl,
// configmap.yaml); strict decoding fails on any other key.
type chartValues struct {
	Image *struct {
		Repository string `json:"repository"`
		Tag        string `json:"tag"`
	} `json:"image,omitempty"`
	GrafanaIni          map[string]map[string]string `json:"grafana.ini,omitempty"`
	ExtraEmptyDirMounts []struct {
		Name      string `json:"name"`
		MountPath string `json:"mountPath"`
	} `json:"extraEmptyDirMounts,omitempty"`
	ExtraInitContainers []corev1.Container             `json:"extraInitContainers,omitempty"`
	Env                 map[string]string              `json:"env,omitempty"`
	EnvValueFrom        map[string]corev1.EnvVarSource `json:"envValueFrom,omitempty"`
	Datasources         map[string]json.RawMessage     `json:"datasources,omitempty"`
	Sidecar             *struct {
		Dashboards *struct {
			Enabled          bool   `json:"enabled"`
			Label            string `json:"label"`
			LabelValue       string `json:"labelValue"`
			FolderAnnotation string `json:"folderAnnotation"`
			Provider         struct {
				FoldersFromFilesStructure bool `json:"foldersFromFilesStructure"`
				AllowUIUpdates            bool `json:"allowUiUpdates"`
			} `json:"provider"`
		} `json:"dashboards,omitempty"`
		Alerts *struct {
			Enabled    bool   `json:"enabled"`
			Label      string `json:"label"`
			LabelValue string `json:"labelValue"`
		} `json:"alerts,omitempty"`
	} `json:"sidecar,omitempty"`
}

// helmValues decodes each file strictly, then merges them as Helm does
// (maps key by key, anything else replaced by the later file) and decodes
// the result strictly.
func helmValues(t *testing.T, files ...string) chartValues {
	t.Helper()
	var merged map[string]any
	for _, f := range files {
		raw := repoFile(t, helmDir+"/"+f)
		var typed chartValues
		if err := yaml.UnmarshalStrict(raw, &typed); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		merged = mergeValues(merged, m)
	}
	b, err := json.Marshal(merged)
	if err != nil {
		t.Fatal(err)
	}
	var v chartValues
	if err := yaml.UnmarshalStrict(b, &v); err != nil {
		t.Fatalf("%v merged: %v", files, err)
	}
	return v
}

func mergeValues(base, over map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		bm, bok := out[k].(map[string]any)
		om, ook := v.(map[string]any)
		if bok && ook {
			out[k] = mergeValues(bm, om)
		} else {
			out[k] = v
		}
	}
	return out
}

// collectorEndpoint is where the collector overlay of an environment
// writes (CLICKHOUSE_ENDPOINT of meshmetrics-collector-env).
func collectorEndpoint(t *testing.T, overlay string) *url.URL {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*-\s*CLICKHOUSE_ENDPOINT=(\S+)`).FindSubmatch(repoFile(t, "provisioning/kubernetes/overlays/"+overlay+"/kustomization.yaml"))
	if m == nil {
		t.Fatalf("overlays/%s sets no CLICKHOUSE_ENDPOINT", overlay)
	}
	u, err := url.Parse(string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Local dev and production: the merged values decode into the chart's
// keys; the plugin directory, the unsigned allowance, the init container's
// volume, the datasource expanded with the pod's environment (pointing
// where that environment's collector writes), the alert rules' variables
// and datasource, and the sidecar labels of the ConfigMaps all agree.
func TestHelmValues(t *testing.T) {
	sidecar := renderSidecar(t)
	for _, env := range []struct{ name, file, overlay string }{
		{"local", "values-local.yaml", "local"},
		{"production", "values-production.yaml", "production"},
	} {
		t.Run(env.name, func(t *testing.T) {
			v := helmValues(t, "values.yaml", env.file)
			if v.Image == nil {
				t.Fatal("no image")
			}
			checkGrafanaImage(t, env.file, v.Image.Repository, v.Image.Tag)
			if got := v.GrafanaIni["plugins"]["allow_loading_unsigned_plugins"]; !slices.Contains(strings.Split(got, ","), pluginID) {
				t.Errorf("grafana.ini plugins.allow_loading_unsigned_plugins = %q does not allow %s", got, pluginID)
			}
			pluginDir := "/var/lib/grafana/plugins/" + pluginID
			volumes := map[string]string{}
			for _, m := range v.ExtraEmptyDirMounts {
				volumes[m.Name] = m.MountPath
			}
			initFills := false
			for _, c := range v.ExtraInitContainers {
				for _, m := range c.VolumeMounts {
					if want, ok := volumes[m.Name]; !ok || want != m.MountPath {
						t.Errorf("init container %s mounts %s at %s; Grafana has it at %q", c.Name, m.Name, m.MountPath, want)
					}
					if m.MountPath == pluginDir {
						initFills = true
					}
				}
				if c.Image == "" || len(c.Command) == 0 {
					t.Errorf("init container %s has no image or command", c.Name)
				}
			}
			if !slices.Contains(slices.Collect(mapValues(volumes)), pluginDir) || !initFills {
				t.Errorf("no emptyDir at %s filled by an init container", pluginDir)
			}

			// Grafana's environment: env literally, envValueFrom from Secrets
			// (a stand-in value per key), never both for one name.
			podEnv := map[string]string{}
			for k, val := range v.Env {
				podEnv[k] = val
			}
			for k, src := range v.EnvValueFrom {
				if _, dup := v.Env[k]; dup {
					t.Errorf("%s is set by env and envValueFrom", k)
				}
				if src.SecretKeyRef == nil || src.SecretKeyRef.Name == "" || src.SecretKeyRef.Key == "" {
					t.Errorf("envValueFrom %s is not a Secret key", k)
					continue
				}
				podEnv[k] = "secret-" + src.SecretKeyRef.Name + "-" + src.SecretKeyRef.Key
			}
			if len(v.Datasources) == 0 {
				t.Fatal("no datasources provisioned")
			}
			settings := map[string]bool{}
			for file, raw := range v.Datasources {
				if !strings.HasSuffix(file, ".yaml") {
					t.Errorf("datasources key %q: Grafana reads only .yaml/.yml files", file)
				}
				for uid, s := range provisionDatasources(t, env.file+" datasources."+file, raw, podEnv) {
					settings[uid] = true
					want := collectorEndpoint(t, env.overlay)
					if s.Host != want.Hostname() || fmt.Sprint(s.Port) != want.Port() || s.Protocol != "native" {
						t.Errorf("datasource %s reads %s:%d (%s); the %s collector writes to %s", uid, s.Host, s.Port, s.Protocol, env.overlay, want)
					}
				}
			}
			variables, uids := alertRuleRefs(t)
			for _, name := range variables {
				if podEnv[name] == "" {
					t.Errorf("the alert rules read $%s; %s does not set it", name, env.file)
				}
			}
			for _, uid := range uids {
				if !settings[uid] {
					t.Errorf("the alert rules query datasource %s, which these values do not provision", uid)
				}
			}
			checkSidecarLabels(t, v, sidecar)
		})
	}
}

func mapValues(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for _, v := range m {
			if !yield(v) {
				return
			}
		}
	}
}

// renderSidecar renders sidecar/kustomization.yaml with kustomize's Go
// library (what `kubectl kustomize` embeds), allowed to read the
// repository's files as the documented command is, and decodes the
// ConfigMaps strictly.
func renderSidecar(t *testing.T) []corev1.ConfigMap {
	t.Helper()
	opts := krusty.MakeDefaultOptions()
	opts.LoadRestrictions = types.LoadRestrictionsNone
	resMap, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), repoRoot(t)+"/"+helmDir+"/sidecar")
	if err != nil {
		t.Fatalf("kustomize sidecar: %v", err)
	}
	var out []corev1.ConfigMap
	for _, r := range resMap.Resources() {
		b, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		var cm corev1.ConfigMap
		if err := yaml.UnmarshalStrict(b, &cm); err != nil || cm.Kind != "ConfigMap" {
			t.Fatalf("sidecar renders %s %s: %v", r.GetKind(), r.GetName(), err)
		}
		out = append(out, cm)
	}
	return out
}

// The dashboard and alert ConfigMaps carry the labels the chart's sidecars
// select, the folder annotation they read, and the repository's files.
func checkSidecarLabels(t *testing.T, v chartValues, cms []corev1.ConfigMap) {
	t.Helper()
	if v.Sidecar == nil || v.Sidecar.Dashboards == nil || v.Sidecar.Alerts == nil || !v.Sidecar.Dashboards.Enabled || !v.Sidecar.Alerts.Enabled {
		t.Fatal("the dashboard and alert sidecars are not enabled")
	}
	want := map[string]struct {
		label, value, key, file string
	}{
		"dashboard": {v.Sidecar.Dashboards.Label, v.Sidecar.Dashboards.LabelValue, "service-mesh-traffic.json", "dashboards/service-mesh-traffic.json"},
		"alerts":    {v.Sidecar.Alerts.Label, v.Sidecar.Alerts.LabelValue, "mesh-alerts.yaml", "provisioning/grafana/alerting/mesh-alerts.yaml"},
	}
	for what, w := range want {
		found := false
		for _, cm := range cms {
			if cm.Labels[w.label] != w.value || cm.Data[w.key] == "" {
				continue
			}
			found = true
			if cm.Data[w.key] != string(repoFile(t, w.file)) {
				t.Errorf("ConfigMap %s: %s is not the repository's %s", cm.Name, w.key, w.file)
			}
			if what == "dashboard" {
				if !v.Sidecar.Dashboards.Provider.FoldersFromFilesStructure || cm.Annotations[v.Sidecar.Dashboards.FolderAnnotation] == "" {
					t.Errorf("ConfigMap %s has no %s annotation the sidecar files it by", cm.Name, v.Sidecar.Dashboards.FolderAnnotation)
				}
			}
		}
		if !found {
			t.Errorf("no ConfigMap labelled %s=%s carries %s", w.label, w.value, w.key)
		}
	}
}

// The init containers do what the values say, run here with the release
// zip: local dev copies the unpacked zip; production takes the zip from
// PLUGIN_URL (a stand-in wget serves the local file), refuses it on a
// missing or wrong SHA-256, and on the right one fills the plugin
// directory with executables that keep mode 0755. PLUGIN_URL names
// package.json's version.
func TestHelmInitContainers(t *testing.T) {
	z := openRelease(t)
	sum, _, _ := strings.Cut(string(mustRead(t, z.path+".sha256")), " ")
	pluginDir := "/var/lib/grafana/plugins/" + pluginID

	t.Run("local", func(t *testing.T) {
		c := initContainer(t, helmValues(t, "values.yaml", "values-local.yaml"))
		unpacked := unzipRelease(t, t.TempDir())
		dockerfile := string(repoFile(t, helmDir+"/plugin-image/Dockerfile"))
		m := regexp.MustCompile(`(?m)^COPY\s+(\S+)\s+(\S+)$`).FindStringSubmatch(dockerfile)
		if m == nil || m[1] != pluginID {
			t.Fatalf("plugin-image/Dockerfile does not COPY the unpacked %s folder", pluginID)
		}
		target := t.TempDir()
		script := strings.NewReplacer(m[2], unpacked+"/"+pluginID, pluginDir, target).Replace(c.Command[2])
		if out, err := runInit(t, c.Command[:2], script, nil); err != nil {
			t.Fatalf("init container: %v\n%s", err, out)
		}
		checkPluginDir(t, target)
	})

	t.Run("production", func(t *testing.T) {
		c := initContainer(t, helmValues(t, "values.yaml", "values-production.yaml"))
		env := map[string]string{}
		for _, e := range c.Env {
			env[e.Name] = e.Value
		}
		if want := fmt.Sprintf("/%s-%s.zip", pluginID, z.version); !strings.HasPrefix(env["PLUGIN_URL"], "https://") || !strings.HasSuffix(env["PLUGIN_URL"], want) {
			t.Errorf("PLUGIN_URL %q: want an https URL ending in %s (package.json's version)", env["PLUGIN_URL"], want)
		}
		for _, tc := range []struct {
			name, sha string
			ok        bool
			says      string
		}{
			{"as committed", env["PLUGIN_SHA256"], env["PLUGIN_SHA256"] == sum, "PLUGIN_SHA256"},
			{"right hash", sum, true, ""},
			{"wrong hash", strings.Repeat("0", 64), false, "FAILED"},
			{"not a hash", "latest", false, "PLUGIN_SHA256 must be"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				target := t.TempDir()
				script := strings.ReplaceAll(c.Command[2], pluginDir, target)
				out, err := runInit(t, c.Command[:2], script, map[string]string{
					"PLUGIN_URL": env["PLUGIN_URL"], "PLUGIN_SHA256": tc.sha, "FAKE_WGET_FILE": z.path,
				})
				if tc.ok {
					if err != nil {
						t.Fatalf("init container: %v\n%s", err, out)
					}
					checkPluginDir(t, target)
					return
				}
				if err == nil || !strings.Contains(out, tc.says) {
					t.Fatalf("init container: err %v, output %q: want a failure saying %q", err, out, tc.says)
				}
				if entries, _ := os.ReadDir(target); len(entries) != 0 {
					t.Errorf("the plugin directory was filled (%d entries) although the zip was refused", len(entries))
				}
			})
		}
	})
}

func initContainer(t *testing.T, v chartValues) corev1.Container {
	t.Helper()
	if len(v.ExtraInitContainers) != 1 {
		t.Fatalf("%d init containers, want the plugin's one", len(v.ExtraInitContainers))
	}
	c := v.ExtraInitContainers[0]
	if len(c.Command) != 3 || c.Command[0] != "sh" || c.Command[1] != "-euc" {
		t.Fatalf("init container command %q: want sh -euc <script>", c.Command)
	}
	return c
}

// runInit runs an init container's script with sh here; wget is a stand-in
// that copies FAKE_WGET_FILE, as the cluster would download PLUGIN_URL.
func runInit(t *testing.T, shell []string, script string, env map[string]string) (string, error) {
	t.Helper()
	bin := t.TempDir()
	wget := "#!/bin/sh\n# wget -q -O <file> <url>\nwhile [ $# -gt 1 ]; do case \"$1\" in -O) out=\"$2\"; shift 2;; *) shift;; esac; done\ncp \"$FAKE_WGET_FILE\" \"$out\"\n"
	if err := os.WriteFile(bin+"/wget", []byte(wget), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(shell[0], shell[1], script)
	cmd.Env = []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "TMPDIR=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func checkPluginDir(t *testing.T, dir string) {
	t.Helper()
	if _, err := os.Stat(path.Join(dir, "plugin.json")); err != nil {
		t.Errorf("plugin directory has no plugin.json: %v", err)
	}
	for _, name := range []string{"gpx_meshmetrics_linux_amd64", "gpx_meshmetrics_linux_arm64"} {
		info, err := os.Stat(path.Join(dir, name))
		if err != nil || info.Mode().Perm() != 0o755 {
			t.Errorf("%s in the plugin directory: %v, mode %v; want 0755", name, err, info)
		}
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The Tiltfile builds the image the local init container names, renders
// the chart with values.yaml then values-local.yaml, and applies the
// sidecar ConfigMaps with the load restrictor the kustomization needs.
func TestTiltfile(t *testing.T) {
	tilt := string(repoFile(t, helmDir+"/Tiltfile"))
	c := initContainer(t, helmValues(t, "values.yaml", "values-local.yaml"))
	m := regexp.MustCompile(`docker_build\('([^']+)',\s*'([^']+)',\s*dockerfile='([^']+)'\)`).FindStringSubmatch(tilt)
	if m == nil {
		t.Fatal("the Tiltfile builds no image")
	}
	if m[1] != c.Image {
		t.Errorf("Tilt builds %s; the local init container runs %s", m[1], c.Image)
	}
	if m[3] != m[2]+"/Dockerfile" {
		t.Errorf("docker_build context %s, dockerfile %s", m[2], m[3])
	}
	if _, err := os.Stat(repoRoot(t) + "/" + helmDir + "/" + m[3]); err != nil {
		t.Error(err)
	}
	if !strings.Contains(tilt, "values=['values.yaml', 'values-local.yaml']") {
		t.Error("the Tiltfile does not render the chart with values.yaml then values-local.yaml")
	}
	if !strings.Contains(tilt, "kustomize('sidecar', flags=['--load-restrictor=LoadRestrictionsNone'])") {
		t.Error("the Tiltfile does not apply sidecar/ with LoadRestrictionsNone")
	}
	if !strings.Contains(tilt, "allow_k8s_contexts('rancher-desktop')") {
		t.Error("the Tiltfile is not limited to Rancher Desktop's context")
	}
}
