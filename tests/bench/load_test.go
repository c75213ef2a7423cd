package bench

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/forma3d/meshmetrics/tests/clickhouse/chtest"
)

// maxQueryMemory is ClickHouse's max_memory_usage for the queries.
// seriesTables installs the series extension (provisioning/clickhouse/002)
// and the recent samples (003) before loading, as a production database
// has them: their views fill the narrow tables from the exporter's inserts.
var seriesTables = flag.Bool("series-tables", true, "install provisioning/clickhouse/002_series_tables.up.sql and 003_recent_samples.up.sql before loading (false: the exporter's tables only)")

var maxQueryMemory = flag.Int64("max-memory-usage", 10_000_000_000, "ClickHouse's max_memory_usage (bytes) for the benchmarked queries; 0 for none")

// loadClickHouse starts the embedded ClickHouse with the exporter's
// tables (database otel) and fills them server-side with INSERT … SELECT
// over numbers(): sending tens of millions of rows from Go would measure
// the client, not the engine. Each table is then merged to one part per
// day, as a settled database would be, so runs do not depend on when
// background merges happen.
func loadClickHouse(b *testing.B, s shape) (*chtest.Server, driver.Conn) {
	b.Helper()
	srv := chtest.Start(b)
	open := func(db string, settings clickhouse.Settings) driver.Conn {
		conn, err := clickhouse.Open(&clickhouse.Options{
			Settings: settings,
			Addr:     []string{srv.Addr},
			Protocol: clickhouse.HTTP,
			Auth:     clickhouse.Auth{Database: db},
			// As the plugin connects (pkg/chconn), with room for the slowest query.
			Compression: &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
			ReadTimeout: 30 * time.Minute,
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = conn.Close() })
		return conn
	}
	conn := open("default", nil)
	ctx := context.Background()
	must := func(sql string) {
		if err := conn.Exec(ctx, sql); err != nil {
			b.Fatalf("%.200s: %v", sql, err)
		}
	}
	must("CREATE DATABASE IF NOT EXISTS otel")
	for _, kind := range []string{"sum", "gauge", "histogram"} {
		must(exporterDDL(b, kind))
	}
	if *seriesTables {
		chtest.InstallSeriesTables(b, conn, "otel", false)
		chtest.InstallRecentTables(b, conn, "otel", false)
	}
	began := time.Now()
	resourceCols := "ResourceAttributes, ServiceName, MetricName, Attributes, StartTimeUnix, TimeUnix"
	resourceVals := "resource, '" + job + "', '%s', attrs, toDateTime(0), toDateTime(t)"
	must(`INSERT INTO otel.otel_metrics_sum (` + resourceCols + `, Value, Flags, AggregationTemporality, IsMonotonic)
SELECT ` + fmt.Sprintf(resourceVals, counter) + `, toFloat64(v), 0, 2, true
FROM (` + servicesSQL(s) + `)`)
	must(`INSERT INTO otel.otel_metrics_histogram (` + resourceCols + `,
    Count, Sum, BucketCounts, ExplicitBounds, Flags, Min, Max, AggregationTemporality)
SELECT ` + fmt.Sprintf(resourceVals, histName) + `,
    toUInt64(n), hsum, [toUInt64(c0), toUInt64(c1 - c0), toUInt64(c2 - c1), toUInt64(c3 - c2), toUInt64(n - c3)],
    [0.1, 0.3, 1.2, 5], 0, 0, 0, 2
FROM (` + servicesSQL(s) + `)`)
	if s.noise {
		must(`INSERT INTO otel.otel_metrics_gauge (` + resourceCols + `, Value, Flags)
SELECT ` + fmt.Sprintf(resourceVals, gaugeName) + `, toFloat64(v), 0
FROM (` + gaugeSQL(s) + `)`)
		must(`INSERT INTO otel.otel_metrics_sum (` + resourceCols + `, Value, Flags, AggregationTemporality, IsMonotonic)
SELECT ` + fmt.Sprintf(resourceVals, entryCounter) + `, toFloat64(v), 0, 2, true
FROM (` + entrySQL(s) + `)`)
	}
	inserted := time.Since(began)
	for _, kind := range []string{"sum", "gauge", "histogram"} {
		must("OPTIMIZE TABLE otel.otel_metrics_" + kind + " FINAL")
		if *seriesTables {
			must("OPTIMIZE TABLE otel.meshmetrics_samples_" + kind + " FINAL")
			must("OPTIMIZE TABLE otel.meshmetrics_recent_" + kind + " FINAL")
		}
	}
	if *seriesTables {
		must("OPTIMIZE TABLE otel.meshmetrics_series FINAL")
		logStorage(b, conn)
	}
	b.Logf("%s: clickhouse: %d rows per service metric, %d gauge and %d entrypoint rows inserted in %v, merged in %v", s.name,
		s.series()*s.scrapes, s.gaugeSeries()*s.scrapes, s.entrySeries()*s.scrapes,
		inserted.Round(time.Second), (time.Since(began) - inserted).Round(time.Second))
	// Queries get a memory cap: the portable strategy's histogram_quantile
	// otherwise takes all of this shared 24 GB machine. A query over it
	// fails with MEMORY_LIMIT_EXCEEDED and is reported as failed.
	conn = open("otel", clickhouse.Settings{"max_memory_usage": *maxQueryMemory})
	checkClickHouse(b, conn, s)
	return srv, conn
}

