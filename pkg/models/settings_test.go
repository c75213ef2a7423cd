package models

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

func load(t *testing.T, jsonData string, secure map[string]string) (Settings, error) {
	t.Helper()
	return LoadSettings(backend.DataSourceInstanceSettings{JSONData: []byte(jsonData), DecryptedSecureJSONData: secure})
}

func TestLoadSettingsDefaults(t *testing.T) {
	s, err := load(t, `{"host":"ch.local"}`, nil)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	want := Settings{
		Host: "ch.local", Port: 9000, Protocol: ProtocolNative, Database: "otel", Tables: DefaultTables,
		DialTimeout: 10 * time.Second, QueryTimeout: 60 * time.Second, MaxOpenConns: 10,
		LookbackDelta: 5 * time.Minute, ScrapeInterval: 15 * time.Second, SQLStrategy: StrategyAuto, MaxSeries: 10000,
		ResultCacheTTL: 10 * time.Minute,
	}
	if s != want {
		t.Fatalf("defaults:\n got %+v\nwant %+v", s, want)
	}
}

func TestLoadSettingsValues(t *testing.T) {
	s, err := load(t, `{"host":" ch ","protocol":"HTTP","secure":true,"port":"8444","dialTimeout":"2s",
		"queryTimeout":"30","lookbackDelta":"1m","scrapeInterval":"30s","maxOpenConns":4,"maxSeries":"500","resultCacheTTL":"0s",
		"sqlStrategy":"portable","database":"metrics","sumTable":"sums","username":"grafana"}`,
		map[string]string{"password": "hunter2"})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"host", s.Host, "ch"},
		{"protocol", s.Protocol, ProtocolHTTP},
		{"port", s.Port, 8444},
		{"dialTimeout", s.DialTimeout, 2 * time.Second},
		{"queryTimeout", s.QueryTimeout, 30 * time.Second},
		{"lookbackDelta", s.LookbackDelta, time.Minute},
		{"scrapeInterval", s.ScrapeInterval, 30 * time.Second},
		{"maxOpenConns", s.MaxOpenConns, 4},
		{"maxSeries", s.MaxSeries, 500},
		{"resultCacheTTL (0: off)", s.ResultCacheTTL, time.Duration(0)},
		{"sqlStrategy", s.SQLStrategy, StrategyPortable},
		{"database", s.Database, "metrics"},
		{"sumTable", s.Tables.Sum, "sums"},
		{"gaugeTable", s.Tables.Gauge, DefaultTables.Gauge},
		{"password", s.Secrets.Password, "hunter2"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestDefaultPorts(t *testing.T) {
	cases := map[string]int{
		`{"host":"h"}`:                                 9000,
		`{"host":"h","secure":true}`:                   9440,
		`{"host":"h","protocol":"http"}`:               8123,
		`{"host":"h","protocol":"http","secure":true}`: 8443,
	}
	for js, want := range cases {
		s, err := load(t, js, nil)
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		if s.Port != want {
			t.Errorf("%s: port %d, want %d", js, s.Port, want)
		}
	}
}

// Every invalid value is reported with the name of its setting.
func TestLoadSettingsErrorsNameTheSetting(t *testing.T) {
	cases := []struct {
		name, json string
		secure     map[string]string
		setting    string
		problem    string
	}{
		{"empty", ``, nil, "jsonData.host", "required"},
		{"missing host", `{}`, nil, "jsonData.host", "required"},
		{"host with scheme", `{"host":"http://ch"}`, nil, "jsonData.host", "without scheme"},
		{"malformed json", `{"host":`, nil, "jsonData", "malformed JSON"},
		{"host wrong type", `{"host":42}`, nil, "jsonData.host", "expected a string"},
		{"secure wrong type", `{"host":"h","secure":"yes"}`, nil, "jsonData.secure", "expected a boolean"},
		{"protocol", `{"host":"h","protocol":"grpc"}`, nil, "jsonData.protocol", `got "grpc"`},
		{"port range", `{"host":"h","port":70000}`, nil, "jsonData.port", "1 to 65535"},
		{"port text", `{"host":"h","port":"ninety"}`, nil, "jsonData.port", "whole number"},
		{"database name", `{"host":"h","database":"otel; DROP"}`, nil, "jsonData.database", "letters, digits"},
		{"table name", `{"host":"h","histogramTable":"1abc"}`, nil, "jsonData.histogramTable", "letters, digits"},
		{"dial timeout", `{"host":"h","dialTimeout":"soon"}`, nil, "jsonData.dialTimeout", "duration"},
		{"query timeout too small", `{"host":"h","queryTimeout":"10ms"}`, nil, "jsonData.queryTimeout", "at least"},
		{"lookback", `{"host":"h","lookbackDelta":"-5m"}`, nil, "jsonData.lookbackDelta", "at least"},
		{"result cache ttl", `{"host":"h","resultCacheTTL":"-1m"}`, nil, "jsonData.resultCacheTTL", "at least"},
		{"result cache ttl not a duration", `{"host":"h","resultCacheTTL":"soon"}`, nil, "jsonData.resultCacheTTL", "expected a duration"},
		{"scrape interval", `{"host":"h","scrapeInterval":"x"}`, nil, "jsonData.scrapeInterval", "duration"},
		{"max open conns", `{"host":"h","maxOpenConns":0}`, nil, "jsonData.maxOpenConns", "1 to 1000"},
		{"max series", `{"host":"h","maxSeries":2000000}`, nil, "jsonData.maxSeries", "1 to 1000000"},
		{"strategy", `{"host":"h","sqlStrategy":"fast"}`, nil, "jsonData.sqlStrategy", `got "fast"`},
		{"ca without secure", `{"host":"h","tlsAuthWithCACert":true}`, nil, "jsonData.secure", "must be true"},
		{"ca missing", `{"host":"h","secure":true,"tlsAuthWithCACert":true}`, nil, "secureJsonData.tlsCACert", "required"},
		{"client key missing", `{"host":"h","secure":true,"tlsAuth":true}`, map[string]string{"tlsClientCert": "x"}, "secureJsonData.tlsClientKey", "required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := load(t, c.json, c.secure)
			var se *SettingError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T), want a *SettingError", err, err)
			}
			if se.Setting != c.setting {
				t.Errorf("setting %q, want %q (error: %v)", se.Setting, c.setting, err)
			}
			if !strings.Contains(err.Error(), c.problem) {
				t.Errorf("error %q does not mention %q", err, c.problem)
			}
		})
	}
}

func TestSecretsNeverInErrors(t *testing.T) {
	_, err := load(t, `{"host":"h","secure":true,"tlsAuth":true}`, map[string]string{"tlsClientCert": "SECRETCERT", "password": "SECRETPW"})
	if err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("error %v: want an error that quotes no secret", err)
	}
}
