// Command gpx_meshmetrics is the Mesh Metrics datasource's backend, started
// by Grafana over its plugin protocol.
package main

import (
	"os"

	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"

	"github.com/forma3d/meshmetrics/pkg/plugin"
)

func main() {
	if err := datasource.Manage("forma3d-meshmetrics-datasource", plugin.NewDatasource, datasource.ManageOpts{}); err != nil {
		log.DefaultLogger.Error(err.Error())
		os.Exit(1)
	}
}
