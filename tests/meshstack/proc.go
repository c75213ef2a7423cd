// Package meshstack starts the demo's and the end-to-end test's real parts
// on 127.0.0.1: Traefik (built by scripts/build-traefik.sh) with mesh-style
// entrypoints and services, demo backends with known status-code and latency
// mixes, a bounded load generator that keeps ground truth, and the collector
// (built by scripts/build-collector.sh) running the shipped static-target
// config. The embedded ClickHouse comes from tests/clickhouse/chtest and the
// plugin from tests/pluginharness.
//
// Every process is started with Pdeathsig and stopped by its own PID (or,
// for a child that starts children of its own, by its own process group):
// nothing is ever signalled by name.
package meshstack

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/forma3d/meshmetrics/tests/clickhouse/chtest"
)

// Proc is one child process with the tail of its output.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	out  *chtest.TailBuffer
	done chan struct{}
	mu   sync.Mutex
	// group: the child leads a process group of its own, and stopping it
	// stops every process left in that group (what it started).
	group bool
}

// startProc starts bin with args and env (added to this process's
// environment) in dir.
func startProc(name, bin string, args, env []string, dir string) (*Proc, error) {
	return start(name, bin, args, env, dir, false)
}

func start(name, bin string, args, env []string, dir string, group bool) (*Proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out := chtest.NewTailBuffer(256 << 10)
	cmd.Stdout, cmd.Stderr = out, out
	// If the test or demo process dies, the child gets SIGTERM.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: group}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	p := &Proc{Name: name, cmd: cmd, out: out, done: make(chan struct{}), group: group}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// PID is the child's process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Output is the tail of what the child wrote to stdout and stderr.
func (p *Proc) Output() string { return p.out.String() }

// Exited reports whether the child has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM to this child only (to its process group when it
// leads one), waits up to grace and then kills it. A group's processes
// that outlive their leader (a plugin Grafana started before it failed)
// are stopped the same way. Calling it again is harmless.
func (p *Proc) Stop(grace time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var err error
	if !p.Exited() {
		err = p.stopLeader(grace)
	}
	if p.group {
		if gerr := p.stopGroup(grace); gerr != nil {
			err = errors.Join(err, gerr)
		}
	}
	return err
}

func (p *Proc) stopLeader(grace time.Duration) error {
	// A group is signalled by its id (the leader's pid), which is not
	// reused while any member lives; a lone child through os.Process,
	// which never signals a pid it has already reaped.
	signal := func(sig syscall.Signal) error {
		if p.group {
			if err := syscall.Kill(-p.PID(), sig); err != nil && !errors.Is(err, syscall.ESRCH) {
				return err
			}
			return nil
		}
		if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return err
		}
		return nil
	}
	if err := signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop %s (pid %d): %w", p.Name, p.PID(), err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
		_ = signal(syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("%s (pid %d) ignored SIGTERM for %v and was killed", p.Name, p.PID(), grace)
	}
}

// stopGroup ends what is left of the child's process group after the
// child itself has ended: SIGTERM, then SIGKILL after grace.
func (p *Proc) stopGroup(grace time.Duration) error {
	pgid := p.PID()
	left := GroupMembers(pgid)
	if len(left) == 0 {
		return nil
	}
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if len(GroupMembers(pgid)) == 0 {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	for range 40 {
		if len(GroupMembers(pgid)) == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s (pid %d) left processes %v that ignored SIGTERM for %v and were killed", p.Name, pgid, left, grace)
}

// GroupMembers lists the live processes (zombies excluded) of process
// group pgid, from /proc.
func GroupMembers(pgid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		state, group, ok := procStat(pid)
		if ok && group == pgid && state != "Z" && state != "X" {
			out = append(out, pid)
		}
	}
	return out
}

// procStat reads a process's state and process group from /proc/<pid>/stat
// (fields 3 and 5; the command name in field 2 may hold spaces, so fields
// are counted after its closing parenthesis).
func procStat(pid int) (state string, pgid int, ok bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return "", 0, false
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return "", 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 3 {
		return "", 0, false
	}
	pgid, err = strconv.Atoi(f[2])
	return f[0], pgid, err == nil
}

// RepoRoot is the module root, found from this source file.
func RepoRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("meshstack: cannot locate its own source file")
	}
	dir := filepath.Dir(file)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("meshstack: no go.mod above %s", filepath.Dir(file))
		}
		dir = parent
	}
}

// binary returns .bin/<name> of the repository, or $envVar when set.
func binary(name, envVar, makeTarget string) (string, error) {
	if p := os.Getenv(envVar); p != "" {
		return p, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(root, ".bin", name)
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("%s not found: build it with `make %s` (or set %s)", bin, makeTarget, envVar)
	}
	return bin, nil
}

// CollectorBinary is the collector built from provisioning/collector.
func CollectorBinary() (string, error) {
	return binary("otelcol-meshmetrics", "MESHMETRICS_COLLECTOR_BINARY", "build-pipeline")
}

// TraefikBinary is Traefik built by scripts/build-traefik.sh.
func TraefikBinary() (string, error) {
	return binary("traefik", "MESHMETRICS_TRAEFIK_BINARY", "build-pipeline")
}

// FreePorts returns n distinct free TCP ports on 127.0.0.1. They are free
// when returned; a process started right after takes them.
func FreePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// StartProcessGroup starts a child process as the stack's own are started
// (Pdeathsig, output kept) in a process group of its own, so that Stop also
// ends the processes it starts; the demo runs Grafana (which starts the
// plugin) with it.
func StartProcessGroup(name, bin string, args, env []string, dir string) (*Proc, error) {
	return start(name, bin, args, env, dir, true)
}
