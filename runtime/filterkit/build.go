package filterkit

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/sluicegw/sluice/runtime/filter"
)

// BuildOptions say what to build and where.
type BuildOptions struct {
	// Dir is the filter's Go package (a main package using the SDK).
	Dir string
	// Out is the .wasm to write; "" means DIR/NAME.wasm, NAME being the
	// directory's base name.
	Out string
	// Go is the go command; "" means "go" from PATH.
	Go string
}

// Build compiles a filter to a WASI reactor, the shape Sluice's host loads,
// by the language its directory holds (LangOf): Go with GOOS=wasip1
// GOARCH=wasm, -buildmode=c-shared, stripped; C with clang (build_lang.go);
// AssemblyScript with asc. The
// compiler's output is in the error when it fails. It returns the path of
// the .wasm written.
func Build(ctx context.Context, opts BuildOptions) (string, error) {
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return "", err
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", fmt.Errorf("%s: not a directory", opts.Dir)
	}
	out := opts.Out
	if out == "" {
		out = filepath.Join(dir, filepath.Base(dir)+".wasm")
	}
	if out, err = filepath.Abs(out); err != nil {
		return "", err
	}
	switch LangOf(dir) {
	case LangC:
		return out, buildC(ctx, dir, out)
	case LangAS:
		return out, buildAS(ctx, dir, out)
	}
	goBin := opts.Go
	if goBin == "" {
		goBin = "go"
	}
	cmd := exec.CommandContext(ctx, goBin, "build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false",
		"-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if err := run(cmd); err != nil {
		return "", fmt.Errorf("go build (GOOS=wasip1 GOARCH=wasm) in %s: %w", opts.Dir, err)
	}
	return out, nil
}

// run runs cmd, its output in the error when it fails.
func run(cmd *exec.Cmd) error {
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w\n%s", err, strings.TrimSpace(output.String()))
	}
	return nil
}

// Check loads a module the way a gateway does when it builds a snapshot
// (imports, exports, memory, initialisation), so a module that would be
// refused there is refused here, with the same message.
func Check(ctx context.Context, rt *filter.Runtime, name string, wasm []byte, config []byte) error {
	m, err := rt.Load(ctx, wasm, filter.ModuleOptions{Name: name, Config: configOrEmpty(config)})
	if err != nil {
		return err
	}
	return m.Close(ctx)
}

// configOrEmpty is the config a gateway hands a filter whose config block is
// missing: an empty JSON object, so a guest that decodes its config loads
// here exactly when it loads there.
func configOrEmpty(c []byte) []byte {
	if len(c) == 0 {
		return []byte("{}")
	}
	return c
}
