package processor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/schemas"
)

// resolve asks the provider what became of req's call, until it gets a
// verdict other than Unproven or limit passes. A provider that cannot be
// asked, or an inquiry that fails, proves nothing: Unproven.
func (p *Processor) resolve(ctx context.Context, log zerolog.Logger, prov Provider, req providers.Request, limit time.Duration) providers.Resolution {
	r, ok := prov.(Resolver)
	if !ok {
		return providers.Resolution{Evidence: "the provider has no status inquiry"}
	}
	deadline := time.Now().Add(limit)
	delay := 100 * time.Millisecond
	for {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.CallTimeout)
		began := time.Now()
		res, err := r.Resolve(rctx, req)
		cancel()
		p.observer.Call(req.Command.Provider, OperationResolve, outcomeOf(err, providers.ClassOf(err)), time.Since(began))
		switch {
		case err != nil:
			log.Warn().Err(err).Msg("asking the provider about an unknown outcome")
			res = providers.Resolution{Evidence: "the inquiry failed: " + err.Error()}
		case res.Verdict == providers.Applied:
			log.Info().Str("evidence", res.Evidence).Msg("provider confirmed the call was applied")
			return res
		case res.Verdict == providers.NotApplied:
			log.Info().Str("evidence", res.Evidence).Msg("provider confirmed the call was not applied")
			return res
		}
		if time.Now().Add(delay).After(deadline) || ctx.Err() != nil {
			return res
		}
		select {
		case <-ctx.Done():
			return res
		case <-time.After(delay):
		}
		delay = min(delay*2, 2*time.Second)
	}
}

// step is what a command does next once its in-doubt call has a verdict.
type step int

const (
	// stepWait: nothing proven, or a repeat not allowed: ask again later;
	// never send anything.
	stepWait step = iota
	// stepDone: the call was applied; record the result.
	stepDone
	// stepResend: the in-doubt call is recorded not applied (or superseded)
	// and a new attempt goes out with a new provider trackId.
	stepResend
	// stepExhausted: not applied, and no attempts are left: FAILED.
	stepExhausted
	// stepNotResent: a transfer that may have moved money is never sent
	// again: FAILED TRANSFER_NOT_APPLIED, the upstream decides.
	stepNotResent
)

// afterVerdict decides what a command does after res, the verdict on its
// in-doubt call; neverSent says the store proves that call never left (a
// fenced worker's NOT_SENT), attempts is how many calls were recorded.
func (p *Processor) afterVerdict(cmd schemas.Command, res providers.Resolution, neverSent bool, attempts int) step {
	exhausted := attempts >= p.maxAttempts(cmd.Provider)
	switch res.Verdict {
	case providers.Applied:
		return stepDone
	case providers.NotApplied:
		switch {
		case cmd.Kind == schemas.KindTransfer && !neverSent:
			return stepNotResent
		case exhausted:
			return stepExhausted
		}
		return stepResend
	case providers.SafeToRepeat:
		// "Not known, but safe to set again": never for money, and when no
		// attempt is left the outcome stays unknown, never FAILED.
		if cmd.Kind == schemas.KindTransfer || exhausted {
			return stepWait
		}
		return stepResend
	default:
		return stepWait
	}
}

// maxAttempts is the provider's bound on calls per command.
func (p *Processor) maxAttempts(provider schemas.Provider) int {
	if g, ok := p.guards[provider]; ok && g.policy.MaxAttempts > 0 {
		return g.policy.MaxAttempts
	}
	return p.cfg.MaxAttempts
}

// recordedVerdict is what the store already proves about an in-doubt call,
// before the provider is asked: a call its worker never sent cannot have
// been applied; an answer that arrived after its worker lost the command
// settles it.
func recordedVerdict(call schemas.CallRecord) (providers.Resolution, bool) {
	switch call.State {
	case schemas.CallNotSent:
		return providers.Resolution{Verdict: providers.NotApplied, Evidence: "never sent: " + call.Evidence}, true
	case schemas.CallDone:
		if len(call.Answer) > 0 {
			return providers.Resolution{Verdict: providers.Applied, Result: call.Answer, Evidence: "the call's answer, kept after its worker lost the command"}, true
		}
	case schemas.CallFailed:
		return providers.Resolution{Verdict: providers.NotApplied, Evidence: "the call's refusal, kept after its worker lost the command"}, true
	}
	return providers.Resolution{}, false
}

