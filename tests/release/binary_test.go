package release

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/forma3d/meshmetrics/tests/otelfixture"
	"github.com/forma3d/meshmetrics/tests/pluginharness"
)

// platformHeader is what an executable's headers must say for its platform.
type platformHeader struct {
	format     string // elf, macho, pe
	elfClass   elf.Class
	elfMachine elf.Machine
	machoCPU   macho.Cpu
	peMachine  uint16
}

var platformHeaders = map[string]platformHeader{
	"linux_amd64":   {format: "elf", elfClass: elf.ELFCLASS64, elfMachine: elf.EM_X86_64},
	"linux_arm64":   {format: "elf", elfClass: elf.ELFCLASS64, elfMachine: elf.EM_AARCH64},
	"linux_arm":     {format: "elf", elfClass: elf.ELFCLASS32, elfMachine: elf.EM_ARM},
	"darwin_amd64":  {format: "macho", machoCPU: macho.CpuAmd64},
	"darwin_arm64":  {format: "macho", machoCPU: macho.CpuArm64},
	"windows_amd64": {format: "pe", peMachine: pe.IMAGE_FILE_MACHINE_AMD64},
}

// Every executable is for the platform its name says (headers and the Go
// build info), static where it is ELF (Grafana's images are Alpine and
// Ubuntu), mode 0755, and carries package.json's version; linux amd64 and
// arm64 are always there.
func TestExecutablesMatchTheirPlatforms(t *testing.T) {
	z := openRelease(t)
	p := z.pluginJSON(t)
	exes := z.executables(p.Executable)
	for _, required := range []string{"linux_amd64", "linux_arm64"} {
		if _, ok := exes[p.Executable+"_"+required]; !ok {
			t.Errorf("no %s_%s in the zip", p.Executable, required)
		}
	}
	stamp := []byte(`"pluginID":"` + pluginID + `","version":"` + z.version + `"`)
	for name, f := range exes {
		t.Run(name, func(t *testing.T) {
			platform := strings.TrimSuffix(strings.TrimPrefix(name, p.Executable+"_"), ".exe")
			want, ok := platformHeaders[platform]
			if !ok {
				t.Fatalf("%s: %q is not a platform Grafana runs plugins on", name, platform)
			}
			if strings.HasSuffix(name, ".exe") != (want.format == "pe") {
				t.Errorf("%s: only Windows executables end in .exe", name)
			}
			if mode := f.Mode(); mode.Perm() != 0o755 || !mode.IsRegular() {
				t.Errorf("%s has mode %v in the zip, want -rwxr-xr-x", name, mode)
			}
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			checkHeader(t, name, b, want)
			info, err := buildinfo.Read(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("%s: no Go build info: %v", name, err)
			}
			goos, goarch, _ := strings.Cut(platform, "_")
			settings := map[string]string{}
			for _, s := range info.Settings {
				settings[s.Key] = s.Value
			}
			if settings["GOOS"] != goos || settings["GOARCH"] != goarch {
				t.Errorf("%s was built for %s/%s", name, settings["GOOS"], settings["GOARCH"])
			}
			if settings["CGO_ENABLED"] != "0" {
				t.Errorf("%s: CGO_ENABLED=%s, want 0 (no C library needed at run time)", name, settings["CGO_ENABLED"])
			}
			if info.Path != "github.com/forma3d/meshmetrics/pkg" {
				t.Errorf("%s is built from %s, want the plugin's ./pkg", name, info.Path)
			}
			if !bytes.Contains(b, stamp) {
				t.Errorf("%s does not carry the build info %s", name, stamp)
			}
		})
	}
}

func checkHeader(t *testing.T, name string, b []byte, want platformHeader) {
	t.Helper()
	r := bytes.NewReader(b)
	switch want.format {
	case "elf":
		f, err := elf.NewFile(r)
		if err != nil {
			t.Fatalf("%s is not ELF: %v", name, err)
		}
		if f.Class != want.elfClass || f.Machine != want.elfMachine || f.Type != elf.ET_EXEC {
			t.Errorf("%s: ELF %v %v %v, want %v %v ET_EXEC", name, f.Class, f.Machine, f.Type, want.elfClass, want.elfMachine)
		}
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				t.Errorf("%s asks for a dynamic loader; it must be static", name)
			}
		}
	case "macho":
		f, err := macho.NewFile(r)
		if err != nil {
			t.Fatalf("%s is not Mach-O: %v", name, err)
		}
		if f.Cpu != want.machoCPU || f.Type != macho.TypeExec {
			t.Errorf("%s: Mach-O %v %v, want %v executable", name, f.Cpu, f.Type, want.machoCPU)
		}
	case "pe":
		f, err := pe.NewFile(r)
		if err != nil {
			t.Fatalf("%s is not PE: %v", name, err)
		}
		if f.Machine != want.peMachine {
			t.Errorf("%s: PE machine %#x, want %#x", name, f.Machine, want.peMachine)
		}
	}
}

// The linux/amd64 executable taken from the zip, as unzip leaves it, is
// started the way Grafana starts it and answers CheckHealth: an error
// naming the setting on an empty database, OK once mesh metrics are there.
func TestPackagedBinaryAnswersCheckHealth(t *testing.T) {
	z := openRelease(t)
	p := z.pluginJSON(t)
	name := p.Executable + "_linux_amd64"
	f, ok := z.executables(p.Executable)[name]
	if !ok {
		t.Fatalf("no %s in the zip", name)
	}
	bin := filepath.Join(t.TempDir(), name)
	extract(t, f, bin)

	plugin, err := pluginharness.StartBinary(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("plugin output:\n%s", plugin.Logs())
		}
		plugin.Kill()
	})
	ch, conn := otelfixture.Start(t)
	host, port, err := net.SplitHostPort(ch.Addr)
	if err != nil {
		t.Fatal(err)
	}
	health := func(uid string) *backend.CheckHealthResult {
		t.Helper()
		ds, err := pluginharness.Datasource(uid, map[string]any{"host": host, "port": port, "protocol": "http", "database": "otel"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res, err := plugin.CheckHealth(ctx, ds)
		if err != nil {
			t.Fatalf("CheckHealth over gRPC: %v", err)
		}
		return res
	}
	if res := health("empty"); res.Status != backend.HealthStatusError || !strings.Contains(res.Message, "no Traefik Mesh metrics") {
		t.Errorf("empty tables: %v %q, want an error saying there are no Traefik Mesh metrics", res.Status, res.Message)
	}
	otelfixture.Insert(t, conn, "otel_metrics_sum", "traefik_service_requests_total",
		map[string]string{"service": "forma3d-orders-80@http", "code": "200", "method": "GET", "protocol": "http"},
		[]otelfixture.Point{{At: time.Now().Add(-20 * time.Second), Value: 12}})
	res := health("mesh")
	if res.Status != backend.HealthStatusOk {
		t.Fatalf("with mesh metrics: %v %q, want OK", res.Status, res.Message)
	}
	t.Logf("Save & test message: %s", res.Message)
	if !strings.Contains(res.Message, "ClickHouse") {
		t.Errorf("health message %q does not report the ClickHouse server", res.Message)
	}
	if plugin.Exited() {
		t.Fatal("the packaged plugin exited")
	}
}
