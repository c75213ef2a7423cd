package provisioning

import (
	"bytes"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

const (
	agentConfig     = "provisioning/collector/otelcol-agent-kubernetes.yaml"
	agentConfigCopy = k8sDir + "/components/pair-agent/otelcol-agent-kubernetes.yaml"
	agentName       = "meshmetrics-pair-agent"
	pairsPort       = 4319
)

// The component's copy of the agent config is the original, byte for byte.
func TestPairAgentConfigCopy(t *testing.T) {
	if !bytes.Equal(repoFile(t, agentConfigCopy), repoFile(t, agentConfig)) {
		t.Fatalf("%s differs from %s; copy it again:\n  cp %s %s/components/pair-agent/", agentConfigCopy, agentConfig, agentConfig, k8sDir)
	}
}

// Each *-pairs overlay renders its environment's overlay plus the agent:
// a DaemonSet in meshmetrics running the agent config with every variable
// it reads set, the proxies' pod logs mounted read-only, a Role in the
// application namespace with exactly what k8sattributes needs, the
// collector Service exposing the agents' OTLP port the agents are pointed
// at, and the pinned image.
func TestPairAgentOverlaysRender(t *testing.T) {
	refs := map[string]bool{}
	for _, m := range envRef.FindAllStringSubmatch(string(repoFile(t, agentConfigCopy)), -1) {
		refs[m[1]] = refs[m[1]] || m[2] != ""
	}
	for _, ov := range overlays {
		t.Run(ov.dir+"-pairs", func(t *testing.T) {
			m := render(t, filepath.Join(repoRoot(t), k8sDir, "overlays", ov.dir+"-pairs"))
			if len(m.DaemonSets) != 1 || len(m.Deployments) != 1 {
				t.Fatalf("want one DaemonSet and the collector's Deployment; got %d and %d", len(m.DaemonSets), len(m.Deployments))
			}
			ds := m.DaemonSets[0]
			if ds.Name != agentName || ds.Namespace != collectorNS {
				t.Errorf("DaemonSet %s/%s, want %s/%s", ds.Namespace, ds.Name, collectorNS, agentName)
			}
			pod := ds.Spec.Template.Spec
			var sa *corev1.ServiceAccount
			for _, s := range m.ServiceAccounts {
				if s.Name == pod.ServiceAccountName && s.Namespace == ds.Namespace {
					sa = s
				}
			}
			if sa == nil || sa.Name == m.Deployments[0].Spec.Template.Spec.ServiceAccountName {
				t.Fatalf("the agent runs as %q: want a ServiceAccount of its own in the overlay", pod.ServiceAccountName)
			}
			if ds.Spec.Selector == nil || !labels.SelectorFromSet(ds.Spec.Selector.MatchLabels).Matches(labels.Set(ds.Spec.Template.Labels)) || len(ds.Spec.Selector.MatchLabels) == 0 {
				t.Errorf("DaemonSet selector %v does not select its pods %v", ds.Spec.Selector, ds.Spec.Template.Labels)
			}
			if len(pod.Containers) != 1 {
				t.Fatalf("%d containers, want 1", len(pod.Containers))
			}
			c := pod.Containers[0]
			vars := containerEnv(t, m, ds.Namespace, c, ov.secretGenerated)
			checkEnv(t, refs, vars)
			if vars["APP_NAMESPACE"] != ov.appNamespace {
				t.Errorf("APP_NAMESPACE=%q, want the %s overlay's %q", vars["APP_NAMESPACE"], ov.dir, ov.appNamespace)
			}
			checkAgentMounts(t, m, ds, c)
			checkAgentEndpoint(t, m, vars["MESH_PAIRS_OTLP_ENDPOINT"])
			checkAgentRBAC(t, m, sa, ov.appNamespace)
			// One binary, two roles: the agent runs the collector's image.
			if c.Image != m.Deployments[0].Spec.Template.Spec.Containers[0].Image {
				t.Errorf("agent image %q, want the collector's %q", c.Image, m.Deployments[0].Spec.Template.Spec.Containers[0].Image)
			}
			checkImage(t, c.Image, ov.registry)
			for _, o := range []map[string]string{ds.Labels, sa.Labels} {
				if o["app.kubernetes.io/component"] != "pair-agent" || o["app.kubernetes.io/part-of"] != "meshmetrics" {
					t.Errorf("labels %v: the rollback deletes by app.kubernetes.io/component=pair-agent, part-of=meshmetrics", o)
				}
			}
		})
	}
}

// checkAgentMounts: the config ConfigMap at the path the args name, the
// pod logs read-only from the node, the offsets on the node.
func checkAgentMounts(t *testing.T, m *manifests, ds *appsv1.DaemonSet, c corev1.Container) {
	t.Helper()
	mounts := map[string]corev1.VolumeMount{}
	for _, vm := range c.VolumeMounts {
		mounts[vm.Name] = vm
	}
	vols := map[string]corev1.Volume{}
	for _, v := range ds.Spec.Template.Spec.Volumes {
		vols[v.Name] = v
	}
	cfg := vols["config"]
	if cfg.ConfigMap == nil || m.configMap(ds.Namespace, cfg.ConfigMap.Name) == nil {
		t.Fatalf("config volume %+v: no ConfigMap of the overlay", cfg.VolumeSource)
	}
	data := m.configMap(ds.Namespace, cfg.ConfigMap.Name).Data["otelcol-agent-kubernetes.yaml"]
	if data != string(repoFile(t, agentConfig)) {
		t.Errorf("the config ConfigMap does not hold %s", agentConfig)
	}
	if want := "--config=" + mounts["config"].MountPath + "/otelcol-agent-kubernetes.yaml"; !slices.Contains(c.Args, want) {
		t.Errorf("args %v, want %s", c.Args, want)
	}
	logs := vols["pod-logs"]
	if logs.HostPath == nil || logs.HostPath.Path != "/var/log/pods" || mounts["pod-logs"].MountPath != "/var/log/pods" || !mounts["pod-logs"].ReadOnly {
		t.Errorf("pod logs: volume %+v mounted %+v; want the node's /var/log/pods read-only at the same path (the config's include)", logs.VolumeSource, mounts["pod-logs"])
	}
	var cfgYAML struct {
		Receivers map[string]struct {
			Include []string `json:"include"`
		} `json:"receivers"`
	}
	if err := yaml.Unmarshal([]byte(data), &cfgYAML); err != nil {
		t.Fatal(err)
	}
	for id, r := range cfgYAML.Receivers {
		for _, inc := range r.Include {
			if !strings.HasPrefix(inc, mounts["pod-logs"].MountPath+"/") {
				t.Errorf("receiver %s reads %s, outside the mounted pod logs", id, inc)
			}
		}
	}
	if off := vols["offsets"]; off.HostPath == nil || mounts["offsets"].MountPath != "/var/lib/otelcol-agent" {
		t.Errorf("offsets: volume %+v at %q; want a hostPath at AGENT_STORAGE_DIR", off.VolumeSource, mounts["offsets"].MountPath)
	}
	if c.Resources.Limits.Memory().IsZero() {
		t.Error("the agent has no memory limit")
	}
}

var otlpEndpoint = regexp.MustCompile(`^([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local:(\d+)$`)

// checkAgentEndpoint: the agents send to the collector Service's port that
// reaches the collector's otlp/pairs receiver.
func checkAgentEndpoint(t *testing.T, m *manifests, endpoint string) {
	t.Helper()
	e := otlpEndpoint.FindStringSubmatch(endpoint)
	if e == nil {
		t.Fatalf("MESH_PAIRS_OTLP_ENDPOINT %q is not <service>.<namespace>.svc.cluster.local:<port>", endpoint)
	}
	for _, svc := range m.Services {
		if svc.Name != e[1] || svc.Namespace != e[2] {
			continue
		}
		for _, p := range svc.Spec.Ports {
			if itoa(p.Port) == e[3] && p.TargetPort.IntValue() == pairsPort {
				return
			}
		}
		t.Fatalf("Service %s/%s has no port %s to the collector's otlp/pairs (%d): %+v", e[2], e[1], e[3], pairsPort, svc.Spec.Ports)
	}
	t.Fatalf("MESH_PAIRS_OTLP_ENDPOINT names Service %s/%s, which the overlay does not have", e[2], e[1])
}

// checkAgentRBAC: a Role in the application namespace only, pods
// get/list/watch, bound to the agent's ServiceAccount.
func checkAgentRBAC(t *testing.T, m *manifests, sa *corev1.ServiceAccount, appNamespace string) {
	t.Helper()
	found := 0
	for _, rb := range m.RoleBindings {
		if !slices.ContainsFunc(rb.Subjects, func(s rbacv1.Subject) bool { return s.Name == sa.Name }) {
			continue
		}
		found++
		if rb.Namespace != appNamespace {
			t.Errorf("the agent's RoleBinding is in %s, want %s", rb.Namespace, appNamespace)
		}
		want := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa.Name, Namespace: sa.Namespace}}
		if !slices.Equal(rb.Subjects, want) {
			t.Errorf("RoleBinding %s/%s subjects %+v, want %+v", rb.Namespace, rb.Name, rb.Subjects, want)
		}
		role := m.role(rb.Namespace, rb.RoleRef.Name)
		if rb.RoleRef.Kind != "Role" || role == nil {
			t.Fatalf("RoleBinding %s/%s refers to %+v, not a Role of its namespace", rb.Namespace, rb.Name, rb.RoleRef)
		}
		want2 := []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}},
		}
		if len(role.Rules) != len(want2) {
			t.Fatalf("Role %s/%s rules %+v; want exactly %+v", role.Namespace, role.Name, role.Rules, want2)
		}
		for i, r := range role.Rules {
			w := want2[i]
			if !slices.Equal(r.APIGroups, w.APIGroups) || !slices.Equal(r.Resources, w.Resources) || !slices.Equal(r.Verbs, w.Verbs) || len(r.ResourceNames)+len(r.NonResourceURLs) != 0 {
				t.Errorf("Role %s/%s rule %d %+v; want %+v", role.Namespace, role.Name, i, r, w)
			}
		}
	}
	if found != 1 {
		t.Errorf("%d RoleBindings for the agent, want 1 in %s", found, appNamespace)
	}
}

// The Traefik Mesh values turn on exactly what the agent reads: JSON
// access logs on the proxies' stdout.
func TestTraefikMeshValuesForPairs(t *testing.T) {
	var v struct {
		Proxy struct {
			AdditionalArguments []string `json:"additionalArguments"`
		} `json:"proxy"`
	}
	if err := yaml.UnmarshalStrict(repoFile(t, k8sDir+"/traefik-mesh-values-pairs.yaml"), &v); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--accesslog=true", "--accesslog.format=json"} {
		if !slices.Contains(v.Proxy.AdditionalArguments, want) {
			t.Errorf("proxy.additionalArguments %v lacks %s", v.Proxy.AdditionalArguments, want)
		}
	}
	for _, a := range v.Proxy.AdditionalArguments {
		if strings.HasPrefix(a, "--accesslog.filepath") {
			t.Errorf("%s: the agent reads the container log (stdout), not a file", a)
		}
	}
}
