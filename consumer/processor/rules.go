package processor

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/schemas"
)

// applyRules checks the rules that need stored state before any provider
// call, and fills in what the call needs from earlier commands: an unblock
// is built from its block, a transfer from the hold its unblock released,
// a transfer inquiry from the transfer's call. It returns the rejection to
// answer with, if a rule is broken.
//
// A reference that is not ready yet is waited for until waitUntil, without
// holding a consumer slot: applyRules then returns a *waiting error (a
// Deferrer) and the command, stored and claimed, is handled again later.
func (p *Processor) applyRules(ctx context.Context, log zerolog.Logger, cmd schemas.Command, req *providers.Request, start *schemas.CallStart, waitUntil time.Time) (*schemas.ErrorInfo, error) {
	switch {
	case cmd.Provider == schemas.ProviderArhivaar || cmd.Provider == schemas.ProviderCard:
		if cmd.Kind == schemas.KindUnblock && cmd.BlockTrackID != "" {
			// The upstream said which block this unblock follows: wait for
			// it, so an unblock that overtook its block on another topic
			// is not applied first.
			l, err := p.awaitOutcome(ctx, cmd.BlockTrackID, waitUntil)
			if err != nil {
				return nil, err
			}
			switch {
			case !l.Found:
				return &schemas.ErrorInfo{Code: schemas.CodeBlockNotFound, Retryable: true, Message: "no block " + cmd.BlockTrackID + " arrived within " + p.cfg.UnblockWait.String()}, nil
			case l.Kind != schemas.KindBlock || l.Provider != cmd.Provider:
				return &schemas.ErrorInfo{Code: schemas.CodeProviderMismatch, Message: "trackId " + cmd.BlockTrackID + " is not a " + string(cmd.Provider) + " block"}, nil
			case l.AccountID != cmd.AccountID:
				return &schemas.ErrorInfo{Code: schemas.CodeAccountMismatch, Message: "block " + cmd.BlockTrackID + " is a block of another account"}, nil
			case !l.State.Terminal():
				return &schemas.ErrorInfo{Code: schemas.CodeBlockPending, Retryable: true, Message: "block " + cmd.BlockTrackID + " had no outcome within " + p.cfg.UnblockWait.String()}, nil
			case l.State != schemas.StateDone:
				// Its state never took effect: what the account holds now is
				// another party's, and not this unblock's to remove.
				return &schemas.ErrorInfo{Code: schemas.CodeBlockNotDone, Message: "block " + cmd.BlockTrackID + " ended " + string(l.State) + "; there is nothing of it to unblock"}, nil
			case l.CodeSlot != 0 && l.CodeSlot != cmd.BlockCodeSlot:
				return &schemas.ErrorInfo{Code: schemas.CodeSlotMismatch, Message: fmt.Sprintf(
					"block %s put its code into slot %d (slot %d was in use); this unblock names slot %d, whose code is not the block's",
					cmd.BlockTrackID, l.CodeSlot, cmd.BlockCodeSlot, cmd.BlockCodeSlot)}, nil
			}
		}
		return p.awaitAccountTurn(ctx, cmd, waitUntil)
	case cmd.Provider != schemas.ProviderFinnotech:
		return nil, nil
	case cmd.Kind == schemas.KindUnblock:
		l, err := p.awaitOutcome(ctx, cmd.BlockTrackID, waitUntil)
		if err != nil {
			return nil, err
		}
		block, rejection := unblockRules(cmd, l, p.cfg.UnblockWait)
		if rejection == nil {
			req.Block, start.ReserveHold = block, cmd.BlockTrackID
		}
		return rejection, nil
	case cmd.Kind == schemas.KindTransfer:
		l, err := p.awaitOutcome(ctx, cmd.UnblockTrackID, waitUntil)
		if err != nil {
			return nil, err
		}
		hold, rejection := transferRules(cmd, l, p.cfg.UnblockWait)
		if rejection == nil {
			req.Hold, start.ReserveTransfer = hold, cmd.UnblockTrackID
		}
		return rejection, nil
	case cmd.Kind == schemas.KindInquiry && cmd.Inquiry == "transfer":
		// An inquiry may be published right behind its transfer: wait
		// (bounded) for the transfer to be stored and have an outcome.
		l, err := p.awaitOutcome(ctx, cmd.TransferTrackID, waitUntil)
		if err != nil {
			return nil, err
		}
		if !l.Found || l.Kind != schemas.KindTransfer || l.ProviderTrackID == "" {
			return &schemas.ErrorInfo{Code: schemas.CodeTransferNotFound,
				Message: "no transfer call was made for trackId " + cmd.TransferTrackID}, nil
		}
		req.InquiredTrackID, req.InquiredClientID = l.ProviderTrackID, l.ClientID
	}
	return nil, nil
}

