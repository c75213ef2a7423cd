// Package pluginharness starts the real gpx_meshmetrics binary the way
// Grafana does (hashicorp go-plugin, the SDK's handshake, gRPC) and calls it
// over the pluginv2 clients. Tests use it to see exactly what Grafana sees.
package pluginharness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/grpcplugin"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
)

// PluginID is the datasource's plugin id, as Grafana passes it.
const PluginID = "forma3d-meshmetrics-datasource"

// BinaryName is what `mage build:linux` writes into dist/.
const BinaryName = "gpx_meshmetrics_linux_amd64"

// Plugin is one running plugin process and its gRPC clients.
type Plugin struct {
	Diagnostics pluginv2.DiagnosticsClient
	Data        pluginv2.DataClient
	Resource    pluginv2.ResourceClient

	client *goplugin.Client
	logs   *syncBuffer
}

// Binary finds dist/gpx_meshmetrics_linux_amd64 above the working directory
// (tests run in their package directory, somewhere below the repo root).
func Binary() (string, error) {
	if p := os.Getenv("MESHMETRICS_PLUGIN_BINARY"); p != "" {
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			bin := filepath.Join(dir, "dist", BinaryName)
			if _, err := os.Stat(bin); err != nil {
				return "", fmt.Errorf("plugin binary %s not found: build it with `make build` (mage build:linux)", bin)
			}
			return bin, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: run the tests from inside the repository")
		}
		dir = parent
	}
}

// Start launches the plugin binary and dispenses its clients; the process
// is killed when the test ends. Only this child is ever killed.
func Start(tb testing.TB) *Plugin {
	tb.Helper()
	bin, err := Binary()
	if err != nil {
		tb.Fatal(err)
	}
	p, err := StartBinary(bin)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("plugin output:\n%s", p.Logs())
		}
		p.Kill()
	})
	return p
}

// StartBinary launches bin as Grafana would and performs the handshake.
func StartBinary(bin string) (*Plugin, error) {
	logs := &syncBuffer{}
	cmd := exec.Command(bin)
	// Grafana hands plugins a small environment of its own; the SDK needs
	// nothing from it for these calls, so the child gets only PATH and HOME.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	client := goplugin.NewClient(&goplugin.ClientConfig{
		Cmd: cmd,
		HandshakeConfig: goplugin.HandshakeConfig{
			ProtocolVersion:  grpcplugin.ProtocolVersion,
			MagicCookieKey:   grpcplugin.MagicCookieKey,
			MagicCookieValue: grpcplugin.MagicCookieValue,
		},
		VersionedPlugins: map[int]goplugin.PluginSet{
			grpcplugin.ProtocolVersion: {
				"diagnostics": &grpcplugin.DiagnosticsGRPCPlugin{},
				"resource":    &grpcplugin.ResourceGRPCPlugin{},
				"data":        &grpcplugin.DataGRPCPlugin{},
			},
		},
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		StartTimeout:     30 * time.Second,
		Logger: hclog.New(&hclog.LoggerOptions{
			Name: "gpx_meshmetrics", Output: logs, Level: hclog.Debug,
		}),
		Stderr: logs,
	})
	p := &Plugin{client: client, logs: logs}
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("start %s: %w\nplugin output:\n%s", bin, err, logs.String())
	}
	if p.Diagnostics, err = dispense[pluginv2.DiagnosticsClient](rpc, "diagnostics"); err == nil {
		if p.Data, err = dispense[pluginv2.DataClient](rpc, "data"); err == nil {
			p.Resource, err = dispense[pluginv2.ResourceClient](rpc, "resource")
		}
	}
	if err != nil {
		client.Kill()
		return nil, err
	}
	return p, nil
}

func dispense[T any](rpc goplugin.ClientProtocol, name string) (T, error) {
	var zero T
	raw, err := rpc.Dispense(name)
	if err != nil {
		return zero, fmt.Errorf("dispense the %s client: %w", name, err)
	}
	c, ok := raw.(T)
	if !ok {
		return zero, fmt.Errorf("dispensed %s client has type %T, want %T", name, raw, zero)
	}
	return c, nil
}

