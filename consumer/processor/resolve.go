package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/schemas"
)

type verdict int

const (
	verdictUnresolved verdict = iota
	verdictApplied
	verdictNotApplied
)

// resolve asks the provider what became of req's call, until it gets an
// answer or limit passes.
func (p *Processor) resolve(ctx context.Context, log zerolog.Logger, prov Provider, req providers.Request, limit time.Duration) (verdict, json.RawMessage) {
	r, ok := prov.(Resolver)
	if !ok {
		return verdictUnresolved, nil
	}
	deadline := time.Now().Add(limit)
	delay := 100 * time.Millisecond
	for {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.CallTimeout)
		res, err := r.Resolve(rctx, req)
		cancel()
		switch {
		case err != nil:
			log.Warn().Err(err).Msg("asking the provider about an unknown outcome")
		case res.Verdict == providers.Applied:
			log.Info().Str("evidence", res.Evidence).Msg("provider confirmed the call was applied")
			return verdictApplied, res.Result
		case res.Verdict == providers.NotApplied:
			log.Info().Str("evidence", res.Evidence).Msg("provider confirmed the call was not applied")
			return verdictNotApplied, nil
		}
		if time.Now().Add(delay).After(deadline) || ctx.Err() != nil {
			return verdictUnresolved, nil
		}
		select {
		case <-ctx.Done():
			return verdictUnresolved, nil
		case <-time.After(delay):
		}
		delay = min(delay*2, 2*time.Second)
	}
}

// confirmedNotApplied is the error of a call whose outcome was unknown until
// the provider confirmed it was not applied: safe to try again.
func confirmedNotApplied(cmd schemas.Command, cause error) error {
	return &providers.Error{Provider: cmd.Provider, Class: providers.Retryable, Code: "CONFIRMED_NOT_APPLIED",
		Message: "the call's outcome was unknown and the provider confirmed it was not applied", Err: cause}
}

// resolveClaimed settles an IN_DOUBT command claimed by the sweeper: it asks
// the provider once; a confirmed outcome is recorded, a confirmed "not
// applied" allows a new attempt, and no answer by ResolveDeadline is
// answered FAILED/OUTCOME_UNKNOWN and flagged for an operator.
func (p *Processor) resolveClaimed(ctx context.Context, c schemas.InDoubtClaim) error {
	cmd := c.Command
	release := p.enter(cmd.TrackID)
	defer release()
	log := p.log.With().Str("trackId", cmd.TrackID).Str("type", string(cmd.Kind)).Str("provider", string(cmd.Provider)).Logger()
	askAgainLater := schemas.ReleaseClaimParams{TrackID: cmd.TrackID, Claim: c.Claim, RetryIn: p.cfg.ResolveRetry}
	prov, ok := p.providers[cmd.Provider]
	if !ok {
		return p.store.ReleaseInDoubtClaim(ctx, askAgainLater)
	}
	req := providers.Request{Command: cmd, ProviderTrackID: c.ProviderTrackID}
	start := schemas.CallStart{TrackID: cmd.TrackID, Claim: c.Claim}
	if rejection, err := p.applyRules(ctx, log, cmd, &req, &start, c.InDoubtSince.Add(p.cfg.ResolveDeadline)); err != nil || rejection != nil {
		var w *waiting
		if errors.As(err, &w) {
			return p.store.ReleaseInDoubtClaim(ctx, askAgainLater)
		}
		// The command's own reservation makes the rules pass; anything else
		// is an inconsistency to look at, not to guess about.
		log.Error().Err(err).Interface("rejection", rejection).Msg("rebuilding an in-doubt call failed")
		return p.store.ReleaseInDoubtClaim(ctx, askAgainLater)
	}
	finish := func(status schemas.Status, einfo *schemas.ErrorInfo) error {
		res := p.result(cmd.TrackID, cmd.Kind, cmd.Provider, status, nil, einfo, c.Attempts, c.ReceivedAt, uuid.NewString())
		return p.store.Complete(ctx, schemas.Completion{TrackID: cmd.TrackID, Claim: c.Claim, State: schemas.State(status),
			EventID: res.EventID, Result: p.resultMessage(res, c.Traceparent)})
	}

	v, out := p.resolve(ctx, log, prov, req, 0)
	switch {
	case v == verdictApplied:
		return p.recordOutcome(ctx, log, cmd, c.Claim, req, c.Attempts, c.ReceivedAt, c.Traceparent, out, nil)
	case v == verdictNotApplied:
		if err := p.store.RecordInDoubtNotApplied(ctx, schemas.RecordInDoubtNotAppliedParams{TrackID: cmd.TrackID, Claim: c.Claim}); err != nil {
			if errors.Is(err, schemas.ErrNotClaimed) {
				return nil
			}
			return fmt.Errorf("recording confirmed failure of %s: %w", cmd.TrackID, err)
		}
		if c.Attempts >= p.cfg.MaxAttempts {
			return p.recordOutcome(ctx, log, cmd, c.Claim, req, c.Attempts, c.ReceivedAt, c.Traceparent, nil, confirmedNotApplied(cmd, nil))
		}
		req.ProviderTrackID = uuid.NewString()
		start.ProviderTrackID = req.ProviderTrackID
		return p.releaseIfDeferred(ctx, cmd.TrackID, c.Claim, p.callLoop(ctx, log, prov, cmd, c.Claim, req, start, c.ReceivedAt, c.Traceparent, finish))
	case time.Since(c.InDoubtSince) > p.cfg.ResolveDeadline:
		log.Error().Msg("no provable outcome by the deadline: answering OUTCOME_UNKNOWN; an operator must reconcile")
		res := p.result(cmd.TrackID, cmd.Kind, cmd.Provider, schemas.StatusFailed, nil, &schemas.ErrorInfo{
			Code: schemas.CodeOutcomeUnknown, NeedsReconciliation: true,
			Message: "the provider could not say within " + p.cfg.ResolveDeadline.String() + " whether call " + c.ProviderTrackID + " was applied; an operator must check it",
		}, c.Attempts, c.ReceivedAt, uuid.NewString())
		err := p.store.Complete(ctx, schemas.Completion{TrackID: cmd.TrackID, Claim: c.Claim, State: schemas.StateFailed,
			ProviderTrackID: c.ProviderTrackID, CallState: "UNKNOWN", EventID: res.EventID,
			Result: p.resultMessage(res, c.Traceparent), NeedsReconciliation: true})
		if errors.Is(err, schemas.ErrNotClaimed) {
			return nil
		}
		return err
	default:
		return p.store.ReleaseInDoubtClaim(ctx, askAgainLater)
	}
}
