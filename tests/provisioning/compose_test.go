package provisioning

import (
	"encoding/json"
	"net"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const (
	composeFileName = "docker-compose.yaml"
	staticConfig    = "provisioning/collector/otelcol-static.yaml"
	pluginID        = "forma3d-meshmetrics-datasource"
)

// buildOutputs may be mounted although they are not in git: the README
// and docker-compose.yaml say to build them first.
var buildOutputs = []string{"./dist"}

// tsdbImages are what the users never want deployed for them.
var tsdbImages = []string{"prometheus", "victoriametrics", "influxdb", "timescale", "thanos", "cortex", "mimir", "m3db",
	"questdb", "graphite", "opentsdb", "promscale", "vmagent", "grafana/agent"}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	var c composeFile
	decodeStrict(t, composeFileName, &c)
	if len(c.Services) == 0 {
		t.Fatalf("%s has no services", composeFileName)
	}
	return c
}

// TestComposeFile: paths, volumes, dependencies, ports and images of the
// stack, as far as they can be checked without a Docker engine.
func TestComposeFile(t *testing.T) {
	c := loadCompose(t)
	hostPorts := map[string]string{}
	for name, s := range c.Services {
		if s.Image == "" {
			t.Errorf("service %s has no image", name)
		}
		for _, bad := range tsdbImages {
			if strings.Contains(strings.ToLower(s.Image), bad) {
				t.Errorf("service %s runs %s: no Prometheus server or other TSDB", name, s.Image)
			}
		}
		for k, v := range s.Environment {
			interpolate(t, name+" environment "+k, v)
		}
		for _, m := range mounts(s) {
			switch {
			case strings.HasPrefix(m.Source, "./"):
				if !exists(t, m.Source) && !slices.Contains(buildOutputs, m.Source) {
					t.Errorf("service %s mounts %s, which is not in the repository", name, m.Source)
				}
			default:
				if _, ok := c.Volumes[m.Source]; !ok {
					t.Errorf("service %s mounts volume %q, not declared under volumes:", name, m.Source)
				}
			}
		}
		for dep, d := range s.DependsOn {
			target, ok := c.Services[dep]
			if !ok {
				t.Errorf("service %s depends on %s, which does not exist", name, dep)
			} else if d.Condition == "service_healthy" && target.Healthcheck == nil {
				t.Errorf("service %s waits for %s to be healthy; it has no healthcheck", name, dep)
			}
		}
		for _, p := range s.Ports {
			parts := strings.Split(p, ":")
			if len(parts) != 3 || parts[0] != "127.0.0.1" {
				t.Errorf("service %s publishes %q; want 127.0.0.1:<host>:<container>", name, p)
				continue
			}
			if other, dup := hostPorts[parts[1]]; dup {
				t.Errorf("host port %s published by %s and %s", parts[1], other, name)
			}
			hostPorts[parts[1]] = name
		}
	}
	checkCollectorImage(t, c)
	checkGrafana(t, c)
}

// checkCollectorImage: the build context, Dockerfile and what it copies
// exist, and it takes the binary from where the builder manifest puts it.
func checkCollectorImage(t *testing.T, c composeFile) {
	t.Helper()
	s, ok := c.Services["collector"]
	if !ok || s.Build == nil {
		t.Fatal("no collector service built from provisioning/collector's manifest")
	}
	ctx := path.Clean(s.Build.Context)
	dockerfile := path.Join(ctx, s.Build.Dockerfile)
	src := string(repoFile(t, dockerfile))
	for _, m := range regexp.MustCompile(`(?m)^COPY\s+([^-\s]\S*)\s`).FindAllStringSubmatch(src, -1) {
		if !exists(t, path.Join(ctx, m[1])) {
			t.Errorf("%s copies %s, which is not in its context %s", dockerfile, m[1], ctx)
		}
	}
	var manifest struct {
		Dist struct {
			Name       string `json:"name"`
			OutputPath string `json:"output_path"`
		} `json:"dist"`
	}
	if err := yaml.Unmarshal(repoFile(t, "provisioning/collector/builder-config.yaml"), &manifest); err != nil {
		t.Fatal(err)
	}
	if bin := path.Join(manifest.Dist.OutputPath, manifest.Dist.Name); !strings.Contains(src, " "+bin+" ") {
		t.Errorf("%s does not take the collector from %s (builder-config.yaml dist.output_path/name)", dockerfile, bin)
	}
}

