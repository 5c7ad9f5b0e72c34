package processor

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/schemas"
)

// fence says why a call whose intent was recorded at intentAt must not be
// sent now, or "" when it may be. A worker sends a call only while it can
// prove it holds the command: the lease BeginCall took lasts Lease from
// after intentAt, so the call goes out only before Lease − FenceMargin has
// passed, and never once the intent is older than the call timeout (the
// sweeper's proof that an unsent call cannot land rests on it).
//
// Elapsed time is measured on both clocks, the larger counting: the
// monotonic clock keeps running while the process is stopped, and the wall
// clock catches a virtual machine that was frozen with its clocks. A wall
// clock stepped forward only costs a call that is not sent, and retried.
func (p *Processor) fence(intentAt time.Time) string {
	now := time.Now()
	elapsed := max(now.Sub(intentAt), now.Round(0).Sub(intentAt.Round(0)))
	switch {
	case elapsed >= p.cfg.Lease-p.cfg.FenceMargin:
		return fmt.Sprintf("the call's intent was recorded %s ago: the lease may have run out (lease %s, margin %s)",
			elapsed.Round(time.Millisecond), p.cfg.Lease, p.cfg.FenceMargin)
	case elapsed >= p.cfg.CallTimeout:
		return fmt.Sprintf("the call's intent was recorded %s ago, longer than the call timeout %s",
			elapsed.Round(time.Millisecond), p.cfg.CallTimeout)
	}
	return ""
}

// notSent records that a call whose intent was recorded was not sent, and
// gives the command back for any instance (this one included) to carry on.
func (p *Processor) notSent(ctx context.Context, log zerolog.Logger, cmd schemas.Command, claim, providerTrackID, reason string) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dbTimeout)
	defer cancel()
	if err := p.store.RecordCallNotSent(wctx, schemas.CallNotSentParams{TrackID: cmd.TrackID, Claim: claim,
		ProviderTrackID: providerTrackID, Reason: reason}); err != nil {
		return fmt.Errorf("recording that call %s of %s was not sent: %w", providerTrackID, cmd.TrackID, err)
	}
	log.Warn().Str("providerTrackId", providerTrackID).Str("reason", reason).
		Msg("call not sent: this worker can no longer prove it holds the command; it is carried on afresh")
	return nil
}

// lateAnswer keeps an answer that arrived after this worker lost the
// command, and reports a contradiction with what the command's record says
// loudly: the command is then flagged for an operator. No answer is dropped.
func (p *Processor) lateAnswer(ctx context.Context, log zerolog.Logger, a schemas.LateAnswer) error {
	v, err := p.store.RecordLateAnswer(ctx, a)
	if err != nil {
		return fmt.Errorf("recording the late answer to call %s of %s: %w", a.ProviderTrackID, a.TrackID, err)
	}
	ev := log.Warn()
	if v.Contradicts {
		ev = log.Error().Str("contradiction", v.Reason)
	}
	ev.Str("providerTrackId", a.ProviderTrackID).Str("callState", a.State).Str("evidence", a.Evidence).
		Bool("needsReconciliation", v.Contradicts).
		Msg("lost the claim before recording the call's answer; the answer is kept against the call")
	return nil
}

// confirmedNotApplied is the error of a call whose outcome was unknown until
// the provider confirmed it was not applied: safe to try again.
func confirmedNotApplied(cmd schemas.Command, evidence string, cause error) error {
	return &providers.Error{Provider: cmd.Provider, Class: providers.Retryable, Code: "CONFIRMED_NOT_APPLIED",
		Message: "the call's outcome was unknown and the provider confirmed it was not applied (" + evidence + ")", Err: cause}
}

// notResentError is the outcome of a transfer whose answer was lost and
// that the provider's inquiry says was not applied: it is not sent again.
type notResentError struct {
	providerTrackID, evidence string
	cause                     error
}

func notResent(providerTrackID, evidence string, cause error) error {
	return &notResentError{providerTrackID: providerTrackID, evidence: evidence, cause: cause}
}

func (e *notResentError) Error() string {
	return "the answer to transfer call " + e.providerTrackID + " was lost and the provider then said it was not applied (" +
		e.evidence + "); blockd never sends a transfer again on its own: check the account statement, then send a new command with a new trackId if needed"
}

func (e *notResentError) Unwrap() error { return e.cause }