// logStorage logs each metric table's rows and compressed bytes, and the
// bytes per row: what the series extension adds beside the exporter's.
func logStorage(b *testing.B, conn driver.Conn) {
	scan(b, conn, `SELECT table, sum(rows), sum(data_compressed_bytes) FROM system.parts
WHERE database = 'otel' AND active GROUP BY table ORDER BY table`, func(r driver.Rows) {
		var table string
		var rows, bytes uint64
		if err := r.Scan(&table, &rows, &bytes); err != nil {
			b.Fatal(err)
		}
		b.Logf("storage: %s: %d rows, %d bytes compressed, %.2f bytes per row", table, rows, bytes, float64(bytes)/math.Max(1, float64(rows)))
	})
}

// exporterDDL is the exporter's CREATE TABLE as rendered for v0.161.0 in
// tests/clickhouse/testdata, without its provenance comments.
func exporterDDL(b *testing.B, kind string) string {
	_, file, _, _ := runtime.Caller(0)
	raw, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "clickhouse", "testdata", "otel_"+kind+"_table.sql"))
	if err != nil {
		b.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// checkClickHouse compares the stored rows of a few series, every scrape,
// with the Go formulas: the queries' comparison then tells the engines
// apart, not the two copies of the formulas.
func checkClickHouse(b *testing.B, conn driver.Conn, s shape) {
	b.Helper()
	ctx := context.Background()
	for _, c := range []struct {
		table string
		rows  int
	}{{"otel_metrics_histogram", s.series() * s.scrapes}, {"otel_metrics_gauge", s.gaugeSeries() * s.scrapes},
		{"otel_metrics_sum", (s.series() + s.entrySeries()) * s.scrapes}} {
		var rows uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM otel."+c.table).Scan(&rows); err != nil || rows != uint64(c.rows) {
			b.Fatalf("%s holds %d rows (%v), want %d", c.table, rows, err, c.rows)
		}
	}
	instances := s.instances()
	for _, k := range []int{0, s.series()/2 + 7, s.series() - 1} {
		svc, code, method, proxy := s.seriesLabels(k)
		where := fmt.Sprintf(`WHERE Attributes['service'] = '%s' AND Attributes['code'] = '%s' AND Attributes['method'] = '%s'
  AND ResourceAttributes['service.instance.id'] = '%s' ORDER BY TimeUnix`, svc.label, code, method, instances[proxy])
		checkCounter(b, conn, s, "SELECT toInt64(toUnixTimestamp(TimeUnix)), Value FROM otel.otel_metrics_sum "+where,
			fmt.Sprint("counter series ", k), proxy, func(j int) uint64 { return counterValue(uint64(k), uint64(proxy), uint64(j)) })
		j := 0
		scan(b, conn, "SELECT toInt64(toUnixTimestamp(TimeUnix)), Count, Sum, BucketCounts FROM otel.otel_metrics_histogram "+where, func(r driver.Rows) {
			var t int64
			var count uint64
			var sum float64
			var buckets []uint64
			if err := r.Scan(&t, &count, &sum, &buckets); err != nil {
				b.Fatal(err)
			}
			var got [5]uint64
			var acc uint64
			for i, c := range buckets {
				acc += c
				got[i] = acc
			}
			cum, wantSum := histogramPoint(uint64(k), uint64(proxy), uint64(j))
			if t != scrapeTime(s, proxy, j) || len(buckets) != 5 || count != cum[4] || sum != wantSum || got != cum {
				b.Fatalf("MISMATCH in the generated data: histogram series %d scrape %d is t=%d count=%d sum=%v buckets=%v in clickhouse; Go has t=%d sum=%v cumulative %v",
					k, j, t, count, sum, buckets, scrapeTime(s, proxy, j), wantSum, cum)
			}
			j++
		})
		if j != s.scrapes {
			b.Fatalf("histogram series %d: %d scrapes read back, want %d", k, j, s.scrapes)
		}
	}
	if !s.noise {
		return
	}
	for _, g := range []int{0, s.gaugeSeries() - 1} {
		proxy := g % s.proxies
		checkCounter(b, conn, s, fmt.Sprintf(`SELECT toInt64(toUnixTimestamp(TimeUnix)), Value FROM otel.otel_metrics_gauge
WHERE Attributes['service'] = '%s' AND ResourceAttributes['service.instance.id'] = '%s' ORDER BY TimeUnix`,
			s.serviceOf(g/s.proxies).label, instances[proxy]),
			fmt.Sprint("gauge series ", g), proxy, func(j int) uint64 { return gaugeValue(uint64(g), uint64(j)) })
	}
	for _, e := range []int{0, s.entrySeries() - 1} {
		ep, code, method, proxy := s.entryLabels(e)
		checkCounter(b, conn, s, fmt.Sprintf(`SELECT toInt64(toUnixTimestamp(TimeUnix)), Value FROM otel.otel_metrics_sum
WHERE Attributes['entrypoint'] = '%s' AND Attributes['code'] = '%s' AND Attributes['method'] = '%s'
  AND ResourceAttributes['service.instance.id'] = '%s' ORDER BY TimeUnix`, ep, code, method, instances[proxy]),
			fmt.Sprint("entrypoint series ", e), proxy, func(j int) uint64 { return counterValue(uint64(entryOffset+e), uint64(proxy), uint64(j)) })
	}
}

