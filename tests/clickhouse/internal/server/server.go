// Package server implements the part of ClickHouse's HTTP interface that
// clickhouse-go (HTTP protocol) and the OpenTelemetry Collector's clickhouse
// exporter use, on top of an embedded chDB session.
package server

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/forma3d/meshmetrics/tests/clickhouse/internal/chdb"
)

// Server answers HTTP requests with one chDB session.
type Server struct {
	conn *chdb.Conn
	log  *log.Logger
	// spoolDir receives INSERT bodies before chDB reads them from there.
	spoolDir string
	spoolSeq atomic.Uint64

	// exec serializes everything that touches the chDB session: chDB runs
	// one statement at a time, and a request's settings must stay in place
	// for exactly its own statement.
	exec    sync.Mutex
	session *session

	version     string
	displayName string
	timezone    string
}

// New prepares a server on an open chDB connection. spoolBase is where a
// private directory for INSERT bodies is created; prefer a tmpfs such as
// /dev/shm so bodies never touch a disk.
func New(conn *chdb.Conn, spoolBase string, logger *log.Logger) (*Server, error) {
	sess, err := newSession(conn)
	if err != nil {
		return nil, err
	}
	info, err := queryPairs(conn, "SELECT version(), concat(displayName(), '\t', timezone())")
	if err != nil || len(info) != 1 {
		return nil, fmt.Errorf("read server version from chdb: %v", err)
	}
	display, tz, _ := strings.Cut(info[0][1], "\t")
	dir, err := os.MkdirTemp(spoolBase, "meshmetrics-clickhouse-")
	if err != nil {
		return nil, fmt.Errorf("create insert spool directory under %s: %w", spoolBase, err)
	}
	return &Server{
		conn:        conn,
		log:         logger,
		spoolDir:    dir,
		session:     sess,
		version:     info[0][0],
		displayName: display,
		timezone:    tz,
	}, nil
}

// Version is the engine's ClickHouse version, e.g. "26.5.1.1".
func (s *Server) Version() string { return s.version }

// Close removes the spool directory. The chDB connection is the caller's.
func (s *Server) Close() error {
	return os.RemoveAll(s.spoolDir)
}

// spoolPath returns a fresh file name for one INSERT body.
func (s *Server) spoolPath() string {
	return filepath.Join(s.spoolDir, fmt.Sprintf("insert-%d.bin", s.spoolSeq.Add(1)))
}

// DefaultSpoolBase is /dev/shm when it is a writable directory, else the
// system temporary directory.
func DefaultSpoolBase() string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if f, err := os.CreateTemp("/dev/shm", ".meshmetrics-probe-"); err == nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
			return "/dev/shm"
		}
	}
	return os.TempDir()
}
