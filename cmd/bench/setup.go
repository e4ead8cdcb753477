package main

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"
	"time"
)

//go:embed configs
var configFS embed.FS

// stage is a run's working directory and everything started in it.
type stage struct {
	dir         string
	ports       ports
	jwt         *benchJWT
	token       string // role bench: d lets it through
	tokenNoRole string // a valid token d's policy refuses
	body        []byte // the 1 KiB file
	sluiceRev   string
	procs       []*process
	contestants map[string]*contestant
}

// configData fills the templates under configs/.
type configData struct {
	Ports                          ports
	UpstreamDir, ProxyDir, WebRoot string
	JWKSPath, EchoPath             string
	JWT                            *benchJWT
}

// tools the bench runs, with the Debian package that has each.
var tools = map[string]string{"wrk": "wrk", "h2load": "nghttp2-client", "nginx": "nginx", "getconf": "libc-bin"}

func checkTools() error {
	var missing []string
	for tool, pkg := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, pkg)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing tools; install them with: apt-get install %s", strings.Join(missing, " "))
	}
	return nil
}

// newStage builds the binaries and filters, writes every config and key,
// and checks that the ports are free. Nothing is started yet.
func newStage(ctx context.Context, o options) (*stage, error) {
	dir, err := os.MkdirTemp("", "sluice-bench.")
	if err != nil {
		return nil, err
	}
	// nginx workers run as nobody: they must be able to read the document root.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	s := &stage{dir: dir, ports: portsFrom(o.portBase)}
	if err := s.build(ctx, o.goCmd); err != nil {
		return s, err
	}
	for _, p := range s.ports.all() {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p), time.Second); err == nil {
			c.Close()
			return s, fmt.Errorf("port 127.0.0.1:%d is already in use (ports %d-%d are needed); free it or set BENCH_PORT_BASE",
				p, o.portBase+1, o.portBase+6)
		}
	}
	return s, s.writeFiles(time.Now())
}

