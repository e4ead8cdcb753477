package policy

import (
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/open-policy-agent/opa/v1/ast"
)

// rememberedDecisions is how many decisions a policy remembers.
const rememberedDecisions = 8192

// decisionCache remembers the decisions of a deterministic policy by the
// exact input document it was given, which Decide has already cut down to
// what the policy can read (RBAC: the method, the path and the roles claim).
// A policy's data is fixed for its snapshot, so the same input always gets
// the same decision; a new snapshot prepares a new Policy with an empty
// cache. Errors are never remembered: an erroring request is evaluated, and
// denied, every time.
type decisionCache struct {
	lru *lru.Cache[string, Decision]
}

func newDecisionCache() *decisionCache {
	c, err := lru.New[string, Decision](rememberedDecisions)
	if err != nil {
		panic(err) // only for a non-positive size
	}
	return &decisionCache{lru: c}
}

// deterministic reports whether the modules call no builtin whose result
// can change between two evaluations of the same input (time.now_ns,
// http.send, rand.intn, uuid.rfc4122, ...): only then may decisions be
// remembered. A time-window policy is evaluated every time.
func deterministic(modules map[string]*ast.Module) bool {
	ok := true
	check := func(op ast.Ref) {
		if b, found := ast.BuiltinMap[op.String()]; found && b.Nondeterministic {
			ok = false
		}
	}
	for _, m := range modules {
		ast.WalkExprs(m, func(e *ast.Expr) bool {
			if e.IsCall() {
				check(e.Operator())
			}
			return !ok
		})
		ast.WalkTerms(m, func(t *ast.Term) bool {
			if c, isCall := t.Value.(ast.Call); isCall && len(c) > 0 {
				if ref, isRef := c[0].Value.(ast.Ref); isRef {
					check(ref)
				}
			}
			return !ok
		})
		if !ok {
			return false
		}
	}
	return ok
}
