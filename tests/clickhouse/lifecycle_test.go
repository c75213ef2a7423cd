package main

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/forma3d/meshmetrics/tests/clickhouse/chtest"
)

// TestRestartKeepsDataAndTTL checks persistence across a clean stop
// (SIGTERM) and the TTL DDL the exporter's ttl option relies on.
func TestRestartKeepsDataAndTTL(t *testing.T) {
	srv := chtest.Start(t)
	conn := openConn(t, srv, "default", nil, nil)
	ctx := context.Background()
	must(t, conn.Exec(ctx, "CREATE DATABASE otel"))
	must(t, conn.Exec(ctx, `CREATE TABLE otel.points (TimeUnix DateTime64(9), MetricName LowCardinality(String), Value Float64)
		ENGINE = MergeTree PARTITION BY toDate(TimeUnix) ORDER BY (MetricName, TimeUnix)`))
	must(t, conn.Exec(ctx, "INSERT INTO otel.points SELECT now64(9) - number, concat('m', toString(number % 4)), number FROM numbers(10000)"))
	must(t, conn.Exec(ctx, "ALTER TABLE otel.points MODIFY TTL toDateTime(TimeUnix) + INTERVAL 90 DAY"))

	pid := srv.PID()
	if err := srv.Restart(); err != nil {
		t.Fatalf("restart on %s: %v", srv.DataDir, err)
	}
	if srv.PID() == pid {
		t.Fatalf("restart kept pid %d; want a new process", pid)
	}
	conn = openConn(t, srv, "default", nil, nil)
	var n uint64
	var sum float64
	must(t, conn.QueryRow(ctx, "SELECT count(), sum(Value) FROM otel.points").Scan(&n, &sum))
	if n != 10000 || sum != 49995000 {
		t.Fatalf("after restart: %d rows summing to %v, want 10000 rows summing to 49995000", n, sum)
	}
	var create, engineFull string
	must(t, conn.QueryRow(ctx, "SHOW CREATE TABLE otel.points").Scan(&create))
	must(t, conn.QueryRow(ctx, "SELECT engine_full FROM system.tables WHERE database = 'otel' AND name = 'points'").Scan(&engineFull))
	const ttl = "TTL toDateTime(TimeUnix) + toIntervalDay(90)"
	if !strings.Contains(create, ttl) || !strings.Contains(engineFull, ttl) {
		t.Fatalf("TTL missing after restart:\nSHOW CREATE TABLE: %s\nsystem.tables.engine_full: %s\nwant both to contain %q", create, engineFull, ttl)
	}
}

// runServerBinary runs the built server with extra environment and returns
// its exit code and stderr; it must exit by itself within a minute.
func runServerBinary(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	bin, root, err := chtest.Binary()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = root
	cmd.Env = append(cmd.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %v did not exit within a minute (stderr %q)", bin, args, stderr.String())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run %s: %v", bin, err)
	}
	if stdout.Len() != 0 {
		t.Errorf("server printed %q on stdout before failing; want nothing", stdout.String())
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}

func TestMissingLibrary(t *testing.T) {
	for name, libPath := range map[string]string{
		"missing file": "/nonexistent/libchdb.so",
		"empty dir":    t.TempDir(),
	} {
		t.Run(name, func(t *testing.T) {
			code, stderr := runServerBinary(t, []string{"CHDB_LIB_PATH=" + libPath}, "--listen", "127.0.0.1:0", "--data", t.TempDir())
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if code != 3 || len(lines) != 1 || !strings.Contains(stderr, "npm ci") || !strings.Contains(stderr, libPath) {
				t.Fatalf("exit %d, stderr %q; want exit 3 and one line naming %s and telling to run `npm ci`", code, stderr, libPath)
			}
		})
	}
	t.Run("chtest reports it", func(t *testing.T) {
		_, err := chtest.Launch(chtest.Options{DataDir: t.TempDir(), Env: []string{"CHDB_LIB_PATH=/nonexistent/libchdb.so"}})
		if err == nil || !strings.Contains(err.Error(), "npm ci") {
			t.Fatalf("Launch error %v, want one that tells to run `npm ci`", err)
		}
	})
}

func TestDataDirectoryInUse(t *testing.T) {
	srv := chtest.Start(t)
	code, stderr := runServerBinary(t, nil, "--listen", "127.0.0.1:0", "--data", srv.DataDir)
	if code != 4 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, "code 76") || !strings.Contains(stderr, srv.DataDir) {
		t.Fatalf("second server on %s: exit %d, stderr %q; want exit 4 and one line with code 76 naming the directory", srv.DataDir, code, stderr)
	}
	// The first one is unaffected.
	must(t, openConn(t, srv, "default", nil, nil).Ping(context.Background()))
}

func TestBadFlags(t *testing.T) {
	code, stderr := runServerBinary(t, nil, "--listen", "127.0.0.1:0")
	if code != 2 || !strings.Contains(stderr, "--data") {
		t.Fatalf("without --data: exit %d, stderr %q; want exit 2 and a message about --data", code, stderr)
	}
}
