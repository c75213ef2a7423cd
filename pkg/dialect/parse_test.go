package dialect

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseAccepts(t *testing.T) {
	accepted := []string{
		`traefik_service_requests_total`,
		`traefik_service_requests_total{code=~"5..", service!="readiness@http", method!~"HEAD|OPTIONS", protocol=""}`,
		`{__name__="up"}`,
		`up offset 5m`,
		`rate(traefik_service_requests_total[5m] offset 1h)`,
		`sum by (service) (rate(traefik_service_requests_total{code=~"5.."}[5m])) / sum by (service) (rate(traefik_service_requests_total[5m]))`,
		`histogram_quantile(0.99, sum by (le, service) (rate(traefik_service_request_duration_seconds_bucket[5m])))`,
		`topk(5, sum without (instance) (irate(x[1m])))`,
		`bottomk(2, x)`,
		`count(up == 0)`,
		`x > bool 1`,
		`x and on (service) y`,
		`x / on (service) group_left (code) y`,
		`x * ignoring (code) group_right y`,
		`x or y unless z`,
		`-x + 2 ^ 3 % 4`,
		`round(x, 0.5)`, `clamp_min(x, -1)`, `clamp_max(x, 10)`, `abs(x)`, `ceil(x)`, `floor(x)`,
		`label_replace(x, "svc", "$1", "service", "(.*)@http")`,
		`vector(1)`, `scalar(sum(x))`, `absent(x{job="a"})`, `time() - x`,
		`sum_over_time(x[5m]) + avg_over_time(x[5m]) + min_over_time(x[5m]) + max_over_time(x[5m]) + count_over_time(x[5m]) + last_over_time(x[5m])`,
		`delta(x[5m]) + idelta(x[5m]) + increase(x[5m])`,
	}
	for _, expr := range accepted {
		if _, err := Parse(expr); err != nil {
			t.Errorf("Parse(%q): %v", expr, err)
		}
	}
}

// Every construct outside the dialect is named, with its position.
func TestParseRejects(t *testing.T) {
	cases := []struct {
		expr    string
		col     int
		message string
	}{
		{``, 1, "empty expression"},
		{`sum(rate(x[5m]) by`, 17, "syntax error"},
		{`rate(x[5m:1m])`, 6, "subqueries"},
		{`x @ 100`, 1, "@ modifier"},
		{`rate(x[5m] @ end())`, 6, "@ modifier"},
		{`predict_linear(x[5m], 60)`, 1, "function predict_linear is not supported"},
		{`quantile(0.9, x)`, 1, "aggregation quantile is not supported"},
		{`count_values("v", x)`, 1, "aggregation count_values is not supported"},
		{`topk(scalar(y), x)`, 6, "parameter of topk must be a number"},
		{`x atan2 y`, 2, "operator atan2 is not supported"},
		{`rate(x[5m+1m])`, 6, "duration arithmetic"},
		{`x offset (1m+1m)`, 1, "duration arithmetic in offset"},
		{`{job="a"}`, 1, "needs a metric name"},
		{`histogram_quantile(scalar(y), x)`, 20, "must be a number literal"},
		{`clamp_min(x, scalar(y))`, 14, "must be a number literal"},
		{`label_replace(x, "", "$1", "a", "(.*)")`, 18, "not a valid label name"},
		{`label_replace(x, "a", "$1", "b", "(")`, 34, "invalid regular expression"},
		{"x +\n  nope(y)", 3, "syntax error"},
	}
	for _, c := range cases {
		t.Run(c.expr, func(t *testing.T) {
			_, err := Parse(c.expr)
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("Parse(%q) = %v, want a *dialect.Error", c.expr, err)
			}
			if !strings.Contains(err.Error(), c.message) {
				t.Errorf("error %q does not say %q", err, c.message)
			}
			if _, col := lineCol(c.expr, de.Pos); col != c.col {
				t.Errorf("error %q at column %d, want %d", err, col, c.col)
			}
		})
	}
}

func TestExpandMacros(t *testing.T) {
	m := Macros{Interval: 30 * time.Second, ScrapeInterval: 15 * time.Second, Range: 6 * time.Hour}
	cases := map[string]string{
		`rate(x[$__rate_interval])`:   `rate(x[1m])`,
		`rate(x[${__rate_interval}])`: `rate(x[1m])`,
		`rate(x[$__interval])`:        `rate(x[30s])`,
		`x / $__interval_ms`:          `x / 30000`,
		`increase(x[$__range])`:       `increase(x[6h])`,
		`x * $__range_s`:              `x * 21600`,
		`x * $__range_ms`:             `x * 21600000`,
		`x{a="$__intervals"}`:         `x{a="30ss"}`,
	}
	for in, want := range cases {
		if got := ExpandMacros(in, m); got != want {
			t.Errorf("ExpandMacros(%q) = %q, want %q", in, got, want)
		}
	}
	small := Macros{Interval: time.Second, ScrapeInterval: 15 * time.Second}
	if got := small.RateInterval(); got != time.Minute {
		t.Errorf("rate interval with a 1s step = %v, want 4 × scrape interval = 1m", got)
	}
}