// callsAtOnce reports whether a command's first call can be recorded with
// the command itself (Store.ReceiveAndBegin): its provider is enabled and
// reads no state before a call (not a Preparer), and applyRules neither
// reads nor changes anything for it — a Finnotech block or a Finnotech
// inquiry other than a transfer inquiry. Keep it in step with applyRules
// (TestCallsAtOnceOnlyWhereTheRulesReadNothing).
func (p *Processor) callsAtOnce(cmd schemas.Command) bool {
	prov, ok := p.providers[cmd.Provider]
	if !ok {
		return false
	}
	if _, reads := prov.(Preparer); reads {
		return false
	}
	return cmd.Provider == schemas.ProviderFinnotech &&
		(cmd.Kind == schemas.KindBlock || cmd.Kind == schemas.KindInquiry && cmd.Inquiry != "transfer")
}

// awaitAccountTurn makes a command for an account-state provider wait until
// every command that comes before it on the same account has an outcome.
// These providers set a state: sending a newer command while an older one
// is still in flight (or in doubt, to be settled by a re-send or a state
// read) could let the older one land last, or be judged by the newer one's
// effect. Commands come in the order they were received, except that an
// unblock naming its block comes right after that block even when it was
// received first (see store.EarlierOpen): it waits for the block's outcome
// first (applyRules), so the block must not wait for it.
func (p *Processor) awaitAccountTurn(ctx context.Context, cmd schemas.Command, waitUntil time.Time) (*schemas.ErrorInfo, error) {
	earlier, err := p.store.EarlierOpen(ctx, schemas.EarlierOpenParams{Provider: cmd.Provider, AccountID: cmd.AccountID, TrackID: cmd.TrackID})
	if err != nil || earlier == "" {
		return nil, err
	}
	if time.Now().Before(waitUntil) {
		return nil, &waiting{on: earlier}
	}
	return &schemas.ErrorInfo{Code: schemas.CodeAccountBusy, Retryable: true,
		Message: "an earlier command for this account (" + earlier + ") had no outcome within " + p.cfg.UnblockWait.String()}, nil
}

// unblockRules checks an unblock against the block it names.
func unblockRules(cmd schemas.Command, l schemas.Lookup, waited time.Duration) (*schemas.BlockRef, *schemas.ErrorInfo) {
	ref := cmd.BlockTrackID
	switch {
	case !l.Found:
		return nil, &schemas.ErrorInfo{Code: schemas.CodeBlockNotFound, Retryable: true, Message: "no block " + ref + " arrived within " + waited.String()}
	case l.Kind != schemas.KindBlock:
		return nil, &schemas.ErrorInfo{Code: schemas.CodeBlockNotFound, Message: "trackId " + ref + " is a " + string(l.Kind) + " command, not a block"}
	case l.Provider != cmd.Provider:
		return nil, &schemas.ErrorInfo{Code: schemas.CodeProviderMismatch, Message: "block " + ref + " was made at " + string(l.Provider)}
	case !l.State.Terminal():
		return nil, &schemas.ErrorInfo{Code: schemas.CodeBlockPending, Retryable: true,
			Message: "block " + ref + " had no outcome within " + waited.String() + " (state " + string(l.State) + ")"}
	case l.State != schemas.StateDone:
		return nil, &schemas.ErrorInfo{Code: schemas.CodeBlockNotDone, Message: "block " + ref + " ended " + string(l.State) + "; there is nothing to unblock"}
	case l.Hold == nil:
		return nil, &schemas.ErrorInfo{Code: schemas.CodeBlockNotFound, Message: "block " + ref + " has no hold in the ledger"}
	case cmd.Amount != 0 && cmd.Amount != l.Hold.Block.Amount:
		return nil, &schemas.ErrorInfo{Code: schemas.CodeAmountMismatch,
			Message: fmt.Sprintf("unblock amount %d differs from the block's %d; they must be equal", cmd.Amount, l.Hold.Block.Amount)}
	case l.Hold.UnblockTrackID != "" && l.Hold.UnblockTrackID != cmd.TrackID:
		return nil, &schemas.ErrorInfo{Code: schemas.CodeAlreadyUnblocked, Message: "block " + ref + " is released by unblock " + l.Hold.UnblockTrackID}
	}
	block := l.Hold.Block
	return &block, nil
}

