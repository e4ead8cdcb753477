package fleet

import (
	"fmt"
	"time"
)

// How long a node's credentials may be good for (`sluice node-creds
// --expires`). Without --expires they never expire, as before the flag
// existed (RATIONALE.md, "Fleet: node credentials expire when asked, and
// are revoked by node").
const (
	// MinNodeCredsExpiry: a JWT's exp counts whole seconds.
	MinNodeCredsExpiry = time.Second
	// MaxNodeCredsExpiry bounds a typo (720000h): past ten years, ask
	// for no expiry.
	MaxNodeCredsExpiry = 10 * 365 * 24 * time.Hour
)

// CheckNodeCredsExpiry refuses an expiry that is negative, under a second
// or over MaxNodeCredsExpiry; 0 is none.
func CheckNodeCredsExpiry(d time.Duration) error {
	if d != 0 && (d < MinNodeCredsExpiry || d > MaxNodeCredsExpiry) {
		return fmt.Errorf("expires %s: between %s and %s, or none: %w", d, MinNodeCredsExpiry, MaxNodeCredsExpiry, ErrBadRequest)
	}
	return nil
}

// ParseNodeCredsExpiry reads an expiry as the API carries it: a Go
// duration ("720h"), "" for none.
func ParseNodeCredsExpiry(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("expires %q: not a duration (720h, 90m): %w", s, ErrBadRequest)
	}
	if d == 0 {
		return 0, fmt.Errorf("expires %q: say nothing for credentials that never expire: %w", s, ErrBadRequest)
	}
	return d, CheckNodeCredsExpiry(d)
}
