package sluice.authz_test

import data.sluice.authz

req(method, path, roles) := {
	"request": {"method": method, "path": path, "host": "api.example.com", "headers": {}, "query": {}, "remote_addr": "10.0.0.7"},
	"route": "users",
	"auth": {"method": "jwt", "subject": "someone", "claims": {"roles": roles}, "consumer": ""},
}

test_viewer_reads_users if {
	authz.decision.allow with input as req("GET", "/users/42", ["viewer"])
}

test_viewer_reads_the_prefix_itself if {
	authz.decision.allow with input as req("GET", "/users", ["viewer"])
}

test_viewer_cannot_write if {
	d := authz.decision with input as req("POST", "/users", ["viewer"])
	not d.allow
	d.status == 403
}

test_editor_writes_but_cannot_delete if {
	authz.decision.allow with input as req("PATCH", "/users/42", ["editor"])
	not authz.decision.allow with input as req("DELETE", "/users/42", ["editor"])
}

test_admin_deletes if {
	authz.decision.allow with input as req("DELETE", "/users/42", ["admin"])
}

test_admin_wildcard_method if {
	authz.decision.allow with input as req("PURGE", "/admin/cache", ["admin"])
	not authz.decision.allow with input as req("GET", "/admin/cache", ["viewer", "editor"])
}

test_prefix_matches_on_segment_boundary if {
	not authz.decision.allow with input as req("GET", "/usersx", ["viewer"])
	not authz.decision.allow with input as req("GET", "/", ["admin"])
}

test_any_of_several_roles if {
	authz.decision.allow with input as req("GET", "/billing/invoices", ["viewer", "billing"])
}

test_no_roles_claim if {
	d := authz.decision with input as {"request": {"method": "GET", "path": "/users"}, "auth": {"method": "jwt", "claims": {}}}
	not d.allow
	d.reason == "the token carries no roles"
}

test_anonymous_denied if {
	d := authz.decision with input as {"request": {"method": "GET", "path": "/users"}, "auth": {"method": "", "claims": {}}}
	not d.allow
	d.status == 403
}

test_roles_not_a_list_denied if {
	not authz.decision.allow with input as req("GET", "/users", "admin")
}

test_rules_come_from_data if {
	authz.decision.allow with input as req("GET", "/reports/1", ["auditor"])
		with data.rbac.rules as [{"prefix": "/reports", "methods": ["GET"], "roles": ["auditor"]}]
}
