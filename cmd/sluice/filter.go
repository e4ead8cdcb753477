package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicegw/sluice/runtime/filter"
	"github.com/sluicegw/sluice/runtime/filterkit"
)

func newFilterCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "filter new NAME | build DIR | test WASM --request FILE",
		Short: "Create, build and test WASM filters",
		RunE:  needSubcommand("new, build or test"),
	}
	cmd.AddCommand(newFilterNewCmd(), newFilterBuildCmd(), newFilterTestCmd())
	return cmd
}

func newFilterNewCmd() *cobra.Command {
	var dir, sdk, lang string
	cmd := &cobra.Command{
		Use:   "new NAME",
		Short: "Create a filter (Go, C or AssemblyScript) that builds and tests as it is",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if dir == "" {
				dir = name
			}
			cwd, _ := os.Getwd()
			starts := []string{cwd}
			if exe, err := os.Executable(); err == nil {
				starts = append(starts, filepath.Dir(exe))
			}
			sdkDir, err := filterkit.FindSDK(sdk, starts...)
			switch {
			case errors.Is(err, filterkit.ErrNoSDK):
				sdkDir = "" // outside a checkout: the SDK this binary carries
			case err != nil:
				return fmt.Errorf("filter new: %w", err)
			}
			if lang != filterkit.LangGo {
				sdkDir = "" // the C and AssemblyScript SDKs always come from the binary
			}
			if err := filterkit.ScaffoldLang(dir, name, lang, sdkDir); err != nil {
				return fmt.Errorf("filter new: %w", err)
			}
			from := sdkDir
			switch {
			case lang == filterkit.LangC:
				from = filepath.Join(dir, "sluice.h") + ", from this binary"
			case from == "":
				from = filepath.Join(dir, filterkit.EmbeddedSDKDir) + ", from this binary"
			}
			next := "cd " + dir + " && go test ./...\n  sluice filter build " + dir
			if lang != filterkit.LangGo {
				next = "sluice filter build " + dir + "\n  sluice filter test " + filepath.Join(dir, name+".wasm") + " --request FILE"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created %s (SDK: %s)\n  %s\n", dir, from, next)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory to create (default ./NAME)")
	cmd.Flags().StringVar(&lang, "lang", filterkit.LangGo, "the filter's language: go, c or as (AssemblyScript)")
	cmd.Flags().StringVar(&sdk, "sdk", "", "the Go SDK directory (default $SLUICE_SDK, then sdk/ of the checkout around the working directory or the binary, else the SDK built into this binary)")
	return cmd
}

func newFilterBuildCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "build DIR",
		Short: "Compile a filter (Go, C or AssemblyScript) to .wasm and check it loads as an http-wasm guest",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			start := time.Now()
			wasmPath, err := filterkit.Build(ctx, filterkit.BuildOptions{Dir: args[0], Out: out, Go: os.Getenv("GO")})
			if err != nil {
				return fmt.Errorf("filter build: %w", err)
			}
			wasm, err := os.ReadFile(wasmPath)
			if err != nil {
				return fmt.Errorf("filter build: %w", err)
			}
			rt, err := toolRuntime(ctx, io.Discard)
			if err != nil {
				return err
			}
			defer rt.Close(ctx)
			name := strings.TrimSuffix(filepath.Base(wasmPath), ".wasm")
			if err := filterkit.Check(ctx, rt, name, wasm, nil); err != nil {
				return fmt.Errorf("filter build: %s was built but will not load: %w", wasmPath, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "built %s (%d KiB) in %s; it loads as an http-wasm guest\n",
				wasmPath, len(wasm)/1024, time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "the .wasm to write (default DIR/NAME.wasm)")
	return cmd
}

func newFilterTestCmd() *cobra.Command {
	var request, response, config, remote string
	var upstreams []string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "test WASM --request FILE",
		Short: "Run a filter on a request written in a file and print what it did",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if request == "" {
				return errors.New("filter test: --request FILE is required (an HTTP request as text)")
			}
			wasm, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("filter test: %w", err)
			}
			opts := filterkit.TryOptions{Name: strings.TrimSuffix(filepath.Base(args[0]), ".wasm"), RemoteAddr: remote}
			if opts.Request, err = os.ReadFile(request); err != nil {
				return fmt.Errorf("filter test: %w", err)
			}
			if response != "" {
				if opts.Response, err = os.ReadFile(response); err != nil {
					return fmt.Errorf("filter test: %w", err)
				}
			}
			if opts.Config, err = filterConfig(config); err != nil {
				return fmt.Errorf("filter test: --config: %w", err)
			}
			if opts.Upstreams, err = filterUpstreams(upstreams); err != nil {
				return fmt.Errorf("filter test: --upstream: %w", err)
			}
			opts.Timeout = timeout
			ctx := cmd.Context()
			rt, err := toolRuntime(ctx, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer rt.Close(ctx)
			res, err := filterkit.Try(ctx, rt, wasm, opts)
			if err != nil {
				return fmt.Errorf("filter test: %w", err)
			}
			filterkit.Print(cmd.OutOrStdout(), res)
			return nil
		},
	}
	cmd.Flags().StringVar(&request, "request", "", "file holding the request as text (request line, headers, blank line, body)")
	cmd.Flags().StringVar(&response, "response", "", "file holding the upstream's response as text (default: 200 with no body)")
	cmd.Flags().StringVar(&config, "config", "", "the filter's config as JSON, or @FILE")
	cmd.Flags().StringVar(&remote, "remote-addr", "", "client address the filter sees (default 192.0.2.1:40000)")
	cmd.Flags().StringArrayVar(&upstreams, "upstream", nil, "NAME=URL: an upstream the filter's outbound calls may reach (repeatable)")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "the filter's time limit per call, outbound calls included (default a node's, 50ms)")
	return cmd
}

// filterUpstreams reads --upstream NAME=URL flags into the allow-list of
// the filter's outbound calls.
func filterUpstreams(flags []string) (map[string]filter.Upstream, error) {
	if len(flags) == 0 {
		return nil, nil
	}
	ups := map[string]filter.Upstream{}
	for _, f := range flags {
		name, raw, ok := strings.Cut(f, "=")
		u, err := url.Parse(raw)
		if !ok || name == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%q: want NAME=http://HOST:PORT", f)
		}
		ups[name] = filter.URLUpstream(u, http.DefaultClient)
	}
	return ups, nil
}

// filterConfig reads --config: inline JSON or @FILE, checked to be JSON
// because that is what guests decode.
func filterConfig(v string) ([]byte, error) {
	if v == "" {
		return nil, nil
	}
	b := []byte(v)
	if strings.HasPrefix(v, "@") {
		var err error
		if b, err = os.ReadFile(v[1:]); err != nil {
			return nil, err
		}
	}
	if !json.Valid(b) {
		return nil, errors.New("not valid JSON")
	}
	return b, nil
}

// toolRuntime is a wazero runtime for the filter tools, with its compilation
// cache in the user's cache directory so a second run does not recompile.
// Guest logs go to logw.
func toolRuntime(ctx context.Context, logw io.Writer) (*filter.Runtime, error) {
	opts := filter.RuntimeOptions{Logger: slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	if dir, err := os.UserCacheDir(); err == nil {
		opts.CacheDir = filepath.Join(dir, "sluice", "wasm-cache")
	}
	rt, err := filter.NewRuntime(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("wasm runtime: %w", err)
	}
	return rt, nil
}
