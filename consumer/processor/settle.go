package processor

import (
	"cmp"
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

// callOutcome is the hand-off from the call stage (or the resolver) to
// settle: what became of the provider call req, the command's attempts-th
// (what its result reports): the call's normalised answer, or the error it
// failed with, and what that rests on when it was not the call's own answer
// (a Resolution's Evidence).
type callOutcome struct {
	req      providers.Request
	attempts int
	out      json.RawMessage
	err      error
	evidence string
}

// recordOutcome records the terminal outcome of a claimed command's call,
// or marks the command IN_DOUBT when the outcome is unknown. An outcome
// that can no longer be recorded because the claim was lost is kept against
// the call as a late answer.
func (p *Processor) recordOutcome(ctx context.Context, log zerolog.Logger, held claimedCommand, o callOutcome) error {
	ctx, span := p.startStage(ctx, "settle")
	defer span.End()
	cmd, claim, receivedAt, traceparent := held.cmd, held.claim, held.receivedAt, held.traceparent
	req, attempts, out, callErr := o.req, o.attempts, o.out, o.err
	c := schemas.Completion{TrackID: cmd.TrackID, Claim: claim, ProviderTrackID: req.ProviderTrackID}
	var res schemas.Result
	if callErr == nil {
		res = p.result(cmd.TrackID, cmd.Kind, cmd.Provider, schemas.StatusDone, out, nil, attempts, receivedAt, uuid.NewString())
		c.State, c.CallState, c.CallAnswer, c.CallEvidence = schemas.StateDone, schemas.CallDone, out, o.evidence
		if err := ledgerEffects(&c, cmd, req, out); err != nil {
			// The provider applied the call, but not as the command asked
			// (another amount, say). That is known, not in doubt: the
			// command ends FAILED for an operator, the call is recorded
			// applied with the provider's own answer, and the ledger is left
			// as it was (a reservation stays), so nothing acts on it.
			log.Error().Err(err).Msg("the provider applied the call but its answer does not match the command")
			c = schemas.Completion{TrackID: cmd.TrackID, Claim: claim, ProviderTrackID: req.ProviderTrackID, State: schemas.StateFailed,
				CallState: schemas.CallDone, CallAnswer: out, CallEvidence: o.evidence, NeedsReconciliation: true}
			res = p.result(cmd.TrackID, cmd.Kind, cmd.Provider, schemas.StatusFailed, nil, &schemas.ErrorInfo{
				Code: schemas.CodeAnswerMismatch, NeedsReconciliation: true,
				Message: "the provider applied the call but its answer does not match the command: " + err.Error() + "; an operator must reconcile it",
			}, attempts, receivedAt, uuid.NewString())
		}
		if size := p.resultMessage(res, traceparent).Size(); res.Status == schemas.StatusDone && size > p.cfg.MaxMessageBytes {
			// A result that large would be refused by the broker and stop
			// the relay. The answer is kept with the call; the command ends
			// FAILED, and one that changed something is left to an operator,
			// exactly as an answer that does not match the command.
			reconcile := cmd.Kind != schemas.KindInquiry
			log.Error().Int("bytes", size).Msg("the provider's answer makes a result larger than may be published")
			c = schemas.Completion{TrackID: cmd.TrackID, Claim: claim, ProviderTrackID: req.ProviderTrackID, State: schemas.StateFailed,
				CallState: schemas.CallDone, CallAnswer: out, CallEvidence: o.evidence, NeedsReconciliation: reconcile}
			tail := "the inquiry changed nothing"
			if reconcile {
				tail = "the call was applied: reconcile it"
			}
			res = p.result(cmd.TrackID, cmd.Kind, cmd.Provider, schemas.StatusFailed, nil, &schemas.ErrorInfo{
				Code: schemas.CodeResultTooLarge, NeedsReconciliation: reconcile,
				Message: fmt.Sprintf("the provider's answer makes a %d-byte result, over the %d-byte limit; %s", size, p.cfg.MaxMessageBytes, tail),
			}, attempts, receivedAt, uuid.NewString())
		}
	} else {
		var pe *providers.Error
		errors.As(callErr, &pe)
		einfo := &schemas.ErrorInfo{Message: callErr.Error()}
		if pe != nil {
			einfo.ProviderCode, einfo.HTTPStatus, einfo.Message = pe.Code, pe.HTTPStatus, pe.Message
			if einfo.Message == "" {
				einfo.Message = pe.Error()
			}
		}
		var nr *notResentError
		switch {
		case errors.As(callErr, &nr):
			einfo.Code, einfo.Message, einfo.ProviderCode, einfo.HTTPStatus = schemas.CodeTransferNotApplied, nr.Error(), "", 0
			c.CallEvidence = nr.evidence
		case classify(cmd, callErr) == providers.Permanent:
			einfo.Code = schemas.CodeProviderRejected
		case classify(cmd, callErr) == providers.Retryable:
			einfo.Code, einfo.Retryable = schemas.CodeProviderUnavailable, true
		default:
			log.Warn().Err(callErr).Msg("provider call outcome unknown")
			return p.markInDoubt(ctx, log, cmd.TrackID, claim, "call outcome unknown: "+callErr.Error())
		}
		c.State, c.CallState, c.ErrorCode, c.HTTPStatus = schemas.StateFailed, schemas.CallFailed, einfo.ProviderCode, einfo.HTTPStatus
		unsettled := 0
		if attempts > 1 && req.ProviderTrackID != "" {
			// This call's refusal proves nothing of an earlier call whose
			// outcome is unknown (one superseded by a re-send as safe to
			// repeat): that one may have been applied.
			n, err := p.store.UnsettledCalls(ctx, cmd.TrackID, req.ProviderTrackID)
			if err != nil {
				return fmt.Errorf("reading the earlier calls of %s: %w", cmd.TrackID, err)
			}
			unsettled = n
		}
		if unsettled > 0 {
			log.Error().Err(callErr).Int("unsettledCalls", unsettled).Msg("the last call was refused, but an earlier call's outcome is unknown")
			einfo = &schemas.ErrorInfo{Code: schemas.CodeOutcomeUnknown, NeedsReconciliation: true, ProviderCode: einfo.ProviderCode, HTTPStatus: einfo.HTTPStatus,
				Message: fmt.Sprintf("attempt %d failed (%s), but %d earlier call(s) of this command may have been applied (their outcome is unknown: "+
					"they were superseded by a re-send as safe to repeat); it is not sent again; an operator must check it", attempts, einfo.Message, unsettled)}
			c.NeedsReconciliation = true
		} else {
			// Certainly not applied: what the command reserved in the ledger
			// is given back. (When an earlier call may have been applied,
			// the ledger is left as it is, for the operator.)
			if req.Block != nil {
				c.UnreserveHold = req.Block.TrackID
			}
			if cmd.Kind == schemas.KindTransfer && req.Hold != nil {
				c.UnreserveTransfer = cmd.UnblockTrackID
			}
		}
		res = p.result(cmd.TrackID, cmd.Kind, cmd.Provider, schemas.StatusFailed, nil, einfo, attempts, receivedAt, uuid.NewString())
	}
	c.EventID, c.Result = res.EventID, p.resultMessage(res, traceparent)
	if c.NeedsReconciliation && res.Error != nil {
		c.ReconcileReason = schemas.BoundReason(res.Error.Code + ": " + res.Error.Message)
	}
	err := p.store.Complete(ctx, c)
	if errors.Is(err, schemas.ErrNotClaimed) && c.ProviderTrackID != "" {
		// The answer is still a fact about the call: keep it, and flag the
		// command if it contradicts what the new owner recorded.
		return p.lateAnswer(ctx, log, schemas.LateAnswer{TrackID: cmd.TrackID, ProviderTrackID: c.ProviderTrackID,
			State: c.CallState, Answer: c.CallAnswer, ErrorCode: c.ErrorCode, HTTPStatus: c.HTTPStatus,
			Evidence: cmp.Or(c.CallEvidence, "the call's own answer")})
	}
	if errors.Is(err, schemas.ErrNotClaimed) {
		log.Warn().Msg("lost the claim before recording the outcome; another worker settles it")
		return nil
	}
	if err != nil {
		// The call was made and its answer is known only to this process:
		// if this cannot be recorded the command becomes IN_DOUBT on recovery.
		return fmt.Errorf("recording outcome of %s: %w", cmd.TrackID, err)
	}
	p.finished(res)
	// A command done as asked is the common case, thousands a second: it
	// is logged at debug (its result event and its commands row are the
	// record). Every other outcome is logged at info.
	ev := log.Info()
	if res.Status == schemas.StatusDone {
		ev = log.Debug()
	}
	ev.Str("status", string(res.Status)).Int("attempts", attempts).Msg("command finished")
	return nil
}

func (p *Processor) markInDoubt(ctx context.Context, log zerolog.Logger, trackID, claim, reason string) error {
	err := p.store.MarkInDoubt(ctx, schemas.MarkInDoubtParams{TrackID: trackID, Claim: claim, Reason: schemas.BoundReason(reason)})
	if errors.Is(err, schemas.ErrNotClaimed) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("marking %s in doubt: %w", trackID, err)
	}
	log.Warn().Str("reason", reason).Msg("command IN_DOUBT: kept for resolution, never re-sent blindly")
	return nil
}

