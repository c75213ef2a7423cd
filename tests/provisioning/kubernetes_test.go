package provisioning

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

const (
	k8sDir          = "provisioning/kubernetes"
	collectorConfig = "provisioning/collector/otelcol-kubernetes.yaml"
	collectorNS     = "meshmetrics"
	// externalSecret is created by the operators in staging and production
	// (README.md says how); the local overlay generates it.
	externalSecret = "meshmetrics-clickhouse"
)

// overlays are the environments and what each must render to.
var overlays = []struct {
	dir, env, appNamespace string
	persistentQueue        bool
	secretGenerated        bool
	registry               string
}{
	{dir: "local", env: "dev", appNamespace: "forma3d-dev", secretGenerated: true},
	{dir: "staging", env: "staging", appNamespace: "forma3d", persistentQueue: true, registry: "registry.digitalocean.com/forma3d/"},
	{dir: "production", env: "production", appNamespace: "forma3d", persistentQueue: true, registry: "registry.digitalocean.com/forma3d/"},
}

// TestConfigMapCopyMatchesCollectorConfig: kustomize's load restrictor
// keeps the ConfigMap's source inside the base, so it is a copy; it must
// be the collector helper's file byte for byte.
func TestConfigMapCopyMatchesCollectorConfig(t *testing.T) {
	src := filepath.Join(repoRoot(t), filepath.FromSlash(collectorConfig))
	if _, err := os.Stat(src); os.IsNotExist(err) {
		t.Skipf("%s does not exist yet; nothing to compare the base's copy with", collectorConfig)
	}
	want := repoFile(t, collectorConfig)
	got := repoFile(t, k8sDir+"/base/otelcol-kubernetes.yaml")
	if !bytes.Equal(got, want) {
		t.Fatalf("%s/base/otelcol-kubernetes.yaml differs from %s; copy it again:\n  cp %s %s/base/", k8sDir, collectorConfig, collectorConfig, k8sDir)
	}
}

// TestManifestFilesDecodeStrictly: every object file, patches included,
// is valid against the API types (no unknown or misspelt field).
func TestManifestFilesDecodeStrictly(t *testing.T) {
	files := manifestFiles(t, filepath.Join(repoRoot(t), k8sDir))
	if len(files) < 10 {
		t.Fatalf("found only %d manifest files under %s", len(files), k8sDir)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := decodeManifests(b)
		if err != nil {
			t.Errorf("%s: %v", f, err)
		} else if len(objs) == 0 {
			t.Errorf("%s: no object", f)
		}
	}
}

func TestOverlaysRender(t *testing.T) {
	env := collectorEnvRefs(t)
	for _, ov := range overlays {
		t.Run(ov.dir, func(t *testing.T) {
			m := render(t, filepath.Join(repoRoot(t), k8sDir, "overlays", ov.dir))
			if len(m.Deployments) != 1 || len(m.ServiceAccounts) != 1 || len(m.Services) != 1 {
				t.Fatalf("want one Deployment, ServiceAccount and Service; got %d, %d, %d", len(m.Deployments), len(m.ServiceAccounts), len(m.Services))
			}
			d, sa, svc := m.Deployments[0], m.ServiceAccounts[0], m.Services[0]
			for _, ns := range []string{d.Namespace, sa.Namespace, svc.Namespace} {
				if ns != collectorNS {
					t.Errorf("collector object in namespace %q, want %q", ns, collectorNS)
				}
			}
			// Rollback deletes what the overlay creates: only our namespace.
			if len(m.Namespaces) != 1 || m.Namespaces[0].Name != collectorNS {
				t.Errorf("the overlay creates namespaces %v; want only %s", m.Namespaces, collectorNS)
			}
			pod := d.Spec.Template.Spec
			if pod.ServiceAccountName != sa.Name {
				t.Errorf("Deployment runs as %q, the ServiceAccount is %q", pod.ServiceAccountName, sa.Name)
			}
			if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
				t.Errorf("Deployment: replicas %v, strategy %q; want 1 and Recreate (one scraper)", d.Spec.Replicas, d.Spec.Strategy.Type)
			}
			sel, err := metav1LabelSelector(d)
			if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
				t.Errorf("Deployment selector %v does not match its pod labels %v (%v)", d.Spec.Selector, d.Spec.Template.Labels, err)
			}
			if len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
				t.Errorf("Service selector %v does not select the pod labels %v", svc.Spec.Selector, d.Spec.Template.Labels)
			}
			if len(pod.Containers) != 1 {
				t.Fatalf("%d containers, want 1", len(pod.Containers))
			}
			c := pod.Containers[0]
			vars := containerEnv(t, m, d.Namespace, c, ov.secretGenerated)
			checkEnv(t, env, vars)
			if vars["DEPLOYMENT_ENVIRONMENT"] != ov.env || vars["APP_NAMESPACE"] != ov.appNamespace {
				t.Errorf("DEPLOYMENT_ENVIRONMENT=%q APP_NAMESPACE=%q, want %q and %q", vars["DEPLOYMENT_ENVIRONMENT"], vars["APP_NAMESPACE"], ov.env, ov.appNamespace)
			}
			checkConfigMount(t, m, d, c)
			checkPorts(t, c, svc, vars["OTELCOL_HEALTH_ENDPOINT"])
			checkQueue(t, m, d, c, vars["OTELCOL_STORAGE_DIR"], ov.persistentQueue)
			checkRBAC(t, m, sa, []string{vars["MESH_NAMESPACE"], vars["APP_NAMESPACE"]})
			checkImage(t, c.Image, ov.registry)
		})
	}
}

