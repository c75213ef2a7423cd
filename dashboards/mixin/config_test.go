package mixin

import (
	"regexp"
	"strings"
	"testing"
)

func TestValidateNamesTheBadSetting(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"default", func(*Config) {}, ""},
		{"no probe entrypoints", func(c *Config) { c.Noise.Entrypoints = nil }, "config Noise"},
		{"no namespaces", func(c *Config) { c.Namespaces = nil }, "config Namespaces"},
		{"namespace with a quote", func(c *Config) { c.Namespaces = []string{"forma3d'"} }, `"forma3d'" is not a Kubernetes namespace name`},
		{"route label from the environment", func(c *Config) { c.RouteLabels = map[string]string{"team": "$TEAM"} }, "config RouteLabels"},
		{"no pair job", func(c *Config) { c.PairJob = "" }, "config ProxyJob"},
		{"pair job is the proxies' job", func(c *Config) { c.PairJob = c.ProxyJob }, "config ProxyJob"},
		{"pair ratio as a percentage", func(c *Config) { c.PairErrorRatio = 5 }, "PairErrorRatio 5"},
		{"no pair latency", func(c *Config) { c.PairLatencySeconds = 0 }, "PairLatencySeconds 0"},
		{"empty route label", func(c *Config) { c.RouteLabels = map[string]string{"team": ""} }, "config RouteLabels"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.change(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if _, ferr := c.Files(); (ferr == nil) != (tc.want == "") {
				t.Errorf("Files: %v", ferr)
			}
		})
	}
}

// The logs query's fallback reads the service name out of the service
// label as the collector's relabelling does: configured namespaces longest
// first, then the first word; RE2 here as in ClickHouse's extract.
func TestLegacyServiceNameRE(t *testing.T) {
	re := regexp.MustCompile(Default().legacyServiceNameRE())
	for label, want := range map[string]string{
		"forma3d-dev-api-gateway-8080@http":          "api-gateway",
		"forma3d-api-gateway-8080@http":              "api-gateway",
		"forma3d-dev-slicer-7000-traffic-split@http": "slicer",
		"forma3d-devtools-3000@http":                 "devtools",
		"forma3d-dev-8080@http":                      "dev",
		"billing-invoice-9000@http":                  "invoice",
		"readiness@http":                             "",
	} {
		got := ""
		if m := re.FindStringSubmatch(label); m != nil {
			got = m[1]
		}
		if got != want {
			t.Errorf("%s: %q, want %q", label, got, want)
		}
	}
}

func TestNoiseMatchers(t *testing.T) {
	n := Default().Noise
	if got, want := n.entrypointMatcher(), `entrypoint!~"readiness|liveness|traefik"`; got != want {
		t.Errorf("entrypoint matcher %s, want %s", got, want)
	}
	if got, want := n.serviceMatcher(), `service!~"readiness@.*"`; got != want {
		t.Errorf("service matcher %s, want %s", got, want)
	}
}
