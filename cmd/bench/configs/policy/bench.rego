# Contestant d's policy, shaped like the allow path of policies/rbac (whose
# prefixes end on a segment boundary, which a prefix of "/" cannot).
# data.bench.rules lists {prefix, methods, roles}: a request is allowed when a
# rule's prefix starts its path, its method is one of the rule's methods and
# the caller's JWT holds one of the rule's roles.
package sluice.authz

default decision := {"allow": false, "status": 403, "reason": "no role grants this request"}

decision := {"allow": true} if {
	some rule in data.bench.rules
	rule.methods[_] == input.request.method
	rule.roles[_] == input.auth.claims.roles[_]
	startswith(input.request.path, rule.prefix)
}
