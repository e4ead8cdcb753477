package httpguard

import (
	"net/http"
	"strings"
)

// UpgradeOf is Sluice's one definition of a protocol upgrade: the protocol
// an HTTP/1 request asks to switch to, or "". It takes both halves of RFC
// 9110 §7.8: an Upgrade header and "upgrade" among the Connection options;
// an Upgrade header alone is a stray hop-by-hop header, and the request is
// an ordinary one. An h2c upgrade is refused (""): it would hand the
// client's connection to the upstream's HTTP/2 server, bypassing the
// gateway for every later request on it. HTTP/2 has no upgrade.
//
// The guard judges heads with the same rule (upgradeOf), so the stream is
// left unchecked after a head exactly when the edge forwards an upgrade.
func UpgradeOf(r *http.Request) string {
	if r.ProtoMajor != 1 {
		return ""
	}
	up := r.Header["Upgrade"]
	if len(up) == 0 {
		return ""
	}
	return upgradeOf(HasToken(r.Header["Connection"], "upgrade"), up[0])
}

func upgradeOf(connectionUpgrade bool, upgrade string) string {
	p := strings.TrimSpace(upgrade)
	if !connectionUpgrade || p == "" || strings.EqualFold(p, "h2c") {
		return ""
	}
	return p
}

// HasToken reports whether a comma-separated header holds token, ignoring
// case.
func HasToken(values []string, token string) bool {
	for _, v := range values {
		if hasToken(v, token) {
			return true
		}
	}
	return false
}

func hasToken(v, token string) bool {
	for v != "" {
		var tok string
		tok, v, _ = strings.Cut(v, ",")
		if strings.EqualFold(strings.TrimSpace(tok), token) {
			return true
		}
	}
	return false
}