// checkCounter compares one series' (t, value) rows, every scrape, with
// its Go formula.
func checkCounter(b *testing.B, conn driver.Conn, s shape, sql, what string, proxy int, want func(j int) uint64) {
	b.Helper()
	j := 0
	scan(b, conn, sql, func(r driver.Rows) {
		var t int64
		var v float64
		if err := r.Scan(&t, &v); err != nil {
			b.Fatal(err)
		}
		if t != scrapeTime(s, proxy, j) || v != float64(want(j)) {
			b.Fatalf("MISMATCH in the generated data: %s scrape %d is %v@%d in clickhouse, %v@%d in Go",
				what, j, v, t, want(j), scrapeTime(s, proxy, j))
		}
		j++
	})
	if j != s.scrapes {
		b.Fatalf("%s: %d scrapes read back, want %d", what, j, s.scrapes)
	}
}

func scan(b *testing.B, conn driver.Conn, sql string, row func(driver.Rows)) {
	b.Helper()
	r, err := conn.Query(context.Background(), sql)
	if err != nil {
		b.Fatalf("%s: %v", sql, err)
	}
	defer r.Close()
	for r.Next() {
		row(r)
	}
	if err := r.Err(); err != nil {
		b.Fatal(err)
	}
}

// loadPrometheus appends the same samples to a Prometheus TSDB: the
// counter, and the histogram as Prometheus stores a classic one (a
// cumulative _bucket series per le, _count, _sum). The head block keeps
// everything: blocks of 16 days leave the whole week appendable series by
// series and never compact during the run; the WAL is off, as nothing is
// recovered.
func loadPrometheus(b *testing.B, s shape) storage.Storage {
	b.Helper()
	st := teststorage.New(b, func(o *tsdb.Options) {
		o.MinBlockDuration = int64(16 * 24 * time.Hour / time.Millisecond)
		o.MaxBlockDuration = o.MinBlockDuration
		o.WALSegmentSize = -1
		o.EnableExemplarStorage = false
	})
	st.DisableCompactions()
	began := time.Now()
	ctx := context.Background()
	samples := 0
	instances := s.instances()
	// lset is a series' labels as Prometheus scrapes them.
	lset := func(name string, proxy int, pairs ...[2]string) labels.Labels {
		sb := labels.NewScratchBuilder(12)
		sb.Add(labels.MetricName, name)
		sb.Add("job", job)
		sb.Add("instance", instances[proxy])
		for _, p := range pairs {
			sb.Add(p[0], p[1])
		}
		sb.Sort()
		return sb.Labels()
	}
	// add appends every scrape of sets (one commit: an appender holds its
	// samples until then), values filling in each set's value at scrape j.
	add := func(proxy int, sets []labels.Labels, values func(j int, out []float64)) {
		app := st.Appender(ctx)
		refs := make([]storage.SeriesRef, len(sets))
		vals := make([]float64, len(sets))
		for j := 0; j < s.scrapes; j++ {
			ts := scrapeTime(s, proxy, j) * 1000
			values(j, vals)
			for i, v := range vals {
				var err error
				if refs[i], err = app.Append(refs[i], sets[i], ts, v); err != nil {
					b.Fatalf("prometheus append %s @%d: %v", sets[i], ts, err)
				}
			}
			samples += len(vals)
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	for k := 0; k < s.series(); k++ {
		svc, code, method, proxy := s.seriesLabels(k)
		attrs := append(svc.attrs(), [2]string{"code", code}, [2]string{"method", method}, [2]string{"protocol", "http"})
		sets := []labels.Labels{lset(counter, proxy, attrs...), lset(histName+"_count", proxy, attrs...), lset(histName+"_sum", proxy, attrs...)}
		for _, le := range leLabels {
			sets = append(sets, lset(histName+"_bucket", proxy, append(attrs, [2]string{"le", le})...))
		}
		add(proxy, sets, func(j int, out []float64) {
			cum, sum := histogramPoint(uint64(k), uint64(proxy), uint64(j))
			copy(out, []float64{float64(counterValue(uint64(k), uint64(proxy), uint64(j))), float64(cum[4]), sum,
				float64(cum[0]), float64(cum[1]), float64(cum[2]), float64(cum[3]), float64(cum[4])})
		})
	}
	for g := 0; g < s.gaugeSeries(); g++ {
		proxy := g % s.proxies
		sets := []labels.Labels{lset(gaugeName, proxy, [2]string{"service", s.serviceOf(g / s.proxies).label},
			[2]string{"method", "GET"}, [2]string{"protocol", "http"})}
		add(proxy, sets, func(j int, out []float64) { out[0] = float64(gaugeValue(uint64(g), uint64(j))) })
	}
	for e := 0; e < s.entrySeries(); e++ {
		ep, code, method, proxy := s.entryLabels(e)
		sets := []labels.Labels{lset(entryCounter, proxy, [2]string{"entrypoint", ep}, [2]string{"code", code},
			[2]string{"method", method}, [2]string{"protocol", "http"})}
		add(proxy, sets, func(j int, out []float64) {
			out[0] = float64(counterValue(uint64(entryOffset+e), uint64(proxy), uint64(j)))
		})
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.Logf("%s: prometheus: %d samples appended in %v; Go heap in use %.0f MB, process RSS %.0f MB",
		s.name, samples, time.Since(began).Round(time.Second), float64(ms.HeapInuse)/1e6, procMB("self", "VmRSS"))
	if math.IsNaN(procMB("self", "VmRSS")) {
		b.Log("no /proc/self/status: memory columns will be NaN")
	}
	return st
}

// procMB reads a memory line (VmRSS, VmHWM) of /proc/<pid>/status, in MB.
func procMB(pid, field string) float64 {
	raw, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return math.NaN()
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			var kb float64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%f kB", &kb); err == nil {
				return kb * 1024 / 1e6
			}
		}
	}
	return math.NaN()
}

// resetPeak restarts a process's VmHWM at its current RSS (Linux
// clear_refs 5), so that the next read is the peak of what ran since.
func resetPeak(pid string) error {
	return os.WriteFile("/proc/"+pid+"/clear_refs", []byte("5"), 0)
}
