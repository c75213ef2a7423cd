package main

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/forma3d/meshmetrics/tests/meshstack"
)

// grafanaFailureLog is Grafana 12's start-up log when alert provisioning
// fails, reconstructed in its logfmt from what issue 12 reports (there is
// no Grafana on this machine): 300 migration lines, the provisioning error,
// the shutdown and the CLI's final Error line (with its ANSI colours).
const grafanaFailureLog = "testdata/grafana-12.4-provisioning-failure.log"

func TestGrafanaFailureCause(t *testing.T) {
	b, err := os.ReadFile(grafanaFailureLog)
	if err != nil {
		t.Fatal(err)
	}
	cause := meshstack.GrafanaFailureCause(string(b), causeLines)
	if len(cause) == 0 || len(cause) > causeLines {
		t.Fatalf("%d cause lines, want 1 to %d: %q", len(cause), causeLines, cause)
	}
	joined := strings.Join(cause, "\n")
	for _, want := range []string{`msg="Failed to provision alerting"`, "Error: ✗ failure to provision alert rules"} {
		if !strings.Contains(joined, want) {
			t.Errorf("cause lacks %q:\n%s", want, joined)
		}
	}
	for _, noise := range []string{"Executing migration", "level=info", "level=warn", "\x1b["} {
		if strings.Contains(joined, noise) {
			t.Errorf("cause holds %q:\n%s", noise, joined)
		}
	}
	// Without error lines, the tail is all there is.
	if got := meshstack.GrafanaFailureCause("a\nb\n\nc\n", 2); strings.Join(got, ",") != "b,c" {
		t.Errorf("no error lines: %q, want the last two lines", got)
	}
}

