package chdb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// EnvLibPath names the environment variable that overrides where libchdb.so
// is looked for. It may name the file itself or a directory holding it.
const EnvLibPath = "CHDB_LIB_PATH"

// npmPackageDir is where `npm ci` puts the library (package.json pins
// @chdb/lib-linux-x64-gnu as a devDependency).
var npmPackageDir = filepath.Join("node_modules", "@chdb", "lib-linux-x64-gnu")

const libName = "libchdb.so"

// ErrNotInstalled reports that libchdb.so could not be found.
var ErrNotInstalled = errors.New("libchdb.so not found")

// Locate finds libchdb.so: CHDB_LIB_PATH when set (and then only there, so a
// wrong override is reported rather than silently bypassed), otherwise
// node_modules/@chdb/lib-linux-x64-gnu/libchdb.so in the first of startDirs or
// one of their parents that has it.
func Locate(startDirs ...string) (string, error) {
	if env := os.Getenv(EnvLibPath); env != "" {
		p := env
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			p = filepath.Join(p, libName)
		}
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			return "", fmt.Errorf("%w at %s=%s: run `npm ci` in the repository root to install @chdb/lib-linux-x64-gnu, or point %s at libchdb.so", ErrNotInstalled, EnvLibPath, env, EnvLibPath)
		}
		return p, nil
	}
	seen := map[string]bool{}
	for _, start := range startDirs {
		if start == "" {
			continue
		}
		dir, err := filepath.Abs(start)
		if err != nil {
			continue
		}
		for {
			if !seen[dir] {
				seen[dir] = true
				p := filepath.Join(dir, npmPackageDir, libName)
				if st, err := os.Stat(p); err == nil && !st.IsDir() {
					return p, nil
				}
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("%w in %s under the working directory or any parent: run `npm ci` in the repository root to install it (or set %s)", ErrNotInstalled, npmPackageDir, EnvLibPath)
}
