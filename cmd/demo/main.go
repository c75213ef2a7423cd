// Command demo is the docker-less demo: it starts the project's real parts on
// loopback and shows what the plugin sees, then cleans up every process it
// started. Today it starts the embedded ClickHouse and the plugin binary and
// runs Grafana's health check through the plugin protocol; the Traefik →
// collector pipeline and the live mesh view come with the pipeline work.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/forma3d/meshmetrics/tests/clickhouse/chtest"
	"github.com/forma3d/meshmetrics/tests/pluginharness"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	dataDir, err := os.MkdirTemp("", "meshmetrics-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dataDir)

	fmt.Println("starting the embedded ClickHouse (chDB) …")
	ch, err := chtest.Launch(chtest.Options{DataDir: dataDir})
	if err != nil {
		return fmt.Errorf("embedded clickhouse: %w", err)
	}
	defer func() {
		if err := ch.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "demo: stopping clickhouse:", err)
		}
	}()
	fmt.Printf("  ClickHouse HTTP interface on %s\n", ch.URL())

	bin, err := pluginharness.Binary()
	if err != nil {
		return err
	}
	fmt.Printf("starting the plugin %s over Grafana's plugin protocol …\n", bin)
	plugin, err := pluginharness.StartBinary(bin)
	if err != nil {
		return err
	}
	defer plugin.Kill()

	host, port, err := splitAddr(ch.Addr)
	if err != nil {
		return err
	}
	ds, err := pluginharness.Datasource("demo", map[string]any{
		"host": host, "port": port, "protocol": "http", "database": "default",
	}, nil)
	if err != nil {
		return err
	}
	hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	health, err := plugin.CheckHealth(hctx, ds)
	if err != nil {
		return fmt.Errorf("health check over gRPC: %w", err)
	}
	fmt.Printf("health check: %s: %s\n", health.Status, health.Message)

	fmt.Println()
	fmt.Println("The health check fails as it should on an empty server: the collector's exporter creates the")
	fmt.Println("metric tables and Traefik's metrics fill them. Not in the demo yet: Traefik and the")
	fmt.Println("OpenTelemetry Collector feeding mesh metrics, and the live terminal view of the mesh (the")
	fmt.Println("query path it needs is done: try `go run ./cmd/meshql explain 'rate(traefik_service_requests_total[5m])'`).")
	fmt.Println("Everything started has been stopped.")
	return nil
}

func splitAddr(addr string) (string, int, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("clickhouse address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return "", 0, fmt.Errorf("clickhouse address %q: port: %w", addr, err)
	}
	return host, port, nil
}
