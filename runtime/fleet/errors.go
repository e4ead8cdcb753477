package fleet

import "errors"

// Sentinel errors; callers wrap them with what and where
// (fmt.Errorf("snapshot %d: verify: %w", rev, err)).
var (
	// ErrBadSignature: a snapshot was not signed by the trusted key, or was
	// altered after signing.
	ErrBadSignature = errors.New("bad signature")
	// ErrDigestMismatch: content does not hash to the digest it was named by.
	ErrDigestMismatch = errors.New("digest mismatch")
	// ErrStaleRevision: a stable snapshot older than one already applied,
	// i.e. a replay; rollbacks are published as new revisions instead.
	ErrStaleRevision = errors.New("older than the applied revision")
	// ErrUnauthorized: the API token is missing or wrong.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: the API token is valid but its role does not allow
	// the call.
	ErrForbidden = errors.New("forbidden")
	// ErrTokenExists: a token of that name exists already.
	ErrTokenExists = errors.New("a token of that name exists")
	// ErrNoToken: no token of that name.
	ErrNoToken = errors.New("no such token")
	// ErrBadRequest: a request the API cannot act on as asked.
	ErrBadRequest = errors.New("bad request")
	// ErrInvalidConfig: the config failed validation; nothing was published.
	ErrInvalidConfig = errors.New("invalid config")
	// ErrNoCanary: promote or abort without a canary in progress.
	ErrNoCanary = errors.New("no canary in progress")
	// ErrNoBuckets: the fleet's buckets do not exist yet; the publisher
	// creates them at its first start.
	ErrNoBuckets = errors.New("not created yet (has the publisher started?)")
	// ErrUnknownNode: no NATS credentials were signed for that node (or
	// that key) by this publisher.
	ErrUnknownNode = errors.New("unknown node")
	// ErrNoRevision: a rollback names a revision the publisher does not have.
	ErrNoRevision = errors.New("no such revision")
)