var envRef = regexp.MustCompile(`\$\{env:([A-Z0-9_]+)(:-[^}]*)?\}`)

// collectorEnvRefs are the environment variables the collector config
// reads: name → whether it has a default.
func collectorEnvRefs(t *testing.T) map[string]bool {
	t.Helper()
	refs := map[string]bool{}
	for _, m := range envRef.FindAllStringSubmatch(string(repoFile(t, k8sDir+"/base/otelcol-kubernetes.yaml")), -1) {
		refs[m[1]] = refs[m[1]] || m[2] != ""
	}
	if len(refs) == 0 {
		t.Fatal("the collector config reads no environment variable: is it the right file?")
	}
	return refs
}

func metav1LabelSelector(d *appsv1.Deployment) (labels.Selector, error) {
	if d.Spec.Selector == nil || len(d.Spec.Selector.MatchLabels) == 0 {
		return labels.Nothing(), nil
	}
	return labels.SelectorFromValidatedSet(d.Spec.Selector.MatchLabels), nil
}

// containerEnv resolves the container's environment: envFrom ConfigMaps
// and secretKeyRefs must exist in the render (or be the documented
// external Secret), fieldRefs are taken as set.
func containerEnv(t *testing.T, m *manifests, ns string, c corev1.Container, secretGenerated bool) map[string]string {
	t.Helper()
	vars := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil {
			t.Errorf("envFrom %+v: only ConfigMaps expected", from)
			continue
		}
		cm := m.configMap(ns, from.ConfigMapRef.Name)
		if cm == nil {
			t.Errorf("envFrom ConfigMap %s/%s is not in the overlay", ns, from.ConfigMapRef.Name)
			continue
		}
		for k, v := range cm.Data {
			vars[k] = v
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			vars[e.Name] = e.Value
		case e.ValueFrom.FieldRef != nil:
			vars[e.Name] = "<" + e.ValueFrom.FieldRef.FieldPath + ">"
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			s := m.secret(ns, ref.Name)
			switch {
			case s != nil:
				if _, ok := s.Data[ref.Key]; !ok {
					t.Errorf("env %s: Secret %s has no key %q", e.Name, ref.Name, ref.Key)
				}
			case secretGenerated:
				t.Errorf("env %s: Secret %s/%s is not in the overlay", e.Name, ns, ref.Name)
			case ref.Name != externalSecret:
				t.Errorf("env %s: Secret %q is neither in the overlay nor the documented %q", e.Name, ref.Name, externalSecret)
			}
			vars[e.Name] = "<secret " + ref.Name + "/" + ref.Key + ">"
		default:
			t.Errorf("env %s: unexpected source %+v", e.Name, e.ValueFrom)
		}
	}
	return vars
}

// checkEnv: every variable the collector config needs without a default is set.
func checkEnv(t *testing.T, refs map[string]bool, vars map[string]string) {
	t.Helper()
	for name, hasDefault := range refs {
		if _, ok := vars[name]; !ok && !hasDefault {
			t.Errorf("the collector config reads ${env:%s} (no default); the Deployment does not set it", name)
		}
	}
}

