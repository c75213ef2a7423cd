package meshstack

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Traefik, configured here as a Traefik Mesh proxy, counts on its
// /metrics exactly what the load generator saw, under the mesh's names.
func TestTraefikCountsWhatTheLoadSent(t *testing.T) {
	dir := t.TempDir()
	var backends []*Backend
	for _, s := range DemoServices {
		b, err := StartBackend(s)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		backends = append(backends, b)
	}
	rs, raddr, err := startReadiness()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.Close() })
	tr, err := StartTraefik(dir, backends, raddr, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Stop(10 * time.Second) })

	truth := NewTruth()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := Send(ctx, tr.Targets(backends), 100, 8, truth); err != nil {
		t.Fatal(err)
	}
	res, err := http.Get("http://" + tr.MetricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	counted := map[string]map[string]float64{}
	for _, m := range fams["traefik_service_requests_total"].GetMetric() {
		var svc, code string
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "service":
				svc = l.GetValue()
			case "code":
				code = l.GetValue()
			}
		}
		if counted[svc] == nil {
			counted[svc] = map[string]float64{}
		}
		counted[svc][code] += m.GetCounter().GetValue()
	}
	for _, b := range backends {
		label := b.Service.Label()
		if !strings.HasPrefix(label, b.Service.Namespace+"-") || !strings.HasSuffix(label, "@file") {
			t.Errorf("service label %q is not <namespace>-<service>-<port>@file", label)
		}
		for code, n := range truth.Codes[label] {
			if got := counted[label][strconv.Itoa(code)]; got != float64(n) {
				t.Errorf("%s code %d: Traefik counted %v, the load generator saw %d", label, code, got, n)
			}
		}
		if truth.Total(label) != 100 {
			t.Errorf("%s: %d answers to 100 requests", label, truth.Total(label))
		}
	}
	var eps []string
	for _, m := range fams["traefik_entrypoint_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "entrypoint" && !slices.Contains(eps, l.GetValue()) {
				eps = append(eps, l.GetValue())
			}
		}
	}
	for _, want := range entrypointNames(len(backends)) {
		if !slices.Contains(eps, want) {
			t.Errorf("entrypoint %s missing from the metrics (have %v)", want, eps)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "dynamic.yaml")); err != nil {
		t.Error(err)
	}
}

// entrypointNames are the first n service entrypoints' names.
func entrypointNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("http-%d", 5000+i)
	}
	return out
}
