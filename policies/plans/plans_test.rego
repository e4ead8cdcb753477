package sluice.authz_test

import data.sluice.authz

req(consumer, route, method) := {
	"request": {"method": method, "path": "/anything", "host": "api.example.com", "headers": {}, "query": {}, "remote_addr": "10.0.0.7"},
	"route": route,
	"auth": {"method": "api_key", "subject": consumer, "claims": {}, "consumer": consumer},
}

test_free_reads_users if {
	d := authz.decision with input as req("globex", "users", "GET")
	d.allow
	d.headers["x-sluice-plan"] == "free"
}

test_free_cannot_write_users if {
	d := authz.decision with input as req("globex", "users", "POST")
	not d.allow
	d.status == 403
	d.reason == "the plan does not include this method"
}

test_free_cannot_reach_billing if {
	d := authz.decision with input as req("globex", "billing", "GET")
	not d.allow
	d.reason == "the plan does not include this route"
}

test_pro_writes_users_and_reads_billing if {
	authz.decision.allow with input as req("acme", "users", "POST")
	authz.decision.allow with input as req("acme", "billing", "GET")
	not authz.decision.allow with input as req("acme", "billing", "DELETE")
}

test_internal_any_method if {
	authz.decision.allow with input as req("initech", "admin", "DELETE")
}

test_unknown_consumer if {
	d := authz.decision with input as req("mallory", "users", "GET")
	not d.allow
	d.reason == "unknown API consumer"
}

test_no_consumer if {
	d := authz.decision with input as req("", "users", "GET")
	not d.allow
	d.reason == "unknown API consumer"
}

test_plan_data_replaceable if {
	authz.decision.allow with input as req("newco", "reports", "GET")
		with data.plans.consumers as {"newco": {"plan": "trial"}}
		with data.plans.plans as {"trial": {"routes": {"reports": ["GET"]}}}
}
