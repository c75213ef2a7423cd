package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	yamlv2 "go.yaml.in/yaml/v2"
	"go.yaml.in/yaml/v3"
)

// The Kubernetes config's discovery and relabelling, applied by
// Prometheus' own relabel code to the labels pod discovery produces:
// only Running Traefik Mesh proxy pods that opt in are scraped, on :8080,
// labelled pod, namespace and node; only traefik_* families are kept.
func TestKubernetesScrapeConfig(t *testing.T) {
	cfg := decodeYAML(t, filepath.Join(collectorDir(t), "otelcol-kubernetes.yaml"))
	scrapes, _ := lookup(cfg, "receivers", "prometheus", "config", "scrape_configs").([]any)
	if len(scrapes) != 1 {
		t.Fatalf("want one scrape config, got %d", len(scrapes))
	}
	sc := scrapes[0].(map[string]any)
	for key, want := range map[string]any{"job_name": "traefik-mesh", "scrape_interval": "15s", "metrics_path": "/metrics"} {
		if sc[key] != want {
			t.Errorf("scrape_configs[0].%s = %v, want %v", key, sc[key], want)
		}
	}
	if s, _ := sc["sample_limit"].(string); !strings.HasPrefix(s, "${env:MESH_SAMPLE_LIMIT:-") {
		t.Errorf("sample_limit = %v, want ${env:MESH_SAMPLE_LIMIT:-…}", sc["sample_limit"])
	}
	sd, _ := sc["kubernetes_sd_configs"].([]any)
	if len(sd) != 1 || lookup(sd[0].(map[string]any), "role") != "pod" {
		t.Fatalf("kubernetes_sd_configs = %v, want one with role pod", sd)
	}
	names, _ := lookup(sd[0].(map[string]any), "namespaces", "names").([]any)
	if len(names) != 2 || names[0] != "${env:MESH_NAMESPACE}" || names[1] != "${env:APP_NAMESPACE}" {
		t.Errorf("namespaces.names = %v, want the mesh and the app namespace from the environment", names)
	}

	targetRules := relabelRules(t, sc["relabel_configs"])
	proxy := map[string]string{
		"__address__":                                           "10.42.0.17:9000",
		"__meta_kubernetes_namespace":                           "traefik-mesh",
		"__meta_kubernetes_pod_name":                            "traefik-mesh-proxy-x7k2p",
		"__meta_kubernetes_pod_node_name":                       "lima-rancher-desktop",
		"__meta_kubernetes_pod_ip":                              "10.42.0.17",
		"__meta_kubernetes_pod_phase":                           "Running",
		"__meta_kubernetes_pod_label_app":                       "maesh",
		"__meta_kubernetes_pod_label_component":                 "maesh-mesh",
		"__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
	}
	got, keep := process(labels.FromMap(proxy), targetRules...)
	if !keep {
		t.Fatalf("a running mesh proxy pod was dropped")
	}
	for name, want := range map[string]string{"__address__": "10.42.0.17:8080", "pod": "traefik-mesh-proxy-x7k2p", "namespace": "traefik-mesh", "node": "lima-rancher-desktop"} {
		if v := got.Get(name); v != want {
			t.Errorf("after relabelling %s = %q, want %q", name, v, want)
		}
	}
	for _, c := range []struct{ what, label, value string }{
		{"the mesh controller", "__meta_kubernetes_pod_label_component", "maesh-controller"},
		{"a pod without the scrape annotation", "__meta_kubernetes_pod_annotation_prometheus_io_scrape", ""},
		{"a pod that opted out", "__meta_kubernetes_pod_annotation_prometheus_io_scrape", "false"},
		{"a pending pod", "__meta_kubernetes_pod_phase", "Pending"},
	} {
		m := map[string]string{}
		for k, v := range proxy {
			m[k] = v
		}
		m[c.label] = c.value
		if _, keep := process(labels.FromMap(m), targetRules...); keep {
			t.Errorf("%s is scraped", c.what)
		}
	}

	metricRules := relabelRules(t, sc["metric_relabel_configs"])
	for name, want := range map[string]bool{"traefik_service_requests_total": true, "traefik_entrypoint_open_connections": true, "go_goroutines": false, "process_cpu_seconds_total": false} {
		if _, keep := process(labels.FromStrings("__name__", name), metricRules...); keep != want {
			t.Errorf("metric %s kept = %v, want %v", name, keep, want)
		}
	}
}

// relabelRules decodes a relabel list as the collector hands it to
// Prometheus: the confmap has already turned $$ into $.
func relabelRules(t *testing.T, section any) []*relabel.Config {
	t.Helper()
	b, err := yaml.Marshal(section)
	if err != nil {
		t.Fatal(err)
	}
	var rules []*relabel.Config
	if err := yamlv2.UnmarshalStrict([]byte(strings.ReplaceAll(string(b), "$$", "$")), &rules); err != nil {
		t.Fatalf("relabel rules: %v", err)
	}
	for i, r := range rules {
		if err := r.Validate(model.UTF8Validation); err != nil {
			t.Fatalf("relabel rule %d: %v", i, err)
		}
	}
	if len(rules) == 0 {
		t.Fatal("no relabel rules")
	}
	return rules
}

// process applies rules as a scrape pool does, returning the result.
func process(lbls labels.Labels, rules ...*relabel.Config) (labels.Labels, bool) {
	lb := labels.NewBuilder(lbls)
	keep := relabel.ProcessBuilder(lb, rules...)
	return lb.Labels(), keep
}
