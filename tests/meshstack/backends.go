package meshstack

import (
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Outcome is one kind of answer a demo service gives: Per100 of every 100
// requests get Status after Delay.
type Outcome struct {
	Per100 int
	Status int
	Delay  time.Duration
}

// Service is one demo service behind the mesh, named as Traefik Mesh names
// its services: <namespace>-<name>-<port> (here with the file provider's
// @file suffix where the mesh has @http).
type Service struct {
	Namespace string
	Name      string
	Port      int // the Kubernetes service port in the mesh name
	Outcomes  []Outcome
}

// Key is the Traefik service and router name, e.g. forma3d-dev-api-8080.
func (s Service) Key() string { return fmt.Sprintf("%s-%s-%d", s.Namespace, s.Name, s.Port) }

// Label is the service label Traefik puts on its metrics.
func (s Service) Label() string { return s.Key() + "@file" }

// DemoServices are the mesh's services in the demo and the tests, in the
// mesh's two namespaces: forma3d-dev (local dev) and forma3d (staging,
// production), api-gateway in both, so that the destination labels are
// what tells them apart. Their p99 lies well inside one of Traefik's
// default buckets (0.1, 0.3, 1.2, 5): both api-gateways and
// printer-registry all below 0.1 s, order-service 5 % at 150 ms (p99 in
// 0.1–0.3), slicer 10 % at 500 ms (p99 in 0.3–1.2).
var DemoServices = []Service{
	{Namespace: "forma3d-dev", Name: "api-gateway", Port: 8080, Outcomes: []Outcome{
		{Per100: 92, Status: 200, Delay: 8 * time.Millisecond},
		{Per100: 5, Status: 500, Delay: 4 * time.Millisecond},
		{Per100: 3, Status: 404, Delay: 2 * time.Millisecond},
	}},
	{Namespace: "forma3d-dev", Name: "order-service", Port: 8080, Outcomes: []Outcome{
		{Per100: 93, Status: 200, Delay: 20 * time.Millisecond},
		{Per100: 5, Status: 200, Delay: 150 * time.Millisecond},
		{Per100: 2, Status: 503, Delay: 10 * time.Millisecond},
	}},
	{Namespace: "forma3d", Name: "api-gateway", Port: 8080, Outcomes: []Outcome{
		{Per100: 98, Status: 200, Delay: 6 * time.Millisecond},
		{Per100: 1, Status: 500, Delay: 4 * time.Millisecond},
		{Per100: 1, Status: 404, Delay: 2 * time.Millisecond},
	}},
	{Namespace: "forma3d", Name: "slicer", Port: 3000, Outcomes: []Outcome{
		{Per100: 90, Status: 200, Delay: 30 * time.Millisecond},
		{Per100: 10, Status: 200, Delay: 500 * time.Millisecond},
	}},
	{Namespace: "forma3d", Name: "printer-registry", Port: 80, Outcomes: []Outcome{
		{Per100: 80, Status: 200, Delay: 3 * time.Millisecond},
		{Per100: 12, Status: 502, Delay: 3 * time.Millisecond},
		{Per100: 8, Status: 201, Delay: 5 * time.Millisecond},
	}},
}

// outcomeFor picks request n's outcome: every block of 100 consecutive
// requests holds exactly Per100 of each, spread out (37 is coprime to 100).
func (s Service) outcomeFor(n uint64) Outcome {
	slot := int((n * 37) % 100)
	for _, o := range s.Outcomes {
		if slot < o.Per100 {
			return o
		}
		slot -= o.Per100
	}
	return Outcome{Status: http.StatusOK}
}

// Backend is a running demo service.
type Backend struct {
	Service Service
	Addr    string
	srv     *http.Server
	served  atomic.Uint64
}

// StartBackend serves s on a free 127.0.0.1 port.
func StartBackend(s Service) (*Backend, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("backend %s: %w", s.Key(), err)
	}
	b := &Backend{Service: s, Addr: l.Addr().String()}
	b.srv = &http.Server{Handler: http.HandlerFunc(b.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = b.srv.Serve(l) }()
	return b, nil
}

func (b *Backend) serve(w http.ResponseWriter, r *http.Request) {
	o := b.Service.outcomeFor(b.served.Add(1) - 1)
	if o.Delay > 0 {
		select {
		case <-time.After(o.Delay):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(o.Status)
	_, _ = fmt.Fprintf(w, "%s: %d\n", b.Service.Key(), o.Status)
}

// Close stops the backend.
func (b *Backend) Close() error { return b.srv.Close() }

// readinessBackend answers the mesh's readiness probes (service readiness).
func startReadiness() (*http.Server, string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	})}
	go func() { _ = srv.Serve(l) }()
	return srv, l.Addr().String(), nil
}
