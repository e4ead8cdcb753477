package policy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"
)

// RunTests runs the test_ rules of the *_test.rego files under dir, beside
// the policy's .rego files and data.json, with OPA's test runner (builtin
// errors fail a test, as they make Decide fail). It writes one block per
// failed or erroring test to w (file:line, the test, the expression that
// failed, the test's print output) and a summary line. err is set when the
// directory does not load or compile, or holds no test at all.
func RunTests(ctx context.Context, dir string, w io.Writer) (passed, failed int, err error) {
	modules, store, err := loadDir(dir, true)
	if err != nil {
		return 0, 0, fmt.Errorf("policy test %s: %w", dir, err)
	}
	ch, err := tester.NewRunner().
		SetStore(store).
		SetDefaultRegoVersion(ast.RegoV1).
		RaiseBuiltinErrors(true).
		CapturePrintOutput(true).
		SetTimeout(30*time.Second).
		Run(ctx, modules)
	if err != nil {
		return 0, 0, fmt.Errorf("policy test %s: %w", dir, err)
	}
	skipped := 0
	for r := range ch {
		switch {
		case r.Skip:
			skipped++
		case r.Pass():
			passed++
		default:
			failed++
			writeFailure(w, r)
		}
	}
	if err := ctx.Err(); err != nil {
		return passed, failed, fmt.Errorf("policy test %s: %w", dir, err)
	}
	if passed+failed+skipped == 0 {
		return 0, 0, fmt.Errorf("policy test %s: %w (test rules are named test_* in *_test.rego files)", dir, ErrNoTests)
	}
	summary := fmt.Sprintf("%s: %d passed, %d failed", filepath.ToSlash(dir), passed, failed)
	if skipped > 0 {
		summary += fmt.Sprintf(", %d skipped", skipped)
	}
	fmt.Fprintln(w, summary)
	return passed, failed, nil
}

func writeFailure(w io.Writer, r *tester.Result) {
	var b bytes.Buffer
	where := ""
	if r.Location != nil {
		where = fmt.Sprintf("%s:%d: ", filepath.ToSlash(r.Location.File), r.Location.Row)
	}
	outcome := "FAIL"
	if r.Error != nil {
		outcome = "ERROR"
	}
	fmt.Fprintf(&b, "%s%s %s.%s\n", where, outcome, r.Package, r.Name)
	if r.Error != nil {
		fmt.Fprintf(&b, "    %v\n", r.Error)
	}
	if r.FailedAt != nil {
		at := ""
		if r.FailedAt.Location != nil {
			at = fmt.Sprintf(" (line %d)", r.FailedAt.Location.Row)
		}
		fmt.Fprintf(&b, "    failed at: %s%s\n", r.FailedAt.String(), at)
	}
	for _, line := range strings.Split(strings.TrimRight(string(r.Output), "\n"), "\n") {
		if line != "" {
			fmt.Fprintf(&b, "    print: %s\n", line)
		}
	}
	_, _ = w.Write(b.Bytes())
}

// Eval loads the policy of dir, prepares query (config.DefaultPolicyQuery when empty) and
// decides the JSON input document (docs/policies.md's, as a file would
// hold it). The duration is that of the decision alone, not of loading.
// A decision error is the same *httperr.Error Decide returns.
func Eval(ctx context.Context, dir, query string, input []byte) (Decision, time.Duration, error) {
	p, err := Load(ctx, filepath.Base(filepath.Clean(dir)), dir, query)
	if err != nil {
		return Decision{}, 0, err
	}
	v, err := ast.ValueFromReader(bytes.NewReader(input))
	if err != nil {
		return Decision{}, 0, fmt.Errorf("policy eval: input: %w", err)
	}
	if _, ok := v.(ast.Object); !ok {
		return Decision{}, 0, fmt.Errorf("policy eval: input: want a JSON object, got %s", ast.ValueName(v))
	}
	start := time.Now()
	d, err := p.decide(ctx, v)
	return d, time.Since(start), err
}
