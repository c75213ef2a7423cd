package main

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/common/model"

	"github.com/forma3d/meshmetrics/pkg/engine"
)

// parseTime reads Unix seconds (fractions allowed) or RFC 3339, as the
// Prometheus API does.
func parseTime(flagName, s string) (time.Time, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: expected Unix seconds or RFC 3339, got %q", flagName, s)
	}
	return t, nil
}

// parseDuration reads a PromQL duration (5m, 1h30m) or seconds (15).
func parseDuration(flagName, s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := model.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s: expected a duration such as 15s or 1m, got %q", flagName, s)
	}
	return time.Duration(d), nil
}

// connect opens clickhouse-go for a URL: http(s) speaks HTTP,
// clickhouse(s) the native protocol.
func connect(raw, database, user, password string, timeout time.Duration) (driver.Conn, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("--url: expected http://HOST:PORT, got %q", raw)
	}
	opts := &clickhouse.Options{
		Addr:        []string{u.Host},
		Auth:        clickhouse.Auth{Database: database, Username: user, Password: password},
		DialTimeout: 10 * time.Second,
		ReadTimeout: timeout,
		Settings:    clickhouse.Settings{"max_execution_time": max(1, int(timeout.Seconds()))},
	}
	switch strings.ToLower(u.Scheme) {
	case "http":
		opts.Protocol = clickhouse.HTTP
	case "https":
		opts.Protocol, opts.TLS = clickhouse.HTTP, &tls.Config{MinVersion: tls.VersionTLS12}
	case "clickhouse", "tcp":
		opts.Protocol = clickhouse.Native
	case "clickhouses":
		opts.Protocol, opts.TLS = clickhouse.Native, &tls.Config{MinVersion: tls.VersionTLS12}
	default:
		return nil, fmt.Errorf("--url: scheme %q is not one of http, https, clickhouse, clickhouses", u.Scheme)
	}
	return clickhouse.Open(opts)
}

// apiResponse shapes a result as the Prometheus HTTP API's query answer.
func apiResponse(res *engine.Result) map[string]any {
	var result any
	switch res.Type {
	case engine.ValueScalar:
		p := res.Series[0].Points
		if len(p) > 0 {
			result = samplePair(p[0])
		}
	case engine.ValueVector:
		out := []map[string]any{}
		for _, s := range res.Series {
			out = append(out, map[string]any{"metric": labelMap(s.Labels), "value": samplePair(s.Points[0])})
		}
		result = out
	default:
		out := []map[string]any{}
		for _, s := range res.Series {
			values := make([][2]any, len(s.Points))
			for i, p := range s.Points {
				values[i] = samplePair(p)
			}
			out = append(out, map[string]any{"metric": labelMap(s.Labels), "values": values})
		}
		result = out
	}
	return map[string]any{"status": "success", "data": map[string]any{"resultType": string(res.Type), "result": result}}
}

func labelMap(ls engine.Labels) map[string]string {
	m := make(map[string]string, len(ls))
	for _, l := range ls {
		m[l.Name] = l.Value
	}
	return m
}

// samplePair is [unix seconds, "value"] with the value formatted as
// Prometheus formats it (NaN, +Inf, shortest decimal).
func samplePair(p engine.Point) [2]any {
	ts := json.Number(strconv.FormatFloat(float64(p.T.UnixMilli())/1000, 'f', -1, 64))
	return [2]any{ts, formatValue(p.V)}
}

func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
