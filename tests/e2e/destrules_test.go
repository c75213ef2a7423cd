package e2e

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/forma3d/meshmetrics/dashboards/mixin"
)

// The destination_namespace, destination_service and destination_port
// rules of the collector configs are generated from one list,
// provisioning/collector/destination-namespaces.txt. This flag rewrites the
// generated block of every config from it; without it the test fails when a
// committed block differs from what the list gives.
var updateDestinationRules = flag.Bool("update-destination-rules", false,
	"rewrite the generated destination label rules in the collector configs from destination-namespaces.txt")

const (
	namespacesFile   = "destination-namespaces.txt"
	destRulesBegin   = "# BEGIN destination labels"
	destRulesEnd     = "# END destination labels"
	serviceFamilyRe  = `traefik_service_[^;]*`
	providerSuffixRe = `@[^@;]+`
)

// generatedBlock is one kind of block generated from the namespace list:
// its markers and how it is rendered.
type generatedBlock struct {
	begin, end string
	render     func(namespaces []string, indent string) string
}

var (
	// The collector's metric_relabel_configs for traefik_service_*.
	relabelBlock = generatedBlock{destRulesBegin, destRulesEnd, destinationRules}
	// The pair agents' transform statements for a record's ServiceName.
	agentBlock = generatedBlock{agentAttrsBegin, agentAttrsEnd, destinationStatements}
)

const (
	agentAttrsBegin = "# BEGIN destination attributes"
	agentAttrsEnd   = "# END destination attributes"
)

// destinationConfigs are the files that carry a generated block, relative
// to the repository's provisioning/ directory.
var destinationConfigs = []struct {
	path  string
	block generatedBlock
}{
	{"collector/otelcol-static.yaml", relabelBlock},
	{"collector/otelcol-kubernetes.yaml", relabelBlock},
	{"kubernetes/base/otelcol-kubernetes.yaml", relabelBlock},
	{"collector/otelcol-agent-static.yaml", agentBlock},
	{"collector/otelcol-agent-kubernetes.yaml", agentBlock},
}

// dnsLabel is a Kubernetes namespace name (RFC 1123 label).
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// readNamespaces reads the namespace list: one name a line, # comments and
// blank lines ignored, each a valid namespace name, none twice.
func readNamespaces(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	seen := map[string]bool{}
	for i, line := range strings.Split(string(b), "\n") {
		name := strings.TrimSpace(line)
		if name == "" || strings.HasPrefix(name, "#") {
			continue
		}
		switch {
		case len(name) > 63 || !dnsLabel.MatchString(name):
			return nil, fmt.Errorf("%s line %d: %q is not a kubernetes namespace name (lower-case letters, digits and dashes, at most 63)", path, i+1, name)
		case seen[name]:
			return nil, fmt.Errorf("%s line %d: namespace %q listed twice", path, i+1, name)
		}
		seen[name] = true
		out = append(out, name)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no namespace listed", path)
	}
	return out, nil
}

// destinationForm is one way Traefik Mesh names a service (its provider's
// pkg/provider/key.go), as a regex after the namespace group, and which
// groups hold the service and the port.
type destinationForm struct {
	comment            string
	tail               string
	serviceGroup, port int
}

var destinationForms = []destinationForm{
	{"a mesh service: <ns>-<service>-<port>", `-(.+)-([0-9]+)`, 2, 3},
	{"an SMI TrafficSplit: <ns>-<service>-<split>-<port>-traffic-split; service is <service>-<split> (both may hold dashes)",
		`-(.+)-([0-9]+)-traffic-split`, 2, 3},
	{"a TrafficSplit backend: <ns>-<service>-<split>-<port>-<backend>-traffic-split-backend; service is <backend>",
		`-.+-([0-9]+)-([a-z][-a-z0-9]*)-traffic-split-backend`, 3, 2},
	{"an SMI TrafficTarget (ACL mode): <ns>-<service>-<target>-<port>-traffic-target; service is <service>-<target>",
		`-(.+)-([0-9]+)-traffic-target`, 2, 3},
}

