package meshstack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// CollectorOptions are what a test or the demo sets for the shipped
// static-target config (provisioning/collector/otelcol-static.yaml).
type CollectorOptions struct {
	// ClickHouseAddr is host:port of ClickHouse's HTTP interface.
	ClickHouseAddr string
	// Targets are the host:port addresses scraped for /metrics.
	Targets []string
	// ScrapeInterval replaces the shipped 15 s.
	ScrapeInterval time.Duration
	// Dir is the working directory; the persistent queue lives in
	// Dir/queue and survives a collector restart on the same Dir.
	Dir string
}

// ConfigFiles are the shipped files the collector runs with, in merge
// order: the users' logs pipeline, then the mesh's metrics pipeline.
func ConfigFiles(metricsFile string) ([]string, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, "provisioning", "collector")
	return []string{filepath.Join(dir, "logs-pipeline.yaml"), filepath.Join(dir, metricsFile)}, nil
}

// Collector is a running collector.
type Collector struct {
	*Proc
	HealthURL string
	// OTLPHTTP is the logs pipeline's OTLP/HTTP receiver (host:port).
	OTLPHTTP string
	// PairsOTLP is the otlp/pairs receiver the pair agents send to (host:port).
	PairsOTLP string
}

// collectorEnv is the environment the shipped configs read.
func collectorEnv(o CollectorOptions, healthAddr, pairsAddr string) []string {
	interval := o.ScrapeInterval
	if interval == 0 {
		interval = 15 * time.Second
	}
	timeout := min(interval, 10*time.Second)
	host, _ := os.Hostname()
	return []string{
		"CLICKHOUSE_ENDPOINT=http://" + o.ClickHouseAddr,
		"CLICKHOUSE_USER=default",
		"CLICKHOUSE_PASSWORD=",
		"DEPLOYMENT_ENVIRONMENT=local",
		"HOST_NAME=" + host,
		"MESH_TARGETS=[" + strings.Join(o.Targets, ", ") + "]",
		"MESH_SCRAPE_INTERVAL=" + interval.String(),
		"MESH_SCRAPE_TIMEOUT=" + timeout.String(),
		"OTELCOL_HEALTH_ENDPOINT=" + healthAddr,
		"MESH_PAIRS_OTLP_ENDPOINT=" + pairsAddr,
		"OTELCOL_STORAGE_DIR=" + filepath.Join(o.Dir, "queue"),
	}
}

// StartCollector runs the built collector with the shipped logs and static
// metrics configs. The logs pipeline's OTLP receiver, which listens on
// 0.0.0.0 in the users' file, is moved to 127.0.0.1 with --set overrides so
// the file itself stays as it is. ClickHouse must be up: the exporter
// creates its schema at start and the collector exits if it cannot.
func StartCollector(o CollectorOptions) (*Collector, error) {
	bin, err := CollectorBinary()
	if err != nil {
		return nil, err
	}
	files, err := ConfigFiles("otelcol-static.yaml")
	if err != nil {
		return nil, err
	}
	ports, err := FreePorts(4)
	if err != nil {
		return nil, err
	}
	var args []string
	for _, f := range files {
		args = append(args, "--config", f)
	}
	args = append(args,
		"--set=receivers::otlp::protocols::grpc::endpoint="+hostPort(ports[1]),
		"--set=receivers::otlp::protocols::http::endpoint="+hostPort(ports[2]),
	)
	if err := os.MkdirAll(filepath.Join(o.Dir, "queue"), 0o755); err != nil {
		return nil, err
	}
	c := &Collector{HealthURL: "http://" + hostPort(ports[0]) + "/", OTLPHTTP: hostPort(ports[2]), PairsOTLP: hostPort(ports[3])}
	if c.Proc, err = startProc("otelcol", bin, args, collectorEnv(o, hostPort(ports[0]), c.PairsOTLP), o.Dir); err != nil {
		return nil, err
	}
	if err := c.waitHealthy(60 * time.Second); err != nil {
		_ = c.Stop(10 * time.Second)
		return nil, err
	}
	return c, nil
}

func (c *Collector) waitHealthy(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		if c.Exited() {
			return fmt.Errorf("collector exited during startup:\n%s", c.Output())
		}
		if allAnswer(ctx, []string{c.HealthURL}) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("collector not healthy at %s within %v:\n%s", c.HealthURL, timeout, c.Output())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// ValidateEnv is an environment under which every shipped config resolves
// (for the collector's validate subcommand).
func ValidateEnv(dir string) []string {
	env := collectorEnv(CollectorOptions{ClickHouseAddr: "127.0.0.1:8123", Targets: []string{"127.0.0.1:8080"}, Dir: dir}, "127.0.0.1:13133", "127.0.0.1:4319")
	return append(env, "MESH_NAMESPACE=traefik-mesh", "APP_NAMESPACE=forma3d-dev")
}
