package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/forma3d/meshmetrics/tests/clickhouse/chtest"
)

// One server is shared by the tests that do not need their own: loading the
// 559 MB engine takes seconds. Each test works in its own database.
var shared struct {
	once sync.Once
	srv  *chtest.Server
	dir  string
	err  error
}

func sharedServer(t testing.TB) *chtest.Server {
	t.Helper()
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "meshmetrics-clickhouse-shared-")
		if shared.err == nil {
			shared.srv, shared.err = chtest.Launch(chtest.Options{DataDir: shared.dir})
		}
	})
	if shared.err != nil {
		t.Fatalf("start shared embedded clickhouse: %v", shared.err)
	}
	return shared.srv
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.srv != nil {
		if err := shared.srv.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stop shared embedded clickhouse: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
	closeDirect()
	os.Exit(code)
}

var nonIdent = regexp.MustCompile(`[^a-z0-9_]+`)

// testDatabase creates a database named after the test and drops it at
// cleanup, so tests sharing a server do not see each other's tables.
func testDatabase(t *testing.T, srv *chtest.Server) string {
	t.Helper()
	name := "t_" + nonIdent.ReplaceAllString(strings.ToLower(t.Name()), "_")
	conn := openConn(t, srv, "default", nil, nil)
	ctx := context.Background()
	must(t, conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name))
	must(t, conn.Exec(ctx, "CREATE DATABASE "+name))
	t.Cleanup(func() {
		if err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return name
}

// openConn opens clickhouse-go over HTTP, closed at cleanup.
func openConn(t testing.TB, srv *chtest.Server, database string, comp *clickhouse.Compression, settings clickhouse.Settings) driver.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{srv.Addr},
		Protocol:    clickhouse.HTTP,
		Auth:        clickhouse.Auth{Database: database},
		Compression: comp,
		Settings:    settings,
		DialTimeout: 10 * time.Second,
		ReadTimeout: 2 * time.Minute,
	})
	if err != nil {
		t.Fatalf("open clickhouse-go (HTTP) to %s: %v", srv.Addr, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