// destinationRules renders the generated block, each line prefixed with
// indent. Longer namespaces come first in the alternation: Go's regexp
// prefers the leftmost alternative, so forma3d-dev-api-8080 reads as
// namespace forma3d-dev, not forma3d with service dev-api.
func destinationRules(namespaces []string, indent string) string {
	alt := "(" + strings.Join(longestFirst(namespaces), "|") + ")"
	return renderGenerated(indent, destRulesBegin, destRulesEnd, []string{
		"# edit the list, not these lines. traefik_service_* series whose service",
		"# label starts with a listed namespace get destination_namespace,",
		"# destination_service and destination_port; others get none.",
	}, func(line func(string, ...any)) {
		for _, f := range destinationForms {
			line("# %s", f.comment)
			re := fmt.Sprintf("%s;%s%s%s", serviceFamilyRe, alt, f.tail, providerSuffixRe)
			for _, t := range []struct {
				label string
				group int
			}{{"destination_namespace", 1}, {"destination_service", f.serviceGroup}, {"destination_port", f.port}} {
				line("- source_labels: [__name__, service]")
				line("  regex: %s", re)
				line("  target_label: %s", t.label)
				line("  replacement: $${%d}", t.group)
			}
		}
	})
}

// renderGenerated renders a block between begin and end markers, each line
// prefixed with indent: the header that says where it comes from, then
// what body writes.
func renderGenerated(indent, begin, end string, header []string, body func(line func(string, ...any))) string {
	var b strings.Builder
	line := func(format string, args ...any) {
		b.WriteString(indent + fmt.Sprintf(format, args...) + "\n")
	}
	line("%s: generated from %s by", begin, namespacesFile)
	line("# `go test ./tests/e2e -run TestDestinationLabelRulesGenerated -update-destination-rules`;")
	for _, h := range header {
		line("%s", h)
	}
	body(line)
	line("%s", end)
	return b.String()
}

// longestFirst orders the namespaces for an alternation (see destinationRules).
func longestFirst(namespaces []string) []string {
	ns := append([]string(nil), namespaces...)
	sort.SliceStable(ns, func(i, j int) bool {
		if len(ns[i]) != len(ns[j]) {
			return len(ns[i]) > len(ns[j])
		}
		return ns[i] < ns[j]
	})
	return ns
}

// destinationStatements renders the agents' block: one OTTL statement per
// destination form, its groups named after the attributes they set. Every
// form that matches sets them ("upsert"), the last one winning, as the
// relabel rules' target_label does; a record no form matches gets none and
// is dropped by the agent's filter.
func destinationStatements(namespaces []string, indent string) string {
	alt := "(?P<destination_namespace>" + strings.Join(longestFirst(namespaces), "|") + ")"
	return renderGenerated(indent, agentAttrsBegin, agentAttrsEnd, []string{
		"# edit the list, not these lines. Records whose ServiceName starts with a",
		"# listed namespace get destination_namespace, destination_service and",
		"# destination_port, read as the collector reads traefik_service_*'s service.",
	}, func(line func(string, ...any)) {
		for _, f := range destinationForms {
			line("# %s", f.comment)
			tail := nameGroups(f.tail, map[int]string{f.serviceGroup: "destination_service", f.port: "destination_port"})
			// $$ is the collector config's escape of $ (the regex's end).
			line(`- merge_maps(log.attributes, ExtractPatterns(log.attributes["ServiceName"], "^%s%s@[^@]+$$"), "upsert") where log.attributes["ServiceName"] != nil`, alt, tail)
		}
	})
}

// nameGroups names a form's capturing groups, numbered from 2 as in the
// relabel regex (group 1 is the namespace).
func nameGroups(tail string, names map[int]string) string {
	var b strings.Builder
	group := 1
	for i := 0; i < len(tail); i++ {
		b.WriteByte(tail[i])
		if tail[i] == '(' && (i+1 >= len(tail) || tail[i+1] != '?') {
			group++
			if n, ok := names[group]; ok {
				b.WriteString("?P<" + n + ">")
			}
		}
	}
	return b.String()
}

// spliceDestinationRules replaces the relabel block between the markers
// with the rules for namespaces, at the BEGIN marker's indentation.
func spliceDestinationRules(src []byte, namespaces []string) ([]byte, error) {
	return spliceBlock(src, relabelBlock, namespaces)
}