// readIni reads a flat ini file: section → key → value.
func readIni(t *testing.T, text string) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "" || strings.HasPrefix(l, ";") || strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]"):
			section = l[1 : len(l)-1]
			if out[section] != nil {
				t.Errorf("section [%s] twice", section)
			}
			out[section] = map[string]string{}
		default:
			k, v, ok := strings.Cut(l, "=")
			if !ok || section == "" {
				t.Fatalf("ini line %q: want key = value in a section", l)
			}
			out[section][strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

// The ini the demo writes: the plugin allowed unsigned by its real id,
// anonymous Viewer, nothing that calls grafana.com at start, and the
// directories the demo made.
func TestGrafanaIni(t *testing.T) {
	root, err := meshstack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	var plugin struct {
		ID string `json:"id"`
	}
	b, err := os.ReadFile(filepath.Join(root, "src", "plugin.json"))
	if err != nil || json.Unmarshal(b, &plugin) != nil {
		t.Fatalf("src/plugin.json: %v", err)
	}
	ini := readIni(t, meshstack.GrafanaIni("/d/grafana", "/tmp/logs"))
	for _, c := range []struct{ section, key, want string }{
		{"server", "http_addr", "127.0.0.1"},
		{"paths", "data", "/d/grafana/data"},
		{"paths", "plugins", "/d/grafana/plugins"},
		{"paths", "provisioning", "/d/grafana/provisioning"},
		{"paths", "logs", "/tmp/logs"},
		{"log", "mode", "console file"},
		{"plugins", "allow_loading_unsigned_plugins", plugin.ID},
		{"plugins", "preinstall_disabled", "true"},
		{"plugins", "public_key_retrieval_disabled", "true"},
		{"auth.anonymous", "enabled", "true"},
		{"auth.anonymous", "org_role", "Viewer"},
		{"analytics", "reporting_enabled", "false"},
		{"analytics", "check_for_updates", "false"},
		{"analytics", "check_for_plugin_updates", "false"},
		{"news", "news_feed_enabled", "false"},
	} {
		if got := ini[c.section][c.key]; got != c.want {
			t.Errorf("[%s] %s = %q, want %q", c.section, c.key, got, c.want)
		}
	}
	if _, err := meshstack.GrafanaEnv("no-port"); err == nil || !strings.Contains(err.Error(), `"no-port"`) {
		t.Errorf("GrafanaEnv(no-port): %v, want an error naming the address", err)
	}
}

// fakeGrafana installs a stand-in for grafana under a GRAFANA_HOME: it
// starts a child with stdio of its own (as Grafana starts the plugin),
// writes the child's pid to childPID, then runs body.
func fakeGrafana(t *testing.T, body string) (childPID string) {
	t.Helper()
	if c, err := net.DialTimeout("tcp", grafanaAddr, time.Second); err == nil {
		_ = c.Close()
		t.Skipf("%s is in use", grafanaAddr)
	}
	home := t.TempDir()
	for _, d := range []string{"bin", "public"} {
		if err := os.Mkdir(filepath.Join(home, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	childPID = filepath.Join(t.TempDir(), "child.pid")
	script := "#!/bin/sh\n" +
		"# server --homepath HOME --config INI\n" +
		"logs=$(sed -n 's/^logs = //p' \"$5\")\n" +
		"sleep 300 </dev/null >/dev/null 2>&1 &\n" +
		"echo $! > " + childPID + "\n" + body
	if err := os.WriteFile(filepath.Join(home, "bin", "grafana"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	// A failed test leaves nothing behind either: the child is ended by
	// its pid.
	t.Cleanup(func() {
		if _, err := os.Stat(childPID); err != nil {
			return
		}
		if pid, ok := alive(t, childPID); ok {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	t.Setenv("GRAFANA_HOME", home)
	t.Setenv("TMPDIR", t.TempDir()) // the kept log directory
	return childPID
}

// alive reports whether pid runs (a zombie waiting for its parent does not).
func alive(t *testing.T, pidFile string) (int, bool) {
	t.Helper()
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the fake grafana wrote no child pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return pid, false
	}
	i := strings.LastIndexByte(string(stat), ')')
	state := strings.Fields(string(stat[i+1:]))[0]
	return pid, state != "Z" && state != "X"
}

// Grafana fails at start: the error gives the cause in a few lines and the
// kept log's path, and the child it started is gone.
func TestGrafanaFailsWithCause(t *testing.T) {
	logText, err := os.ReadFile(grafanaFailureLog)
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "recorded.log")
	if err := os.WriteFile(logPath, logText, 0o644); err != nil {
		t.Fatal(err)
	}
	child := fakeGrafana(t, "tee \"$logs/grafana.log\" < "+logPath+"\nexit 1\n")
	g, err := startGrafana(t.TempDir(), "127.0.0.1:8123")
	if err == nil {
		_ = g.stop()
		t.Fatal("a grafana that exits 1 was reported started")
	}
	msg := err.Error()
	if n := strings.Count(msg, "\n") + 1; n > causeLines+3 {
		t.Errorf("%d lines printed, want at most %d:\n%s", n, causeLines+3, msg)
	}
	if !strings.Contains(msg, "receiver grafana-default-email does not exist") || strings.Contains(msg, "Executing migration") {
		t.Errorf("the message is not the cause:\n%s", msg)
	}
	_, path, ok := strings.Cut(msg, "the whole log: ")
	if !ok {
		t.Fatalf("no log path in:\n%s", msg)
	}
	if b, err := os.ReadFile(strings.TrimSpace(path)); err != nil || len(b) != len(logText) {
		t.Errorf("the log at %s: %d bytes, %v; want the %d bytes grafana wrote", path, len(b), err, len(logText))
	}
	if pid, ok := alive(t, child); ok {
		t.Errorf("grafana's child %d still runs", pid)
	}
}

// Grafana never becomes healthy: it and its child are stopped.
func TestGrafanaTimeoutStopsEverything(t *testing.T) {
	defer func(d time.Duration) { grafanaStartTimeout = d }(grafanaStartTimeout)
	grafanaStartTimeout = 1500 * time.Millisecond
	child := fakeGrafana(t, "echo 'logger=server level=info msg=\"still migrating\"'\nexec sleep 300\n")
	g, err := startGrafana(t.TempDir(), "127.0.0.1:8123")
	if err == nil {
		_ = g.stop()
		t.Fatal("a grafana that never answers was reported started")
	}
	if !strings.Contains(err.Error(), "not healthy within") || !strings.Contains(err.Error(), "still migrating") {
		t.Errorf("error:\n%v", err)
	}
	if pid, ok := alive(t, child); ok {
		t.Errorf("grafana's child %d still runs", pid)
	}
}
