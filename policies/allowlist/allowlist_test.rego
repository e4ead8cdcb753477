package sluice.authz_test

import data.sluice.authz

req(addr) := {
	"request": {"method": "GET", "path": "/users", "host": "api.example.com", "headers": {}, "query": {}, "remote_addr": addr},
	"route": "users",
	"auth": {"method": "", "subject": "", "claims": {}, "consumer": ""},
}

# Wednesday 2026-03-04 12:00:00 UTC and 20:00:00 UTC, Saturday 2026-03-07 12:00 UTC.
wednesday_noon := 1772625600000000000

wednesday_evening := 1772654400000000000

saturday_noon := 1772884800000000000

test_office_network_any_time if {
	authz.decision.allow with input as req("10.1.2.3") with time.now_ns as saturday_noon
	authz.decision.allow with input as req("127.0.0.1") with time.now_ns as wednesday_evening
	authz.decision.allow with input as req("::1") with time.now_ns as wednesday_evening
}

test_outside_network_during_hours if {
	authz.decision.allow with input as req("203.0.113.9") with time.now_ns as wednesday_noon
}

test_outside_network_after_hours if {
	d := authz.decision with input as req("203.0.113.9") with time.now_ns as wednesday_evening
	not d.allow
	d.status == 403
}

test_outside_network_on_weekend if {
	not authz.decision.allow with input as req("203.0.113.9") with time.now_ns as saturday_noon
}

test_window_edges if {
	# 08:00 is inside, 18:00 is outside, 17:59 is inside.
	eight := wednesday_noon - ((4 * 3600) * 1000000000)
	authz.decision.allow with input as req("203.0.113.9") with time.now_ns as eight
	not authz.decision.allow with input as req("203.0.113.9") with time.now_ns as eight - 1
	six := wednesday_noon + ((6 * 3600) * 1000000000)
	not authz.decision.allow with input as req("203.0.113.9") with time.now_ns as six
	authz.decision.allow with input as req("203.0.113.9") with time.now_ns as six - 60000000000
}

test_window_time_zone if {
	# 20:00 UTC is 15:00 in New York (EST, UTC-5, before the March switch).
	authz.decision.allow with input as req("203.0.113.9")
		with time.now_ns as wednesday_evening
		with data.allowlist.windows as [{"days": ["Wednesday"], "from": "09:00", "to": "17:00", "tz": "America/New_York"}]
}

test_empty_remote_addr_uses_windows if {
	not authz.decision.allow with input as req("") with time.now_ns as wednesday_evening
	authz.decision.allow with input as req("") with time.now_ns as wednesday_noon
}

test_no_windows_configured if {
	not authz.decision.allow with input as req("203.0.113.9")
		with time.now_ns as wednesday_noon
		with data.allowlist.windows as []
}
