package provisioning

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// v25Buckets are Traefik v2.5's default request-duration buckets.
var v25Buckets = []float64{0.1, 0.3, 1.2, 5}

// TestComposeCollector: the collector runs the collector helper's static
// config with every variable it needs, and its targets are the proxies'
// metrics entrypoints.
func TestComposeCollector(t *testing.T) {
	if !exists(t, staticConfig) {
		t.Skipf("%s does not exist yet: the collector's static targets cannot be checked", staticConfig)
	}
	c := loadCompose(t)
	col := c.Services["collector"]
	var configs []string
	for _, a := range col.Command {
		p, ok := strings.CutPrefix(a, "--config=")
		if !ok {
			continue
		}
		src, ok := sourceOf(col, p)
		if !ok || !exists(t, src) {
			t.Errorf("collector --config=%s is not a mounted repository file (%q)", p, src)
			continue
		}
		configs = append(configs, strings.TrimPrefix(src, "./"))
	}
	if !slices.Contains(configs, staticConfig) {
		t.Fatalf("collector runs %v; want %s among them", configs, staticConfig)
	}
	defaults := map[string]string{}
	for _, cfg := range configs {
		for _, m := range envRef.FindAllStringSubmatch(string(repoFile(t, cfg)), -1) {
			if _, ok := col.Environment[m[1]]; !ok && m[2] == "" {
				t.Errorf("%s reads ${env:%s} (no default); the collector service does not set it", cfg, m[1])
			}
			defaults[m[1]] = strings.TrimPrefix(m[2], ":-")
		}
	}
	// The sending queue is on a named volume.
	if dir := defaults["OTELCOL_STORAGE_DIR"]; dir == "" {
		t.Error("the collector config has no OTELCOL_STORAGE_DIR default")
	} else if src, _ := sourceOf(col, dir); !isNamedVolume(c, src) {
		t.Errorf("the queue directory %s is not on a named volume (%q)", dir, src)
	}

	var targets []string
	if err := yaml.UnmarshalStrict([]byte(col.Environment["MESH_TARGETS"]), &targets); err != nil || len(targets) == 0 {
		t.Fatalf("MESH_TARGETS %q: want a YAML list of host:port (%v)", col.Environment["MESH_TARGETS"], err)
	}
	var proxies []string
	for name, s := range c.Services {
		if strings.HasPrefix(s.Image, "traefik:") {
			proxies = append(proxies, name)
		}
	}
	slices.Sort(proxies)
	var hosts []string
	for _, target := range targets {
		host, port := hostPort(t, "MESH_TARGETS", target)
		hosts = append(hosts, host)
		st := proxyStatic(t, c, host)
		ep, ok := st.EntryPoints[st.Metrics.Prometheus.EntryPoint]
		if !ok || ep.Address != ":"+port {
			t.Errorf("target %s: the proxy's metrics entrypoint %q listens on %q", target, st.Metrics.Prometheus.EntryPoint, ep.Address)
		}
	}
	slices.Sort(hosts)
	if !slices.Equal(hosts, proxies) {
		t.Errorf("the collector scrapes %v; the Traefik proxies are %v", hosts, proxies)
	}
}

// proxyStatic is the static config a proxy service runs (from its
// --configFile mount).
func proxyStatic(t *testing.T, c composeFile, service string) traefikStatic {
	t.Helper()
	s, ok := c.Services[service]
	if !ok || !strings.HasPrefix(s.Image, "traefik:v2.5") {
		t.Fatalf("service %q: want a traefik:v2.5 proxy, got %+v", service, s.Image)
	}
	var file string
	for _, a := range s.Command {
		if p, ok := strings.CutPrefix(a, "--configFile="); ok {
			file = p
		}
	}
	src, ok := sourceOf(s, file)
	if !ok || !exists(t, src) {
		t.Fatalf("proxy %s: --configFile=%s is not a mounted repository file", service, file)
	}
	var st traefikStatic
	decodeStrict(t, strings.TrimPrefix(src, "./"), &st)
	return st
}

var (
	meshService = regexp.MustCompile(`^([a-z0-9-]+)-([a-z0-9]+)-([0-9]+)$`)
	hostRule    = regexp.MustCompile("^Host\\(`([a-z0-9.-]+)`\\)$")
	mixLine     = regexp.MustCompile(`(?m)^([0-9]+) ([a-z0-9.-]+) (/\S+)$`)
)

