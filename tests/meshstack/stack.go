package meshstack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// StackOptions configure Start.
type StackOptions struct {
	// Dir holds Traefik's and the collector's files.
	Dir string
	// ClickHouseAddr is host:port of ClickHouse's HTTP interface; it must
	// be up before Start.
	ClickHouseAddr string
	// ScrapeInterval of the collector (the shipped config says 15 s).
	ScrapeInterval time.Duration
	// Services default to DemoServices.
	Services []Service
	// ScrapeTarget, when set, maps Traefik's metrics address to the one
	// the collector scrapes (a test puts a recorder in between).
	ScrapeTarget func(traefikMetrics string) (string, error)
	// Callers, when set, turn the pair agent on: Traefik writes its JSON
	// access log, and the agent (this caller table, a point per pair every
	// ScrapeInterval) sends the pair metrics to the collector.
	Callers map[string]string
}

// Stack is the mesh in miniature: demo backends behind Traefik, probed by
// a readiness loop, scraped by the collector into ClickHouse.
type Stack struct {
	Backends  []*Backend
	Traefik   *Traefik
	Collector *Collector
	// Agent is the pair agent, nil without StackOptions.Callers.
	Agent   *Agent
	Targets []Target

	collectorOptions CollectorOptions
	readiness        *http.Server
	stopProbe        context.CancelFunc
	probeDone        chan struct{}
}

// Start starts the backends, Traefik and the collector. On error everything
// started so far is stopped again.
func Start(o StackOptions) (s *Stack, err error) {
	if o.Services == nil {
		o.Services = DemoServices
	}
	s = &Stack{}
	defer func() {
		if err != nil {
			_ = s.Close()
			s = nil
		}
	}()
	for _, svc := range o.Services {
		b, err := StartBackend(svc)
		if err != nil {
			return s, err
		}
		s.Backends = append(s.Backends, b)
	}
	var readinessAddr string
	if s.readiness, readinessAddr, err = startReadiness(); err != nil {
		return s, err
	}
	traefikDir := filepath.Join(o.Dir, "traefik")
	if err := os.MkdirAll(traefikDir, 0o755); err != nil {
		return s, err
	}
	if s.Traefik, err = StartTraefik(traefikDir, s.Backends, readinessAddr, o.Callers != nil); err != nil {
		return s, err
	}
	s.Targets = s.Traefik.Targets(s.Backends)
	s.startProbes()

	target := s.Traefik.MetricsAddr
	if o.ScrapeTarget != nil {
		if target, err = o.ScrapeTarget(target); err != nil {
			return s, err
		}
	}
	collectorDir := filepath.Join(o.Dir, "otelcol")
	if err := os.MkdirAll(collectorDir, 0o755); err != nil {
		return s, err
	}
	s.collectorOptions = CollectorOptions{
		ClickHouseAddr: o.ClickHouseAddr, Targets: []string{target},
		ScrapeInterval: o.ScrapeInterval, Dir: collectorDir,
	}
	if s.Collector, err = StartCollector(s.collectorOptions); err != nil || o.Callers == nil {
		return s, err
	}
	agentDir := filepath.Join(o.Dir, "agent")
	if err := os.MkdirAll(agentDir, 0o755); err != nil {
		return s, err
	}
	s.Agent, err = StartAgent(AgentOptions{
		AccessLogs: []string{s.Traefik.AccessLog}, Callers: o.Callers,
		CollectorOTLP: s.Collector.PairsOTLP, Interval: o.ScrapeInterval, Dir: agentDir,
	})
	return s, err
}

// StopCollector stops the collector (SIGTERM: what is queued stays in its
// persistent queue on disk).
func (s *Stack) StopCollector() error {
	return s.Collector.Stop(30 * time.Second)
}

// StartCollectorAgain starts a new collector on the same directory, so it
// picks up the persistent queue the previous one left. Its ports are new:
// a running pair agent keeps sending to the old one (tests that restart
// the collector run without the agent).
func (s *Stack) StartCollectorAgain() error {
	c, err := StartCollector(s.collectorOptions)
	if err != nil {
		return err
	}
	s.Collector = c
	return nil
}

// startProbes hits the readiness entrypoint every second, as the kubelet
// does: the noise the dashboard's service!~"readiness@.*" filters out.
func (s *Stack) startProbes() {
	ctx, cancel := context.WithCancel(context.Background())
	s.stopProbe, s.probeDone = cancel, make(chan struct{})
	go func() {
		defer close(s.probeDone)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				_ = allAnswer(ctx, []string{s.Traefik.ReadinessURL})
			}
		}
	}()
}

// Close stops everything Start started, collector first so that it flushes
// what it has scraped.
func (s *Stack) Close() error {
	var errs []error
	// The agent first: it sends what it has counted before the collector stops.
	if s.Agent != nil {
		if err := s.Agent.Stop(30 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	if s.Collector != nil {
		if err := s.Collector.Stop(30 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	if s.stopProbe != nil {
		s.stopProbe()
		<-s.probeDone
	}
	if s.Traefik != nil {
		if err := s.Traefik.Stop(10 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	if s.readiness != nil {
		_ = s.readiness.Close()
	}
	for _, b := range s.Backends {
		_ = b.Close()
	}
	if len(errs) > 0 {
		return fmt.Errorf("stop the mesh stack: %w", errors.Join(errs...))
	}
	return nil
}
