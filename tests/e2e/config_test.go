package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/forma3d/meshmetrics/tests/meshstack"
)

// shippedMetricsConfigs are the metrics pipelines an operator merges after
// the logs pipeline.
var shippedMetricsConfigs = []string{"otelcol-kubernetes.yaml", "otelcol-static.yaml"}

func collectorDir(t *testing.T) string {
	t.Helper()
	root, err := meshstack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "provisioning", "collector")
}

// The users' logs pipeline is shipped exactly as they have it: any change
// to logs-pipeline.yaml, even whitespace, fails here.
func TestLogsPipelineUnchanged(t *testing.T) {
	dir := collectorDir(t)
	got, err := os.ReadFile(filepath.Join(dir, "logs-pipeline.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(dir, "logs-pipeline.golden"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("provisioning/collector/logs-pipeline.yaml differs from logs-pipeline.golden: the users' logs pipeline must not change")
	}
}

// Merging a metrics config after the logs pipeline cannot change it: the
// metrics files define none of the logs pipeline's components, no logs
// pipeline, and nothing under the keys the logs file sets.
func TestMetricsConfigsLeaveLogsPipelineAlone(t *testing.T) {
	dir := collectorDir(t)
	logs := decodeYAML(t, filepath.Join(dir, "logs-pipeline.yaml"))
	for _, name := range shippedMetricsConfigs {
		metrics := decodeYAML(t, filepath.Join(dir, name))
		for _, path := range leafPaths(logs, nil) {
			if prefix, ok := definedPrefix(metrics, path); ok {
				t.Errorf("%s sets %s, which the logs pipeline defines (%s)", name, strings.Join(prefix, "::"), strings.Join(path, "::"))
			}
		}
		pipelines := lookup(metrics, "service", "pipelines")
		if m, ok := pipelines.(map[string]any); ok {
			for p := range m {
				// metrics: the proxies' scrapes; metrics/pairs: the opt-in
				// pair agents' OTLP (a receiver of its own, not otlp).
				if p != "metrics" && p != "metrics/pairs" {
					t.Errorf("%s defines pipeline %q: it may add only the metrics and metrics/pairs pipelines", name, p)
				}
			}
		}
	}
}

// Every shipped config combination passes the built collector's validate
// subcommand (component configs, pipeline wiring, env references).
func TestShippedConfigsValidate(t *testing.T) {
	bin, err := meshstack.CollectorBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := collectorDir(t)
	env := append(os.Environ(), meshstack.ValidateEnv(t.TempDir())...)
	// Each metrics file runs alone (a collector of its own, as
	// provisioning/kubernetes deploys it) or merged after the logs file.
	combos := [][]string{{"logs-pipeline.yaml"}}
	for _, m := range shippedMetricsConfigs {
		combos = append(combos, []string{m}, []string{"logs-pipeline.yaml", m})
	}
	for _, files := range combos {
		t.Run(strings.Join(files, "+"), func(t *testing.T) {
			args := []string{"validate"}
			for _, f := range files {
				args = append(args, "--config", filepath.Join(dir, f))
			}
			cmd := exec.Command(bin, args...)
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, out)
			}
		})
	}
	// validate must be able to fail: an exporter without endpoint does.
	t.Run("rejects a broken config", func(t *testing.T) {
		broken := filepath.Join(t.TempDir(), "broken.yaml")
		src, err := os.ReadFile(filepath.Join(dir, "otelcol-static.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(broken, bytes.Replace(src, []byte("processors: [memory_limiter, resource/mesh, batch/mesh]"), []byte("processors: [memory_limiter, resource/nope]"), 1), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "validate", "--config", broken)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Fatalf("validate accepted a pipeline naming an undefined processor:\n%s", out)
		}
	})
}

func decodeYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// leafPaths lists the key paths of every leaf (non-map value) under m.
func leafPaths(m map[string]any, prefix []string) [][]string {
	var out [][]string
	for k, v := range m {
		p := append(append([]string(nil), prefix...), k)
		if sub, ok := v.(map[string]any); ok && len(sub) > 0 {
			out = append(out, leafPaths(sub, p)...)
			continue
		}
		out = append(out, p)
	}
	return out
}

