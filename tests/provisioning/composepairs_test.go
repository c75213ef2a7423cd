package provisioning

import (
	"net"
	"path"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const agentStaticConfig = "provisioning/collector/otelcol-agent-static.yaml"

// The opt-in pair agent of docker-compose.yaml: only under the pairs
// profile; it runs the shipped static agent config with every variable it
// reads set; it reads each proxy's JSON access log from the volume that
// proxy writes it to; it sends to the collector's otlp/pairs port; every
// caller in its table is the fixed address of a compose service in the
// network's subnet.
func TestComposePairAgent(t *testing.T) {
	c := loadCompose(t)
	agent, ok := c.Services["pair-agent"]
	if !ok {
		t.Fatal("no pair-agent service")
	}
	if !slices.Equal(agent.Profiles, []string{"pairs"}) {
		t.Errorf("pair-agent profiles %v: it is opt-in, want [pairs]", agent.Profiles)
	}
	for name, s := range c.Services {
		if name != "pair-agent" && len(s.Profiles) != 0 {
			t.Errorf("%s is in profiles %v: only the pair agent is opt-in", name, s.Profiles)
		}
	}
	var cfg string
	for _, a := range agent.Command {
		if p, ok := strings.CutPrefix(a, "--config="); ok {
			src, mounted := sourceOf(agent, p)
			if !mounted || strings.TrimPrefix(src, "./") != agentStaticConfig {
				t.Errorf("--config=%s is %q, want the mounted %s", p, src, agentStaticConfig)
			}
			cfg = agentStaticConfig
		}
	}
	if cfg == "" {
		t.Fatalf("pair-agent command %v runs no config", agent.Command)
	}
	for _, m := range envRef.FindAllStringSubmatch(string(repoFile(t, cfg)), -1) {
		if _, ok := agent.Environment[m[1]]; !ok && m[2] == "" {
			t.Errorf("%s reads ${env:%s} (no default); the pair-agent service does not set it", cfg, m[1])
		}
	}

	// Each proxy's access log is in a named volume the agent mounts.
	var files []string
	if err := yaml.UnmarshalStrict([]byte(agent.Environment["MESH_ACCESS_LOGS"]), &files); err != nil || len(files) == 0 {
		t.Fatalf("MESH_ACCESS_LOGS %q: want a YAML list of files (%v)", agent.Environment["MESH_ACCESS_LOGS"], err)
	}
	read := map[string]bool{} // volume → the agent reads the access log in it
	for _, f := range files {
		src, ok := sourceOf(agent, path.Dir(f))
		if !ok || !isNamedVolume(c, src) {
			t.Errorf("the agent reads %s, not on a named volume (%q)", f, src)
			continue
		}
		read[src+"/"+path.Base(f)] = true
	}
	proxies := 0
	for name, s := range c.Services {
		if !strings.HasPrefix(s.Image, "traefik:") {
			continue
		}
		proxies++
		st := proxyStatic(t, c, name)
		if st.AccessLog.Format != "json" || st.AccessLog.FilePath == "" {
			t.Errorf("%s: accessLog %+v; want JSON to a file", name, st.AccessLog)
			continue
		}
		vol, ok := sourceOf(s, path.Dir(st.AccessLog.FilePath))
		if !ok || !read[vol+"/"+path.Base(st.AccessLog.FilePath)] {
			t.Errorf("%s writes its access log to %s (volume %q), which the pair agent does not read", name, st.AccessLog.FilePath, vol)
		}
	}
	if proxies == 0 || len(read) != proxies {
		t.Errorf("the agent reads %d access logs; there are %d proxies", len(read), proxies)
	}

	// The collector's otlp/pairs receiver, by service name.
	host, port := hostPort(t, "MESH_PAIRS_OTLP_ENDPOINT", agent.Environment["MESH_PAIRS_OTLP_ENDPOINT"])
	if host != "collector" || port != "4319" {
		t.Errorf("MESH_PAIRS_OTLP_ENDPOINT %s: want collector:4319 (the collector config's otlp/pairs default)", agent.Environment["MESH_PAIRS_OTLP_ENDPOINT"])
	}

	// Every caller is a service's fixed address inside the subnet.
	subnets := c.Networks["default"].IPAM.Config
	if len(subnets) != 1 {
		t.Fatalf("default network subnets %v, want one", subnets)
	}
	_, subnet, err := net.ParseCIDR(subnets[0].Subnet)
	if err != nil {
		t.Fatal(err)
	}
	fixed := map[string]string{}
	for name, s := range c.Services {
		if a := s.Networks["default"].IPv4Address; a != "" {
			fixed[a] = name
		}
	}
	callers := strings.Fields(agent.Environment["MESH_CALLERS"])
	if len(callers) == 0 {
		t.Fatal("MESH_CALLERS is empty: every request would count as unknown")
	}
	for _, entry := range callers {
		addr, who, ok := strings.Cut(entry, "=")
		ns, workload, ok2 := strings.Cut(who, "/")
		if !ok || !ok2 || ns == "" || workload == "" || net.ParseIP(addr) == nil {
			t.Errorf("MESH_CALLERS entry %q: want <address>=<namespace>/<workload>", entry)
			continue
		}
		if !subnet.Contains(net.ParseIP(addr)) || fixed[addr] == "" {
			t.Errorf("caller %s is no service's fixed address in %s (fixed: %v)", addr, subnet, fixed)
		}
	}
}
