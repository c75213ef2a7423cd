package meshstack

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// AgentOptions are what a test or the demo sets for the shipped static pair
// agent config (provisioning/collector/otelcol-agent-static.yaml).
type AgentOptions struct {
	// AccessLogs are Traefik's JSON access-log files the agent tails.
	AccessLogs []string
	// Callers is the static caller table: a source address → namespace/workload.
	Callers map[string]string
	// CollectorOTLP is the collector's otlp/pairs receiver (host:port).
	CollectorOTLP string
	// Interval is the agent's batch timeout: one point per pair and
	// interval (the shipped default is 15 s, as the scrapes).
	Interval time.Duration
	// Host is the agent's instance label.
	Host string
	// Dir is the working directory; file offsets live in Dir/offsets.
	Dir string
	// ContainerLogs runs otelcol-agent-kubernetes.yaml instead, on
	// AccessLogs as container log files (CRI or Docker wrapping), without
	// k8s_attributes/caller: there is no API server here, so every caller is
	// unknown. Callers is then unused.
	ContainerLogs bool
}

// Agent is a running pair agent.
type Agent struct {
	*Proc
	HealthURL string
}

// CallerTable renders callers as the config's MESH_CALLERS reads them
// (sorted, so the environment is stable).
func CallerTable(callers map[string]string) string {
	pairs := make([]string, 0, len(callers))
	for addr, who := range callers {
		pairs = append(pairs, addr+"="+who)
	}
	sort.Strings(pairs)
	return strings.Join(pairs, " ")
}

func agentEnv(o AgentOptions, healthAddr string) []string {
	interval := o.Interval
	if interval == 0 {
		interval = 15 * time.Second
	}
	host := o.Host
	if host == "" {
		host, _ = os.Hostname()
	}
	return []string{
		"MESH_ACCESS_LOGS=" + yamlList(o.AccessLogs),
		"MESH_CALLERS=" + CallerTable(o.Callers),
		"MESH_PAIRS_OTLP_ENDPOINT=" + o.CollectorOTLP,
		"HOST_NAME=" + host,
		"AGENT_BATCH_TIMEOUT=" + interval.String(),
		"AGENT_HEALTH_ENDPOINT=" + healthAddr,
		"AGENT_STORAGE_DIR=" + filepath.Join(o.Dir, "offsets"),
		"AGENT_START_AT=beginning",
	}
}

// AgentValidateEnv is an environment under which the shipped agent configs
// resolve (for the validate subcommand).
func AgentValidateEnv(dir string) []string {
	env := agentEnv(AgentOptions{
		AccessLogs:    []string{filepath.Join(dir, "access.log")},
		Callers:       map[string]string{"127.0.0.2": "forma3d/web"},
		CollectorOTLP: "127.0.0.1:4319", Dir: dir, Host: "node-a",
	}, "127.0.0.1:13134")
	return append(env, "APP_NAMESPACE=forma3d-dev", "MESH_NAMESPACE=traefik-mesh")
}

// StartAgent runs the built agent with the shipped static config and waits
// until it is healthy. The access-log files need not exist yet: the agent
// reads them from their start when they appear.
func StartAgent(o AgentOptions) (*Agent, error) {
	// One binary, two roles: the collector's distribution has the agent's
	// components.
	bin, err := CollectorBinary()
	if err != nil {
		return nil, err
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	ports, err := FreePorts(1)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(o.Dir, "offsets"), 0o755); err != nil {
		return nil, err
	}
	args := []string{"--config", filepath.Join(root, "provisioning", "collector", "otelcol-agent-static.yaml")}
	if o.ContainerLogs {
		args = []string{"--config", filepath.Join(root, "provisioning", "collector", "otelcol-agent-kubernetes.yaml"),
			"--set=receivers::file_log/access::include=" + yamlList(o.AccessLogs),
			"--set=receivers::file_log/access::start_at=beginning",
			"--set=service::pipelines::logs/access::processors=[memory_limiter,transform/pair,groupbyattrs/caller,transform/caller,filter/mesh,batch/agent]",
		}
	}
	a := &Agent{HealthURL: "http://" + hostPort(ports[0]) + "/"}
	if a.Proc, err = startProc("agent", bin, args, agentEnv(o, hostPort(ports[0])), o.Dir); err != nil {
		return nil, err
	}
	c := &Collector{Proc: a.Proc, HealthURL: a.HealthURL}
	if err := c.waitHealthy(60 * time.Second); err != nil {
		_ = a.Stop(10 * time.Second)
		return nil, fmt.Errorf("pair agent: %w", err)
	}
	return a, nil
}

// DemoCallers are the demo's source workloads, each on a loopback address
// of its own as a pod has an IP of its own; requests from any other address
// (127.0.0.1) count as unknown.
var DemoCallers = map[string]string{
	"127.0.0.2": "forma3d/web-frontend",
	"127.0.0.3": "forma3d/api-gateway",
	"127.0.0.4": "forma3d-dev/print-worker",
}

// DemoCallsFrom says which caller calls which demo service (by the
// service's Key): the demo's request flow.
var DemoCallsFrom = map[string][]string{
	"forma3d-dev-api-gateway-8080":   {"127.0.0.4"},
	"forma3d-dev-order-service-8080": {"127.0.0.4"},
	"forma3d-api-gateway-8080":       {"127.0.0.2"},
	"forma3d-slicer-3000":            {"127.0.0.3", "127.0.0.4"},
	"forma3d-printer-registry-80":    {"127.0.0.3", ""},
}

// DemoPairTargets gives each target the callers DemoCallsFrom names (one
// target per caller, Label unchanged: the truth stays per service); a
// service it does not name is called from 127.0.0.1 (unknown).
func DemoPairTargets(targets []Target) []Target {
	var out []Target
	for _, tg := range targets {
		sources, ok := DemoCallsFrom[tg.Service.Key()]
		if !ok {
			sources = []string{""}
		}
		for _, src := range sources {
			t := tg
			t.Source = src
			out = append(out, t)
		}
	}
	return out
}

// yamlList is paths as a YAML flow list of quoted strings: a path may hold
// a comma (a subtest's temporary directory does).
func yamlList(paths []string) string {
	quoted := make([]string, len(paths))
	for i, p := range paths {
		quoted[i] = strconv.Quote(p)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}
