# API consumer plans: an API-key consumer's plan lists the routes it may call
# and, per route, the methods ("*" for any). data.plans.consumers maps each
# consumer to its plan; data.plans.plans holds the plans. The plan's name is
# handed on as the x-sluice-plan header.
package sluice.authz

default decision := {"allow": false, "status": 403, "reason": "the plan does not include this route"}

decision := {"allow": true, "headers": {"x-sluice-plan": plan}} if allowed

else := {"allow": false, "status": 403, "reason": "unknown API consumer"} if {
	not plan
}

else := {"allow": false, "status": 403, "reason": "the plan does not include this method"} if {
	data.plans.plans[plan].routes[input.route]
}

plan := data.plans.consumers[input.auth.consumer].plan

allowed if {
	methods := data.plans.plans[plan].routes[input.route]
	method_allowed(input.request.method, methods)
}

method_allowed(method, methods) if method in methods

method_allowed(_, methods) if "*" in methods
