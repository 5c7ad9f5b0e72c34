package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/attribute"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/schemas"
)

// errAbandoned is returned when a hook abandoned a command mid-flight.
var errAbandoned = errors.New("command abandoned by test hook")

// firstIntent is the hand-off from receive to the call stage when receive
// stored the command together with its first call's intent (see
// callsAtOnce): the call's provider trackId, the guard's admission, and
// when recording began (what the fence measures from).
type firstIntent struct {
	providerTrackID string
	report          func(error, providers.Class)
	intentAt        time.Time
}

// execute carries out a claimed command that has sent no provider call:
// the rules stage, then the call stage. first is the first call's intent
// when receive recorded it; nil otherwise.
func (p *Processor) execute(ctx context.Context, log zerolog.Logger, c claimedCommand, first *firstIntent) error {
	cmd := c.cmd
	finish := func(status schemas.Status, einfo *schemas.ErrorInfo) error {
		res := p.result(cmd.TrackID, cmd.Kind, cmd.Provider, status, nil, einfo, c.attempts, c.receivedAt, uuid.NewString())
		err := p.store.Complete(ctx, schemas.Completion{TrackID: cmd.TrackID, Claim: c.claim, State: schemas.State(status),
			EventID: res.EventID, Result: p.resultMessage(res, c.traceparent)})
		if errors.Is(err, schemas.ErrNotClaimed) {
			log.Warn().Msg("lost the claim before recording a rejection; the new owner answers")
			return nil
		}
		if err == nil {
			p.finished(res)
			log.Info().Str("status", string(status)).Str("code", einfo.Code).Msg("command answered without a provider call")
		}
		return err
	}
	prov, ok := p.providers[cmd.Provider]
	if !ok {
		return finish(schemas.StatusRejected, &schemas.ErrorInfo{Code: schemas.CodeProviderUnsupported,
			Message: fmt.Sprintf("provider %s is not enabled in this deployment for %s commands", cmd.Provider, cmd.Kind)})
	}
	req := providers.Request{Command: cmd, ProviderTrackID: uuid.NewString()}
	if first != nil {
		req.ProviderTrackID = first.providerTrackID
	}
	start := schemas.CallStart{TrackID: cmd.TrackID, Claim: c.claim, ProviderTrackID: req.ProviderTrackID}
	rctx, rspan := p.startStage(ctx, "rules")
	rejection, err := p.applyRules(rctx, log, cmd, &req, &start, c.receivedAt.Add(p.cfg.UnblockWait))
	endStage(rspan, err)
	if err != nil {
		return err
	}
	if rejection != nil {
		return finish(schemas.StatusRejected, rejection)
	}

	return p.callLoop(ctx, log, prov, c, req, start, first, finish)
}

