package processor

import (
	"time"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/schemas"
)

// Observer is told what the processor does, for metrics (cmd/blockd/metrics
// in production). Every argument comes from a small closed set (a command
// type, a provider, a status, one of blockd's codes, an operation or
// outcome named below): never a trackId, an account or anything a message
// carries. Its methods are called on the command path: they must be cheap
// and safe for concurrent use. Config.Observer nil observes nothing.
type Observer interface {
	// Received: a consumed message was handled (a message handled again
	// after an infrastructure failure counts once). kind is "" for a
	// topic no command type is configured for, provider "" when the
	// message names none blockd knows.
	Received(kind schemas.Kind, provider schemas.Provider)
	// Finished: a result was recorded (committed with its outbox row):
	// status DONE, FAILED or REJECTED, code the result's error code ("" for
	// DONE). A duplicate answered from its stored result is not counted
	// again.
	Finished(kind schemas.Kind, provider schemas.Provider, status schemas.Status, code string)
	// Call: a call to a provider returned after took. operation is the
	// command type for the command's own call, OperationPrepare for reading
	// the provider's state before it, OperationResolve for asking what
	// became of a call of unknown outcome; outcome is one of the Outcome
	// constants.
	Call(provider schemas.Provider, operation string, outcome string, took time.Duration)
	// Retry: a new attempt of a command is to be sent after one that
	// proved nothing was applied (a refusal to try later, a dead token, an
	// in-doubt call the provider says it did not apply).
	Retry(provider schemas.Provider)
}

// The operations of Observer.Call besides the command types.
const (
	OperationPrepare = "prepare"
	OperationResolve = "resolve"
)

// The outcomes of Observer.Call.
const (
	// OutcomeOK: the provider answered with a result (for resolve: with a
	// verdict, whatever it is).
	OutcomeOK = "ok"
	// OutcomeRefused: the provider refused the call for good.
	OutcomeRefused = "refused"
	// OutcomeNotApplied: the call certainly was not applied (try later, a
	// dead token, never sent).
	OutcomeNotApplied = "not_applied"
	// OutcomeUnknown: the call may or may not have been applied.
	OutcomeUnknown = "unknown"
)

// Outcomes lists every outcome of Observer.Call, for an Observer that
// creates its series ahead.
func Outcomes() []string {
	return []string{OutcomeOK, OutcomeRefused, OutcomeNotApplied, OutcomeUnknown}
}

// outcomeOf names the outcome of a call that failed with err (nil: ok) and
// was classified class.
func outcomeOf(err error, class providers.Class) string {
	switch {
	case err == nil:
		return OutcomeOK
	case class == providers.Permanent:
		return OutcomeRefused
	case class == providers.Retryable:
		return OutcomeNotApplied
	default:
		return OutcomeUnknown
	}
}

// noObserver observes nothing: Config.Observer's default.
type noObserver struct{}

func (noObserver) Received(schemas.Kind, schemas.Provider)                         {}
func (noObserver) Finished(schemas.Kind, schemas.Provider, schemas.Status, string) {}
func (noObserver) Call(schemas.Provider, string, string, time.Duration)            {}
func (noObserver) Retry(schemas.Provider)                                          {}

// finished tells the observer that res was recorded.
func (p *Processor) finished(res schemas.Result) {
	code := ""
	if res.Error != nil {
		code = res.Error.Code
	}
	p.observer.Finished(res.Type, res.Provider, res.Status, code)
}