// TestComposeMesh: the proxies are configured as Traefik Mesh configures
// them, their dynamic config names services <ns>-<svc>-<port> that point
// at demo services, and the load generator calls routes that exist.
func TestComposeMesh(t *testing.T) {
	c := loadCompose(t)
	st := proxyStatic(t, c, "proxy-a")
	for _, ep := range []string{"http-5000", "readiness", "traefik"} {
		if _, ok := st.EntryPoints[ep]; !ok {
			t.Errorf("no %s entrypoint", ep)
		}
	}
	if st.EntryPoints["traefik"].Address != ":8080" || st.Metrics.Prometheus.EntryPoint != "traefik" {
		t.Errorf("metrics on entrypoint %q at %q; the mesh serves them on traefik :8080", st.Metrics.Prometheus.EntryPoint, st.EntryPoints["traefik"].Address)
	}
	if !st.Metrics.Prometheus.AddServicesLabels || !st.Metrics.Prometheus.AddEntryPointsLabels || !slices.Equal(st.Metrics.Prometheus.Buckets, v25Buckets) {
		t.Errorf("prometheus metrics %+v; want service and entrypoint labels, buckets %v", st.Metrics.Prometheus, v25Buckets)
	}

	// The HTTP provider's endpoint is a file the mesh-config service serves.
	u, err := url.Parse(st.Providers.HTTP.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	cfgSvc, ok := c.Services[u.Hostname()]
	if !ok || !slices.Equal(cfgSvc.Command, []string{"httpd", "-f", "-v", "-p", u.Port(), "-h", "/www"}) {
		t.Fatalf("provider endpoint %s: no service %q serving /www on port %s (%v)", u, u.Hostname(), u.Port(), cfgSvc.Command)
	}
	src, ok := sourceOf(cfgSvc, "/www"+u.Path)
	if !ok || !exists(t, src) {
		t.Fatalf("provider endpoint %s: %q is not in the repository", u, src)
	}
	var dyn traefikDynamic
	decodeStrict(t, strings.TrimPrefix(src, "./"), &dyn)

	routes := map[string]bool{} // host → routed on http-5000
	for name, r := range dyn.HTTP.Routers {
		for _, ep := range r.EntryPoints {
			if _, ok := st.EntryPoints[ep]; !ok {
				t.Errorf("router %s uses entrypoint %s, which the proxies do not define", name, ep)
			}
		}
		if _, ok := dyn.HTTP.Services[r.Service]; !ok {
			t.Errorf("router %s sends to service %s, which is not defined", name, r.Service)
		}
		if r.Service == "readiness" {
			continue
		}
		m, h := meshService.FindStringSubmatch(r.Service), hostRule.FindStringSubmatch(r.Rule)
		if m == nil || h == nil || h[1] != m[2]+"."+m[1]+".maesh" || !strings.HasPrefix(name, r.Service+"-") {
			t.Errorf("router %s (%s → %s): want router <ns>-<svc>-<port>-<hash>, rule Host(`<svc>.<ns>.maesh`)", name, r.Rule, r.Service)
			continue
		}
		routes[h[1]] = slices.Contains(r.EntryPoints, "http-5000")
	}
	if len(routes) < 2 {
		t.Errorf("%d demo routes; want a few", len(routes))
	}
	for name, s := range dyn.HTTP.Services {
		if name == "readiness" {
			continue
		}
		m := meshService.FindStringSubmatch(name)
		if m == nil || len(s.LoadBalancer.Servers) == 0 {
			t.Errorf("service %s: want <ns>-<svc>-<port> with servers", name)
			continue
		}
		for _, srv := range s.LoadBalancer.Servers {
			if srv.URL != "http://"+m[2]+":"+m[3] {
				t.Errorf("service %s points at %s; want http://%s:%s", name, srv.URL, m[2], m[3])
			}
			if _, ok := c.Services[m[2]]; !ok {
				t.Errorf("service %s: no compose service %s", name, m[2])
			}
		}
	}

	lg := c.Services["loadgen"]
	script := ""
	if len(lg.Entrypoint) == 2 {
		script, _ = sourceOf(lg, lg.Entrypoint[1])
	}
	if script == "" || !exists(t, script) {
		t.Fatalf("loadgen entrypoint %v is not a mounted script", lg.Entrypoint)
	}
	mix := mixLine.FindAllStringSubmatch(string(repoFile(t, strings.TrimPrefix(script, "./"))), -1)
	if len(mix) == 0 {
		t.Fatal("loadgen has no request mix")
	}
	for _, m := range mix {
		if onMainEntrypoint, ok := routes[m[2]]; !ok || !onMainEntrypoint {
			t.Errorf("loadgen calls %s%s, which no router on http-5000 serves", m[2], m[3])
		}
	}
	for _, p := range strings.Fields(lg.Environment["LOADGEN_PROXIES"]) {
		host, port := hostPort(t, "LOADGEN_PROXIES", p)
		if ps := proxyStatic(t, c, host); ps.EntryPoints["http-5000"].Address != ":"+port {
			t.Errorf("loadgen sends to %s; http-5000 of %s listens on %q", p, host, ps.EntryPoints["http-5000"].Address)
		}
	}
}

func isNamedVolume(c composeFile, name string) bool {
	_, ok := c.Volumes[name]
	return ok
}
