// Package models holds the datasource's settings and query model: what Grafana
// stores for a Mesh Metrics datasource and what a panel sends with a query.
package models

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// Protocols a ClickHouse connection can speak.
const (
	ProtocolNative = "native"
	ProtocolHTTP   = "http"
)

// SQL strategies: "auto" picks from the server version.
const (
	StrategyAuto     = "auto"
	StrategyNative   = "native"
	StrategyPortable = "portable"
)

// Settings is a datasource instance's configuration, validated and with
// defaults applied. Durations are parsed; secrets come from secureJsonData.
type Settings struct {
	Host          string
	Port          int
	Protocol      string
	Secure        bool
	TLSSkipVerify bool
	Username      string
	Database      string

	Tables MetricTables

	DialTimeout    time.Duration
	QueryTimeout   time.Duration
	MaxOpenConns   int
	LookbackDelta  time.Duration
	ScrapeInterval time.Duration
	SQLStrategy    string
	MaxSeries      int
	// ResultCacheTTL is how long the plugin reuses the past of a range
	// answer (0: never); every answer reflects rows stored longer ago.
	ResultCacheTTL time.Duration

	Secrets Secrets
}

// MetricTables names the clickhouse exporter's per-type tables.
type MetricTables struct {
	Sum                  string
	Gauge                string
	Histogram            string
	Summary              string
	ExponentialHistogram string
}

// Secrets come from secureJsonData and must never be logged or echoed.
type Secrets struct {
	Password      string
	TLSCACert     string
	TLSClientCert string
	TLSClientKey  string
}

// Defaults are the clickhouse exporter's defaults (database, tables) and
// Prometheus' (lookback delta, 11,000 points, a 15 s scrape).
const (
	DefaultDatabase       = "otel"
	DefaultDialTimeout    = 10 * time.Second
	DefaultQueryTimeout   = 60 * time.Second
	DefaultMaxOpenConns   = 10
	DefaultLookbackDelta  = 5 * time.Minute
	DefaultScrapeInterval = 15 * time.Second
	DefaultMaxSeries      = 10000
	DefaultResultCacheTTL = 10 * time.Minute
)

// DefaultTables are the table names the clickhouse exporter creates.
var DefaultTables = MetricTables{
	Sum:                  "otel_metrics_sum",
	Gauge:                "otel_metrics_gauge",
	Histogram:            "otel_metrics_histogram",
	Summary:              "otel_metrics_summary",
	ExponentialHistogram: "otel_metrics_exponential_histogram",
}

// SettingError names the setting that is wrong, as the config editor labels
// it (jsonData.<field> or secureJsonData.<field>).
type SettingError struct {
	Setting string
	Problem string
}

func (e *SettingError) Error() string {
	return fmt.Sprintf("setting %s: %s", e.Setting, e.Problem)
}

// jsonSettings mirrors jsonData as the config editor writes it.
type jsonSettings struct {
	Host           string          `json:"host"`
	Port           json.RawMessage `json:"port"`
	Protocol       string          `json:"protocol"`
	Secure         bool            `json:"secure"`
	TLSSkipVerify  bool            `json:"tlsSkipVerify"`
	TLSAuthWithCA  bool            `json:"tlsAuthWithCACert"`
	TLSClientAuth  bool            `json:"tlsAuth"`
	Username       string          `json:"username"`
	Database       string          `json:"database"`
	SumTable       string          `json:"sumTable"`
	GaugeTable     string          `json:"gaugeTable"`
	HistogramTable string          `json:"histogramTable"`
	SummaryTable   string          `json:"summaryTable"`
	ExpHistTable   string          `json:"exponentialHistogramTable"`
	DialTimeout    string          `json:"dialTimeout"`
	QueryTimeout   string          `json:"queryTimeout"`
	MaxOpenConns   json.RawMessage `json:"maxOpenConns"`
	LookbackDelta  string          `json:"lookbackDelta"`
	ScrapeInterval string          `json:"scrapeInterval"`
	SQLStrategy    string          `json:"sqlStrategy"`
	MaxSeries      json.RawMessage `json:"maxSeries"`
	ResultCacheTTL string          `json:"resultCacheTTL"`
}

// wholeNumber reads a setting written as a JSON number or a numeric string
// (Grafana's provisioning turns ${ENV} values into strings). ok is false when
// the setting is absent or null.
func wholeNumber(raw json.RawMessage, setting string) (n int, ok bool, err error) {
	text := strings.TrimSpace(string(raw))
	if text == "" || text == "null" {
		return 0, false, nil
	}
	if unquoted, uerr := strconv.Unquote(text); uerr == nil {
		text = strings.TrimSpace(unquoted)
		if text == "" {
			return 0, false, nil
		}
	}
	n, err = strconv.Atoi(text)
	if err != nil {
		return 0, false, &SettingError{setting, fmt.Sprintf("expected a whole number, got %s", raw)}
	}
	return n, true, nil
}

