package edge

import (
	"encoding/xml"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// h2specReport is the part of h2spec's JUnit report the test reads: one
// testcase per case, with a failure, error or skipped element when it did
// not pass.
type h2specReport struct {
	Suites []struct {
		Cases []struct {
			Package   string    `xml:"package,attr"`
			ClassName string    `xml:"classname,attr"`
			Failure   *struct{} `xml:"failure"`
			Error     *struct{} `xml:"error"`
			Skipped   *struct{} `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// h2specCases is how many cases h2spec v2.2.1 runs without --strict: all
// of them must pass, and a report with fewer is a failure too (a case
// that did not run proves nothing).
const h2specCases = 145

// TestH2Spec runs h2spec (github.com/summerwind/h2spec, installed by
// .ci/run) against a node, over TLS (ALPN h2) and as h2c by prior
// knowledge, and fails with each case that did not pass. Without the
// binary it skips, except under CI (SLUICE_H2SPEC_TESTS=1), where that is
// a failure.
func TestH2Spec(t *testing.T) {
	bin, err := exec.LookPath("h2spec")
	if err != nil {
		if os.Getenv("SLUICE_H2SPEC_TESTS") == "1" {
			t.Fatalf("SLUICE_H2SPEC_TESTS=1 but h2spec is not on PATH (go install github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible): %v", err)
		}
		t.Skip("h2spec not on PATH; set SLUICE_H2SPEC_TESTS=1 to make this a failure")
	}
	up := startUpstream(t, "up", nil)
	cfg := render(t, `
upstreams: {up: {endpoints: ["{{.}}"]}}
routes: [{name: all, match: {path_prefix: /}, upstream: up}]
`, up.url)
	t.Run("TLS", func(t *testing.T) {
		n := startNode(t, cfg, func(_ *Options, l *Listeners) { l.TLS = selfSignedTLS(t) })
		runH2Spec(t, bin, strings.TrimPrefix(n.url, "https://"), nil, "--tls", "--insecure")
	})
	t.Run("h2c", func(t *testing.T) {
		n := startNode(t, cfg)
		runH2Spec(t, bin, strings.TrimPrefix(n.url, "http://"), map[string]string{
			// The port serves HTTP/1.1 too: plain text that does not open
			// with the preface is an HTTP/1.1 request, and a malformed one
			// is answered 400 (RFC 9112 §3) before the connection closes.
			"http2/3.5: Sends invalid connection preface": "an HTTP/1.1 400 on a port that also serves HTTP/1.1",
		})
	})
}

// runH2Spec runs h2spec against addr and fails with every case that did
// not pass, except those in excused (case: why).
func runH2Spec(t *testing.T, bin, addr string, excused map[string]string, flags ...string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(t.TempDir(), "h2spec.xml")
	args := append([]string{"--host", host, "--port", port, "--junit-report", report}, flags...)
	// h2spec exits non-zero when a case fails; the report says which.
	out, runErr := exec.Command(bin, args...).CombinedOutput()
	raw, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("h2spec wrote no report (%v): %v\n%s", runErr, err, out)
	}
	var r h2specReport
	if err := xml.Unmarshal(raw, &r); err != nil {
		t.Fatalf("h2spec report: %v", err)
	}
	passed, total := 0, 0
	var failed []string
	for _, s := range r.Suites {
		for _, c := range s.Cases {
			total++
			name := fmt.Sprintf("%s: %s", c.Package, c.ClassName)
			switch why, ok := excused[name]; {
			case c.Failure == nil && c.Error == nil && c.Skipped == nil:
				passed++
			case ok:
				t.Logf("h2spec: %s: not passed, as expected: %s", name, why)
			default:
				failed = append(failed, name)
			}
		}
	}
	t.Logf("h2spec: %d/%d passed", passed, total)
	if len(failed) > 0 || total != h2specCases {
		// The end of h2spec's output explains each failure.
		details := string(out)
		if i := strings.Index(details, "Failures:"); i >= 0 {
			details = details[i:]
		}
		t.Fatalf("h2spec: %d/%d passed (want %d/%d); not passed:\n  %s\n%s",
			passed, total, h2specCases, h2specCases, strings.Join(failed, "\n  "), details)
	}
}
