// Package policy evaluates OPA Rego policies inside the edge process: a
// policy directory (.rego files and data.json) is parsed, compiled and its
// query prepared once, when a snapshot is built; each request is then one
// evaluation against an input document built directly as an OPA AST value.
//
// The input document is docs/policies.md's; the decision is a boolean
// or an object {allow, status, reason, headers}. Anything else (undefined,
// more than one result, the wrong shape, an evaluation error) is an error
// answered 503: a policy that cannot decide never allows.
package policy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	_ "time/tzdata" // time.* builtins with a time zone must work on hosts without tzdata

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown"
	"golang.org/x/net/http/httpguts"

	"github.com/sluicegw/sluice/runtime/config"
	"github.com/sluicegw/sluice/runtime/httperr"
)

// Policy is one compiled policy with its query prepared. It is immutable and
// safe for concurrent use; Decide does no compilation.
type Policy struct {
	name  string
	dir   string
	query string
	// where names the rule(s) behind the query ("rbac.rego:9"), for errors
	// that OPA gives no location for (undefined, wrong shape).
	where string
	pq    rego.PreparedEvalQuery
	noop  metrics.Metrics
	need  *need // what the policy can read of the input
	// decisions remembers decisions by input; nil when the policy calls a
	// nondeterministic builtin.
	decisions *decisionCache
}

// Decision is what a policy decided for one request.
type Decision struct {
	Allow bool
	// Status answers a denied request: 403 unless the policy says otherwise.
	// Zero when Allow is true.
	Status int
	// Reason is the policy's reason, safe to show to the client.
	Reason string
	// Headers are the policy's "headers": added to the upstream request when
	// allowed, to the error response when denied. Nil when the policy set none.
	Headers map[string]string
	// Raw is the value the query gave, as it was (for decision logs).
	Raw ast.Value
}

// Name is the policy's name in the config.
func (p *Policy) Name() string { return p.name }

// Query is the query the policy answers.
func (p *Policy) Query() string { return p.query }

// Load parses and compiles the .rego files (tests excluded) and data.json of
// dir and prepares query (config.DefaultPolicyQuery when empty). Parse and compile errors
// name the file and line.
func Load(ctx context.Context, name, dir, query string) (*Policy, error) {
	if query == "" {
		query = config.DefaultPolicyQuery
	}
	p, err := load(ctx, name, dir, query)
	if err != nil {
		return nil, fmt.Errorf("policy %q: %w", name, err)
	}
	return p, nil
}

func load(ctx context.Context, name, dir, query string) (*Policy, error) {
	ref, err := ast.ParseRef(query)
	if err != nil || !ref.HasPrefix(ast.DefaultRootRef) {
		return nil, fmt.Errorf("query %q is not a reference under data", query)
	}
	modules, store, err := loadDir(dir, false)
	if err != nil {
		return nil, err
	}
	compiler := ast.NewCompiler().WithEnablePrintStatements(false)
	if compiler.Compile(modules); compiler.Failed() {
		return nil, compiler.Errors
	}
	rules := compiler.GetRules(ref)
	if len(rules) == 0 {
		return nil, fmt.Errorf("query %s: no rule in %s defines it", query, dir)
	}
	pq, err := rego.New(
		rego.Query(query),
		rego.Compiler(compiler),
		rego.Store(store),
		rego.StrictBuiltinErrors(true),
		// Hand back the AST term; decode() reads it without a JSON round trip.
		rego.GenerateJSON(func(t *ast.Term, _ *rego.EvalContext) (any, error) { return t, nil }),
	).PrepareForEval(ctx)
	if err != nil {
		return nil, err
	}
	pol := &Policy{name: name, dir: dir, query: query, where: ruleLocations(rules), pq: pq, noop: metrics.NoOp(), need: needsOf(compiler.Modules)}
	if deterministic(compiler.Modules) {
		pol.decisions = newDecisionCache()
	}
	return pol, nil
}

// loadDir reads the .rego files (and, with tests, the *_test.rego files) and
// every data.json, data.yaml or data.yml under dir. Other files are ignored,
// so a README or an example input.json beside the policy is not data.
func loadDir(dir string, tests bool) (map[string]*ast.Module, storage.Store, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, nil, err
	}
	if !info.IsDir() {
		return nil, nil, fmt.Errorf("%s is not a directory", dir)
	}
	res, err := loader.NewFileLoader().
		WithRegoVersion(ast.RegoV1).
		WithProcessAnnotation(true).
		Filtered([]string{dir}, func(path string, info fs.FileInfo, depth int) bool {
			base := info.Name()
			if info.IsDir() {
				return depth > 0 && strings.HasPrefix(base, ".")
			}
			switch {
			case strings.HasSuffix(base, "_test.rego"):
				return !tests
			case strings.HasSuffix(base, ".rego"):
				return false
			case base == "data.json", base == "data.yaml", base == "data.yml":
				return false
			}
			return true
		})
	if err != nil {
		return nil, nil, err
	}
	modules := res.ParsedModules()
	if len(modules) == 0 {
		return nil, nil, fmt.Errorf("no .rego files in %s", dir)
	}
	// AST values in the store: reading data during evaluation converts nothing.
	store := inmem.NewFromObjectWithOpts(res.Documents, inmem.OptReturnASTValuesOnRead(true), inmem.OptRoundTripOnWrite(false))
	return modules, store, nil
}

