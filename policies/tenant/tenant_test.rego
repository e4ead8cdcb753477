package sluice.authz_test

import data.sluice.authz

req(path, headers, claims) := {
	"request": {"method": "GET", "path": path, "host": "api.example.com", "headers": headers, "query": {}, "remote_addr": "10.0.0.7"},
	"route": "tenants",
	"auth": {"method": "jwt", "subject": "carol", "claims": claims, "consumer": ""},
}

test_own_tenant_in_path if {
	d := authz.decision with input as req("/tenants/acme/orders", {}, {"tenant": "acme"})
	d.allow
	d.headers["x-tenant"] == "acme"
}

test_tenant_root_path if {
	authz.decision.allow with input as req("/tenants/acme", {}, {"tenant": "acme"})
}

test_other_tenant_in_path if {
	d := authz.decision with input as req("/tenants/globex/orders", {}, {"tenant": "acme"})
	not d.allow
	d.status == 403
	d.reason == "tenant mismatch"
}

test_own_tenant_in_header if {
	authz.decision.allow with input as req("/orders", {"x-tenant-id": "acme"}, {"tenant": "acme"})
}

test_other_tenant_in_header if {
	not authz.decision.allow with input as req("/orders", {"x-tenant-id": "globex"}, {"tenant": "acme"})
}

test_path_and_header_must_agree if {
	not authz.decision.allow with input as req("/tenants/acme/orders", {"x-tenant-id": "globex"}, {"tenant": "acme"})
	authz.decision.allow with input as req("/tenants/acme/orders", {"x-tenant-id": "acme"}, {"tenant": "acme"})
}

test_no_tenant_named if {
	d := authz.decision with input as req("/orders", {}, {"tenant": "acme"})
	not d.allow
	d.reason == "the request names no tenant"
}

test_empty_path_segment_names_no_tenant if {
	not authz.decision.allow with input as req("/tenants//orders", {}, {"tenant": "acme"})
}

test_prefix_on_segment_boundary if {
	not authz.decision.allow with input as req("/tenantsacme/x", {}, {"tenant": "acme"})
}

test_no_tenant_claim if {
	d := authz.decision with input as req("/tenants/acme", {}, {"roles": ["admin"]})
	not d.allow
	d.reason == "the token carries no tenant"
}

test_non_string_claim if {
	not authz.decision.allow with input as req("/tenants/acme", {}, {"tenant": ["acme"]})
}

test_anonymous if {
	not authz.decision.allow with input as {"request": {"method": "GET", "path": "/tenants/acme", "headers": {}}, "auth": {"method": "", "claims": {}}}
}
