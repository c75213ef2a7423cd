// Command clickhouse is an embedded ClickHouse for tests and the docker-less
// demo: chDB (ClickHouse as a library, from the npm package
// @chdb/lib-linux-x64-gnu) behind enough of ClickHouse's HTTP interface for
// clickhouse-go (HTTP protocol) and the OpenTelemetry Collector's clickhouse
// exporter to work against it unchanged.
//
//	go run ./tests/clickhouse --listen 127.0.0.1:0 --data /tmp/ch
//
// The first line on stdout is the address it listens on. It is ready when
// GET /ping answers "Ok.". SIGTERM or SIGINT stop it cleanly.
//
// Exit status: 0 after a clean stop, 2 for bad flags, 3 when libchdb.so is
// not installed, 4 when another process uses the data directory, 1 for
// anything else. Failures print one line to stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/forma3d/meshmetrics/tests/clickhouse/internal/chdb"
	"github.com/forma3d/meshmetrics/tests/clickhouse/internal/server"
)

const (
	exitFailure    = 1
	exitUsage      = 2
	exitNoLibrary  = 3
	exitDataLocked = 4
)

// exitError carries the process exit status with the one-line message.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func main() {
	if err := run(os.Args[1:]); err != nil {
		code := exitFailure
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		fmt.Fprintf(os.Stderr, "meshmetrics-clickhouse: %v\n", err)
		os.Exit(code)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("clickhouse", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8123", "address to serve ClickHouse's HTTP interface on (port 0 picks a free one)")
	data := fs.String("data", "", "data directory (created if missing); one process per directory")
	spoolBase := fs.String("spool", server.DefaultSpoolBase(), "directory for INSERT bodies in transit (a tmpfs is best)")
	if err := fs.Parse(args); err != nil {
		return &exitError{exitUsage, err}
	}
	if *data == "" {
		return &exitError{exitUsage, errors.New("missing --data: expected a data directory, e.g. --data /tmp/meshmetrics-clickhouse")}
	}
	dataDir, err := filepath.Abs(*data)
	if err != nil {
		return &exitError{exitUsage, fmt.Errorf("resolve --data %q: %w", *data, err)}
	}

	lib, err := chdb.Locate(searchStarts()...)
	if err != nil {
		return &exitError{exitNoLibrary, err}
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("create data directory %s: %w", dataDir, err)
	}
	if err := checkDataDirFree(dataDir); err != nil {
		return &exitError{exitDataLocked, err}
	}
	if err := chdb.Load(lib); err != nil {
		return &exitError{exitNoLibrary, fmt.Errorf("%w (is %s a complete libchdb.so? reinstall with `npm ci`)", err, lib)}
	}
	conn, err := chdb.Connect(dataDir)
	if err != nil {
		// A concurrent start can get past checkDataDirFree; chDB then fails
		// with code 76 after printing its own message.
		if checkDataDirFree(dataDir) != nil {
			return &exitError{exitDataLocked, fmt.Errorf("data directory %s is in use by another process (code 76, CANNOT_OPEN_FILE)", dataDir)}
		}
		return err
	}
	defer conn.Close()

	logger := log.New(os.Stderr, "meshmetrics-clickhouse: ", log.LstdFlags)
	srv, err := server.New(conn, *spoolBase, logger)
	if err != nil {
		return err
	}
	defer srv.Close()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	// The address is the first stdout line: callers asking for port 0 read it.
	fmt.Println(ln.Addr().String())
	logger.Printf("ClickHouse %s (chdb) on http://%s, data in %s", srv.Version(), ln.Addr(), dataDir)

	httpServer := &http.Server{Handler: srv, ReadHeaderTimeout: 30 * time.Second}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpServer.Serve(ln) }()

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve http on %s: %w", ln.Addr(), err)
	case sig := <-stop:
		logger.Printf("%v: shutting down", sig)
	}
	// Let running requests finish (chDB cannot interrupt a statement), then
	// close the session so MergeTree parts and metadata are flushed.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := httpServer.Shutdown(ctx); err != nil {
		logger.Printf("shutdown: %v", err)
	}
	return nil
}

// searchStarts are the directories whose parents are searched for
// node_modules: the working directory and the executable's (a binary built
// into the repository, or `go run` started from inside it).
func searchStarts() []string {
	var dirs []string
	if wd, err := os.Getwd(); err == nil {
		dirs = append(dirs, wd)
	}
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Dir(exe))
	}
	return dirs
}

// checkDataDirFree fails when another process holds the lock ClickHouse
// takes on <data>/status, so a second server on the same directory reports
// a clear error instead of chDB's generic refusal.
func checkDataDirFree(dir string) error {
	f, err := os.OpenFile(filepath.Join(dir, "status"), os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open %s/status: %w", dir, err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("data directory %s is in use by another process (code 76, CANNOT_OPEN_FILE): stop it or use another --data", dir)
		}
		return fmt.Errorf("lock %s/status: %w", dir, err)
	}
	return syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
