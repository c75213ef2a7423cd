package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/forma3d/meshmetrics/pkg/engine"
	"github.com/forma3d/meshmetrics/tests/clickhouse/chtest"
	"github.com/forma3d/meshmetrics/tests/otelfixture"
)

// A series is keyed by a hash of the columns its labels come from. Rows of
// one label set whose columns differ only where labels do not show must
// stay one series; rows whose columns differ in ways the hash cannot see
// through must be refused, never answered as two series of one label set.
func TestSeriesIdentity(t *testing.T) {
	_, conn := otelfixture.Start(t)
	// With the series tables, whose flat sums' lookup leaves the refusal
	// to the plugin.
	chtest.InstallSeriesTables(t, conn, "otel", false)
	ctx := context.Background()
	insert := func(resource, attrs string, at time.Time, v float64) {
		t.Helper()
		sql := "INSERT INTO otel.otel_metrics_gauge (ResourceAttributes, ServiceName, MetricName, Attributes, TimeUnix, Value) VALUES (" +
			resource + ", 'mesh', 'identity', " + attrs + ", toDateTime(?), ?)"
		if err := conn.Exec(ctx, sql, at.Unix(), v); err != nil {
			t.Fatal(err)
		}
	}
	// One series, written with the attributes in both orders and with a
	// resource attribute that labels do not show changing (a collector
	// restart with another host.name).
	insert("map('service.instance.id', 'p:8080', 'host.name', 'a')", "map('service', 'api', 'code', '200')", t0, 1)
	insert("map('service.instance.id', 'p:8080', 'host.name', 'b')", "map('code', '200', 'service', 'api')", t0.Add(15*time.Second), 2)
	insert("map('service.instance.id', 'p:8080')", "map('service', 'api', 'code', '200')", t0.Add(30*time.Second), 3)
	// One label set from two column sets: an empty attribute value.
	insert("map('service.instance.id', 'p:8080')", "map('service', 'web', 'e', '')", t0, 1)
	insert("map('service.instance.id', 'p:8080')", "map('service', 'web')", t0.Add(15*time.Second), 2)

	for _, strategy := range []string{engine.StrategyPortable, engine.StrategyNative} {
		t.Run(strategy, func(t *testing.T) {
			e := engine.New(conn, engine.Config{Strategy: strategy})
			res, err := e.RangeQuery(ctx, `count_over_time(identity{service="api"}[1m])`, t0.Add(30*time.Second), t0.Add(30*time.Second), 15*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Series) != 1 || len(res.Series[0].Points) != 1 || res.Series[0].Points[0].V != 3 {
				t.Errorf("three rows of one label set: %+v, want one series counting 3 samples", res.Series)
			}
			_, err = e.RangeQuery(ctx, `identity{service="web"}`, t0.Add(15*time.Second), t0.Add(15*time.Second), 15*time.Second)
			if err == nil || !strings.Contains(err.Error(), "two stored series have the same label set") {
				t.Errorf("one label set from two column sets: error %v, want the duplicate series refused", err)
			}
			// A flat sum (the native strategy) reads the label sets.
			res, err = e.RangeQuery(ctx, `sum by (service) (identity{service="api"})`, t0.Add(30*time.Second), t0.Add(30*time.Second), 15*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Series) != 1 || res.Series[0].Points[0].V != 3 {
				t.Errorf("a sum of one series: %+v, want its last value 3", res.Series)
			}
			_, err = e.RangeQuery(ctx, `sum by (service) (identity{service="web"})`, t0.Add(15*time.Second), t0.Add(15*time.Second), 15*time.Second)
			if err == nil || !strings.Contains(err.Error(), "two stored series have the same label set") {
				t.Errorf("a sum over one label set from two column sets: error %v, want the duplicate series refused", err)
			}
		})
	}
}
