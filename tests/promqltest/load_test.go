package promqlreplay

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/forma3d/meshmetrics/tests/clickhouse/chtest"
	"github.com/forma3d/meshmetrics/tests/otelfixture"
)

const otelDatabase = "otel"

// startClickHouse starts the embedded ClickHouse with the exporter's three
// metric tables and returns a connection to the otel database.
//
// TimeUnix (and StartTimeUnix) are DateTime64(9), the type of the exporter
// versions before v0.12x, which the engine supports too: the .test files
// place samples on milliseconds, which v0.161.0's DateTime (seconds) would
// truncate.
func startClickHouse(t testing.TB) driver.Conn {
	t.Helper()
	srv := chtest.Start(t)
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:     []string{srv.Addr},
		Protocol: clickhouse.HTTP,
		Auth:     clickhouse.Auth{Database: "default"},
	})
	if err != nil {
		t.Fatalf("open clickhouse connection: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ctx := context.Background()
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+otelDatabase); err != nil {
		t.Fatalf("create database: %v", err)
	}
	for _, kind := range []string{"sum", "gauge", "histogram"} {
		if err := conn.Exec(ctx, exporterDDL(t, kind)); err != nil {
			t.Fatalf("create otel_metrics_%s: %v", kind, err)
		}
	}
	// The series extension with DateTime64(9) timestamps, as for an older
	// exporter's tables; a replay reads it or not (seriesTablesFor).
	chtest.InstallSeriesTables(t, conn, otelDatabase, true)
	return conn
}

// exporterDDL is the v0.161.0 CREATE TABLE with nanosecond timestamps
// (see startClickHouse).
func exporterDDL(t testing.TB, kind string) string {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(otelfixture.ExporterSQL(t, "otel_"+kind+"_table.sql"), "\n") {
		trimmed := strings.TrimSpace(l)
		if strings.HasPrefix(trimmed, "TimeUnix DateTime ") || strings.HasPrefix(trimmed, "StartTimeUnix DateTime ") {
			l = strings.Replace(l, "DateTime ", "DateTime64(9) ", 1)
		}
		lines = append(lines, l)
	}
	ddl := strings.Join(lines, "\n")
	if strings.Count(ddl, "DateTime64(9)") != 2 {
		t.Fatalf("otel_metrics_%s: TimeUnix/StartTimeUnix not found in the exporter DDL", kind)
	}
	return ddl
}

// sample is one float sample of a series.
type sample struct {
	t int64 // Unix ms
	v float64
}

// snapshot is what a promqltest storage holds: its float series. A series
// with native histogram samples (the exporter's exponential histograms,
// outside the dialect) is left out; the cases that read one are excluded
// (native_test.go).
type snapshot struct {
	series map[string]snapSeries // by labels.String()
	hash   uint64                // over every label and sample
}

type snapSeries struct {
	lset    labels.Labels
	samples []sample
}

// readStorage reads every series of q.
func readStorage(ctx context.Context, q storage.Queryable) (*snapshot, error) {
	querier, err := q.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		return nil, err
	}
	defer querier.Close()
	all := labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, ".*")
	set := querier.Select(ctx, true, nil, all)
	snap := &snapshot{series: map[string]snapSeries{}}
	h := fnv.New64a()
	var it chunkenc.Iterator
	for set.Next() {
		s := set.At()
		ss := snapSeries{lset: s.Labels()}
		fmt.Fprintf(h, "%s\n", ss.lset)
		it = s.Iterator(it)
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			if vt != chunkenc.ValFloat {
				ss.samples = nil
				break
			}
			ts, v := it.At()
			ss.samples = append(ss.samples, sample{ts, v})
			fmt.Fprintf(h, "%d %x\n", ts, math.Float64bits(v))
		}
		if err := it.Err(); err != nil {
			return nil, err
		}
		if len(ss.samples) > 0 {
			snap.series[ss.lset.String()] = ss
		}
	}
	if err := set.Err(); err != nil {
		return nil, err
	}
	snap.hash = h.Sum64()
	return snap, nil
}

// load replaces the gauge table's content with snap. Every float series
// goes into otel_metrics_gauge: the engine finds a name in whichever table
// stores it, and rate() & co. do not depend on the table, so this is the
// one mapping that keeps every .test series as it is (names ending in
// _bucket/_count/_sum stay plain series with their own le label).
//
// A series' job and instance labels become the resource attributes
// service.name (also ServiceName) and service.instance.id, as the
// Prometheus receiver writes them; every other label is an attribute.
// A stale marker becomes a point with the "no recorded value" flag.
func load(ctx context.Context, conn driver.Conn, snap *snapshot) error {
	for _, table := range []string{"otel_metrics_sum", "otel_metrics_gauge", "otel_metrics_histogram",
		"meshmetrics_series", "meshmetrics_samples_sum", "meshmetrics_samples_gauge", "meshmetrics_samples_histogram"} {
		if err := conn.Exec(ctx, "TRUNCATE TABLE "+otelDatabase+"."+table); err != nil {
			return err
		}
	}
	if len(snap.series) == 0 {
		return nil
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+otelDatabase+".otel_metrics_gauge "+
		"(ResourceAttributes, ServiceName, MetricName, Attributes, StartTimeUnix, TimeUnix, Value, Flags)")
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(snap.series))
	for k := range snap.series {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s := snap.series[k]
		resource := map[string]string{}
		attrs := map[string]string{}
		s.lset.Range(func(l labels.Label) {
			switch l.Name {
			case labels.MetricName:
			case "job":
				resource["service.name"] = l.Value
			case "instance":
				resource["service.instance.id"] = l.Value
			default:
				attrs[l.Name] = l.Value
			}
		})
		name := s.lset.Get(labels.MetricName)
		for _, p := range s.samples {
			flags := uint32(0)
			if value.IsStaleNaN(p.v) {
				flags = 1 // pmetric.DataPointFlags NoRecordedValue
			}
			err := batch.Append(resource, resource["service.name"], name, attrs,
				time.Unix(0, 0), time.UnixMilli(p.t).UTC(), p.v, flags)
			if err != nil {
				return fmt.Errorf("append %s @%d: %w", k, p.t, err)
			}
		}
	}
	return batch.Send()
}
