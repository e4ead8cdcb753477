# IP and time-window allow list. A client whose address lies in one of
# data.allowlist.networks (CIDRs) is always allowed; anyone else only inside
# one of data.allowlist.windows: {days, from, to, tz}, "from" inclusive and
# "to" exclusive, as "HH:MM" in the window's time zone (IANA name, "UTC" if
# unset). The time is time.now_ns(), which tests replace with `with`.
package sluice.authz

default decision := {"allow": false, "status": 403, "reason": "outside the allowed networks and hours"}

decision := {"allow": true} if allowed_network

else := {"allow": true} if open_now

allowed_network if {
	addr := input.request.remote_addr
	addr != ""
	some cidr in data.allowlist.networks
	net.cidr_contains(cidr, addr)
}

open_now if {
	now := time.now_ns()
	some w in data.allowlist.windows
	tz := object.get(w, "tz", "UTC")
	time.weekday([now, tz]) in w.days
	[hour, minute, _] := time.clock([now, tz])
	minutes := (hour * 60) + minute
	minutes >= clock_minutes(w.from)
	minutes < clock_minutes(w.to)
}

# clock_minutes turns "HH:MM" into minutes since midnight.
clock_minutes(hhmm) := (to_number(parts[0]) * 60) + to_number(parts[1]) if {
	parts := split(hhmm, ":")
	count(parts) == 2
}
