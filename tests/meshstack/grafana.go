package meshstack

import (
	"fmt"
	"net"
	"regexp"
	"strings"
)

// PluginID is the plugin's id (src/plugin.json).
const PluginID = "forma3d-meshmetrics-datasource"

// GrafanaEnv is the environment the demo starts Grafana with: every
// variable provisioning/grafana reads. Grafana expands $VAR and ${VAR} in
// provisioning files as Go's os.ExpandEnv does, with no defaults, so each
// must be set here (tests/provisioning expands the files with it).
// clickhouseAddr is host:port of ClickHouse's HTTP interface.
func GrafanaEnv(clickhouseAddr string) ([]string, error) {
	host, port, err := net.SplitHostPort(clickhouseAddr)
	if err != nil || host == "" || port == "" {
		return nil, fmt.Errorf("clickhouse address %q: want host:port", clickhouseAddr)
	}
	return []string{
		"MESHMETRICS_CLICKHOUSE_HOST=" + host,
		"MESHMETRICS_CLICKHOUSE_PORT=" + port,
		"MESHMETRICS_CLICKHOUSE_PROTOCOL=http",
		"MESHMETRICS_CLICKHOUSE_USER=default",
		"MESHMETRICS_CLICKHOUSE_PASSWORD=",
	}, nil
}

// GrafanaIni is the grafana.ini the demo writes: 127.0.0.1:3000, data,
// plugins and provisioning under dir, logs to the console and to
// logsDir/grafana.log (GrafanaLogFile), the plugin allowed unsigned by id, anonymous Viewer (12.4 accepts no other
// anonymous role), and nothing that calls grafana.com at start: no plugin
// preinstall, no signing key download, no update checks, no news.
func GrafanaIni(dir, logsDir string) string {
	return fmt.Sprintf(`[server]
http_addr = 127.0.0.1
http_port = 3000
[paths]
data = %[1]s/data
logs = %[2]s
plugins = %[1]s/plugins
provisioning = %[1]s/provisioning
[log]
mode = console file
[plugins]
allow_loading_unsigned_plugins = %[3]s
preinstall_disabled = true
public_key_retrieval_disabled = true
[security]
admin_user = admin
admin_password = admin
[auth.anonymous]
enabled = true
org_role = Viewer
[analytics]
reporting_enabled = false
check_for_updates = false
check_for_plugin_updates = false
feedback_links_enabled = false
[news]
news_feed_enabled = false
`, dir, logsDir, PluginID)
}

// GrafanaLogFile is the file Grafana logs to with GrafanaIni's logsDir.
const GrafanaLogFile = "grafana.log"

var (
	ansiEscape = regexp.MustCompile("\x1b\\[[0-9;]*m")
	// Grafana's logfmt levels (level=error since Grafana 10, lvl=eror
	// before) and the line its CLI prints when the server command fails.
	grafanaErrorLine = regexp.MustCompile(`(^|\s)(level=(error|crit)|lvl=(eror|crit))(\s|$)|^Error:`)
)

// GrafanaFailureCause picks the lines that explain why Grafana did not
// start out of its output: its error and critical log lines and the CLI's
// final "Error:" line, the last max of them, each once. Without any, the
// last max lines are the best there is.
func GrafanaFailureCause(output string, max int) []string {
	lines := strings.Split(ansiEscape.ReplaceAllString(output, ""), "\n")
	var cause []string
	seen := map[string]bool{}
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || seen[l] || !grafanaErrorLine.MatchString(l) {
			continue
		}
		seen[l] = true
		cause = append(cause, l)
	}
	if len(cause) == 0 {
		for _, l := range lines {
			if l = strings.TrimSpace(l); l != "" {
				cause = append(cause, l)
			}
		}
	}
	if len(cause) > max {
		cause = cause[len(cause)-max:]
	}
	return cause
}
