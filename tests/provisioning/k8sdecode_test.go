package provisioning

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// strictCodec decodes YAML into the Kubernetes API types and fails on
// unknown or duplicate fields, as `kubectl apply --validate=strict` does.
var strictCodec = func() runtime.Decoder {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, rbacv1.AddToScheme} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	return json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme, json.SerializerOptions{Yaml: true, Strict: true})
}()

// decodeManifests decodes every document of a YAML stream strictly.
func decodeManifests(src []byte) ([]runtime.Object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(src)))
	var out []runtime.Object
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		obj, _, err := strictCodec.Decode(doc, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		out = append(out, obj)
	}
}

func stripComments(doc []byte) []byte {
	var keep [][]byte
	for _, l := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(l), []byte("#")) {
			keep = append(keep, l)
		}
	}
	return bytes.Join(keep, []byte("\n"))
}

// render runs kustomize (the library kubectl -k embeds) on a directory
// and decodes its output strictly.
func render(t *testing.T, dir string) *manifests {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resMap, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out, err := resMap.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeManifests(out)
	if err != nil {
		t.Fatalf("kustomize build %s: %v\n%s", dir, err, out)
	}
	m := &manifests{}
	for _, o := range objs {
		if err := m.add(o); err != nil {
			t.Errorf("kustomize build %s: %v", dir, err)
		}
	}
	return m
}

// manifests is a rendered overlay, by kind.
type manifests struct {
	Namespaces      []*corev1.Namespace
	ServiceAccounts []*corev1.ServiceAccount
	Deployments     []*appsv1.Deployment
	DaemonSets      []*appsv1.DaemonSet
	Services        []*corev1.Service
	ConfigMaps      []*corev1.ConfigMap
	Secrets         []*corev1.Secret
	PVCs            []*corev1.PersistentVolumeClaim
	Roles           []*rbacv1.Role
	RoleBindings    []*rbacv1.RoleBinding
}

func (m *manifests) add(o runtime.Object) error {
	switch v := o.(type) {
	case *corev1.Namespace:
		m.Namespaces = append(m.Namespaces, v)
	case *corev1.ServiceAccount:
		m.ServiceAccounts = append(m.ServiceAccounts, v)
	case *appsv1.Deployment:
		m.Deployments = append(m.Deployments, v)
	case *appsv1.DaemonSet:
		m.DaemonSets = append(m.DaemonSets, v)
	case *corev1.Service:
		m.Services = append(m.Services, v)
	case *corev1.ConfigMap:
		m.ConfigMaps = append(m.ConfigMaps, v)
	case *corev1.Secret:
		m.Secrets = append(m.Secrets, v)
	case *corev1.PersistentVolumeClaim:
		m.PVCs = append(m.PVCs, v)
	case *rbacv1.Role:
		m.Roles = append(m.Roles, v)
	case *rbacv1.RoleBinding:
		m.RoleBindings = append(m.RoleBindings, v)
	default:
		// ClusterRole, ClusterRoleBinding and anything else are not wanted.
		return fmt.Errorf("unexpected object %s", o.GetObjectKind().GroupVersionKind())
	}
	return nil
}

func (m *manifests) configMap(ns, name string) *corev1.ConfigMap {
	for _, c := range m.ConfigMaps {
		if c.Namespace == ns && c.Name == name {
			return c
		}
	}
	return nil
}

func (m *manifests) secret(ns, name string) *corev1.Secret {
	for _, s := range m.Secrets {
		if s.Namespace == ns && s.Name == name {
			return s
		}
	}
	return nil
}

func (m *manifests) pvc(ns, name string) *corev1.PersistentVolumeClaim {
	for _, p := range m.PVCs {
		if p.Namespace == ns && p.Name == name {
			return p
		}
	}
	return nil
}

func (m *manifests) role(ns, name string) *rbacv1.Role {
	for _, r := range m.Roles {
		if r.Namespace == ns && r.Name == name {
			return r
		}
	}
	return nil
}

// manifestFiles lists the Kubernetes object files under dir: every .yaml
// except kustomization files, the collector and agent config copies
// (otelcol-*.yaml) and Helm values files (*-values-*.yaml).
func manifestFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		base := d.Name()
		if strings.HasSuffix(base, ".yaml") && base != "kustomization.yaml" && !strings.HasPrefix(base, "otelcol-") && !strings.Contains(base, "-values-") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
