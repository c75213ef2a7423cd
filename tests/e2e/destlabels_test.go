package e2e

import (
	"path/filepath"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
)

// destinationLabels are the three labels the generated rules set.
var destinationLabels = []string{"destination_namespace", "destination_service", "destination_port"}

// The generated rules, applied by Prometheus' own relabel code as the
// receiver applies them, on Traefik Mesh's service names (its provider's
// key.go): both namespaces, services with dashes, the SMI TrafficSplit,
// TrafficSplit backend and TrafficTarget forms, and names that must get
// no labels.
func TestDestinationLabels(t *testing.T) {
	for _, file := range []string{"otelcol-static.yaml", "otelcol-kubernetes.yaml"} {
		cfg := decodeYAML(t, filepath.Join(collectorDir(t), file))
		scrapes, _ := lookup(cfg, "receivers", "prometheus", "config", "scrape_configs").([]any)
		if len(scrapes) != 1 {
			t.Fatalf("%s: want one scrape config, got %d", file, len(scrapes))
		}
		rules := relabelRules(t, scrapes[0].(map[string]any)["metric_relabel_configs"])
		for _, c := range []struct {
			metric, service string
			want            []string // namespace, service, port; nil: no labels
		}{
			{"traefik_service_requests_total", "forma3d-dev-api-gateway-8080@http", []string{"forma3d-dev", "api-gateway", "8080"}},
			{"traefik_service_requests_total", "forma3d-api-gateway-8080@http", []string{"forma3d", "api-gateway", "8080"}},
			{"traefik_service_request_duration_seconds_bucket", "forma3d-dev-order-service-8080@http", []string{"forma3d-dev", "order-service", "8080"}},
			{"traefik_service_open_connections", "forma3d-printer-registry-80@http", []string{"forma3d", "printer-registry", "80"}},
			// A forma3d-dev service whose own name starts with dev-.
			{"traefik_service_requests_total", "forma3d-dev-dev-tools-3000@http", []string{"forma3d-dev", "dev-tools", "3000"}},
			{"traefik_service_requests_total", "forma3d-slicer-v2-3000@http", []string{"forma3d", "slicer-v2", "3000"}},
			// The demo's Traefik uses the file provider.
			{"traefik_service_requests_total", "forma3d-dev-slicer-3000@file", []string{"forma3d-dev", "slicer", "3000"}},
			{"traefik_service_requests_total", "forma3d-api-gateway-canary-8080-traffic-split@http", []string{"forma3d", "api-gateway-canary", "8080"}},
			{"traefik_service_requests_total", "forma3d-dev-api-gateway-canary-8080-api-gateway-v2-traffic-split-backend@http", []string{"forma3d-dev", "api-gateway-v2", "8080"}},
			{"traefik_service_retries_total", "forma3d-order-service-orders-split-8080-order-service-blue-traffic-split-backend@http", []string{"forma3d", "order-service-blue", "8080"}},
			{"traefik_service_requests_total", "forma3d-dev-api-gateway-allow-web-8080-traffic-target@http", []string{"forma3d-dev", "api-gateway-allow-web", "8080"}},
			{"traefik_service_requests_total", "readiness@http", nil},
			{"traefik_service_requests_total", "block-all-service@http", nil},
			{"traefik_service_requests_total", "traefik-mesh-controller-9000@http", nil},
			{"traefik_service_requests_total", "kube-system-coredns-53@http", nil},
			{"traefik_service_requests_total", "forma3d-api-gateway@http", nil},
			{"traefik_service_requests_total", "forma3d-dev-api-gateway-8080", nil},
			{"traefik_router_requests_total", "forma3d-api-gateway-8080@http", nil},
		} {
			got, keep := process(labels.FromStrings("__name__", c.metric, "service", c.service), rules...)
			if !keep {
				t.Errorf("%s: %s{service=%q} dropped", file, c.metric, c.service)
				continue
			}
			for i, name := range destinationLabels {
				want := ""
				if c.want != nil {
					want = c.want[i]
				}
				if v := got.Get(name); v != want {
					t.Errorf("%s: %s{service=%q}: %s = %q, want %q", file, c.metric, c.service, name, v, want)
				}
			}
			if got.Get("service") != c.service {
				t.Errorf("%s: service label changed to %q", file, got.Get("service"))
			}
		}
	}
}
