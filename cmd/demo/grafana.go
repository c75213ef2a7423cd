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

const grafanaAddr = "127.0.0.1:3000"

// causeLines is how many of Grafana's error lines a failed start prints.
const causeLines = 8

// grafanaStartTimeout is how long Grafana may take to answer /api/health
// (its first start runs some 1,700 database migrations).
var grafanaStartTimeout = 90 * time.Second

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
// under dir. Grafana runs in a process group of its own, so stopping it
// also stops the plugin process it started. Its log goes to a directory
// outside dir, removed when Grafana was stopped cleanly and kept (its path
// printed) when Grafana failed. It returns nil and the reason when there
// is no Grafana or it did not start.
func startGrafana(dir, clickhouseAddr string) (*grafana, error) {
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
	for _, d := range []string{"data", "plugins", "provisioning/datasources", "provisioning/dashboards", "provisioning/alerting", "provisioning/plugins"} {
		if err := os.MkdirAll(filepath.Join(gdir, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.Symlink(filepath.Join(root, "dist"), filepath.Join(gdir, "plugins", meshstack.PluginID)); err != nil {
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
	env, err := meshstack.GrafanaEnv(clickhouseAddr)
	if err != nil {
		return nil, err
	}
	logs, err := os.MkdirTemp("", "meshmetrics-demo-grafana-logs-")
	if err != nil {
		return nil, err
	}
	iniPath := filepath.Join(gdir, "grafana.ini")
	err = os.WriteFile(iniPath, []byte(meshstack.GrafanaIni(gdir, logs)), 0o644)
	var p *meshstack.Proc
	if err == nil {
		p, err = meshstack.StartProcessGroup("grafana", bin, []string{"server", "--homepath", home, "--config", iniPath}, env, gdir)
	}
	if err != nil {
		_ = os.RemoveAll(logs)
		return nil, err
	}
	g := &grafana{Proc: p, logs: logs}
	if err := waitGrafana(p, grafanaStartTimeout); err != nil {
		return nil, g.failed(err)
	}
	fmt.Printf("  Grafana on http://%s (admin/admin, anonymous Viewer): dashboard %s\n", grafanaAddr, dashboardURL(root))
	return g, nil
}

// grafana is a running Grafana and its log directory.
type grafana struct {
	*meshstack.Proc
	logs string
}

// stop stops Grafana and the plugin it started and removes its logs.
func (g *grafana) stop() error {
	err := g.Stop(15 * time.Second)
	if err == nil {
		err = os.RemoveAll(g.logs)
	}
	return err
}

// failed stops what is left of a Grafana that did not start and returns
// why, in a few lines, with the log's path (kept for reading).
func (g *grafana) failed(why error) error {
	stopErr := g.Stop(10 * time.Second)
	var b strings.Builder
	fmt.Fprintf(&b, "%v; the cause, from its log:\n", why)
	for _, l := range meshstack.GrafanaFailureCause(g.Output(), causeLines) {
		fmt.Fprintf(&b, "    %s\n", l)
	}
	logFile := filepath.Join(g.logs, meshstack.GrafanaLogFile)
	if _, err := os.Stat(logFile); err == nil {
		fmt.Fprintf(&b, "  the whole log: %s", logFile)
	} else {
		fmt.Fprintf(&b, "  grafana wrote no log file; the lines above are from its output")
		_ = os.RemoveAll(g.logs)
	}
	if stopErr != nil {
		fmt.Fprintf(&b, "\n  stopping it: %v", stopErr)
	}
	return errors.New(b.String())
}

func waitGrafana(p *meshstack.Proc, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		if p.Exited() {
			return errors.New("grafana exited during startup")
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
			return fmt.Errorf("grafana not healthy within %v", timeout)
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
