package provisioning

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The parts of the Compose specification docker-compose.yaml uses; strict
// decoding fails on anything else (a typo, or a key this check ignores).
type composeFile struct {
	Name     string                    `json:"name"`
	Services map[string]composeService `json:"services"`
	Volumes  map[string]struct{}       `json:"volumes"`
	Networks map[string]composeNetwork `json:"networks,omitempty"`
}

type composeNetwork struct {
	IPAM struct {
		Config []struct {
			Subnet string `json:"subnet"`
		} `json:"config"`
	} `json:"ipam"`
}

type composeService struct {
	Image       string                       `json:"image"`
	Build       *composeBuild                `json:"build,omitempty"`
	Command     []string                     `json:"command,omitempty"`
	Entrypoint  []string                     `json:"entrypoint,omitempty"`
	Environment map[string]string            `json:"environment,omitempty"`
	Ports       []string                     `json:"ports,omitempty"`
	Volumes     []string                     `json:"volumes,omitempty"`
	DependsOn   map[string]composeDependency `json:"depends_on,omitempty"`
	Healthcheck *composeHealthcheck          `json:"healthcheck,omitempty"`
	Restart     string                       `json:"restart,omitempty"`
	Ulimits     map[string]composeUlimit     `json:"ulimits,omitempty"`
	Profiles    []string                     `json:"profiles,omitempty"`
	User        string                       `json:"user,omitempty"`
	Networks    map[string]struct {
		IPv4Address string `json:"ipv4_address"`
	} `json:"networks,omitempty"`
}

type composeBuild struct {
	Context    string `json:"context"`
	Dockerfile string `json:"dockerfile"`
}

type composeDependency struct {
	Condition string `json:"condition"`
}

type composeHealthcheck struct {
	Test     []string `json:"test"`
	Interval string   `json:"interval"`
	Timeout  string   `json:"timeout"`
	Retries  int      `json:"retries"`
}

type composeUlimit struct {
	Soft int `json:"soft"`
	Hard int `json:"hard"`
}

// Traefik v2 static configuration, the parts the proxies use.
type traefikStatic struct {
	EntryPoints map[string]struct {
		Address string `json:"address"`
	} `json:"entryPoints"`
	Ping struct {
		EntryPoint string `json:"entryPoint"`
	} `json:"ping"`
	API struct {
		Dashboard bool `json:"dashboard"`
	} `json:"api"`
	Metrics struct {
		Prometheus struct {
			EntryPoint           string    `json:"entryPoint"`
			AddEntryPointsLabels bool      `json:"addEntryPointsLabels"`
			AddServicesLabels    bool      `json:"addServicesLabels"`
			Buckets              []float64 `json:"buckets"`
		} `json:"prometheus"`
	} `json:"metrics"`
	Providers struct {
		HTTP struct {
			Endpoint     string `json:"endpoint"`
			PollInterval string `json:"pollInterval"`
		} `json:"http"`
	} `json:"providers"`
	Log struct {
		Level string `json:"level"`
	} `json:"log"`
	AccessLog struct {
		FilePath string `json:"filePath"`
		Format   string `json:"format"`
	} `json:"accessLog"`
}

// Traefik dynamic configuration as the HTTP provider serves it.
type traefikDynamic struct {
	HTTP struct {
		Routers map[string]struct {
			EntryPoints []string `json:"entryPoints"`
			Rule        string   `json:"rule"`
			Service     string   `json:"service"`
		} `json:"routers"`
		Services map[string]struct {
			LoadBalancer struct {
				Servers []struct {
					URL string `json:"url"`
				} `json:"servers"`
			} `json:"loadBalancer"`
		} `json:"services"`
	} `json:"http"`
}

func decodeStrict(t *testing.T, rel string, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(repoFile(t, rel), into); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
}

var composeVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// interpolate resolves ${VAR:-default} as Compose does with VAR unset; a
// variable without a default is reported (the stack must start without a
// .env file).
func interpolate(t *testing.T, where, s string) string {
	t.Helper()
	return composeVar.ReplaceAllStringFunc(s, func(m string) string {
		sub := composeVar.FindStringSubmatch(m)
		if sub[2] == "" {
			t.Errorf("%s: ${%s} has no default", where, sub[1])
		}
		return sub[3]
	})
}

// mount is one short-syntax volume entry.
type mount struct{ Source, Target string }

func mounts(s composeService) []mount {
	var out []mount
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 {
			out = append(out, mount{Source: parts[0], Target: parts[1]})
		}
	}
	return out
}

// sourceOf is the host path (or volume name) mounted at a container path
// or at a directory above it, with the rest of the path appended.
func sourceOf(s composeService, target string) (string, bool) {
	for _, m := range mounts(s) {
		if m.Target == target {
			return m.Source, true
		}
		if rest, ok := strings.CutPrefix(target, m.Target+"/"); ok {
			return m.Source + "/" + rest, true
		}
	}
	return "", false
}

func exists(t *testing.T, rel string) bool {
	t.Helper()
	_, err := os.Stat(filepath.Join(repoRoot(t), filepath.FromSlash(rel)))
	return err == nil
}