// ledgerEffects fills in what a successful call changes in the holds ledger.
func ledgerEffects(c *schemas.Completion, cmd schemas.Command, req providers.Request, out json.RawMessage) error {
	if cmd.Provider != schemas.ProviderFinnotech {
		return nil
	}
	switch cmd.Kind {
	case schemas.KindBlock:
		var r schemas.FinnotechBlockResult
		if err := json.Unmarshal(out, &r); err != nil {
			return fmt.Errorf("decoding block result: %w", err)
		}
		if r.Amount != cmd.Amount {
			return fmt.Errorf("provider blocked %d rials, the command asked for %d", r.Amount, cmd.Amount)
		}
		c.CreateHold = &schemas.BlockRef{TrackID: cmd.TrackID, Provider: cmd.Provider, ClientID: cmd.ClientID,
			Amount: r.Amount, Description: cmd.Description, Days: cmd.Days, Deposit: r.Deposit, BlockDate: r.BlockDate,
			ProviderTrackID: req.ProviderTrackID}
	case schemas.KindUnblock:
		var r schemas.FinnotechUnblockResult
		if err := json.Unmarshal(out, &r); err != nil {
			return fmt.Errorf("decoding unblock result: %w", err)
		}
		c.ReleaseHold, c.UnblockDate = req.Block.TrackID, r.UnblockDate
	case schemas.KindTransfer:
		var r schemas.FinnotechTransferResult
		if err := json.Unmarshal(out, &r); err != nil {
			return fmt.Errorf("decoding transfer result: %w", err)
		}
		c.TransferDone, c.TransferAmount, c.TransferDestination, c.TransferDate = cmd.UnblockTrackID, r.Amount, r.Destination, r.TransferDate
	}
	return nil
}

func (p *Processor) result(trackID string, kind schemas.Kind, provider schemas.Provider, status schemas.Status, out json.RawMessage, einfo *schemas.ErrorInfo, attempts int, receivedAt time.Time, eventID string) schemas.Result {
	return schemas.Result{EventID: eventID, TrackID: trackID, Type: kind, Provider: provider, Status: status,
		Result: out, Error: einfo, Attempts: attempts, ReceivedAt: receivedAt.UTC(), CompletedAt: time.Now().UTC()}
}
