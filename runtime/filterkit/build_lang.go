package filterkit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// The commands wasm-build.sh runs for the repository's C and AssemblyScript
// filters, here for a filter outside it.

// LangOf is the language of the filter in dir: LangC with a main.c,
// LangAS with an assembly/index.ts, else LangGo.
func LangOf(dir string) string {
	switch {
	case exists(filepath.Join(dir, "main.c")):
		return LangC
	case exists(filepath.Join(dir, "assembly", "index.ts")):
		return LangAS
	}
	return LangGo
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// buildC compiles every .c file of dir, with dir on the include path (where
// `filter new --lang c` puts sluice.h). $CC overrides clang.
func buildC(ctx context.Context, dir, out string) error {
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "clang"
	}
	if _, err := exec.LookPath(cc); err != nil {
		return errors.New(cc + " not found: a C filter needs clang, lld and wasi-libc (Debian: apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32)")
	}
	srcs, _ := filepath.Glob(filepath.Join(dir, "*.c"))
	args := append([]string{"--target=wasm32-wasi", "-mexec-model=reactor", "-O2", "-Wall", "-I", dir,
		"-Wl,--strip-all", "-o", out}, srcs...)
	cmd := exec.CommandContext(ctx, cc, args...)
	cmd.Dir = dir
	if err := run(cmd); err != nil {
		return fmt.Errorf("%s --target=wasm32-wasi in %s: %w", cc, dir, err)
	}
	return nil
}

// buildAS installs the compiler on first use (npm install, pinned by the
// package.json `filter new` wrote) and runs asc with the SDK's options.
func buildAS(ctx context.Context, dir, out string) error {
	if _, err := exec.LookPath("npm"); err != nil {
		return errors.New("npm not found: an AssemblyScript filter needs Node.js and npm (Debian: apt-get install npm)")
	}
	if !exists(filepath.Join(dir, "node_modules", ".bin", "asc")) {
		install := "install"
		if exists(filepath.Join(dir, "package-lock.json")) {
			install = "ci"
		}
		cmd := exec.CommandContext(ctx, "npm", install, "--no-audit", "--no-fund")
		cmd.Dir = dir
		if err := run(cmd); err != nil {
			return fmt.Errorf("npm %s in %s: %w", install, dir, err)
		}
	}
	cmd := exec.CommandContext(ctx, "npx", "--no-install", "asc", "assembly/index.ts",
		"--config", filepath.Join(EmbeddedSDKDir, "asconfig.json"), "-o", out)
	cmd.Dir = dir
	if err := run(cmd); err != nil {
		return fmt.Errorf("asc in %s: %w", dir, err)
	}
	return nil
}
