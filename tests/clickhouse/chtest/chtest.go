// Package chtest starts the embedded ClickHouse (./tests/clickhouse) for
// tests anywhere in the repository:
//
//	srv := chtest.Start(t)                 // temp data dir, free port, stopped at cleanup
//	conn, _ := clickhouse.Open(&clickhouse.Options{Addr: []string{srv.Addr}, Protocol: clickhouse.HTTP})
//
// The server binary is built once per test process. The engine library
// comes from `npm ci` (node_modules/@chdb/lib-linux-x64-gnu); when it is
// missing, Start fails the test with the server's one-line explanation.
package chtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Options configure Launch.
type Options struct {
	// DataDir is the server's --data directory. Required for Launch; Start
	// uses t.TempDir() when empty.
	DataDir string
	// Listen is the --listen address; default 127.0.0.1:0 (a free port).
	Listen string
	// Env is added to the server's environment (e.g. CHDB_LIB_PATH=...).
	Env []string
	// StartTimeout bounds building and startup; default 2 minutes.
	StartTimeout time.Duration
	// StopTimeout is how long Stop waits after SIGTERM before SIGKILL;
	// default 30 seconds.
	StopTimeout time.Duration
}

// Server is one running embedded ClickHouse process.
type Server struct {
	// Addr is host:port of its HTTP interface.
	Addr string
	// DataDir is its data directory.
	DataDir string

	opts   Options
	cmd    *exec.Cmd
	stderr *TailBuffer
	exited chan struct{}
	mu     sync.Mutex
}

// Start launches a server for the test and stops it at cleanup. It fails
// the test (it does not skip it) when the server cannot start.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith is Start with options; an empty DataDir becomes t.TempDir().
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	s, err := Launch(opts)
	if err != nil {
		t.Fatalf("start embedded clickhouse: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop embedded clickhouse: %v", err)
		}
	})
	return s
}

// Launch builds (once per process) and starts a server, and waits until it
// answers /ping. The caller must Stop it.
func Launch(opts Options) (*Server, error) {
	if opts.DataDir == "" {
		return nil, errors.New("chtest: Options.DataDir is required")
	}
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 2 * time.Minute
	}
	if opts.StopTimeout == 0 {
		opts.StopTimeout = 30 * time.Second
	}
	bin, root, err := Binary()
	if err != nil {
		return nil, err
	}
	s := &Server{DataDir: opts.DataDir, opts: opts}
	if err := s.start(bin, root); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) start(bin, root string) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.StartTimeout)
	defer cancel()

	cmd := exec.Command(bin, "--listen", s.opts.Listen, "--data", s.DataDir)
	// The server finds node_modules by walking up from its working
	// directory: start it at the repository root.
	cmd.Dir = root
	cmd.Env = append(os.Environ(), s.opts.Env...)
	// If the test process dies, the server gets SIGTERM instead of living on.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("chtest: stdout pipe: %w", err)
	}
	s.stderr = NewTailBuffer(64 << 10)
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("chtest: start %s: %w", bin, err)
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	addrCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			addrCh <- strings.TrimSpace(sc.Text())
		}
		close(addrCh)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		_ = cmd.Wait()
		close(s.exited)
	}()

	select {
	case addr, ok := <-addrCh:
		if !ok {
			<-s.exited
			return s.exitError("exited before printing its address")
		}
		s.Addr = addr
	case <-s.exited:
		return s.exitError("exited during startup")
	case <-ctx.Done():
		_ = s.kill()
		return fmt.Errorf("chtest: no address from the server within %v; stderr: %s", s.opts.StartTimeout, s.stderr.String())
	}
	for {
		if s.pingOK(ctx) {
			return nil
		}
		select {
		case <-s.exited:
			return s.exitError("exited before answering /ping")
		case <-ctx.Done():
			_ = s.kill()
			return fmt.Errorf("chtest: %s did not answer /ping with \"Ok.\" within %v; stderr: %s", s.Addr, s.opts.StartTimeout, s.stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *Server) exitError(what string) error {
	msg := strings.TrimSpace(s.stderr.String())
	if msg == "" {
		msg = "(no output)"
	}
	return fmt.Errorf("chtest: embedded clickhouse %s (%v): %s", what, s.cmd.ProcessState, msg)
}

func (s *Server) pingOK(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/ping", nil)
	if err != nil {
		return false
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64))
	return res.StatusCode == http.StatusOK && string(body) == "Ok.\n"
}

// URL is the base URL of the HTTP interface, e.g. http://127.0.0.1:41234.
func (s *Server) URL() string { return "http://" + s.Addr }

// DSN is a clickhouse-go DSN for the HTTP protocol and the given database
// ("default" when empty).
func (s *Server) DSN(database string) string {
	if database == "" {
		database = "default"
	}
	return "http://" + s.Addr + "/" + database
}

// PID is the server process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Stderr returns the tail of what the server wrote to stderr.
func (s *Server) Stderr() string { return s.stderr.String() }

// Stop sends SIGTERM and waits for a clean exit, then SIGKILL after
// StopTimeout. It signals only the process it started. Calling it again is
// harmless.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	select {
	case <-s.exited:
		return nil
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("chtest: SIGTERM pid %d: %w", s.cmd.Process.Pid, err)
	}
	select {
	case <-s.exited:
		if code := s.cmd.ProcessState.ExitCode(); code != 0 {
			return fmt.Errorf("chtest: server pid %d exited with status %d after SIGTERM; stderr: %s", s.cmd.Process.Pid, code, s.stderr.String())
		}
		return nil
	case <-time.After(s.opts.StopTimeout):
		_ = s.kill()
		return fmt.Errorf("chtest: server pid %d ignored SIGTERM for %v and was killed", s.cmd.Process.Pid, s.opts.StopTimeout)
	}
}

