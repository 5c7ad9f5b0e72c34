// Package providers holds what every provider adapter shares: the request an
// adapter is given, and the typed error that classifies a failed call as
// permanent, retryable, or of unknown outcome. Each provider lives in its own
// sub-package with its client and its wire types; its fake (a sandbox that
// simulates it for tests and development) sits beside it.
package providers

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/blockd/blockd/schemas"
)

// Class says what a failed provider call means for the command.
type Class int

const (
	// Unknown: the call may or may not have been applied (timeout after
	// sending, connection reset, 5xx after send, unreadable answer). It must
	// be resolved by inquiry, never blindly re-sent.
	Unknown Class = iota
	// Permanent: the provider refused the call; sending it again cannot help.
	Permanent
	// Retryable: the provider certainly did not apply the call (it was never
	// sent, or the provider said so) and a later attempt may succeed.
	Retryable
)

func (c Class) String() string {
	switch c {
	case Permanent:
		return "permanent"
	case Retryable:
		return "retryable"
	default:
		return "unknown-outcome"
	}
}

// Error is a failed provider call. It carries the provider's own code and
// HTTP status where there is one.
type Error struct {
	Provider   schemas.Provider
	Class      Class
	Code       string // the provider's code, e.g. VALIDATION_ERROR, V5BS0010SF
	Message    string // the provider's message; never holds secrets
	HTTPStatus int
	Err        error // the underlying transport error, if any
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s: %s", e.Provider, e.Class)
	if e.HTTPStatus != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.HTTPStatus)
	}
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// ClassOf classifies any error returned by an adapter. A *Error keeps its
// class; anything else is of unknown outcome, because nothing proves the
// call was not applied.
func ClassOf(err error) Class {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Class
	}
	return Unknown
}

// TransportError classifies an error from http.Client.Do. A failure to
// connect (dial refused, DNS) proves the request was never sent and is
// retryable; anything after that (timeout, reset) is of unknown outcome.
func TransportError(p schemas.Provider, err error) *Error {
	class := Unknown
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		class = Retryable
	}
	return &Error{Provider: p, Class: class, Message: "transport error", Err: err}
}

// Request is one provider call for one command attempt.
type Request struct {
	Command schemas.Command
	// ProviderTrackID is the id this attempt is sent with; it was recorded
	// before the call and is what a later status inquiry asks about.
	ProviderTrackID string
	// Block is the stored block an unblock releases (Finnotech).
	Block *schemas.BlockRef
	// Hold is the ledger entry a transfer draws on (Finnotech unblock-transfer):
	// Hold.UnblockProviderTrackID is the trackId of the successful unblock call.
	Hold *schemas.Hold
	// InquiredTrackID is the provider trackId of the call an inquiry asks
	// about, and InquiredClientID the client it was made for (Finnotech
	// unblock-transfer inquiry).
	InquiredTrackID  string
	InquiredClientID string
	// Before is the provider's state as the adapter's Prepare read it before
	// the command's first call (nil when it has no Prepare, or the read was
	// not kept): Execute and Resolve compare what they read with it, so that
	// a state that was already there is never taken for this call's effect.
	Before json.RawMessage
	// CannotLandAfter is set for Resolve only: the time after which the call
	// being resolved can no longer take effect at the provider (its intent
	// was recorded, then it was sent within the call timeout, the client
	// gave up after another call timeout, plus a safety margin). A state
	// read or a re-send taken as evidence of "not applied" counts only
	// after it; before it, such evidence is Unproven. Zero means unknown:
	// such evidence never counts.
	CannotLandAfter time.Time
}

// CodeTokenExpired is the code every adapter gives a dead-token signal. The
// adapter has already dropped the cached token; the error is Retryable and
// the caller retries with a new provider trackId, which fetches a new token.
const CodeTokenExpired = "TOKEN_EXPIRED"

// Verdict is what a status inquiry proves about a call whose outcome was
// unknown.
type Verdict int

const (
	// Unproven: nothing is proven yet (the provider says PENDING or UNKNOWN,
	// does not know the call yet, or a state read came too early to count).
	// Ask again later; never send the call again on it. It is the zero
	// value, so a Resolution nobody filled in is never read as "not applied".
	Unproven Verdict = iota
	// Applied: the call took effect.
	Applied
	// NotApplied: the provider states the call did not take effect, and it
	// can no longer take effect later.
	NotApplied
	// SafeToRepeat: nothing says whether the call took effect, but it can no
	// longer take effect later, and the call only sets a state, so sending
	// the same call again, as a new recorded attempt, is safe (Arhivaar,
	// which has no status inquiry). Never for a call that moves money.
	SafeToRepeat
)

func (v Verdict) String() string {
	switch v {
	case Applied:
		return "applied"
	case NotApplied:
		return "not-applied"
	case SafeToRepeat:
		return "safe-to-repeat"
	default:
		return "unproven"
	}
}

// Resolution is what a provider's status inquiry says about a call whose
// outcome was unknown.
type Resolution struct {
	Verdict Verdict
	// Result is, when Applied, the call's normalised answer: the same JSON an
	// Execute that got the answer would have returned, saying in it which
	// fields came from the inquiry rather than from the call's own answer.
	Result json.RawMessage
	// Evidence says in a few words what the verdict rests on (e.g. "wages
	// DONE", "account details: slot 1 holds X"), for logs and operators.
	Evidence string
}
