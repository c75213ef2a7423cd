// Command demo is the docker-less demo (`make demo`): on 127.0.0.1 only it
// starts the embedded ClickHouse, demo services behind Traefik configured as
// a Traefik Mesh proxy, a steady load, the collector built from
// provisioning/collector scraping Traefik into ClickHouse, and the plugin
// binary over Grafana's plugin protocol. Every few seconds it prints the mesh
// as the plugin answers the dashboard's queries, until Ctrl-C (or -duration),
// and then stops every process it started. With a Grafana installation
// (GRAFANA_HOME or grafana on PATH) it also starts Grafana with the plugin,
// this project's provisioning and the dashboard.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/forma3d/meshmetrics/tests/clickhouse/chtest"
	"github.com/forma3d/meshmetrics/tests/meshstack"
	"github.com/forma3d/meshmetrics/tests/pluginharness"
)

type options struct {
	duration time.Duration
	every    time.Duration
	scrape   time.Duration
	rps      int
	window   time.Duration
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 0, "stop after this long (0: run until Ctrl-C)")
	flag.DurationVar(&o.every, "every", 5*time.Second, "how often the view is printed")
	flag.DurationVar(&o.scrape, "scrape-interval", 2*time.Second, "the collector's scrape interval (the shipped config says 15s)")
	flag.IntVar(&o.rps, "rps", 20, "requests per second sent to each demo service")
	flag.DurationVar(&o.window, "window", 30*time.Second, "the rate window of the view's queries")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	for _, find := range []func() (string, error){meshstack.CollectorBinary, meshstack.TraefikBinary, pluginharness.Binary} {
		if _, err := find(); err != nil {
			return err
		}
	}
	dir, err := os.MkdirTemp("", "meshmetrics-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	fmt.Println("starting the embedded ClickHouse (chDB) …")
	ch, err := chtest.Launch(chtest.Options{DataDir: dir + "/clickhouse"})
	if err != nil {
		return fmt.Errorf("embedded clickhouse: %w", err)
	}
	defer stopped("clickhouse", ch.Stop)
	fmt.Printf("  ClickHouse HTTP interface on %s (database otel)\n", ch.URL())

	fmt.Println("starting the demo services, Traefik and the collector …")
	stack, err := meshstack.Start(meshstack.StackOptions{Dir: dir, ClickHouseAddr: ch.Addr, ScrapeInterval: o.scrape, Callers: meshstack.DemoCallers})
	if err != nil {
		return err
	}
	defer stopped("the mesh stack", stack.Close)
	fmt.Printf("  Traefik (pid %d): metrics on http://%s/metrics\n", stack.Traefik.PID(), stack.Traefik.MetricsAddr)
	for _, b := range stack.Backends {
		key := b.Service.Key()
		fmt.Printf("    %-9s %-22s → %s\n", stack.Traefik.EntrypointNames[key], stack.Traefik.Entrypoints[key], b.Service.Label())
	}
	fmt.Printf("  collector (pid %d): scrapes every %v into ClickHouse, health %s\n", stack.Collector.PID(), o.scrape, stack.Collector.HealthURL)
	fmt.Printf("  pair agent (pid %d): reads Traefik's JSON access log %s, callers %s (others: unknown), sends to the collector's otlp/pairs %s\n",
		stack.Agent.PID(), stack.Traefik.AccessLog, meshstack.CallerTable(meshstack.DemoCallers), stack.Collector.PairsOTLP)

	bin, _ := pluginharness.Binary()
	plugin, err := pluginharness.StartBinary(bin)
	if err != nil {
		return err
	}
	defer plugin.Kill()
	q, err := meshstack.NewQuerier(plugin, ch.Addr, o.scrape)
	if err != nil {
		return err
	}
	fmt.Printf("  plugin %s over Grafana's plugin protocol\n", bin)

	gf, err := startGrafana(dir, ch.Addr)
	if err != nil {
		fmt.Println("  Grafana:", err)
	}
	if gf != nil {
		defer stopped("grafana", gf.stop)
	}

	loadCtx, stopLoad := context.WithCancel(ctx)
	loadDone := make(chan struct{})
	truth := meshstack.NewTruth()
	go func() {
		defer close(loadDone)
		meshstack.Steady(loadCtx, meshstack.DemoPairTargets(stack.Targets), o.rps, truth)
	}()
	defer func() { stopLoad(); <-loadDone }()
	fmt.Printf("sending %d requests/s from each caller to each service it calls; the first numbers need a few scrapes. Ctrl-C stops.\n\n", o.rps)

	// The collector flushes its batch every 5 s: look that far back and one
	// scrape more, so that all of the view's queries see the same data.
	v := &view{q: q, window: o.window, lag: o.scrape + 6*time.Second, truth: truth, targets: stack.Targets}
	tick := time.NewTicker(o.every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Println("\nstopping everything the demo started …")
			return nil
		case <-tick.C:
		}
		if stack.Collector.Exited() {
			return fmt.Errorf("the collector exited:\n%s", stack.Collector.Output())
		}
		if stack.Agent.Exited() {
			return fmt.Errorf("the pair agent exited:\n%s", stack.Agent.Output())
		}
		if err := v.print(ctx, os.Stdout); err != nil {
			// The plugin may see the end of the run a moment before ctx does.
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
				fmt.Println("query:", err)
			}
		}
	}
}

func stopped(what string, stop func() error) {
	if err := stop(); err != nil {
		fmt.Fprintf(os.Stderr, "demo: stopping %s: %v\n", what, err)
	}
}