// resolveClaimed settles an IN_DOUBT command claimed by the sweeper: what
// the store already knows about the call first, else the provider is asked
// once, and afterVerdict decides. Applied is recorded as DONE; NotApplied
// and SafeToRepeat allow a new attempt (never for a transfer that may have
// left: see notResent); anything unproven is asked again later, with a
// growing delay, until ResolveDeadline, then answered FAILED/OUTCOME_UNKNOWN
// and flagged for an operator — also when the provider is no longer enabled
// or the call cannot be rebuilt. Nothing is ever sent again on Unproven.
func (p *Processor) resolveClaimed(ctx context.Context, c schemas.InDoubtClaim) error {
	cmd := c.Command
	release := p.enter(cmd.TrackID)
	defer release()
	log := p.log.With().Str("trackId", cmd.TrackID).Str("type", string(cmd.Kind)).Str("provider", string(cmd.Provider)).
		Str("providerTrackId", c.ProviderTrackID).Logger()
	inDoubtFor := time.Since(c.InDoubtSince)
	askAgainLater := func(evidence string) error {
		if inDoubtFor > p.cfg.ResolveDeadline {
			return p.outcomeUnknown(ctx, log, c, evidence)
		}
		retryIn := p.resolveRetry(inDoubtFor)
		log.Info().Str("evidence", evidence).Dur("retryIn", retryIn).Msg("outcome still unproven; asking again later")
		return p.store.ReleaseInDoubtClaim(ctx, schemas.ReleaseClaimParams{TrackID: cmd.TrackID, Claim: c.Claim, RetryIn: retryIn})
	}
	prov, ok := p.providers[cmd.Provider]
	if !ok {
		return askAgainLater("provider " + string(cmd.Provider) + " is not enabled in this deployment")
	}
	// The call's intent was recorded c.Call.Age ago; it was sent within a
	// call timeout of that (see fence), its client gave up a call timeout
	// later, and it may land until LandingMargin after that.
	req := providers.Request{Command: cmd, ProviderTrackID: c.ProviderTrackID, Before: c.Before,
		CannotLandAfter: time.Now().Add(-c.Call.Age + 2*p.cfg.CallTimeout + p.cfg.LandingMargin)}
	start := schemas.CallStart{TrackID: cmd.TrackID, Claim: c.Claim}
	if rejection, err := p.applyRules(ctx, log, cmd, &req, &start, c.InDoubtSince.Add(p.cfg.ResolveDeadline)); err != nil || rejection != nil {
		var w *waiting
		if !errors.As(err, &w) {
			// The command's own reservation makes the rules pass; anything
			// else is an inconsistency to look at, not to guess about.
			log.Error().Err(err).Interface("rejection", rejection).Msg("rebuilding an in-doubt call failed")
		}
		return askAgainLater("the call could not be rebuilt")
	}
	finish := func(status schemas.Status, einfo *schemas.ErrorInfo) error {
		res := p.result(cmd.TrackID, cmd.Kind, cmd.Provider, status, nil, einfo, c.Attempts, c.ReceivedAt, uuid.NewString())
		err := p.store.Complete(ctx, schemas.Completion{TrackID: cmd.TrackID, Claim: c.Claim, State: schemas.State(status),
			EventID: res.EventID, Result: p.resultMessage(res, c.Traceparent)})
		if err == nil {
			p.finished(res)
		}
		return err
	}
	held := claimedCommand{cmd: cmd, claim: c.Claim, receivedAt: c.ReceivedAt, attempts: c.Attempts, traceparent: c.Traceparent}
	record := func(o callOutcome) error {
		o.req, o.attempts = req, c.Attempts
		return p.recordOutcome(ctx, log, held, o)
	}

	res, known := recordedVerdict(c.Call)
	if !known {
		res = p.resolve(ctx, log, prov, req, 0)
	}
	switch next := p.afterVerdict(cmd, res, c.Call.State == schemas.CallNotSent, c.Attempts); next {
	case stepDone:
		return record(callOutcome{out: res.Result, evidence: res.Evidence})
	case stepNotResent:
		return record(callOutcome{err: notResent(c.ProviderTrackID, res.Evidence, nil)})
	case stepResend, stepExhausted:
		if err := p.store.RecordInDoubtNotApplied(ctx, schemas.RecordInDoubtNotAppliedParams{TrackID: cmd.TrackID, Claim: c.Claim,
			ProviderTrackID: c.ProviderTrackID, Evidence: res.Evidence, Superseded: res.Verdict == providers.SafeToRepeat}); err != nil {
			if errors.Is(err, schemas.ErrNotClaimed) {
				return p.lateAnswer(ctx, log, schemas.LateAnswer{TrackID: cmd.TrackID, ProviderTrackID: c.ProviderTrackID,
					State: schemas.CallFailed, Evidence: res.Evidence})
			}
			return fmt.Errorf("recording confirmed failure of %s: %w", cmd.TrackID, err)
		}
		if next == stepExhausted {
			return record(callOutcome{err: confirmedNotApplied(cmd, res.Evidence, nil)})
		}
		p.observer.Retry(cmd.Provider)
		req.ProviderTrackID, req.CannotLandAfter = uuid.NewString(), time.Time{}
		start.ProviderTrackID = req.ProviderTrackID
		return p.releaseIfDeferred(ctx, cmd.TrackID, c.Claim, p.callLoop(ctx, log, prov, held, req, start, nil, finish))
	default:
		return askAgainLater(res.Evidence)
	}
}

