package promqlreplay

import (
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/forma3d/meshmetrics/pkg/engine"
)

// strategies are the SQL strategies replayed: both by default, the
// portable one with -short, PROMQLREPLAY_STRATEGIES=portable
// (comma-separated) to pick.
func strategies() []string {
	if s := os.Getenv("PROMQLREPLAY_STRATEGIES"); s != "" {
		return strings.Split(s, ",")
	}
	if testing.Short() {
		return []string{engine.StrategyPortable}
	}
	return []string{engine.StrategyPortable, engine.StrategyNative}
}

// seriesTablesFor says which table layout a strategy's replay reads: the
// portable strategy, which replays every case, the series extension's
// tables (provisioning/clickhouse/002, the production layout); the native
// one the exporter's tables alone. tests/promdiff runs the other two pairs.
// PROMQLREPLAY_LAYOUT=series or exporter puts every strategy on one.
func seriesTablesFor(strategy string) bool {
	switch os.Getenv("PROMQLREPLAY_LAYOUT") {
	case "series":
		return true
	case "exporter":
		return false
	}
	return strategy == engine.StrategyPortable
}

// nativeFunctions are the functions the native strategy computes
// differently (timeSeries*ToGrid); everything else is the portable SQL.
var nativeFunctions = map[string]bool{"rate": true, "increase": true, "delta": true, "irate": true, "idelta": true}

// covers reports whether strategy replays c. The portable strategy replays
// every case; the native one the cases that call a function it translates
// differently, which keeps the replay of both under two minutes on two
// cores. PROMQLREPLAY_NATIVE=all replays every case with it too.
func covers(strategy string, c evalCase) bool {
	if strategy != engine.StrategyNative || os.Getenv("PROMQLREPLAY_NATIVE") == "all" {
		return true
	}
	ast, err := parserForTests.ParseExpr(c.expr)
	if err != nil {
		return true
	}
	found := false
	parser.Inspect(ast, func(n parser.Node, _ []parser.Node) error {
		if call, ok := n.(*parser.Call); ok && nativeFunctions[call.Func.Name] {
			found = true
		}
		return nil
	})
	return found
}

// loadFiles reads the lists and the included .test files and checks that
// they agree with each other and with go.mod's Prometheus version.
func loadFiles(t *testing.T) (*lists, []*testFile) {
	t.Helper()
	ls, files, byName := loadFilesUnchecked(t)
	if problems := ls.check(byName); len(problems) > 0 {
		t.Fatalf("the pinned lists do not match the .test files:\n%s", strings.Join(problems, "\n"))
	}
	return ls, files
}

func loadFilesUnchecked(t *testing.T) (*lists, []*testFile, map[string]*testFile) {
	t.Helper()
	ls := readLists(t)
	dir, version := testdataDir(t)
	if version != ls.version {
		t.Fatalf("go.mod requires %s %s, %s pins %s: re-pin the lists to the new version's .test files", promModule, version, includedFile, ls.version)
	}
	var files []*testFile
	byName := map[string]*testFile{}
	for _, name := range ls.included {
		f := readTestFile(t, dir, name)
		files = append(files, f)
		byName[name] = f
	}
	return ls, files, byName
}

// replay runs, per strategy and file, the cases keep accepts through
// promqltest.RunTest, which names each case's subtest "line N/expr" (N
// the line in the original file) and fails it on a wrong answer.
func replay(t *testing.T, files []*testFile, keep func(strategy string, c evalCase) bool) {
	conn := startClickHouse(t)
	for _, strategy := range strategies() {
		t.Run(strategy, func(t *testing.T) {
			for _, f := range files {
				keepHere := func(c evalCase) bool { return keep(strategy, c) }
				n := 0
				for _, c := range f.cases {
					if keepHere(c) {
						n++
					}
				}
				if n == 0 {
					continue
				}
				t.Run(f.name, func(t *testing.T) {
					a := newAdapter(conn, strategy)
					a.setCases(f, keepHere)
					p := f.prepare(keepHere)
					t.Logf("%d cases (%d without their annotation assertions)", n, p.annotated)
					promqltest.RunTest(t, p.text, a)
				})
			}
		})
	}
}

// TestReplay replays every included .test file through our engine, with
// the excluded cases and the known failures left out.
func TestReplay(t *testing.T) {
	ls, files := loadFiles(t)
	replay(t, files, func(strategy string, c evalCase) bool {
		_, excluded := ls.excluded[c.key()]
		return !excluded && !ls.knownFor(c, strategy) && covers(strategy, c)
	})
}

// childEnv makes TestKnownFailures the child process that replays the
// known failures.
const childEnv = "PROMQLREPLAY_KNOWN_FAILURES_CHILD"

var (
	subtestResult = regexp.MustCompile(`--- (PASS|FAIL): TestKnownFailures/(\w+)/([^/]+)/line_(\d+)/`)
	// subtestError is testify's report of a failed case: its message,
	// then the subtest's name.
	subtestError = regexp.MustCompile(`(?s)Received unexpected error:\n(.*?)\n\s*Test:\s*TestKnownFailures/(\w+)/([^/]+)/line_(\d+)/`)
)

// TestKnownFailures replays the known failures, each of which must still
// fail: a case that passes has been fixed and belongs back in the replay.
// A failing promqltest case fails its test, so they run in a child process
// (this test binary again) whose verdict per case is read from -test.v.
func TestKnownFailures(t *testing.T) {
	ls, files := loadFiles(t)
	keep := func(strategy string, c evalCase) bool { return ls.knownFor(c, strategy) && covers(strategy, c) }
	if os.Getenv(childEnv) != "" {
		replay(t, files, keep)
		return
	}
	want := map[string]bool{} // strategy/file:line
	for _, strategy := range strategies() {
		for _, f := range files {
			for _, c := range f.cases {
				if keep(strategy, c) {
					want[strategy+"/"+c.key()] = true
				}
			}
		}
	}
	if len(want) == 0 {
		return
	}
	args := []string{"-test.run", "^TestKnownFailures$", "-test.v", "-test.count=1"}
	if testing.Short() {
		args = append(args, "-test.short")
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, _ := cmd.CombinedOutput() // it fails, as it should; the verdicts are in the output
	got, why := map[string]string{}, map[string]string{}
	for _, m := range subtestResult.FindAllStringSubmatch(string(out), -1) {
		got[m[2]+"/"+m[3]+":"+m[4]] = m[1]
	}
	for _, m := range subtestError.FindAllStringSubmatch(string(out), -1) {
		why[m[2]+"/"+m[3]+":"+m[4]] = strings.Join(strings.Fields(m[1]), " ")
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	missing := false
	for _, k := range keys {
		switch got[k] {
		case "FAIL":
			t.Logf("%s fails, as listed: %s", k, why[k])
		case "PASS":
			t.Errorf("%s passes now: remove it from %s", k, knownFile)
		default:
			t.Errorf("%s did not run", k)
			missing = true
		}
	}
	if missing {
		t.Logf("the child's output:\n%s", out)
	}
}