// definedPrefix reports whether m sets path or a leaf on the way to it
// (which the merge would let override the logs file's value), ignoring the
// shared section maps themselves.
func definedPrefix(m map[string]any, path []string) ([]string, bool) {
	cur := any(m)
	for i, k := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return path[:i], true
		}
		v, ok := mm[k]
		if !ok {
			return nil, false
		}
		// receivers, processors, exporters, service, service::pipelines are
		// shared sections; a component or pipeline key is the logs file's own.
		if i >= 1 && !(path[0] == "service" && i == 1) {
			return path[:i+1], true
		}
		cur = v
	}
	return path, true
}

func lookup(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

// agentConfigs are the opt-in pair agent's configs.
var agentConfigs = []string{"otelcol-agent-static.yaml", "otelcol-agent-kubernetes.yaml"}

// Both agent configs pass the built collector's validate subcommand (the
// agent is the same binary); a broken one does not.
func TestAgentConfigsValidate(t *testing.T) {
	bin, err := meshstack.CollectorBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := collectorDir(t)
	env := append(os.Environ(), meshstack.AgentValidateEnv(t.TempDir())...)
	validate := func(path string) ([]byte, error) {
		cmd := exec.Command(bin, "validate", "--config", path)
		cmd.Env = env
		return cmd.CombinedOutput()
	}
	for _, name := range agentConfigs {
		t.Run(name, func(t *testing.T) {
			if out, err := validate(filepath.Join(dir, name)); err != nil {
				t.Fatalf("%s validate %s: %v\n%s", bin, name, err, out)
			}
		})
	}
	t.Run("rejects a broken config", func(t *testing.T) {
		src, err := os.ReadFile(filepath.Join(dir, agentConfigs[0]))
		if err != nil {
			t.Fatal(err)
		}
		broken := filepath.Join(t.TempDir(), "broken.yaml")
		if err := os.WriteFile(broken, bytes.Replace(src, []byte("exporters: [otlp_grpc/collector]"), []byte("exporters: [otlp_grpc/nope]"), 1), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := validate(broken); err == nil {
			t.Fatalf("validate accepted a pipeline naming an undefined exporter:\n%s", out)
		}
	})
}

// The access-log records go to the signaltometrics connector only: no logs
// pipeline of an agent names an exporter, so no record is stored anywhere;
// the agent's only exporter sends OTLP to the collector's otlp/pairs, whose
// pipeline keeps nothing but the two pair metrics.
func TestAgentRecordsReachNoStore(t *testing.T) {
	dir := collectorDir(t)
	for _, name := range agentConfigs {
		cfg := decodeYAML(t, filepath.Join(dir, name))
		connectors, _ := cfg["connectors"].(map[string]any)
		exporters, _ := cfg["exporters"].(map[string]any)
		for id := range exporters {
			if !strings.HasPrefix(id, "otlp_grpc/") {
				t.Errorf("%s: exporter %q; the agent may only send OTLP to the collector", name, id)
			}
		}
		pipelines, _ := lookup(cfg, "service", "pipelines").(map[string]any)
		logsPipelines := 0
		for id, p := range pipelines {
			if !strings.HasPrefix(id, "logs") {
				continue
			}
			logsPipelines++
			outs, _ := p.(map[string]any)["exporters"].([]any)
			for _, out := range outs {
				if _, ok := connectors[out.(string)]; !ok || !strings.HasPrefix(out.(string), "signal_to_metrics/") {
					t.Errorf("%s: logs pipeline %s exports to %v; records may only go to the signaltometrics connector", name, id, out)
				}
			}
		}
		if logsPipelines != 1 {
			t.Errorf("%s: %d logs pipelines, want the one access-log pipeline", name, logsPipelines)
		}
	}
	for _, name := range shippedMetricsConfigs {
		cfg := decodeYAML(t, filepath.Join(dir, name))
		p, _ := lookup(cfg, "service", "pipelines", "metrics/pairs").(map[string]any)
		receivers, _ := p["receivers"].([]any)
		processors, _ := p["processors"].([]any)
		if len(receivers) != 1 || receivers[0] != "otlp/pairs" || !slices.Contains(processors, any("filter/pairs")) {
			t.Errorf("%s: metrics/pairs is %v; want the otlp/pairs receiver alone (not the logs pipeline's otlp) and filter/pairs", name, p)
		}
	}
}