func checkGrafana(t *testing.T, c composeFile) {
	t.Helper()
	g, ok := c.Services["grafana"]
	if !ok {
		t.Fatal("no grafana service")
	}
	m := regexp.MustCompile(`^grafana/grafana(?:-enterprise)?:(\d+)\.(\d+)\.\d+$`).FindStringSubmatch(g.Image)
	if m == nil {
		t.Fatalf("grafana image %q: want grafana/grafana:<x.y.z>", g.Image)
	}
	if major, _ := strconv.Atoi(m[1]); major < 12 || major == 12 && m[2] < "3" {
		t.Errorf("grafana image %s: the plugin needs 12.3 or later", g.Image)
	}
	var plugin struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(repoFile(t, "src/plugin.json"), &plugin); err != nil || plugin.ID != pluginID {
		t.Fatalf("src/plugin.json id %q (%v), want %s", plugin.ID, err, pluginID)
	}
	if !slices.Contains(strings.Split(g.Environment["GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS"], ","), plugin.ID) {
		t.Errorf("GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS=%q does not allow %s", g.Environment["GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS"], plugin.ID)
	}
	if src, _ := sourceOf(g, "/var/lib/grafana/plugins/"+plugin.ID); src != "./dist" {
		t.Errorf("the plugin directory is mounted from %q, want ./dist (the build output)", src)
	}
	for _, sub := range []string{"datasources", "dashboards", "alerting"} {
		if src, _ := sourceOf(g, "/etc/grafana/provisioning/"+sub); src != "./provisioning/grafana/"+sub {
			t.Errorf("/etc/grafana/provisioning/%s is mounted from %q, want ./provisioning/grafana/%s", sub, src, sub)
		}
	}
	// Every variable the provisioning files read is set.
	for _, rel := range []string{"provisioning/grafana/datasources/datasources.yml", "provisioning/grafana/alerting/mesh-alerts.yaml"} {
		if !exists(t, rel) {
			t.Errorf("%s is missing", rel)
			continue
		}
		for _, v := range regexp.MustCompile(`\$\{?([A-Z][A-Z0-9_]+)`).FindAllStringSubmatch(string(repoFile(t, rel)), -1) {
			if _, ok := g.Environment[v[1]]; !ok {
				t.Errorf("%s reads $%s; the grafana service does not set it", rel, v[1])
			}
		}
	}
	// The dashboard file sits where the dashboard provider looks.
	var provider struct {
		Providers []struct {
			Options struct {
				Path string `json:"path"`
			} `json:"options"`
		} `json:"providers"`
	}
	if err := yaml.Unmarshal(repoFile(t, "provisioning/grafana/dashboards/meshmetrics.yaml"), &provider); err != nil || len(provider.Providers) == 0 {
		t.Fatalf("dashboard provider: %v", err)
	}
	dir := provider.Providers[0].Options.Path
	found := false
	for _, mt := range mounts(g) {
		if path.Dir(mt.Target) == dir && strings.HasSuffix(mt.Target, ".json") && exists(t, mt.Source) {
			found = true
		}
	}
	if !found {
		t.Errorf("no dashboard JSON from the repository is mounted in the provider's path %s", dir)
	}
	ch := c.Services["collector"].Environment["CLICKHOUSE_ENDPOINT"]
	u, err := url.Parse(ch)
	if err != nil {
		t.Fatalf("collector CLICKHOUSE_ENDPOINT %q: %v", ch, err)
	}
	if g.Environment["MESHMETRICS_CLICKHOUSE_HOST"] != u.Hostname() || g.Environment["MESHMETRICS_CLICKHOUSE_PORT"] != u.Port() || g.Environment["MESHMETRICS_CLICKHOUSE_PROTOCOL"] != "native" {
		t.Errorf("Grafana reads ClickHouse at %s:%s (%s); the collector writes to %s", g.Environment["MESHMETRICS_CLICKHOUSE_HOST"], g.Environment["MESHMETRICS_CLICKHOUSE_PORT"], g.Environment["MESHMETRICS_CLICKHOUSE_PROTOCOL"], ch)
	}
	if _, ok := c.Services[u.Hostname()]; !ok || !strings.HasPrefix(c.Services[u.Hostname()].Image, "clickhouse/clickhouse-server:") {
		t.Errorf("CLICKHOUSE_ENDPOINT host %s is not the clickhouse server service", u.Hostname())
	}
	if g.Environment["MESHMETRICS_CLICKHOUSE_PASSWORD"] != c.Services["collector"].Environment["CLICKHOUSE_PASSWORD"] ||
		c.Services[u.Hostname()].Environment["CLICKHOUSE_PASSWORD"] != g.Environment["MESHMETRICS_CLICKHOUSE_PASSWORD"] {
		t.Error("ClickHouse, the collector and Grafana do not share the ClickHouse password setting")
	}
}

// hostPort splits host:port and fails the test on anything else.
func hostPort(t *testing.T, where, hp string) (string, string) {
	t.Helper()
	h, p, err := net.SplitHostPort(hp)
	if err != nil {
		t.Fatalf("%s: %q: %v", where, hp, err)
	}
	return h, p
}