func (s *Server) kill() error {
	err := s.cmd.Process.Kill()
	<-s.exited
	return err
}

// Restart stops the server and starts it again on the same data directory
// and the same address, so DSNs taken before stay valid.
func (s *Server) Restart() error {
	if err := s.Stop(); err != nil {
		return err
	}
	bin, root, err := Binary()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.Listen = s.Addr
	return s.start(bin, root)
}

var (
	buildOnce sync.Once
	buildBin  string
	buildRoot string
	buildErr  error
)

// Binary builds the server once per process and returns its path and the
// module root it was built from.
func Binary() (bin, root string, err error) {
	buildOnce.Do(func() {
		buildRoot, buildErr = moduleRoot()
		if buildErr != nil {
			return
		}
		dir := filepath.Join(os.TempDir(), "meshmetrics-chtest-"+strconv.Itoa(os.Getpid()))
		removeStaleBuildDirs()
		if buildErr = os.MkdirAll(dir, 0o755); buildErr != nil {
			return
		}
		buildBin = filepath.Join(dir, "meshmetrics-clickhouse")
		goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, statErr := os.Stat(goTool); statErr != nil {
			goTool = "go"
		}
		cmd := exec.Command(goTool, "build", "-o", buildBin, "./tests/clickhouse")
		cmd.Dir = buildRoot
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			buildErr = fmt.Errorf("chtest: go build ./tests/clickhouse in %s: %v: %s", buildRoot, err, out.String())
		}
	})
	return buildBin, buildRoot, buildErr
}

// removeStaleBuildDirs deletes binaries left by test processes that are gone.
func removeStaleBuildDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "meshmetrics-chtest-*"))
	for _, d := range dirs {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), "meshmetrics-chtest-"))
		if err != nil || pid == os.Getpid() {
			continue
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			_ = os.RemoveAll(d)
		}
	}
}

// moduleRoot finds the repository root from this source file's location,
// which works for tests in any package of the module.
func moduleRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("chtest: cannot locate its own source file")
	}
	dir := filepath.Dir(file)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("chtest: no go.mod above %s", filepath.Dir(file))
		}
		dir = parent
	}
}

// TailBuffer keeps the last bytes written to it, up to its size: the end
// of a child process's output, for error messages. Safe for concurrent use.
type TailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

// NewTailBuffer keeps the last max bytes.
func NewTailBuffer(max int) *TailBuffer { return &TailBuffer{max: max} }

func (b *TailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = b.buf[over:]
	}
	return len(p), nil
}

func (b *TailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