// transferRules checks a transfer against the unblock it follows: the
// unblock succeeded, the amount is at most the unblocked amount, and no
// other transfer took (or is taking) the hold.
func transferRules(cmd schemas.Command, l schemas.Lookup, waited time.Duration) (*schemas.Hold, *schemas.ErrorInfo) {
	ref := cmd.UnblockTrackID
	switch {
	case !l.Found:
		return nil, &schemas.ErrorInfo{Code: schemas.CodeUnblockNotFound, Retryable: true, Message: "no unblock " + ref + " arrived within " + waited.String()}
	case l.Kind != schemas.KindUnblock:
		return nil, &schemas.ErrorInfo{Code: schemas.CodeUnblockNotFound, Message: "trackId " + ref + " is a " + string(l.Kind) + " command, not an unblock"}
	case l.Provider != cmd.Provider:
		return nil, &schemas.ErrorInfo{Code: schemas.CodeProviderMismatch, Message: "unblock " + ref + " was made at " + string(l.Provider)}
	case !l.State.Terminal():
		return nil, &schemas.ErrorInfo{Code: schemas.CodeUnblockPending, Retryable: true,
			Message: "unblock " + ref + " had no outcome within " + waited.String() + " (state " + string(l.State) + ")"}
	case l.State != schemas.StateDone || l.Hold == nil || l.Hold.UnblockTrackID != ref:
		return nil, &schemas.ErrorInfo{Code: schemas.CodeUnblockNotDone, Message: "unblock " + ref + " did not succeed (" + string(l.State) + "); a transfer needs a successful unblock"}
	case cmd.Amount > l.Hold.Block.Amount:
		return nil, &schemas.ErrorInfo{Code: schemas.CodeTransferExceedsUnblocked,
			Message: fmt.Sprintf("transfer amount %d is more than the %d rials unblocked", cmd.Amount, l.Hold.Block.Amount)}
	case l.Hold.TransferTrackID != "" && l.Hold.TransferTrackID != cmd.TrackID:
		return nil, &schemas.ErrorInfo{Code: schemas.CodeAlreadyTransferred,
			Message: "the hold released by unblock " + ref + " is transferred by " + l.Hold.TransferTrackID + "; only one transfer per block/unblock pair may succeed"}
	}
	hold := *l.Hold
	return &hold, nil
}

// awaitOutcome looks up the command ref names. While it is unknown or still
// in flight and waitUntil has not passed, it returns a *waiting error;
// afterwards it returns the last lookup and the caller decides what a
// missing or unfinished reference means.
func (p *Processor) awaitOutcome(ctx context.Context, ref string, waitUntil time.Time) (schemas.Lookup, error) {
	l, err := p.store.Lookup(ctx, ref)
	if err != nil {
		return l, fmt.Errorf("looking up %s: %w", ref, err)
	}
	if (l.Found && l.State.Terminal()) || !time.Now().Before(waitUntil) {
		return l, nil
	}
	return l, &waiting{on: ref}
}

// waiting is returned while a command waits for another command's outcome.
type waiting struct{ on string }

func (w *waiting) Error() string { return "waiting for the outcome of " + w.on }

// Deferred tells the consumer how long to hold the message back.
func (w *waiting) Deferred() time.Duration { return 250 * time.Millisecond }