// outcomeUnknown answers an in-doubt command whose call nothing could prove
// by ResolveDeadline: FAILED OUTCOME_UNKNOWN, flagged for an operator; the
// call was never sent again.
func (p *Processor) outcomeUnknown(ctx context.Context, log zerolog.Logger, c schemas.InDoubtClaim, evidence string) error {
	cmd := c.Command
	log.Error().Str("evidence", evidence).Msg("no provable outcome by the deadline: answering OUTCOME_UNKNOWN; an operator must reconcile")
	out := p.result(cmd.TrackID, cmd.Kind, cmd.Provider, schemas.StatusFailed, nil, &schemas.ErrorInfo{
		Code: schemas.CodeOutcomeUnknown, NeedsReconciliation: true,
		Message: "the provider could not say within " + p.cfg.ResolveDeadline.String() + " whether call " + c.ProviderTrackID +
			" was applied (last: " + evidence + "); it was not sent again; an operator must check it",
	}, c.Attempts, c.ReceivedAt, uuid.NewString())
	err := p.store.Complete(ctx, schemas.Completion{TrackID: cmd.TrackID, Claim: c.Claim, State: schemas.StateFailed,
		ProviderTrackID: c.ProviderTrackID, CallState: schemas.CallUnknown, CallEvidence: evidence, EventID: out.EventID,
		Result: p.resultMessage(out, c.Traceparent), NeedsReconciliation: true,
		ReconcileReason: schemas.BoundReason(schemas.CodeOutcomeUnknown + ": " + out.Error.Message)})
	if errors.Is(err, schemas.ErrNotClaimed) {
		return nil
	}
	if err == nil {
		p.finished(out)
	}
	return err
}

// resolveRetry is how long an in-doubt command that has been in doubt for
// age waits before it is asked about again: ResolveRetry at first, growing
// with its age (a quarter of it, at most a minute), and never past
// ResolveDeadline.
func (p *Processor) resolveRetry(age time.Duration) time.Duration {
	d := min(max(p.cfg.ResolveRetry, age/4), max(p.cfg.ResolveRetry, time.Minute))
	if left := p.cfg.ResolveDeadline - age; left > 0 && left < d {
		d = left + time.Millisecond
	}
	return d
}

// doubt handles a call of unknown outcome: it records the command IN_DOUBT,
// asks the provider (bounded by ResolveInline) and lets afterVerdict decide.
// A call to be sent again is recorded not applied (or superseded) and the
// command goes back to RECEIVED; an unproven one is left IN_DOUBT for the
// sweeper to ask again (stepWait). It returns the verdict and the step.
func (p *Processor) doubt(ctx context.Context, log zerolog.Logger, prov Provider, c claimedCommand, req providers.Request,
	attempt int, callErr error) (providers.Resolution, step, error) {
	cmd, claim := c.cmd, c.claim
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dbTimeout)
	defer cancel()
	if err := p.store.MarkInDoubt(wctx, schemas.MarkInDoubtParams{TrackID: cmd.TrackID, Claim: claim, Reason: schemas.BoundReason("call outcome unknown: " + callErr.Error())}); err != nil {
		if errors.Is(err, schemas.ErrNotClaimed) {
			// Another worker took the command over and settles the call.
			log.Warn().Err(callErr).Msg("lost the claim; the call's outcome is unknown and the new owner resolves it")
			return providers.Resolution{}, stepWait, nil
		}
		return providers.Resolution{}, stepWait, fmt.Errorf("marking %s in doubt: %w", cmd.TrackID, err)
	}
	log.Warn().Err(callErr).Msg("provider call outcome unknown; asking the provider")
	res := p.resolve(ctx, log, prov, req, p.cfg.ResolveInline)
	next := p.afterVerdict(cmd, res, false, attempt)
	wctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), dbTimeout)
	defer cancel()
	switch next {
	case stepResend, stepExhausted:
		if err := p.store.RecordInDoubtNotApplied(wctx, schemas.RecordInDoubtNotAppliedParams{TrackID: cmd.TrackID, Claim: claim,
			ProviderTrackID: req.ProviderTrackID, Evidence: res.Evidence, Superseded: res.Verdict == providers.SafeToRepeat}); err != nil {
			if errors.Is(err, schemas.ErrNotClaimed) {
				return res, stepWait, p.lateAnswer(wctx, log, schemas.LateAnswer{TrackID: cmd.TrackID,
					ProviderTrackID: req.ProviderTrackID, State: schemas.CallFailed, Evidence: res.Evidence})
			}
			return res, stepWait, fmt.Errorf("recording confirmed failure of %s: %w", cmd.TrackID, err)
		}
	case stepWait:
		if err := p.store.ReleaseInDoubtClaim(wctx, schemas.ReleaseClaimParams{TrackID: cmd.TrackID, Claim: claim, RetryIn: p.cfg.ResolveRetry}); err != nil {
			return res, stepWait, err
		}
		log.Warn().Str("evidence", res.Evidence).Msg("provider could not say yet what happened; command stays IN_DOUBT and is asked about again")
	}
	return res, next, nil
}
