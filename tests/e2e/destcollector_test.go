package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
)

const namespacesFixture = "testdata/traefik-v2.5-namespaces.txt"

// storedSeries is one stored series' service and destination labels.
type storedSeries struct{ metric, service, namespace, destService, port string }

// The built collector, with the shipped static config, stores on every
// traefik_service_* series of a recorded v2.5 exposition (both namespaces,
// dashed names, TrafficSplit, backend and TrafficTarget forms) the
// destination labels Prometheus' relabel code gives with the same rules,
// and none on the series the rules do not match.
func TestDestinationLabelsStored(t *testing.T) {
	src, err := os.ReadFile(filepath.FromSlash(namespacesFixture))
	if err != nil {
		t.Fatal(err)
	}
	want := expectedDestinations(t, src)
	ch := startClickHouse(t)
	startScrapedCollector(t, ch.Addr, func(int) []byte { return src })
	conn := chConn(t, ch.Addr)
	waitScrapes(t, conn, "traefik_service_requests_total", 2, 0, 90*time.Second)
	// The histogram and gauge tables are written in the same batches; wait
	// for their rows too before comparing.
	var got map[storedSeries]bool
	deadline := time.Now().Add(30 * time.Second)
	for {
		got = storedDestinations(t, conn)
		if len(got) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	for s := range want {
		if !got[s] {
			t.Errorf("not stored: %+v", s)
		}
	}
	namespaces := map[string]bool{}
	for s := range got {
		if !want[s] {
			t.Errorf("stored, not what the rules give: %+v", s)
		}
		if s.namespace != "" {
			namespaces[s.namespace] = true
		}
	}
	listed, err := readNamespaces(filepath.Join(collectorDir(t), namespacesFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range listed {
		if !namespaces[ns] {
			t.Errorf("no stored series with destination_namespace %q", ns)
		}
	}
	t.Logf("%d stored series, destination namespaces %v", len(got), sortedKeys(namespaces))
}

// expectedDestinations applies the shipped config's metric relabelling, by
// Prometheus' code, to every traefik_service_* series of the exposition
// (per family and service: codes and buckets share the outcome).
func expectedDestinations(t *testing.T, src []byte) map[storedSeries]bool {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(src))
	if err != nil {
		t.Fatalf("%s: %v", namespacesFixture, err)
	}
	cfg := decodeYAML(t, filepath.Join(collectorDir(t), "otelcol-static.yaml"))
	scrapes, _ := lookup(cfg, "receivers", "prometheus", "config", "scrape_configs").([]any)
	rules := relabelRules(t, scrapes[0].(map[string]any)["metric_relabel_configs"])
	want := map[storedSeries]bool{}
	for name, fam := range fams {
		if !strings.HasPrefix(name, "traefik_service_") {
			continue
		}
		for _, m := range fam.GetMetric() {
			svc := labelValue(m.GetLabel(), "service")
			got, keep := process(labels.FromStrings("__name__", name, "service", svc), rules...)
			if !keep {
				t.Fatalf("%s{service=%q} is dropped by the rules", name, svc)
			}
			want[storedSeries{name, svc, got.Get("destination_namespace"), got.Get("destination_service"), got.Get("destination_port")}] = true
		}
	}
	return want
}

// storedDestinations reads the distinct service and destination labels of
// every stored traefik_service_* series (the bookkeeping connection: labels
// only, no numbers).
func storedDestinations(t *testing.T, conn driver.Conn) map[storedSeries]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out := map[storedSeries]bool{}
	for _, table := range []string{"otel_metrics_sum", "otel_metrics_gauge", "otel_metrics_histogram"} {
		rows, err := conn.Query(ctx, fmt.Sprintf(`SELECT DISTINCT MetricName, Attributes['service'],
			Attributes['destination_namespace'], Attributes['destination_service'], Attributes['destination_port']
			FROM otel.%s WHERE startsWith(MetricName, 'traefik_service_')`, table))
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		for rows.Next() {
			var s storedSeries
			if err := rows.Scan(&s.metric, &s.service, &s.namespace, &s.destService, &s.port); err != nil {
				t.Fatal(err)
			}
			out[s] = true
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
