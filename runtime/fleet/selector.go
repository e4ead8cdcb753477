package fleet

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// Selector picks the canary nodes: "k=v,k=v" (every label must match) or
// "N%" (a stable N percent of nodes, by a hash of the node id, so the same
// nodes stay in the canary across restarts and a larger percentage keeps the
// nodes a smaller one chose).
type Selector struct {
	labels  map[string]string
	percent int // -1 when the selector is by labels
}

// SelectorError is a malformed canary selector (a 400 at the API).
type SelectorError struct{ msg string }

func (e SelectorError) Error() string { return e.msg }

// ParseSelector checks and parses a canary selector.
func ParseSelector(s string) (Selector, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Selector{}, SelectorError{"canary selector is empty"}
	}
	if p, ok := strings.CutSuffix(s, "%"); ok {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 100 {
			return Selector{}, SelectorError{fmt.Sprintf("canary selector %q: want a percentage from 1%% to 100%%", s)}
		}
		return Selector{percent: n}, nil
	}
	sel := Selector{labels: map[string]string{}, percent: -1}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return Selector{}, SelectorError{fmt.Sprintf("canary selector %q: %q is not label=value", s, kv)}
		}
		sel.labels[k] = v
	}
	return sel, nil
}

// Matches reports whether the node is in the canary.
func (s Selector) Matches(nodeID string, labels map[string]string) bool {
	if s.percent >= 0 {
		return bucketOf(nodeID) < s.percent
	}
	if len(s.labels) == 0 {
		return false
	}
	for k, v := range s.labels {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// bucketOf places a node id in one of 100 buckets.
func bucketOf(nodeID string) int {
	sum := sha256.Sum256([]byte(nodeID))
	return int(binary.BigEndian.Uint64(sum[:8]) % 100)
}
