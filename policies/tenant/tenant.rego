# Tenant isolation: a caller may only reach its own tenant's data. The
# tenant named by the request (the path segment after data.tenant.path_prefix,
# and the data.tenant.header header when sent) must equal the caller's tenant
# claim. A request that names no tenant, or names two different ones, is
# denied.
package sluice.authz

default decision := {"allow": false, "status": 403, "reason": "tenant mismatch"}

decision := {"allow": true, "headers": {"x-tenant": caller_tenant}} if allowed

else := {"allow": false, "status": 403, "reason": "the token carries no tenant"} if {
	not caller_tenant
}

else := {"allow": false, "status": 403, "reason": "the request names no tenant"} if {
	count(requested) == 0
}

caller_tenant := t if {
	t := input.auth.claims[data.tenant.claim]
	is_string(t)
	t != ""
}

# requested holds every tenant the request names.
requested contains t if t := path_tenant

requested contains input.request.headers[data.tenant.header]

# path_tenant is the first path segment after the prefix:
# "/tenants/acme/orders" names "acme".
path_tenant := seg if {
	prefix := concat("", [trim_suffix(data.tenant.path_prefix, "/"), "/"])
	startswith(input.request.path, prefix)
	seg := split(substring(input.request.path, count(prefix), -1), "/")[0]
	seg != ""
}

allowed if {
	count(requested) > 0
	every t in requested {
		t == caller_tenant
	}
}
