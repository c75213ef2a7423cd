package meshstack

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Truth is what the load generator saw, per service label: the ground
// truth the plugin's numbers are checked against.
type Truth struct {
	mu       sync.Mutex
	Codes    map[string]map[int]int     // service label -> status -> responses
	Latency  map[string][]time.Duration // service label -> client-side durations
	Failures map[string]int             // requests without a response
	Last     map[string]time.Time       // when the last response arrived
}

// NewTruth is an empty Truth.
func NewTruth() *Truth {
	return &Truth{Codes: map[string]map[int]int{}, Latency: map[string][]time.Duration{},
		Failures: map[string]int{}, Last: map[string]time.Time{}}
}

func (t *Truth) record(service string, status int, d time.Duration, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.Failures[service]++
		return
	}
	if t.Codes[service] == nil {
		t.Codes[service] = map[int]int{}
	}
	t.Codes[service][status]++
	t.Latency[service] = append(t.Latency[service], d)
	t.Last[service] = time.Now()
}

// Total is the number of responses seen for service.
func (t *Truth) Total(service string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, c := range t.Codes[service] {
		n += c
	}
	return n
}

// ServerErrors is the number of 5xx responses seen for service.
func (t *Truth) ServerErrors(service string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for code, c := range t.Codes[service] {
		if code >= 500 && code <= 599 {
			n += c
		}
	}
	return n
}

// Quantile is the q-quantile of the client-side durations (nearest rank).
func (t *Truth) Quantile(service string, q float64) time.Duration {
	t.mu.Lock()
	ds := append([]time.Duration(nil), t.Latency[service]...)
	t.mu.Unlock()
	if len(ds) == 0 {
		return 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	rank := int(q*float64(len(ds))+0.999999) - 1
	return ds[min(max(rank, 0), len(ds)-1)]
}

// Target is one service the load generator sends requests to.
type Target struct {
	Label   string // the service label Traefik reports; the key in Truth
	URL     string
	Service Service
	// Source is the loopback address requests come from (127.0.0.2 …), as
	// a calling pod's IP is the proxy's ClientHost; "" lets the system pick.
	Source string
}

var (
	sourceClientsMu sync.Mutex
	sourceClients   = map[string]*http.Client{}
)

// clientFrom is an HTTP client whose connections leave from source.
func clientFrom(source string) *http.Client {
	if source == "" {
		return loadClient
	}
	sourceClientsMu.Lock()
	defer sourceClientsMu.Unlock()
	if c, ok := sourceClients[source]; ok {
		return c
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}, Timeout: 10 * time.Second}
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 64}}
	sourceClients[source] = c
	return c
}

// Targets lists Traefik's entrypoints for the backends' services.
func (t *Traefik) Targets(backends []*Backend) []Target {
	out := make([]Target, 0, len(backends))
	for _, b := range backends {
		out = append(out, Target{Label: b.Service.Label(), URL: t.Entrypoints[b.Service.Key()] + "/", Service: b.Service})
	}
	return out
}

var loadClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// Send sends perTarget requests to every target, concurrency at a time per
// target, records every answer in truth and returns when all are answered.
func Send(ctx context.Context, targets []Target, perTarget, concurrency int, truth *Truth) error {
	var wg sync.WaitGroup
	for _, tg := range targets {
		jobs := make(chan struct{})
		for range concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range jobs {
					one(ctx, tg, truth)
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(jobs)
			for range perTarget {
				select {
				case jobs <- struct{}{}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// Steady sends about rps requests per second to each target until ctx ends,
// and returns when the requests in flight then are answered.
func Steady(ctx context.Context, targets []Target, rps int, truth *Truth) {
	var wg sync.WaitGroup
	for _, tg := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(time.Second / time.Duration(max(rps, 1)))
			defer tick.Stop()
			sem := make(chan struct{}, 32)
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				select {
				case sem <- struct{}{}:
				default:
					continue // all 32 in flight: skip rather than pile up
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					// A request started is finished even when the load
					// stops: the proxy counts it, so must the truth.
					one(context.WithoutCancel(ctx), tg, truth)
				}()
			}
		}()
	}
	wg.Wait()
}

func one(ctx context.Context, tg Target, truth *Truth) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, tg.URL, nil)
	if err != nil {
		truth.record(tg.Label, 0, 0, err)
		return
	}
	start := time.Now()
	res, err := clientFrom(tg.Source).Do(req)
	if err != nil {
		if ctx.Err() == nil {
			truth.record(tg.Label, 0, 0, fmt.Errorf("%s: %w", tg.URL, err))
		}
		return
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	truth.record(tg.Label, res.StatusCode, time.Since(start), nil)
}