// Kill stops the plugin process (go-plugin kills only its own child).
func (p *Plugin) Kill() { p.client.Kill() }

// Exited reports whether the plugin process has ended.
func (p *Plugin) Exited() bool { return p.client.Exited() }

// Logs is what the plugin wrote to stderr and through go-plugin's logger.
func (p *Plugin) Logs() string { return p.logs.String() }

// Datasource builds the instance settings Grafana would send for a
// datasource with this jsonData (marshalled as is when it is []byte or a
// string) and decrypted secureJsonData.
func Datasource(uid string, jsonData any, secure map[string]string) (backend.DataSourceInstanceSettings, error) {
	raw, err := jsonBytes(jsonData)
	if err != nil {
		return backend.DataSourceInstanceSettings{}, err
	}
	return backend.DataSourceInstanceSettings{
		ID: 1, UID: uid, Name: "Mesh Metrics " + uid, Type: PluginID,
		JSONData: raw, DecryptedSecureJSONData: secure, Updated: time.Now(),
	}, nil
}

func jsonBytes(v any) ([]byte, error) {
	switch j := v.(type) {
	case nil:
		return nil, nil
	case []byte:
		return j, nil
	case string:
		return []byte(j), nil
	default:
		b, err := json.Marshal(j)
		if err != nil {
			return nil, fmt.Errorf("marshal jsonData: %w", err)
		}
		return b, nil
	}
}

// grafanaContext is the plugin context Grafana sends with every call for a
// datasource: the org, the plugin, the signed-in user and the settings.
func grafanaContext(ds backend.DataSourceInstanceSettings) backend.PluginContext {
	return backend.PluginContext{
		OrgID: 1, PluginID: PluginID, PluginVersion: "test",
		User:                       &backend.User{Login: "admin", Role: "Admin"},
		DataSourceInstanceSettings: &ds,
	}
}

func pluginContext(ds backend.DataSourceInstanceSettings) *pluginv2.PluginContext {
	return backend.ToProto().PluginContext(grafanaContext(ds))
}

// CheckHealth calls the plugin's health check for a datasource.
func (p *Plugin) CheckHealth(ctx context.Context, ds backend.DataSourceInstanceSettings) (*backend.CheckHealthResult, error) {
	resp, err := p.Diagnostics.CheckHealth(ctx, &pluginv2.CheckHealthRequest{PluginContext: pluginContext(ds)})
	if err != nil {
		return nil, err
	}
	return backend.FromProto().CheckHealthResponse(resp), nil
}

// QueryData sends queries for a datasource; headers carry, for example,
// FromAlert as Grafana's alerting sets it.
func (p *Plugin) QueryData(ctx context.Context, ds backend.DataSourceInstanceSettings, headers map[string]string, queries ...backend.DataQuery) (*backend.QueryDataResponse, error) {
	req := backend.ToProto().QueryDataRequest(&backend.QueryDataRequest{
		PluginContext: grafanaContext(ds),
		Headers:       headers,
		Queries:       queries,
	})
	resp, err := p.Data.QueryData(ctx, req)
	if err != nil {
		return nil, err
	}
	return backend.FromProto().QueryDataResponse(resp)
}

// CallResource performs one resource call and gathers its streamed answer.
func (p *Plugin) CallResource(ctx context.Context, ds backend.DataSourceInstanceSettings, method, path string, body []byte) (*backend.CallResourceResponse, error) {
	// As Grafana sends it: the path without the query, the URL with it.
	resourcePath, _, _ := strings.Cut(path, "?")
	stream, err := p.Resource.CallResource(ctx, &pluginv2.CallResourceRequest{
		PluginContext: pluginContext(ds), Method: method, Path: resourcePath, Url: "/" + path, Body: body,
	})
	if err != nil {
		return nil, err
	}
	out := &backend.CallResourceResponse{Headers: map[string][]string{}}
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if msg.Code != 0 {
			out.Status = int(msg.Code)
		}
		for k, v := range msg.Headers {
			out.Headers[k] = append(out.Headers[k], v.Values...)
		}
		out.Body = append(out.Body, msg.Body...)
	}
}

// syncBuffer collects the plugin's output from go-plugin's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
