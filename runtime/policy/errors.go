package policy

import "errors"

// Why a decision could not be made. Decide wraps each in an *httperr.Error
// with status 503: a policy that cannot decide denies, it never allows.
var (
	// ErrUndefined: the query has no value for this input (no rule matched
	// and there is no default).
	ErrUndefined = errors.New("decision is undefined")
	// ErrConflict: the query produced more than one result.
	ErrConflict = errors.New("decision has more than one result")
	// ErrBadDecision: the decision is neither a boolean nor an object
	// {allow, status, reason, headers} of the right types.
	ErrBadDecision = errors.New("decision has the wrong shape")
	// ErrEval: evaluation failed (a runtime error in the policy, a builtin
	// error, a conflict between rule values, a cancelled context).
	ErrEval = errors.New("evaluation failed")
	// ErrNoTests: a directory given to RunTests holds no test_ rules.
	ErrNoTests = errors.New("no tests found")
)
