package meshstack

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Traefik is a running Traefik configured as a Traefik Mesh proxy is: one
// entrypoint http-5000, http-5001 … per mesh service port, a readiness
// entrypoint, and the traefik entrypoint serving /ping and /metrics.
type Traefik struct {
	*Proc
	// Entrypoints maps each service's Key to its entrypoint's URL.
	Entrypoints map[string]string
	// EntrypointNames maps each service's Key to its entrypoint name.
	EntrypointNames map[string]string
	// MetricsAddr is host:port of the traefik entrypoint (/metrics).
	MetricsAddr string
	// ReadinessURL is the readiness entrypoint (probe noise).
	ReadinessURL string
	// AccessLog is the JSON access-log file, "" when off.
	AccessLog string
}

// StartTraefik writes a file-provider configuration routing one entrypoint
// to each backend and starts Traefik in dir. With accessLog, Traefik also
// writes its JSON access log to dir/access.log, as the pair agent's proxies
// do (--accesslog.format=json, every field kept).
func StartTraefik(dir string, backends []*Backend, readinessAddr string, accessLog bool) (*Traefik, error) {
	bin, err := TraefikBinary()
	if err != nil {
		return nil, err
	}
	ports, err := FreePorts(len(backends) + 2)
	if err != nil {
		return nil, err
	}
	t := &Traefik{
		Entrypoints:     map[string]string{},
		EntrypointNames: map[string]string{},
		MetricsAddr:     hostPort(ports[0]),
		ReadinessURL:    "http://" + hostPort(ports[1]) + "/ping",
	}
	args := []string{
		"--global.checkNewVersion=false",
		"--global.sendAnonymousUsage=false",
		"--log.level=ERROR",
		"--entryPoints.traefik.address=" + t.MetricsAddr,
		"--entryPoints.readiness.address=" + hostPort(ports[1]),
		"--ping=true",
		"--ping.entryPoint=traefik",
		"--metrics.prometheus=true",
		"--metrics.prometheus.entryPoint=traefik",
		"--metrics.prometheus.addEntryPointsLabels=true",
		"--metrics.prometheus.addServicesLabels=true",
		"--metrics.prometheus.buckets=0.1,0.3,1.2,5.0",
		"--providers.file.filename=" + filepath.Join(dir, "dynamic.yaml"),
	}
	if accessLog {
		t.AccessLog = filepath.Join(dir, "access.log")
		args = append(args, "--accesslog=true", "--accesslog.format=json", "--accesslog.filepath="+t.AccessLog)
	}
	var dyn strings.Builder
	dyn.WriteString("http:\n  routers:\n")
	for i, b := range backends {
		key, ep := b.Service.Key(), fmt.Sprintf("http-%d", 5000+i)
		args = append(args, fmt.Sprintf("--entryPoints.%s.address=%s", ep, hostPort(ports[i+2])))
		t.Entrypoints[key] = "http://" + hostPort(ports[i+2])
		t.EntrypointNames[key] = ep
		fmt.Fprintf(&dyn, "    %s:\n      entryPoints: [%s]\n      rule: \"PathPrefix(`/`)\"\n      service: %s\n", key, ep, key)
	}
	dyn.WriteString("    readiness:\n      entryPoints: [readiness]\n      rule: \"Path(`/ping`)\"\n      service: readiness\n")
	dyn.WriteString("  services:\n")
	for _, b := range backends {
		fmt.Fprintf(&dyn, "    %s:\n      loadBalancer:\n        servers:\n          - url: http://%s\n", b.Service.Key(), b.Addr)
	}
	fmt.Fprintf(&dyn, "    readiness:\n      loadBalancer:\n        servers:\n          - url: http://%s\n", readinessAddr)
	if err := os.WriteFile(filepath.Join(dir, "dynamic.yaml"), []byte(dyn.String()), 0o644); err != nil {
		return nil, err
	}
	// Traefik waits up to an entrypoint's graceTimeOut (10 s by default,
	// the stack's whole stop grace) for open keep-alive connections before
	// it exits on SIGTERM; the test stack has nothing to drain.
	for _, ep := range append([]string{"traefik", "readiness"}, slices.Collect(maps.Values(t.EntrypointNames))...) {
		args = append(args, fmt.Sprintf("--entryPoints.%s.transport.lifeCycle.graceTimeOut=1s", ep))
	}
	if t.Proc, err = startProc("traefik", bin, args, nil, dir); err != nil {
		return nil, err
	}
	if err := t.waitReady(30 * time.Second); err != nil {
		_ = t.Stop(5 * time.Second)
		return nil, err
	}
	return t, nil
}

// waitReady waits for /ping and for every service's router to answer
// through its entrypoint (the file provider loads asynchronously).
func (t *Traefik) waitReady(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	urls := []string{"http://" + t.MetricsAddr + "/ping", t.ReadinessURL}
	for {
		if t.Exited() {
			return fmt.Errorf("traefik exited during startup:\n%s", t.Output())
		}
		if allAnswer(ctx, urls) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("traefik not ready within %v:\n%s", timeout, t.Output())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func allAnswer(ctx context.Context, urls []string) bool {
	for _, u := range urls {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return false
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		_ = res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return false
		}
	}
	return true
}