// LoadSettings decodes and validates a datasource's settings. The first
// problem found is returned as a *SettingError naming its field.
func LoadSettings(src backend.DataSourceInstanceSettings) (Settings, error) {
	var js jsonSettings
	if len(bytes.TrimSpace(src.JSONData)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(src.JSONData))
		if err := dec.Decode(&js); err != nil {
			return Settings{}, jsonDecodeError(err)
		}
	}
	return js.validate(src.DecryptedSecureJSONData)
}

func jsonDecodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return &SettingError{
			Setting: "jsonData." + typeErr.Field,
			Problem: fmt.Sprintf("expected a %s, got a JSON %s", jsonKind(typeErr.Type.Kind()), typeErr.Value),
		}
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return &SettingError{
			Setting: "jsonData",
			Problem: fmt.Sprintf("malformed JSON at byte %d: %v", syntaxErr.Offset, err),
		}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return &SettingError{Setting: "jsonData", Problem: "malformed JSON: it ends before the object is complete"}
	}
	return &SettingError{Setting: "jsonData", Problem: "malformed JSON: " + err.Error()}
}

// jsonKind names a Go kind the way the JSON in jsonData would spell it.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		return "string"
	case reflect.Int, reflect.Int64, reflect.Float64:
		return "number"
	default:
		return k.String()
	}
}

func (js jsonSettings) validate(secure map[string]string) (Settings, error) {
	s := Settings{
		Host:          strings.TrimSpace(js.Host),
		Protocol:      strings.ToLower(strings.TrimSpace(js.Protocol)),
		Secure:        js.Secure,
		TLSSkipVerify: js.TLSSkipVerify,
		Username:      js.Username,
		Database:      orDefault(js.Database, DefaultDatabase),
		Tables: MetricTables{
			Sum:                  orDefault(js.SumTable, DefaultTables.Sum),
			Gauge:                orDefault(js.GaugeTable, DefaultTables.Gauge),
			Histogram:            orDefault(js.HistogramTable, DefaultTables.Histogram),
			Summary:              orDefault(js.SummaryTable, DefaultTables.Summary),
			ExponentialHistogram: orDefault(js.ExpHistTable, DefaultTables.ExponentialHistogram),
		},
		SQLStrategy: strings.ToLower(orDefault(js.SQLStrategy, StrategyAuto)),
		Secrets: Secrets{
			Password:      secure["password"],
			TLSCACert:     secure["tlsCACert"],
			TLSClientCert: secure["tlsClientCert"],
			TLSClientKey:  secure["tlsClientKey"],
		},
	}
	if s.Host == "" {
		return Settings{}, &SettingError{"jsonData.host", "required: the ClickHouse server's host name or IP address"}
	}
	if strings.ContainsAny(s.Host, "/ ") {
		return Settings{}, &SettingError{"jsonData.host", fmt.Sprintf("expected a host name or IP address without scheme, path or spaces, got %q", s.Host)}
	}
	if s.Protocol == "" {
		s.Protocol = ProtocolNative
	}
	if s.Protocol != ProtocolNative && s.Protocol != ProtocolHTTP {
		return Settings{}, &SettingError{"jsonData.protocol", fmt.Sprintf("expected %q or %q, got %q", ProtocolNative, ProtocolHTTP, js.Protocol)}
	}
	s.Port = defaultPort(s.Protocol, s.Secure)
	port, set, err := wholeNumber(js.Port, "jsonData.port")
	if err != nil {
		return Settings{}, err
	}
	if set {
		if port < 1 || port > 65535 {
			return Settings{}, &SettingError{"jsonData.port", fmt.Sprintf("expected a port from 1 to 65535, got %d", port)}
		}
		s.Port = port
	}
	if err := s.validateTLS(js); err != nil {
		return Settings{}, err
	}
	if err := s.validateNames(); err != nil {
		return Settings{}, err
	}
	if err := s.parseDurations(js); err != nil {
		return Settings{}, err
	}
	if err := s.parseLimits(js); err != nil {
		return Settings{}, err
	}
	switch s.SQLStrategy {
	case StrategyAuto, StrategyNative, StrategyPortable:
	default:
		return Settings{}, &SettingError{"jsonData.sqlStrategy", fmt.Sprintf("expected %q, %q or %q, got %q", StrategyAuto, StrategyNative, StrategyPortable, js.SQLStrategy)}
	}
	return s, nil
}

// defaultPort is ClickHouse's default for each protocol, plain and TLS.
func defaultPort(protocol string, secure bool) int {
	switch {
	case protocol == ProtocolHTTP && secure:
		return 8443
	case protocol == ProtocolHTTP:
		return 8123
	case secure:
		return 9440
	default:
		return 9000
	}
}