// callLoop makes provider call attempts for a claimed RECEIVED command until
// one has a provable outcome: each attempt is recorded before it is sent; a
// failure that proves nothing was applied is retried (bounded) with a new
// provider trackId; an unknown outcome is resolved by asking the provider,
// and only a confirmed "not applied" allows another attempt. req and start
// are the first attempt's call and the record of its intent (first, when
// receive recorded that intent with the command); finish answers
// the command without a call. Every outcome is handed to settle
// (recordOutcome) as a callOutcome.
func (p *Processor) callLoop(ctx context.Context, log zerolog.Logger, prov Provider, c claimedCommand,
	req providers.Request, start schemas.CallStart, first *firstIntent, finish func(schemas.Status, *schemas.ErrorInfo) error) error {
	cmd, claim := c.cmd, c.claim
	g := p.guards[cmd.Provider]
	maxAttempts, retryBudget := p.maxAttempts(cmd.Provider), p.cfg.RetryBudget
	if g.policy.RetryBudget > 0 {
		retryBudget = g.policy.RetryBudget
	}
	budget := time.Now().Add(retryBudget)
	delay := p.cfg.RetryDelay
	attempts := 0 // calls recorded by this loop
	for {
		var report func(error, providers.Class)
		var intentAt time.Time
		var attempt int
		var err error
		if first != nil {
			// Receive stored the command with this attempt's intent, after
			// the guard admitted it.
			report, intentAt, attempt, first = first.report, first.intentAt, 1, nil
		} else {
			// A provider that is down makes its commands wait, spending no attempt.
			report, err = g.admit(ctx, cmd.Provider)
			if err != nil {
				return err
			}
			if pr, ok := prov.(Preparer); ok {
				before, err := p.prepare(ctx, pr, req)
				report(err, classify(cmd, err))
				if err != nil {
					// Nothing was sent: a failed read is retried like a call
					// refused before it was applied, within the same bounds.
					if ctx.Err() == nil && time.Now().Add(delay).Before(budget) {
						p.observer.Retry(cmd.Provider)
						log.Info().Err(err).Msg("reading the provider's state before the call failed; retrying")
						select {
						case <-ctx.Done():
							return fmt.Errorf("waiting to retry %s: %w", cmd.TrackID, ctx.Err())
						case <-time.After(delay/2 + rand.N(delay/2+1)):
						}
						delay = min(delay*2, p.cfg.RetryDelayMax)
						continue
					}
					noCall := req
					noCall.ProviderTrackID = ""
					return p.recordOutcome(ctx, log, c,
						callOutcome{req: noCall, attempts: attempts, err: &providers.Error{Provider: cmd.Provider, Class: providers.Retryable, Code: "STATE_UNREADABLE",
							Message: "the provider's state could not be read before the call; nothing was sent", Err: err}})
				}
				start.Before = before
				report, err = g.admit(ctx, cmd.Provider)
				if err != nil {
					return err
				}
			}
			intentAt = time.Now()
			var begun schemas.CallBegun
			begun, err = p.store.BeginCall(ctx, start, p.cfg.Lease)
			attempt = begun.Attempt
			req.Before = begun.Before
			if err != nil {
				report(errNothingSent, providers.Permanent) // nothing was sent: proves nothing
			}
			switch {
			case errors.Is(err, schemas.ErrHoldTaken) && cmd.Kind == schemas.KindTransfer:
				return finish(schemas.StatusRejected, &schemas.ErrorInfo{Code: schemas.CodeAlreadyTransferred,
					Message: "the hold released by unblock " + cmd.UnblockTrackID + " is taken by another transfer; only one may succeed"})
			case errors.Is(err, schemas.ErrHoldTaken):
				return finish(schemas.StatusRejected, &schemas.ErrorInfo{Code: schemas.CodeAlreadyUnblocked,
					Message: "block " + cmd.BlockTrackID + " is already being released or was released by another unblock"})
			case errors.Is(err, schemas.ErrNotClaimed):
				log.Warn().Msg("lost the claim before calling the provider; not calling")
				return nil
			case err != nil:
				return fmt.Errorf("recording call attempt: %w", err)
			}
		}
		attempts = attempt
		if p.hooks.AfterIntent != nil {
			p.hooks.AfterIntent(cmd.TrackID)
		}
		if reason := p.fence(intentAt); reason != "" {
			report(errNothingSent, providers.Permanent) // nothing was sent: proves nothing
			return p.notSent(ctx, log, cmd, claim, req.ProviderTrackID, reason)
		}

		// The call and the recording of its outcome outlive a shutdown
		// signal: abandoning them halfway is what makes outcomes unknown.
		sentAt := time.Now()
		callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.CallTimeout)
		callCtx, cspan := p.startStage(callCtx, "call "+string(cmd.Provider), attribute.String("blockd.provider", string(cmd.Provider)),
			attribute.Int("blockd.attempt", attempt), attribute.String("blockd.provider_track_id", req.ProviderTrackID))
		log.Debug().Int("attempt", attempt).Msg("calling provider")
		out, callErr := prov.Execute(callCtx, req)
		endStage(cspan, callErr)
		cancel()
		p.observer.Call(cmd.Provider, string(cmd.Kind), outcomeOf(callErr, classify(cmd, callErr)), time.Since(sentAt))
		report(callErr, classify(cmd, callErr))
		if p.hooks.AfterCall != nil {
			if err := p.hooks.AfterCall(cmd.TrackID); err != nil {
				return fmt.Errorf("%w: %w", errAbandoned, err)
			}
		}
		backToReceived, evidence := false, ""
		if callErr != nil && classify(cmd, callErr) == providers.Unknown {
			// Never re-send blindly: record the doubt, then ask the provider.
			// The call may still land until its client gave up plus a margin.
			req.CannotLandAfter = sentAt.Add(p.cfg.CallTimeout + p.cfg.LandingMargin)
			res, next, err := p.doubt(ctx, log, prov, c, req, attempt, callErr)
			if err != nil {
				return err
			}
			switch next {
			case stepWait:
				return nil
			case stepDone:
				out, callErr, evidence = res.Result, nil, res.Evidence
			case stepNotResent:
				// Money left the account, or not: the answer was lost and the
				// provider's "not applied" is not the call's own refusal.
				// Never re-sent; the upstream decides after checking.
				callErr = notResent(req.ProviderTrackID, res.Evidence, callErr)
			case stepResend:
				backToReceived = true
				callErr = confirmedNotApplied(cmd, res.Evidence, callErr)
			case stepExhausted:
				callErr = confirmedNotApplied(cmd, res.Evidence, callErr)
			}
		}
		recordCtx, cancelRecord := context.WithTimeout(context.WithoutCancel(ctx), dbTimeout)
		// A call settled "send again" is sent again whatever the retry
		// budget: it is recorded not applied (or superseded) already, and
		// afterVerdict bounded it by the attempts.
		retry := backToReceived || callErr != nil && classify(cmd, callErr) == providers.Retryable && ctx.Err() == nil &&
			attempt < maxAttempts && time.Now().Add(delay).Before(budget)
		if !retry {
			err := p.recordOutcome(recordCtx, log, c, callOutcome{req: req, attempts: attempt, out: out, err: callErr, evidence: evidence})
			cancelRecord()
			return err
		}
		var notAppliedCode string
		var notAppliedStatus int
		if !backToReceived {
			var pe *providers.Error
			errors.As(callErr, &pe)
			code, status := "", 0
			if pe != nil {
				code, status = pe.Code, pe.HTTPStatus
			}
			notAppliedCode, notAppliedStatus = code, status
			err = p.store.RecordAttemptNotApplied(recordCtx, schemas.RecordAttemptNotAppliedParams{TrackID: cmd.TrackID, Claim: claim,
				ProviderTrackID: req.ProviderTrackID, ErrorCode: code, HTTPStatus: status})
		}
		if errors.Is(err, schemas.ErrNotClaimed) && !backToReceived {
			err = p.lateAnswer(recordCtx, log, schemas.LateAnswer{TrackID: cmd.TrackID, ProviderTrackID: req.ProviderTrackID,
				State: schemas.CallFailed, ErrorCode: notAppliedCode, HTTPStatus: notAppliedStatus, Evidence: "the call's own answer"})
			cancelRecord()
			return err
		}
		cancelRecord()
		if errors.Is(err, schemas.ErrNotClaimed) {
			log.Warn().Msg("lost the claim after a failed attempt; the new owner carries on")
			return nil
		}
		if err != nil {
			return fmt.Errorf("recording failed attempt: %w", err)
		}
		wait := delay/2 + rand.N(delay/2+1)
		p.observer.Retry(cmd.Provider)
		log.Info().Err(callErr).Int("attempt", attempt).Dur("retryIn", wait).Msg("provider call failed and was not applied; retrying")
		select {
		case <-ctx.Done():
			// The command stays RECEIVED and claimed; it is carried on by
			// a redelivery or, after the lease, by any instance.
			return fmt.Errorf("waiting to retry %s: %w", cmd.TrackID, ctx.Err())
		case <-time.After(wait):
		}
		delay = min(delay*2, p.cfg.RetryDelayMax)
		req.ProviderTrackID = uuid.NewString() // Finnotech never replays a trackId
		start.ProviderTrackID = req.ProviderTrackID
	}
}

// prepare reads the provider's state before a call, bounded by the call
// timeout.
func (p *Processor) prepare(ctx context.Context, pr Preparer, req providers.Request) (json.RawMessage, error) {
	rctx, cancel := context.WithTimeout(ctx, p.cfg.CallTimeout)
	defer cancel()
	began := time.Now()
	before, err := pr.Prepare(rctx, req)
	p.observer.Call(req.Command.Provider, OperationPrepare, outcomeOf(err, classify(req.Command, err)), time.Since(began))
	if err != nil {
		return nil, fmt.Errorf("reading the provider's state before the call: %w", err)
	}
	return before, nil
}