func checkConfigMount(t *testing.T, m *manifests, d *appsv1.Deployment, c corev1.Container) {
	t.Helper()
	var cfgPath string
	for _, a := range c.Args {
		if p, ok := strings.CutPrefix(a, "--config="); ok {
			cfgPath = p
		}
	}
	if cfgPath == "" {
		t.Fatalf("container args %q have no --config=", c.Args)
	}
	for _, vm := range c.VolumeMounts {
		key, ok := strings.CutPrefix(cfgPath, strings.TrimSuffix(vm.MountPath, "/")+"/")
		if !ok {
			continue
		}
		v := volume(d, vm.Name)
		if v == nil || v.ConfigMap == nil {
			t.Fatalf("--config=%s is on volume %q, which is not a ConfigMap volume", cfgPath, vm.Name)
		}
		cm := m.configMap(d.Namespace, v.ConfigMap.Name)
		if cm == nil {
			t.Fatalf("config volume names ConfigMap %s/%s, not in the overlay", d.Namespace, v.ConfigMap.Name)
		}
		if cm.Data[key] != string(repoFile(t, k8sDir+"/base/otelcol-kubernetes.yaml")) {
			t.Errorf("ConfigMap %s key %q is not the collector config", cm.Name, key)
		}
		return
	}
	t.Errorf("--config=%s is on no mounted volume", cfgPath)
}

func volume(d *appsv1.Deployment, name string) *corev1.Volume {
	for i := range d.Spec.Template.Spec.Volumes {
		if d.Spec.Template.Spec.Volumes[i].Name == name {
			return &d.Spec.Template.Spec.Volumes[i]
		}
	}
	return nil
}

// checkPorts: the health_check endpoint, the container port, the probes
// and the Service agree.
func checkPorts(t *testing.T, c corev1.Container, svc *corev1.Service, healthEndpoint string) {
	t.Helper()
	_, port, err := net.SplitHostPort(healthEndpoint)
	if err != nil {
		t.Fatalf("OTELCOL_HEALTH_ENDPOINT %q: %v", healthEndpoint, err)
	}
	var health *corev1.ContainerPort
	for i := range c.Ports {
		if c.Ports[i].Name == "health" {
			health = &c.Ports[i]
		}
	}
	if health == nil || itoa(health.ContainerPort) != port {
		t.Fatalf("container port \"health\" %+v; want %s (health_check endpoint %s)", health, port, healthEndpoint)
	}
	for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Port.String() != health.Name || p.HTTPGet.Path != "/" {
			t.Errorf("%s probe %+v: want GET / on port %q", name, p, health.Name)
		}
	}
	for _, sp := range svc.Spec.Ports {
		if sp.TargetPort.String() != health.Name && sp.TargetPort.IntValue() != int(health.ContainerPort) {
			t.Errorf("Service port %s targets %s, which the container does not expose", sp.Name, sp.TargetPort.String())
		}
	}
}

func checkQueue(t *testing.T, m *manifests, d *appsv1.Deployment, c corev1.Container, dir string, persistent bool) {
	t.Helper()
	var mount *corev1.VolumeMount
	for i := range c.VolumeMounts {
		if c.VolumeMounts[i].MountPath == dir {
			mount = &c.VolumeMounts[i]
		}
	}
	if mount == nil || mount.ReadOnly {
		t.Fatalf("OTELCOL_STORAGE_DIR %q is not a writable volume mount (%+v)", dir, c.VolumeMounts)
	}
	v := volume(d, mount.Name)
	switch {
	case v == nil:
		t.Fatalf("volume %q is not defined", mount.Name)
	case persistent:
		if v.PersistentVolumeClaim == nil || v.EmptyDir != nil {
			t.Fatalf("queue volume %+v: want only a PersistentVolumeClaim", v.VolumeSource)
		}
		pvc := m.pvc(d.Namespace, v.PersistentVolumeClaim.ClaimName)
		if pvc == nil {
			t.Fatalf("PVC %s/%s is not in the overlay", d.Namespace, v.PersistentVolumeClaim.ClaimName)
		}
		if !slices.Equal(pvc.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}) || pvc.Spec.StorageClassName == nil || pvc.Spec.Resources.Requests.Storage().IsZero() {
			t.Errorf("PVC %s: access %v, class %v, size %v; want ReadWriteOnce, a class and a size", pvc.Name, pvc.Spec.AccessModes, pvc.Spec.StorageClassName, pvc.Spec.Resources.Requests.Storage())
		}
	default:
		if v.EmptyDir == nil || v.PersistentVolumeClaim != nil || len(m.PVCs) != 0 {
			t.Fatalf("queue volume %+v (PVCs %d): want an emptyDir and no claim", v.VolumeSource, len(m.PVCs))
		}
	}
}

