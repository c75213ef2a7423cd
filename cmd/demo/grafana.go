package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/forma3d/meshmetrics/tests/meshstack"
)

const (
	pluginID    = "forma3d-meshmetrics-datasource"
	grafanaAddr = "127.0.0.1:3000"
)

var errNoGrafana = errors.New("no Grafana here (GRAFANA_HOME with bin/grafana and public/, or grafana on PATH): " +
	"for the dashboard view run `docker compose up` where Docker is available (see docker-compose.yaml)")

// findGrafana returns the grafana binary and its home path.
func findGrafana() (bin, home string, err error) {
	if h := os.Getenv("GRAFANA_HOME"); h != "" {
		bin = filepath.Join(h, "bin", "grafana")
		if st, err := os.Stat(filepath.Join(h, "public")); err == nil && st.IsDir() {
			if _, err := os.Stat(bin); err == nil {
				return bin, h, nil
			}
		}
		return "", "", fmt.Errorf("GRAFANA_HOME=%s has no bin/grafana and public/: %w", h, errNoGrafana)
	}
	bin, err = exec.LookPath("grafana")
	if err != nil {
		return "", "", errNoGrafana
	}
	// Package installs keep public/ here; a tarball has it beside bin/.
	for _, h := range []string{filepath.Dir(filepath.Dir(bin)), "/usr/share/grafana"} {
		if st, err := os.Stat(filepath.Join(h, "public")); err == nil && st.IsDir() {
			return bin, h, nil
		}
	}
	return "", "", fmt.Errorf("found %s but no Grafana home with public/ (set GRAFANA_HOME)", bin)
}

// startGrafana starts Grafana on 127.0.0.1:3000 with the built plugin
// (unsigned, allowed by id), provisioning/grafana and a data dir of its own
// under dir. It returns nil and the reason when there is no Grafana.
func startGrafana(dir, clickhouseAddr string) (*meshstack.Proc, error) {
	bin, home, err := findGrafana()
	if err != nil {
		return nil, err
	}
	root, err := meshstack.RepoRoot()
	if err != nil {
		return nil, err
	}
	if c, err := net.DialTimeout("tcp", grafanaAddr, time.Second); err == nil {
		_ = c.Close()
		return nil, fmt.Errorf("%s is already in use: not starting Grafana", grafanaAddr)
	}
	gdir := filepath.Join(dir, "grafana")
	prov := filepath.Join(gdir, "provisioning")
	for _, d := range []string{"data", "logs", "plugins", "provisioning/datasources", "provisioning/dashboards", "provisioning/alerting", "provisioning/plugins"} {
		if err := os.MkdirAll(filepath.Join(gdir, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.Symlink(filepath.Join(root, "dist"), filepath.Join(gdir, "plugins", pluginID)); err != nil {
		return nil, err
	}
	// The provisioning as shipped; the dashboards provider's container path
	// becomes this checkout's dashboards/ folder.
	src := filepath.Join(root, "provisioning", "grafana")
	for _, sub := range []string{"datasources", "dashboards", "alerting"} {
		files, _ := filepath.Glob(filepath.Join(src, sub, "*.y*ml"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			text := strings.ReplaceAll(string(b), "/etc/grafana/dashboards/meshmetrics", filepath.Join(root, "dashboards"))
			if err := os.WriteFile(filepath.Join(prov, sub, filepath.Base(f)), []byte(text), 0o644); err != nil {
				return nil, err
			}
		}
	}
	ini := fmt.Sprintf(`[server]
http_addr = 127.0.0.1
http_port = 3000
[paths]
data = %[1]s/data
logs = %[1]s/logs
plugins = %[1]s/plugins
provisioning = %[1]s/provisioning
[plugins]
allow_loading_unsigned_plugins = %[2]s
[security]
admin_user = admin
admin_password = admin
[auth.anonymous]
enabled = true
org_role = Editor
[analytics]
reporting_enabled = false
check_for_updates = false
check_for_plugin_updates = false
[news]
news_feed_enabled = false
`, gdir, pluginID)
	iniPath := filepath.Join(gdir, "grafana.ini")
	if err := os.WriteFile(iniPath, []byte(ini), 0o644); err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(clickhouseAddr)
	env := []string{
		"MESHMETRICS_CLICKHOUSE_HOST=" + host, "MESHMETRICS_CLICKHOUSE_PORT=" + port,
		"MESHMETRICS_CLICKHOUSE_PROTOCOL=http", "MESHMETRICS_CLICKHOUSE_USER=default", "MESHMETRICS_CLICKHOUSE_PASSWORD=",
		// Grafana's built-in contact point: the demo has no log alerts.
		"MESH_ALERTS_CONTACT_POINT=grafana-default-email",
	}
	p, err := meshstack.StartProcess("grafana", bin, []string{"server", "--homepath", home, "--config", iniPath}, env, gdir)
	if err != nil {
		return nil, err
	}
	if err := waitGrafana(p, 90*time.Second); err != nil {
		_ = p.Stop(10 * time.Second)
		return nil, err
	}
	fmt.Printf("  Grafana on http://%s (admin/admin): dashboard %s\n", grafanaAddr, dashboardURL(root))
	return p, nil
}

func waitGrafana(p *meshstack.Proc, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		if p.Exited() {
			return fmt.Errorf("grafana exited during startup:\n%s", p.Output())
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+grafanaAddr+"/api/health", nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("grafana not healthy within %v:\n%s", timeout, p.Output())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// dashboardURL is the Service Mesh Traffic dashboard's URL (its uid is
// in dashboards/service-mesh-traffic.json).
func dashboardURL(root string) string {
	var d struct {
		UID string `json:"uid"`
	}
	b, err := os.ReadFile(filepath.Join(root, "dashboards", "service-mesh-traffic.json"))
	if err == nil && json.Unmarshal(b, &d) == nil && d.UID != "" {
		return fmt.Sprintf("http://%s/d/%s?refresh=10s&from=now-15m&to=now", grafanaAddr, d.UID)
	}
	return fmt.Sprintf("http://%s/dashboards (folder Service Mesh)", grafanaAddr)
}