func ruleLocations(rules []*ast.Rule) string {
	seen := map[string]bool{}
	var locs []string
	for _, r := range rules {
		if r.Location == nil {
			continue
		}
		l := fmt.Sprintf("%s:%d", r.Location.File, r.Location.Row)
		if !seen[l] {
			seen[l] = true
			locs = append(locs, l)
		}
		if len(locs) == 3 {
			break
		}
	}
	return strings.Join(locs, ", ")
}

// Decide evaluates the policy for one request. A nil error means the policy
// decided; any error is an *httperr.Error with status 503 whose cause wraps
// ErrUndefined, ErrConflict, ErrBadDecision or ErrEval and names the file and
// line where OPA gives one (or the decision rule's).
func (p *Policy) Decide(ctx context.Context, in *Input) (Decision, error) {
	input := in.build(p.need)
	if p.decisions == nil {
		return p.decide(ctx, input)
	}
	key := input.String()
	if d, ok := p.decisions.lru.Get(key); ok {
		return d, nil
	}
	d, err := p.decide(ctx, input)
	if err == nil {
		p.decisions.lru.Add(key, d)
	}
	return d, err
}

func (p *Policy) decide(ctx context.Context, input ast.Value) (Decision, error) {
	// A cancel flag the context trips, instead of the goroutine per
	// evaluation that rego starts when it is not given one.
	c := topdown.NewCancel()
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, c.Cancel)
		defer stop()
	}
	rs, err := p.pq.Eval(ctx,
		rego.EvalParsedInput(input),
		rego.EvalMetrics(p.noop),
		rego.EvalExternalCancel(c),
	)
	if err != nil {
		return Decision{}, p.fail(fmt.Errorf("%w: %w", ErrEval, evalError(err)))
	}
	switch {
	case len(rs) == 0 || len(rs[0].Expressions) == 0:
		return Decision{}, p.fail(fmt.Errorf("%s (%s): %w", p.query, p.where, ErrUndefined))
	case len(rs) > 1:
		return Decision{}, p.fail(fmt.Errorf("%s (%s): %w (%d)", p.query, p.where, ErrConflict, len(rs)))
	}
	t, ok := rs[0].Expressions[0].Value.(*ast.Term)
	if !ok {
		return Decision{}, p.fail(fmt.Errorf("%s (%s): %w", p.query, p.where, ErrBadDecision))
	}
	d, err := decode(t.Value)
	if err != nil {
		return Decision{}, p.fail(fmt.Errorf("%s (%s): %w: %s", p.query, p.where, ErrBadDecision, err.Error()))
	}
	d.Raw = t.Value
	return d, nil
}

func (p *Policy) fail(err error) error {
	return httperr.Wrap(http.StatusServiceUnavailable, "policy error", fmt.Errorf("policy %q: %w", p.name, err))
}

// evalError keeps OPA's message, which starts with file:line when it has one.
func evalError(err error) error {
	var te *topdown.Error
	if errors.As(err, &te) && te.Location != nil && te.Location.File != "" {
		return fmt.Errorf("%s:%d: %s: %s", filepath.ToSlash(te.Location.File), te.Location.Row, te.Code, te.Message)
	}
	return err
}

// decode reads a decision: a boolean, or an object with a boolean "allow",
// an optional integer "status" (300-599, used on deny), a string "reason"
// and "headers" mapping names to strings.
func decode(v ast.Value) (Decision, error) {
	switch v := v.(type) {
	case ast.Boolean:
		if v {
			return Decision{Allow: true}, nil
		}
		return Decision{Status: http.StatusForbidden, Reason: "denied by policy"}, nil
	case ast.Object:
		var d Decision
		var err error
		allowSeen := false
		v.Foreach(func(k, val *ast.Term) {
			if err != nil {
				return
			}
			key, ok := k.Value.(ast.String)
			if !ok {
				err = fmt.Errorf("key %v is not a string", k)
				return
			}
			switch key {
			case "allow":
				b, ok := val.Value.(ast.Boolean)
				if !ok {
					err = errors.New(`"allow" is not a boolean`)
					return
				}
				d.Allow, allowSeen = bool(b), true
			case "status":
				n, ok := val.Value.(ast.Number)
				s, isInt := n.Int()
				if !ok || !isInt || s < 300 || s > 599 {
					err = errors.New(`"status" is not a redirect or error status (300-599)`)
					return
				}
				d.Status = s
			case "reason":
				s, ok := val.Value.(ast.String)
				if !ok {
					err = errors.New(`"reason" is not a string`)
					return
				}
				d.Reason = string(s)
			case "headers":
				o, ok := val.Value.(ast.Object)
				if !ok {
					err = errors.New(`"headers" is not an object`)
					return
				}
				d.Headers = make(map[string]string, o.Len())
				o.Foreach(func(hk, hv *ast.Term) {
					name, ok1 := hk.Value.(ast.String)
					value, ok2 := hv.Value.(ast.String)
					if err != nil {
						return
					}
					if !ok1 || !ok2 || !httpguts.ValidHeaderFieldName(string(name)) || !httpguts.ValidHeaderFieldValue(string(value)) {
						err = fmt.Errorf(`"headers": %v: %v is not a valid header`, hk, hv)
						return
					}
					d.Headers[string(name)] = string(value)
				})
			}
		})
		if err != nil {
			return Decision{}, err
		}
		if !allowSeen {
			return Decision{}, errors.New(`no boolean "allow"`)
		}
		if d.Allow {
			d.Status = 0
		} else {
			if d.Status == 0 {
				d.Status = http.StatusForbidden
			}
			if d.Reason == "" {
				d.Reason = "denied by policy"
			}
		}
		return d, nil
	}
	return Decision{}, fmt.Errorf("%s is neither a boolean nor an object", ast.ValueName(v))
}