// checkRBAC: one Role + RoleBinding per scraped namespace, pods
// get/list/watch only, bound to the collector's ServiceAccount.
func checkRBAC(t *testing.T, m *manifests, sa *corev1.ServiceAccount, scraped []string) {
	t.Helper()
	var bound []string
	for _, rb := range m.RoleBindings {
		bound = append(bound, rb.Namespace)
		want := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa.Name, Namespace: sa.Namespace}}
		if !slices.Equal(rb.Subjects, want) {
			t.Errorf("RoleBinding %s/%s subjects %+v, want %+v", rb.Namespace, rb.Name, rb.Subjects, want)
		}
		if rb.RoleRef.Kind != "Role" || rb.RoleRef.APIGroup != rbacv1.GroupName {
			t.Errorf("RoleBinding %s/%s refers to %+v; want a Role", rb.Namespace, rb.Name, rb.RoleRef)
			continue
		}
		role := m.role(rb.Namespace, rb.RoleRef.Name)
		if role == nil {
			t.Errorf("RoleBinding %s/%s: Role %q is not in its namespace", rb.Namespace, rb.Name, rb.RoleRef.Name)
			continue
		}
		want2 := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}}}
		if len(role.Rules) != 1 || !slices.Equal(role.Rules[0].APIGroups, want2[0].APIGroups) || !slices.Equal(role.Rules[0].Resources, want2[0].Resources) ||
			!slices.Equal(role.Rules[0].Verbs, want2[0].Verbs) || len(role.Rules[0].ResourceNames)+len(role.Rules[0].NonResourceURLs) != 0 {
			t.Errorf("Role %s/%s rules %+v; want exactly pods get/list/watch", role.Namespace, role.Name, role.Rules)
		}
	}
	slices.Sort(bound)
	slices.Sort(scraped)
	if !slices.Equal(bound, scraped) || len(m.Roles) != len(scraped) {
		t.Errorf("RoleBindings in %v (%d Roles); the collector scrapes %v", bound, len(m.Roles), scraped)
	}
}

// checkImage: staging and production pull a pinned image whose tag is the
// collector's dist.version; local dev uses the image Tilt builds.
func checkImage(t *testing.T, image, registry string) {
	t.Helper()
	var manifest struct {
		Dist struct {
			Version string `json:"version"`
		} `json:"dist"`
	}
	if err := yaml.Unmarshal(repoFile(t, "provisioning/collector/builder-config.yaml"), &manifest); err != nil || manifest.Dist.Version == "" {
		t.Fatalf("builder-config.yaml dist.version: %q, %v", manifest.Dist.Version, err)
	}
	want := tiltImage + ":dev"
	if registry != "" {
		want = registry + tiltImage + ":" + manifest.Dist.Version
	}
	if image != want {
		t.Errorf("image %q, want %q", image, want)
	}
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

const tiltImage = "meshmetrics-otelcol"

// TestTiltfile: the snippet builds the image the local overlay runs, with
// the Dockerfile and manifest that exist, applies the local overlay and
// forwards the health port to the Deployment.
func TestTiltfile(t *testing.T) {
	src := string(repoFile(t, k8sDir+"/Tiltfile"))
	dir := filepath.Join(repoRoot(t), k8sDir)
	for _, want := range []string{
		"docker_build(\n    '" + tiltImage + "',",
		"k8s_yaml(kustomize('overlays/local'))",
		"k8s_resource(\n    'meshmetrics-collector',",
		"port_forwards=['13133:13133']",
	} {
		if !strings.Contains(src, want) {
			t.Errorf("Tiltfile lacks %q", want)
		}
	}
	for _, m := range regexp.MustCompile(`(?:dockerfile=|watch_file\(|cp |only=\[)'?([.][./a-zA-Z-]+[a-zA-Z])`).FindAllStringSubmatch(src, -1) {
		p := m[1]
		if strings.HasPrefix(m[0], "only=") {
			p = "../" + p
		}
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("Tiltfile names %s: %v", m[1], err)
		}
	}
}
