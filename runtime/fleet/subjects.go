package fleet

import "strings"

// The NATS subjects and streams outside the buckets (docs/architecture.md, "NATS
// layout"); NodePermissions allows nodes what they need of them.
const (
	// RateLimitSubjectPrefix: fleet-scope rate limits exchange what each
	// node admitted on a subject under it, one per limit.
	RateLimitSubjectPrefix = "sluice.ratelimit."
	// CachePurgeSubject carries fleet-wide cache purges: every node with a
	// NATS connection purges what a message names.
	CachePurgeSubject = "sluice.cache.purge"

	// DecisionSubjectPrefix: a node publishes its policy decisions on
	// DecisionSubject(its node ID), and may publish on no other node's.
	DecisionSubjectPrefix = "sluice.decisions."

	// HistoryStream is the publisher's durable history and audit.
	HistoryStream = "SLUICE_HISTORY"
	// HistorySubject prefixes each history entry's subject; the action
	// follows.
	HistorySubject = "sluice.history."
)

// DecisionSubject is the subject node publishes its decisions on: the
// prefix and the node id as one subject token, its dots (and anything else
// a token cannot hold) made "_". Node permissions and the node's publisher
// both use it, so they name the same subject.
func DecisionSubject(node string) string {
	token := strings.Map(func(r rune) rune {
		if r == '.' || r == '*' || r == '>' || r <= ' ' || r == 0x7f {
			return '_'
		}
		return r
	}, node)
	if token == "" {
		token = "_"
	}
	return DecisionSubjectPrefix + token
}