// spliceBlock replaces the block between g's markers with its rendering
// for namespaces, at the BEGIN marker's indentation.
func spliceBlock(src []byte, g generatedBlock, namespaces []string) ([]byte, error) {
	lines := strings.SplitAfter(string(src), "\n")
	begin, end := -1, -1
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, g.begin) {
			if begin >= 0 {
				return nil, fmt.Errorf("line %d: a second %q", i+1, g.begin)
			}
			begin = i
		}
		if t == g.end && begin >= 0 && end < 0 {
			end = i
		}
	}
	if begin < 0 || end < 0 {
		return nil, fmt.Errorf("no %q … %q block", g.begin, g.end)
	}
	indent := lines[begin][:len(lines[begin])-len(strings.TrimLeft(lines[begin], " "))]
	var out bytes.Buffer
	for _, l := range lines[:begin] {
		out.WriteString(l)
	}
	out.WriteString(g.render(namespaces, indent))
	for _, l := range lines[end+1:] {
		out.WriteString(l)
	}
	return out.Bytes(), nil
}

// Every config's generated block is what the namespace list gives.
func TestDestinationLabelRulesGenerated(t *testing.T) {
	prov := filepath.Dir(collectorDir(t))
	namespaces, err := readNamespaces(filepath.Join(collectorDir(t), namespacesFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range destinationConfigs {
		rel := c.path
		path := filepath.Join(prov, filepath.FromSlash(rel))
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		want, err := spliceBlock(src, c.block, namespaces)
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		if bytes.Equal(src, want) {
			continue
		}
		if *updateDestinationRules {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: destination label rules rewritten", rel)
			continue
		}
		t.Errorf("%s: the destination label rules differ from %s; run go test ./tests/e2e -run TestDestinationLabelRulesGenerated -update-destination-rules", rel, namespacesFile)
	}
}

// The list's checks, and the generator's order and splicing.
func TestDestinationNamespaceList(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ name, text, wantErr string }{
		{"ok", "# c\nforma3d\n\nforma3d-dev\n", ""},
		{"upper", "Forma3d\n", `"Forma3d" is not a kubernetes namespace name`},
		{"regex", "a|b\n", `"a|b" is not a kubernetes namespace name`},
		{"dash end", "forma3d-\n", `"forma3d-" is not`},
		{"twice", "a\nb\na\n", `line 3: namespace "a" listed twice`},
		{"empty", "# only a comment\n", "no namespace listed"},
	} {
		p := filepath.Join(dir, c.name)
		if err := os.WriteFile(p, []byte(c.text), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := readNamespaces(p)
		if (c.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.wantErr)
		}
	}
	block := destinationRules([]string{"a", "forma3d", "forma3d-dev", "b-c"}, "  ")
	if !strings.Contains(block, "(forma3d-dev|forma3d|b-c|a)-") {
		t.Errorf("alternation not longest first:\n%s", block)
	}
	if _, err := spliceDestinationRules([]byte("x: 1\n"), []string{"a"}); err == nil {
		t.Error("a file without markers was spliced")
	}
	src := []byte("a:\n    " + destRulesBegin + "\n    old\n    " + destRulesEnd + "\nb: 2\n")
	got, err := spliceDestinationRules(src, []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(got), "a:\n    "+destRulesBegin) || !strings.HasSuffix(string(got), "    "+destRulesEnd+"\nb: 2\n") || strings.Contains(string(got), "\n    old\n") {
		t.Errorf("splice:\n%s", got)
	}
}

// The dashboard's logs fallback for old series splits service names with
// the mixin's namespace list: it must be the collector's list.
func TestMixinNamespacesAreTheCollectors(t *testing.T) {
	namespaces, err := readNamespaces(filepath.Join(collectorDir(t), namespacesFile))
	if err != nil {
		t.Fatal(err)
	}
	mixinNamespaces := slices.Clone(mixin.Default().Namespaces)
	slices.Sort(namespaces)
	slices.Sort(mixinNamespaces)
	if !slices.Equal(namespaces, mixinNamespaces) {
		t.Errorf("dashboards/mixin Config.Namespaces %v differ from %s %v: keep the two lists equal", mixinNamespaces, namespacesFile, namespaces)
	}
}
