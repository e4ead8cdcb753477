package filterkit

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// sdkModule is the Go SDK's module path.
const sdkModule = "github.com/sluicegw/sluice/sdk"

// ErrNoSDK is returned by FindSDK when no SDK checkout is found; `sluice
// filter new` then uses the SDK embedded in the binary.
var ErrNoSDK = errors.New("no Sluice checkout's Go SDK found (--sdk DIR, SLUICE_SDK, or sdk/ around the working directory or the binary)")

// FindSDK returns the directory of the Go SDK: explicit if not empty, then
// $SLUICE_SDK, then an sdk/ directory beside or above each of the start
// directories (the working directory, the sluice binary's directory). The
// SDK is not published on a module proxy yet, so a new filter points its
// go.mod at a local copy.
func FindSDK(explicit string, starts ...string) (string, error) {
	if explicit != "" {
		if isSDK(explicit) {
			return explicit, nil
		}
		return "", errors.New(explicit + ": not the Sluice Go SDK (no go.mod declaring " + sdkModule + ")")
	}
	if env := os.Getenv("SLUICE_SDK"); env != "" {
		if isSDK(env) {
			return env, nil
		}
		return "", errors.New("SLUICE_SDK=" + env + ": not the Sluice Go SDK (no go.mod declaring " + sdkModule + ")")
	}
	for _, start := range starts {
		dir, err := filepath.Abs(start)
		if err != nil {
			continue
		}
		for {
			if c := filepath.Join(dir, "sdk"); isSDK(c) {
				return c, nil
			}
			if isSDK(dir) {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", ErrNoSDK
}

// isSDK reports whether dir holds a go.mod declaring the SDK module.
func isSDK(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if line := strings.TrimSpace(s.Text()); strings.HasPrefix(line, "module ") {
			return strings.TrimSpace(strings.TrimPrefix(line, "module ")) == sdkModule
		}
	}
	return false
}
