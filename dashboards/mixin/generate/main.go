// Command generate renders the dashboard and the alert rules from
// dashboards/mixin's Config into the files provisioning and the plugin
// bundle read. Run from the repository root: go run ./dashboards/mixin/generate
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/forma3d/meshmetrics/dashboards/mixin"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "generate:", err)
		os.Exit(1)
	}
}

func run() error {
	if _, err := os.Stat("go.mod"); err != nil {
		return fmt.Errorf("run from the repository root (no go.mod here): %w", err)
	}
	files, err := mixin.Default().Files()
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := os.MkdirAll(filepath.Dir(f.Path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(f.Path, f.Content, 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", f.Path)
	}
	return nil
}