func (s *Settings) validateTLS(js jsonSettings) error {
	if !s.Secure {
		if js.TLSAuthWithCA || js.TLSClientAuth {
			return &SettingError{"jsonData.secure", "must be true when a CA certificate or client certificate is configured"}
		}
		return nil
	}
	if js.TLSAuthWithCA && strings.TrimSpace(s.Secrets.TLSCACert) == "" {
		return &SettingError{"secureJsonData.tlsCACert", "required when tlsAuthWithCACert is true"}
	}
	if js.TLSClientAuth {
		if strings.TrimSpace(s.Secrets.TLSClientCert) == "" {
			return &SettingError{"secureJsonData.tlsClientCert", "required when tlsAuth is true"}
		}
		if strings.TrimSpace(s.Secrets.TLSClientKey) == "" {
			return &SettingError{"secureJsonData.tlsClientKey", "required when tlsAuth is true"}
		}
	}
	if !js.TLSAuthWithCA {
		s.Secrets.TLSCACert = ""
	}
	if !js.TLSClientAuth {
		s.Secrets.TLSClientCert, s.Secrets.TLSClientKey = "", ""
	}
	return nil
}

// validateNames keeps database and table names to ClickHouse's plain
// identifier alphabet; they are quoted in SQL as well, but a name outside it
// is almost always a typo worth reporting here rather than as a SQL error.
func (s *Settings) validateNames() error {
	names := []struct{ setting, value string }{
		{"jsonData.database", s.Database},
		{"jsonData.sumTable", s.Tables.Sum},
		{"jsonData.gaugeTable", s.Tables.Gauge},
		{"jsonData.histogramTable", s.Tables.Histogram},
		{"jsonData.summaryTable", s.Tables.Summary},
		{"jsonData.exponentialHistogramTable", s.Tables.ExponentialHistogram},
	}
	for _, n := range names {
		if !isIdentifier(n.value) {
			return &SettingError{n.setting, fmt.Sprintf("expected a name of letters, digits and underscores not starting with a digit, got %q", n.value)}
		}
	}
	return nil
}

func isIdentifier(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

func (s *Settings) parseDurations(js jsonSettings) error {
	fields := []struct {
		setting string
		raw     string
		def     time.Duration
		min     time.Duration
		dst     *time.Duration
	}{
		{"jsonData.dialTimeout", js.DialTimeout, DefaultDialTimeout, 100 * time.Millisecond, &s.DialTimeout},
		{"jsonData.queryTimeout", js.QueryTimeout, DefaultQueryTimeout, time.Second, &s.QueryTimeout},
		{"jsonData.lookbackDelta", js.LookbackDelta, DefaultLookbackDelta, time.Second, &s.LookbackDelta},
		{"jsonData.scrapeInterval", js.ScrapeInterval, DefaultScrapeInterval, time.Second, &s.ScrapeInterval},
		{"jsonData.resultCacheTTL", js.ResultCacheTTL, DefaultResultCacheTTL, 0, &s.ResultCacheTTL},
	}
	for _, f := range fields {
		d, err := parseDuration(f.raw, f.def)
		if err != nil {
			return &SettingError{f.setting, err.Error()}
		}
		if d < f.min {
			return &SettingError{f.setting, fmt.Sprintf("must be at least %s, got %q", f.min, f.raw)}
		}
		*f.dst = d
	}
	return nil
}

// parseDuration accepts Go durations ("90s", "1m30s") and, like Grafana's
// ClickHouse datasource, a bare number of seconds ("30").
func parseDuration(raw string, def time.Duration) (time.Duration, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return def, nil
	}
	if d, err := time.ParseDuration(raw); err == nil {
		return d, nil
	}
	if secs, err := strconv.ParseFloat(raw, 64); err == nil && secs > 0 && secs < 1e9 {
		return time.Duration(secs * float64(time.Second)), nil
	}
	return 0, fmt.Errorf("expected a duration such as \"30s\" or \"5m\", got %q", raw)
}

func (s *Settings) parseLimits(js jsonSettings) error {
	limits := []struct {
		setting  string
		raw      json.RawMessage
		def, max int
		dst      *int
	}{
		{"jsonData.maxOpenConns", js.MaxOpenConns, DefaultMaxOpenConns, 1000, &s.MaxOpenConns},
		{"jsonData.maxSeries", js.MaxSeries, DefaultMaxSeries, 1_000_000, &s.MaxSeries},
	}
	for _, l := range limits {
		n, set, err := wholeNumber(l.raw, l.setting)
		if err != nil {
			return err
		}
		if !set {
			*l.dst = l.def
			continue
		}
		if n < 1 || n > l.max {
			return &SettingError{l.setting, fmt.Sprintf("expected a number from 1 to %d, got %d", l.max, n)}
		}
		*l.dst = n
	}
	return nil
}

func orDefault(v, def string) string {
	if strings.TrimSpace(v) == "" {
		return def
	}
	return strings.TrimSpace(v)
}
