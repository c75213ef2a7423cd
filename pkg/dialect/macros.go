// Package dialect parses the plugin's PromQL dialect: Grafana's interval
// macros are resolved, the expression is parsed with Prometheus' own parser,
// and every construct outside the dialect is rejected with its position.
package dialect

import (
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// Macros are the values Grafana's interval variables take for one query.
type Macros struct {
	// Interval is $__interval: the panel's step.
	Interval time.Duration
	// ScrapeInterval drives $__rate_interval, as in Grafana's Prometheus
	// datasource: max($__interval + scrape interval, 4 × scrape interval).
	ScrapeInterval time.Duration
	// Range is $__range: the dashboard's time range.
	Range time.Duration
}

// RateInterval is Grafana's $__rate_interval for these values.
func (m Macros) RateInterval() time.Duration {
	return max(m.Interval+m.ScrapeInterval, 4*m.ScrapeInterval)
}

// ExpandMacros replaces Grafana's interval variables with durations PromQL
// accepts. Longer names are replaced first so that $__interval_ms is not read
// as $__interval followed by "_ms"; the ${…} forms are accepted too.
func ExpandMacros(expr string, m Macros) string {
	rangeSecs := int64(m.Range / time.Second)
	pairs := []struct{ name, value string }{
		{"__rate_interval_ms", strconv.FormatInt(m.RateInterval().Milliseconds(), 10)},
		{"__rate_interval", promDuration(m.RateInterval())},
		{"__interval_ms", strconv.FormatInt(m.Interval.Milliseconds(), 10)},
		{"__interval", promDuration(m.Interval)},
		{"__range_ms", strconv.FormatInt(m.Range.Milliseconds(), 10)},
		{"__range_s", strconv.FormatInt(rangeSecs, 10)},
		{"__range", promDuration(m.Range)},
	}
	var oldnew []string
	for _, p := range pairs {
		oldnew = append(oldnew, "${"+p.name+"}", p.value, "$"+p.name, p.value)
	}
	return strings.NewReplacer(oldnew...).Replace(expr)
}

// promDuration renders d as a PromQL duration; zero becomes "1ms" rather
// than "0s", which PromQL rejects in range selectors.
func promDuration(d time.Duration) string {
	if d <= 0 {
		d = time.Millisecond
	}
	return model.Duration(d.Round(time.Millisecond)).String()
}
