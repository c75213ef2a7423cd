package promqlreplay

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// promModule is the module whose .test files are replayed; its version is
// pinned in testdata/included.txt and must be the one go.mod requires.
const promModule = "github.com/prometheus/prometheus"

// testdataDir finds promql/promqltest/testdata of the Prometheus module in
// the module cache, and its version.
func testdataDir(t testing.TB) (dir, version string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}} {{.Version}}", promModule).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", promModule, err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 || f[0] == "" {
		t.Fatalf("go list -m %s: unexpected output %q (run go mod download)", promModule, out)
	}
	return filepath.Join(f[0], "promql", "promqltest", "testdata"), f[1]
}

// evalCase is one eval command of a .test file.
type evalCase struct {
	file string
	line int // 1-based line of the eval command, as promqltest numbers it
	expr string
	// first and last are the 0-based lines of the command's block.
	first, last int
}

func (c evalCase) key() string { return fmt.Sprintf("%s:%d", c.file, c.line) }

// The command lines, as promqltest's patterns read them (test.go).
var (
	patEvalInstant = regexp.MustCompile(`^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$`)
	patEvalRange   = regexp.MustCompile(`^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$`)
	patAnnotation  = regexp.MustCompile(`^expect\s+(warn|info)(\s|$)`)
)

// testFile is a .test file split into commands.
type testFile struct {
	name  string
	lines []string // as written
	cmds  []command
	cases []evalCase
}

// command is one load, clear or eval command: its word and 0-based lines.
type command struct {
	word        string
	first, last int
}

// commandWord is the command a line starts, "" for none. Comments count
// as empty lines, as in promqltest's getLines.
func commandWord(line string) string {
	l := strings.ToLower(strings.TrimSpace(line))
	for _, c := range []string{"eval", "load", "clear"} {
		if strings.HasPrefix(l, c) {
			return c
		}
	}
	return ""
}

// endsEval reports whether promqltest's parseEval stops after line: a
// scalar answer, or an eval_fail's expected message or regexp.
func endsEval(evalLine, line string) bool {
	l := strings.TrimSpace(line)
	if strings.HasPrefix(strings.TrimSpace(evalLine), "eval_fail") &&
		(strings.HasPrefix(l, "expected_fail_message") || strings.HasPrefix(l, "expected_fail_regexp")) {
		return true
	}
	if _, err := strconv.ParseInt(l, 0, 64); err == nil {
		return true
	}
	_, err := strconv.ParseFloat(l, 64)
	return err == nil
}

func blank(line string) bool {
	l := strings.TrimSpace(line)
	return l == "" || strings.HasPrefix(l, "#")
}

// parseTestFile splits text into commands the way promqltest does: a
// command runs from its line to the next empty (or comment) line; an eval
// also ends at its scalar answer or expected_fail_message, after which
// promqltest reads a new command.
func parseTestFile(name, text string) (*testFile, error) {
	f := &testFile{name: name, lines: strings.Split(text, "\n")}
	for i := 0; i < len(f.lines); i++ {
		if blank(f.lines[i]) {
			continue
		}
		word := commandWord(f.lines[i])
		if word == "" {
			return nil, fmt.Errorf("%s:%d: expected a command, got %q", name, i+1, f.lines[i])
		}
		j := i
		for word != "clear" && j+1 < len(f.lines) && !blank(f.lines[j+1]) {
			j++
			if word == "eval" && endsEval(f.lines[i], f.lines[j]) {
				break
			}
		}
		f.cmds = append(f.cmds, command{word: word, first: i, last: j})
		if word == "eval" {
			l := strings.TrimSpace(f.lines[i])
			var expr string
			if m := patEvalInstant.FindStringSubmatch(l); m != nil {
				expr = m[3]
			} else if m := patEvalRange.FindStringSubmatch(l); m != nil {
				expr = m[5]
			} else {
				return nil, fmt.Errorf("%s:%d: unreadable eval command %q", name, i+1, l)
			}
			f.cases = append(f.cases, evalCase{file: name, line: i + 1, expr: expr, first: i, last: j})
		}
		i = j
	}
	return f, nil
}

func readTestFile(t testing.TB, dir, name string) *testFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	f, err := parseTestFile(name, string(b))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// prepared is a .test file's text reduced to the cases to replay.
type prepared struct {
	text string
	// annotated counts the kept cases that lost an assertion that a
	// warning or info annotation is returned.
	annotated int
}

// prepare keeps the load and clear commands and the eval commands keep
// accepts; a dropped eval becomes empty lines, so every kept eval keeps its
// line number (promqltest names its subtest "line N/expr").
//
// Assertions that an annotation is returned are dropped from the kept
// cases: the engine returns no warnings or info annotations (the dialect
// has none), so eval_warn/eval_info become eval and "expect warn|info"
// lines go; the answer itself is still checked ("expect no_warn|no_info"
// stay, and hold). The lines removed inside a block are added as empty
// lines after it, so later line numbers hold.
func (f *testFile) prepare(keep func(evalCase) bool) prepared {
	out := append([]string(nil), f.lines...)
	var p prepared
	for _, c := range f.cases {
		if !keep(c) {
			for i := c.first; i <= c.last; i++ {
				out[i] = ""
			}
			continue
		}
		block := []string{}
		annotated := false
		for i := c.first; i <= c.last; i++ {
			l := strings.TrimSpace(f.lines[i])
			switch {
			case i == c.first && (strings.HasPrefix(l, "eval_warn ") || strings.HasPrefix(l, "eval_info ")):
				l = "eval " + strings.TrimSpace(l[len("eval_warn "):])
				annotated = true
			case patAnnotation.MatchString(l):
				annotated = true
				continue
			}
			block = append(block, l)
		}
		for len(block) <= c.last-c.first {
			block = append(block, "")
		}
		copy(out[c.first:], block)
		if annotated {
			p.annotated++
		}
	}
	p.text = strings.Join(out, "\n")
	return p
}
