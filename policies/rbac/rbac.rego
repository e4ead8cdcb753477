# Role-based access control: the roles in a caller's JWT (its "roles" claim,
# a list) decide which methods it may use under which path prefixes.
#
# data.rbac.rules lists {prefix, methods, roles}. A request is allowed when a
# rule's prefix covers its path on a segment boundary ("/users" covers
# "/users" and "/users/42", not "/usersx"), its method is one of the rule's
# methods ("*" stands for any) and the caller holds one of the rule's roles.
#
# Written to be fast as well as readable (every request pays for it): the
# allow path is one loop over the rules made of lookups and unifications,
# cheapest checks first; builtins only run for a rule that already matched
# method and roles; no helper rules or functions per request; the deny
# reasons are only worked out on a deny.
package sluice.authz

default decision := {"allow": false, "status": 403, "reason": "no role grants this request"}

decision := {"allow": true} if allowed

else := {"allow": false, "status": 403, "reason": "the token carries no roles"} if {
	not has_roles
}

allowed if {
	some rule in data.rbac.rules
	rule.methods[_] == input.request.method
	rule.roles[_] == input.auth.claims.roles[_]
	startswith(input.request.path, rule.prefix)
	substring(input.request.path, count(rule.prefix), 1) in {"", "/"}
}

allowed if {
	some rule in data.rbac.rules
	rule.methods[_] == "*"
	rule.roles[_] == input.auth.claims.roles[_]
	startswith(input.request.path, rule.prefix)
	substring(input.request.path, count(rule.prefix), 1) in {"", "/"}
}

has_roles if count(input.auth.claims.roles) > 0
