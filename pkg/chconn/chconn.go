// Package chconn opens the ClickHouse connection pool of one datasource
// instance from its validated settings.
package chconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/forma3d/meshmetrics/pkg/models"
)

// Open builds a clickhouse-go pool. It does not dial: the first query or
// Ping does, so a datasource with an unreachable server still loads and its
// health check can say what is wrong.
func Open(s models.Settings) (driver.Conn, error) {
	opts, err := Options(s)
	if err != nil {
		return nil, err
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open clickhouse connection to %s: %w", opts.Addr[0], err)
	}
	return conn, nil
}

// Options translates settings into clickhouse-go options.
func Options(s models.Settings) (*clickhouse.Options, error) {
	opts := &clickhouse.Options{
		Addr: []string{net.JoinHostPort(s.Host, strconv.Itoa(s.Port))},
		Auth: clickhouse.Auth{
			Database: s.Database,
			Username: s.Username,
			Password: s.Secrets.Password,
		},
		Protocol:    clickhouse.Native,
		DialTimeout: s.DialTimeout,
		// The server stops a statement at the query timeout
		// (max_execution_time); the client waits a little longer so a
		// statement queued on a busy server gets the server's answer.
		ReadTimeout:  s.QueryTimeout + 5*time.Second,
		MaxOpenConns: s.MaxOpenConns,
		MaxIdleConns: min(s.MaxOpenConns, 5),
		ClientInfo: clickhouse.ClientInfo{
			Products: []struct{ Name, Version string }{{Name: "forma3d-meshmetrics-datasource", Version: "1"}},
		},
		Settings: clickhouse.Settings{
			// The server stops a query that Grafana has long given up on;
			// ClickHouse takes whole seconds.
			"max_execution_time": max(1, int(s.QueryTimeout.Seconds())),
		},
		Compression: &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
	}
	if s.Protocol == models.ProtocolHTTP {
		opts.Protocol = clickhouse.HTTP
	}
	if s.Secure {
		tlsCfg, err := tlsConfig(s)
		if err != nil {
			return nil, err
		}
		opts.TLS = tlsCfg
	}
	return opts, nil
}

func tlsConfig(s models.Settings) (*tls.Config, error) {
	cfg := &tls.Config{
		ServerName:         s.Host,
		InsecureSkipVerify: s.TLSSkipVerify, //nolint:gosec // the user's explicit choice, shown as a warning in the config editor
		MinVersion:         tls.VersionTLS12,
	}
	if s.Secrets.TLSCACert != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(s.Secrets.TLSCACert)) {
			return nil, &models.SettingError{Setting: "secureJsonData.tlsCACert", Problem: "expected a PEM-encoded certificate"}
		}
		cfg.RootCAs = pool
	}
	if s.Secrets.TLSClientCert != "" || s.Secrets.TLSClientKey != "" {
		cert, err := tls.X509KeyPair([]byte(s.Secrets.TLSClientCert), []byte(s.Secrets.TLSClientKey))
		if err != nil {
			// The parse error can quote key material: say only which pair failed.
			return nil, &models.SettingError{Setting: "secureJsonData.tlsClientCert", Problem: "client certificate and key are not a valid PEM pair"}
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// ServerVersion asks the server for its version, dialling if needed.
func ServerVersion(ctx context.Context, conn driver.Conn) (*driver.ServerVersion, error) {
	if err := conn.Ping(ctx); err != nil {
		return nil, err
	}
	return conn.ServerVersion()
}

// Describe turns a connection or query error into one sentence for a user,
// without echoing credentials.
func Describe(err error, s models.Settings) string {
	return Redact(describe(err, s), s)
}

// Redact removes every secret of s from msg: drivers and servers sometimes
// quote what they were given.
func Redact(msg string, s models.Settings) string {
	for _, secret := range []string{s.Secrets.Password, s.Secrets.TLSClientKey, s.Secrets.TLSClientCert, s.Secrets.TLSCACert} {
		if len(secret) >= 3 {
			msg = strings.ReplaceAll(msg, secret, "[redacted]")
		}
	}
	return msg
}

func describe(err error, s models.Settings) string {
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		switch ex.Code {
		case 516, 192, 193, 194:
			return fmt.Sprintf("clickhouse rejected the credentials of user %q (code %d): check jsonData.username and secureJsonData.password", s.Username, ex.Code)
		case 81:
			return fmt.Sprintf("database %q does not exist on the server (code 81): check jsonData.database or let the collector's exporter create it", s.Database)
		}
		return fmt.Sprintf("clickhouse error %d: %s", ex.Code, ex.Message)
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return fmt.Sprintf("cannot reach clickhouse at %s (%s): check jsonData.host, jsonData.port and jsonData.protocol", net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), opErr.Err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("clickhouse at %s did not answer within %s (jsonData.dialTimeout)", net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), s.DialTimeout)
	}
	return "clickhouse: " + err.Error()
}