// build makes private copies of sluice, bench-ceiling and the headers
// filter in the stage, so a concurrent rebuild in the tree cannot swap them.
func (s *stage) build(ctx context.Context, goCmd string) error {
	logf("building sluice, cmd/bench-ceiling and the wasm filters")
	steps := [][]string{
		{goCmd, "build", "-o", s.path("sluice"), "./cmd/sluice"},
		{goCmd, "build", "-o", s.path("bench-ceiling"), "./cmd/bench-ceiling"},
		{"./wasm-build.sh"},
	}
	for _, argv := range steps {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), "GO="+goCmd)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, tail(string(out), 20))
		}
	}
	wasm, err := os.ReadFile("filters/headers.wasm")
	if err != nil {
		return fmt.Errorf("filters/headers.wasm after ./wasm-build.sh: %w", err)
	}
	// Beside d's config, in a directory of its own (the node watches its
	// config's directory).
	if err := os.MkdirAll(s.path("full"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(s.path("full", "headers.wasm"), wasm, 0o644); err != nil {
		return err
	}
	s.sluiceRev = gitRevision()
	return nil
}

func (s *stage) path(elem ...string) string {
	return filepath.Join(append([]string{s.dir}, elem...)...)
}

func (s *stage) writeFiles(now time.Time) error {
	for _, d := range []string{"www", "up", "ngx", "sluice-data", "full/policy", "full-data"} {
		if err := os.MkdirAll(s.path(d), 0o755); err != nil {
			return err
		}
	}
	// 1 KiB body: 1023 printable bytes and a newline.
	s.body = append(bytes.Repeat([]byte("x"), fileSize-1), '\n')
	jwt, err := newBenchJWT(now)
	if err != nil {
		return err
	}
	s.jwt = jwt
	if s.token, err = jwt.Token(now, benchRole); err != nil {
		return err
	}
	if s.tokenNoRole, err = jwt.Token(now, otherRole); err != nil {
		return err
	}
	jwks, err := jwt.JWKS()
	if err != nil {
		return err
	}
	files := map[string][]byte{"www" + filePath: s.body, "www" + jwksPath: jwks}
	for _, name := range []string{"policy/bench.rego", "policy/data.json"} {
		b, err := configFS.ReadFile("configs/" + name)
		if err != nil {
			return err
		}
		files["full/"+name] = b
	}
	data := configData{
		Ports: s.ports, UpstreamDir: s.path("up"), ProxyDir: s.path("ngx"), WebRoot: s.path("www"),
		JWKSPath: jwksPath, EchoPath: echoPath, JWT: jwt,
	}
	for out, tmpl := range map[string]string{
		"up/nginx.conf":    "nginx-upstream.conf.tmpl",
		"ngx/nginx.conf":   "nginx-proxy.conf.tmpl",
		"sluice.yaml":      "sluice-one-route.yaml.tmpl",
		"full/sluice.yaml": "sluice-full.yaml.tmpl",
	} {
		b, err := renderConfig(tmpl, data)
		if err != nil {
			return err
		}
		files[out] = b
	}
	for name, b := range files {
		if err := os.WriteFile(s.path(name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// renderConfig fills one template of configs/ (nginx templates see the
// shared nginx-common.conf.tmpl too).
func renderConfig(name string, data configData) ([]byte, error) {
	patterns := []string{"configs/" + name}
	if strings.HasPrefix(name, "nginx-") {
		patterns = append(patterns, "configs/nginx-common.conf.tmpl")
	}
	t, err := template.New(name).Option("missingkey=error").ParseFS(configFS, patterns...)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, name, data); err != nil {
		return nil, fmt.Errorf("config %s: %w", name, err)
	}
	return b.Bytes(), nil
}

// validate asks nginx and sluice whether they accept their configs.
func (s *stage) validate(ctx context.Context) error {
	for _, d := range []string{"up", "ngx"} {
		out, err := exec.CommandContext(ctx, "nginx", "-t", "-q", "-p", s.path(d), "-e", s.path(d, "error.log"), "-c", s.path(d, "nginx.conf")).CombinedOutput()
		if err != nil {
			return fmt.Errorf("nginx config %s rejected: %s", d, out)
		}
	}
	for _, cfg := range []string{"sluice.yaml", "full/sluice.yaml"} {
		if out, err := exec.CommandContext(ctx, s.path("sluice"), "validate", "-f", s.path(cfg)).CombinedOutput(); err != nil {
			return fmt.Errorf("sluice rejected %s: %s", cfg, out)
		}
	}
	return nil
}

// start starts every contestant and waits until each serves the file.
func (s *stage) start(ctx context.Context) error {
	h1, h2c := newClients()
	bearer := []string{"Authorization: Bearer " + s.token}
	p := s.ports
	type server struct {
		c     *contestant
		name  string // in error messages
		quiet bool   // stdout to /dev/null (sluice's access log)
		argv  []string
	}
	nginx := func(d string) []string {
		return []string{"nginx", "-p", s.path(d), "-e", s.path(d, "error.log"), "-c", s.path(d, "nginx.conf"), "-g", "daemon off;"}
	}
	edge := func(cfg, listen, data string) []string {
		return []string{s.path("sluice"), "edge", "--config", s.path(cfg), "--listen", listen, "--data", s.path(data)}
	}
	servers := []server{
		{&contestant{Key: "a", URL: fileURL(p.Upstream)}, "upstream nginx", false, nginx("up")},
		{&contestant{Key: "b", URL: fileURL(p.NginxProxy), H2URL: fileURL(p.NginxProxyH2)}, "nginx proxy", false, nginx("ngx")},
		{&contestant{Key: "c", URL: fileURL(p.Sluice), H2URL: fileURL(p.Sluice)}, "sluice edge", true,
			edge("sluice.yaml", fmt.Sprintf("127.0.0.1:%d", p.Sluice), "sluice-data")},
		{&contestant{Key: "d", URL: fileURL(p.SluiceFull), H2URL: fileURL(p.SluiceFull), Headers: bearer}, "sluice edge, full pipeline", true,
			edge("full/sluice.yaml", fmt.Sprintf("127.0.0.1:%d", p.SluiceFull), "full-data")},
		{&contestant{Key: "e", URL: fileURL(p.Ceiling)}, "bare fasthttp proxy", false,
			[]string{s.path("bench-ceiling"), "-listen", fmt.Sprintf("127.0.0.1:%d", p.Ceiling), "-upstream", fmt.Sprintf("127.0.0.1:%d", p.Upstream)}},
	}
	logf("starting upstream nginx :%d, nginx proxy :%d (h2c :%d), sluice :%d, sluice full pipeline :%d, bare fasthttp :%d",
		p.Upstream, p.NginxProxy, p.NginxProxyH2, p.Sluice, p.SluiceFull, p.Ceiling)
	s.contestants = map[string]*contestant{}
	for _, sv := range servers {
		proc, err := startProcess(sv.name, s.path(sv.c.Key+".log"), sv.quiet, sv.argv...)
		if err != nil {
			return err
		}
		s.procs = append(s.procs, proc)
		sv.c.proc = proc
		s.contestants[sv.c.Key] = sv.c
		if err := proc.waitReady(ctx, h1, sv.c.URL, sv.c.Headers); err != nil {
			return err
		}
		if sv.c.H2URL != "" {
			if err := proc.waitReady(ctx, h2c, sv.c.H2URL, sv.c.Headers); err != nil {
				return err
			}
		}
	}
	return nil
}

// close stops everything started (5 s for all to exit, then KILL) and
// removes the stage unless kept; after a failure it shows the logs' tails.
func (s *stage) close(failed, keep bool) {
	deadline := time.Now().Add(5 * time.Second)
	for _, p := range s.procs {
		p.stop(deadline)
	}
	if failed {
		logs, _ := fs.Glob(os.DirFS(s.dir), "*.log")
		more, _ := fs.Glob(os.DirFS(s.dir), "*/error.log")
		for _, name := range append(logs, more...) {
			if b, err := os.ReadFile(s.path(name)); err == nil && len(b) > 0 {
				logf("---- %s (last 20 lines)\n%s", name, tail(string(b), 20))
			}
		}
	}
	if keep {
		logf("kept %s", s.dir)
		return
	}
	os.RemoveAll(s.dir)
}

// gitRevision names the tree the binaries were built from.
func gitRevision() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	rev := strings.TrimSpace(string(out))
	if dirty, _ := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); len(bytes.TrimSpace(dirty)) > 0 {
		rev += " + uncommitted changes"
	}
	return rev
}
