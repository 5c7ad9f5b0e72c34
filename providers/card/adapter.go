package card

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/providers/card/internal/wire"
	"github.com/blockd/blockd/schemas"
)

// Result is the normalised result of a card block or unblock. As JSON:
//
//	{"accountId":"0001000010000510481",
//	 "slot":1,            the slot the command asked for
//	 "codeSlot":2,        the slot that holds the command's code after a block
//	                      (slot, or the other, unused one the platform put it
//	                      in); after an unblock, the slot emptied (= slot)
//	 "blockCode":"X",     the code in codeSlot; "" after an unblock
//	 "blockCode1":"Q","blockCode1Date":"01/01/2021",
//	 "blockCode2":"X","blockCode2Date":"19/08/2021",
//	                      both slots ("" when empty) and the dates they last
//	                      changed, as the platform formats them
//	 "businessUnit":100,
//	 "stateFrom":"answer", "answer": the account fields are the blockUnblock
//	                      call's own answer; "details": they are the details
//	                      inquiry's (Resolve, or the kept-code check)
//	 "keptCodeAnswer":"V5BS0125SC"}
//	                      only when the call itself was answered that an
//	                      existing code was kept (V5BS0125SC, V5BS0127SC or
//	                      BLOCK_CODE_NOT_APPLIED) and the details inquiry
//	                      then showed the command's code already in a slot:
//	                      it was in place before this call (an earlier
//	                      attempt whose answer was lost or that was refused
//	                      after applying, or the same code set before)
type Result struct {
	AccountID string `json:"accountId"`
	// Slot is the block code slot the command asked for, 1 or 2.
	Slot int `json:"slot"`
	// CodeSlot is the slot that holds the command's code after a block:
	// Slot, or the other slot when the platform put the code into the
	// unused entry (card/doc.go, "Block and unblock"). After an unblock it
	// is Slot, the slot emptied.
	CodeSlot int `json:"codeSlot"`
	// BlockCode is the code now in CodeSlot: the letter blocked, or ""
	// after an unblock.
	BlockCode string `json:"blockCode"`
	// The account's two slots after the call ("" when empty) and the dates
	// they last changed, as the platform formats them.
	BlockCode1     string `json:"blockCode1"`
	BlockCode2     string `json:"blockCode2"`
	BlockCode1Date string `json:"blockCode1Date"`
	BlockCode2Date string `json:"blockCode2Date"`
	BusinessUnit   int    `json:"businessUnit"`
	// StateFrom says where the account fields come from: StateFromAnswer or
	// StateFromDetails.
	StateFrom string `json:"stateFrom"`
	// KeptCodeAnswer is the code of the call's own "existing code kept"
	// answer when the details inquiry then showed the command's code
	// already in place; "" otherwise.
	KeptCodeAnswer string `json:"keptCodeAnswer,omitempty"`
}

// The values of Result.StateFrom.
const (
	// StateFromAnswer: the account fields are the blockUnblock call's own
	// answer.
	StateFromAnswer = "answer"
	// StateFromDetails: the account fields are the details inquiry's.
	StateFromDetails = "details"
)

// Adapter carries out blockd commands at the card platform through a
// Client.
type Adapter struct {
	client *Client
}

// NewAdapter returns an Adapter that calls c.
func NewAdapter(c *Client) *Adapter {
	return &Adapter{client: c}
}

// Execute sends one blockUnblock call for req and returns a Result: a block
// puts req.Command.BlockCode into req.Command.BlockCodeSlot (or, when that
// slot is in use, the platform may put it into the other one), an unblock
// removes that slot's code. The call's x-client-correlation-id is
// req.ProviderTrackID cut to 40 characters. Other kinds fail Permanent with
// Code CodeUnsupported. Errors are classified as the Client's are.
//
// A block answered that an existing code was kept (IsCodeKept) is checked
// against Details: when a slot already holds the command's code, the
// block's effect is in place (an earlier attempt applied it, its answer
// lost or refused after applying, as a replay meets the priority rule: an
// equal code is not "greater"), and Execute returns the Result with
// StateFromDetails and KeptCodeAnswer. Otherwise the refusal stands. When
// Details cannot be read, the outcome is Unknown: the code may be in place.
func (a *Adapter) Execute(ctx context.Context, req providers.Request) (json.RawMessage, error) {
	cmd := req.Command
	var code string
	switch cmd.Kind {
	case schemas.KindBlock:
		code = cmd.BlockCode
		if strings.TrimSpace(code) == "" {
			// A space would remove the slot's code: never send a block
			// without its letter.
			return nil, &providers.Error{Provider: provider, Class: providers.Permanent, Code: CodeBadRequest,
				Message: "block command without a block code"}
		}
	case schemas.KindUnblock:
		code = wire.RemoveCode
	default:
		return nil, &providers.Error{Provider: provider, Class: providers.Permanent, Code: CodeUnsupported,
			Message: fmt.Sprintf("card adapter does not carry out %q commands", cmd.Kind)}
	}

	before, haveBefore := beforeOf(req)
	acct, err := a.client.SetBlockCode(ctx, cmd.AccountID, cmd.BlockCodeSlot, code, cmd.BusinessUnit,
		truncate(req.ProviderTrackID, wire.MaxCorrelationID))
	if err == nil && cmd.Kind == schemas.KindBlock && haveBefore && codeSlot(before, true, acct, cmd) == 0 {
		// The answer shows the code, but it was there before the command's
		// first call: the platform kept what was there ("retain the
		// existing value"), and the code is not this command's.
		err = &providers.Error{Provider: provider, Class: providers.Permanent, Code: CodeBlockCodeNotApplied,
			Message: "the answer shows " + cmd.BlockCode + " only where it was before the call: an existing code was kept"}
	}
	if err != nil {
		if cmd.Kind == schemas.KindBlock && IsCodeKept(err) {
			return a.checkKeptCode(ctx, req, err)
		}
		return nil, err
	}
	return encodeResult(cmd, acct, codeSlot(before, haveBefore, acct, cmd), StateFromAnswer, "")
}

// Prepare reads, before a block's call, the account's block codes: the
// processor keeps what it read before the command's first call and gives
// it back as req.Before, so that Execute and Resolve never take a code
// that was already there (an earlier block of the same letter, another
// party's) for this command's effect. Other kinds read nothing.
func (a *Adapter) Prepare(ctx context.Context, req providers.Request) (json.RawMessage, error) {
	if req.Command.Kind != schemas.KindBlock {
		return nil, nil
	}
	acct, err := a.client.Details(ctx, req.Command.AccountID)
	if err != nil {
		return nil, fmt.Errorf("reading the account before the block: %w", err)
	}
	b, err := json.Marshal(acct)
	if err != nil {
		return nil, fmt.Errorf("encoding the account: %w", err)
	}
	return b, nil
}

// beforeOf reads req.Before: the account as it was before the command's
// first call, when it was read.
func beforeOf(req providers.Request) (Account, bool) {
	var acct Account
	if len(req.Before) == 0 || json.Unmarshal(req.Before, &acct) != nil {
		return Account{}, false
	}
	return acct, true
}

// codeSlot is the slot of acct that holds the command's code because of the
// command: with the account as it was before (haveBefore), a slot that holds
// the code now and did not then, preferring the slot asked for; without
// it, any slot that holds the code (slotHolding). 0 when none.
func codeSlot(before Account, haveBefore bool, acct Account, cmd schemas.Command) int {
	if !haveBefore {
		return slotHolding(acct, cmd.BlockCode, cmd.BlockCodeSlot)
	}
	code := strings.TrimSpace(cmd.BlockCode)
	for _, s := range []int{cmd.BlockCodeSlot, 3 - cmd.BlockCodeSlot} {
		if (s == 1 || s == 2) && code != "" && acct.BlockCode(s) == code && before.BlockCode(s) != code {
			return s
		}
	}
	return 0
}

// checkKeptCode settles a block answered with a kept code (keptErr) by
// reading the account: the command's code in a slot that did not hold it
// before the command's first call (any slot, when that is not known) means
// its effect is in place.
func (a *Adapter) checkKeptCode(ctx context.Context, req providers.Request, keptErr error) (json.RawMessage, error) {
	cmd := req.Command
	before, haveBefore := beforeOf(req)
	var kept *providers.Error
	errors.As(keptErr, &kept)
	acct, err := a.client.Details(ctx, cmd.AccountID)
	if err != nil {
		return nil, &providers.Error{Provider: provider, Class: providers.Unknown, Code: kept.Code,
			Message:    "an existing code was kept, and the account details that would show whether the command's code is already in place could not be read",
			HTTPStatus: kept.HTTPStatus, Err: err}
	}
	s := codeSlot(before, haveBefore, acct, cmd)
	if s == 0 {
		return nil, keptErr
	}
	return encodeResult(cmd, acct, s, StateFromDetails, kept.Code)
}

// Resolve says what became of a blockUnblock call whose answer was lost, by
// reading the account's block codes (the details inquiry). It never sends
// the call again: a re-sent block would meet the priority rule (an equal
// code is not "greater"), or land a second time in the unused slot.
//
//   - A block is Applied when either slot holds the command's code (the
//     platform may have put it into the unused entry).
//   - An unblock is Applied when its slot is empty, but only once the call
//     can no longer land (req.CannotLandAfter): before that, an empty slot
//     may be one the unblock has not reached yet (the block went into the
//     other slot, or was never there), and a DONE would let the account's
//     next command (a new block into that slot) be erased by this unblock
//     landing late.
//   - Otherwise the account does not show the call's effect. That proves
//     NotApplied only after req.CannotLandAfter; before it, or when it is
//     zero, the call may still land, and the verdict is Unproven.
//
// A Details failure is returned as the error (nothing is proven; ask
// again).
func (a *Adapter) Resolve(ctx context.Context, req providers.Request) (providers.Resolution, error) {
	cmd := req.Command
	acct, err := a.client.Details(ctx, cmd.AccountID)
	if err != nil {
		return providers.Resolution{}, fmt.Errorf("reading account state: %w", err)
	}
	cannotLand := !req.CannotLandAfter.IsZero() && time.Now().After(req.CannotLandAfter)
	before, haveBefore := beforeOf(req)
	applied := func(slot int, evidence string) (providers.Resolution, error) {
		out, err := encodeResult(cmd, acct, slot, StateFromDetails, "")
		if err != nil {
			return providers.Resolution{}, err
		}
		return providers.Resolution{Verdict: providers.Applied, Result: out, Evidence: evidence}, nil
	}
	switch cmd.Kind {
	case schemas.KindBlock:
		switch s := codeSlot(before, haveBefore, acct, cmd); {
		case s != 0 && haveBefore:
			// The code appeared where it was not before the command's first
			// call: this command's call landed.
			return applied(s, fmt.Sprintf("account details: slot %d holds %s, which it did not before the call", s, cmd.BlockCode))
		case s != 0 && cannotLand:
			return applied(s, fmt.Sprintf("account details: slot %d holds %s after the call can no longer land", s, cmd.BlockCode))
		case s != 0:
			// Without the state before the call, a code already there (an
			// earlier block of the same letter) cannot be told from this
			// call's; wait until the call can no longer land.
			return providers.Resolution{Evidence: fmt.Sprintf("account details: slot %d holds %s, but it may have been there before and the call could still land: too early to count", s, cmd.BlockCode)}, nil
		}
		if !cannotLand {
			return providers.Resolution{Evidence: "account details: no slot newly holds " + cmd.BlockCode +
				" yet, but the call could still land: too early to count"}, nil
		}
		return providers.Resolution{Verdict: providers.NotApplied,
			Evidence: "account details: no slot newly holds " + cmd.BlockCode + " after the call can no longer land"}, nil
	case schemas.KindUnblock:
		held := acct.BlockCode(cmd.BlockCodeSlot)
		switch {
		case held == "" && cannotLand:
			return applied(cmd.BlockCodeSlot, fmt.Sprintf("account details: slot %d is empty after the call can no longer land", cmd.BlockCodeSlot))
		case held == "":
			return providers.Resolution{Evidence: fmt.Sprintf("account details: slot %d is empty, but the call could still land: too early to count", cmd.BlockCodeSlot)}, nil
		case !cannotLand:
			return providers.Resolution{Evidence: fmt.Sprintf("account details: slot %d still holds a code, but the call could still land: too early to count", cmd.BlockCodeSlot)}, nil
		default:
			return providers.Resolution{Verdict: providers.NotApplied,
				Evidence: fmt.Sprintf("account details: slot %d still holds a code after the call can no longer land", cmd.BlockCodeSlot)}, nil
		}
	default:
		return providers.Resolution{}, &providers.Error{Provider: provider, Class: providers.Permanent, Code: CodeUnsupported,
			Message: fmt.Sprintf("card adapter does not carry out %q commands", cmd.Kind)}
	}
}

// slotHolding returns the slot of acct that holds code, preferring slot
// when both do; 0 when neither does.
func slotHolding(acct Account, code string, slot int) int {
	code = strings.TrimSpace(code)
	if code == "" {
		return 0
	}
	if acct.BlockCode(slot) == code {
		return slot
	}
	if other := 3 - slot; (slot == 1 || slot == 2) && acct.BlockCode(other) == code {
		return other
	}
	return 0
}

// encodeResult is the Result of cmd on the account acct, read from
// stateFrom, with the command's code in slot (0: the slot asked for);
// keptCodeAnswer is the code of a kept-code answer that the details
// inquiry overrode, if any.
func encodeResult(cmd schemas.Command, acct Account, slot int, stateFrom, keptCodeAnswer string) (json.RawMessage, error) {
	codeSlot := cmd.BlockCodeSlot
	if cmd.Kind == schemas.KindBlock && slot != 0 {
		codeSlot = slot
	}
	b, err := json.Marshal(Result{
		AccountID:      acct.AccountID,
		Slot:           cmd.BlockCodeSlot,
		CodeSlot:       codeSlot,
		BlockCode:      acct.BlockCode(codeSlot),
		BlockCode1:     acct.BlockCode1,
		BlockCode2:     acct.BlockCode2,
		BlockCode1Date: acct.BlockCode1Date,
		BlockCode2Date: acct.BlockCode2Date,
		BusinessUnit:   acct.BusinessUnit,
		StateFrom:      stateFrom,
		KeptCodeAnswer: keptCodeAnswer,
	})
	if err != nil {
		// Not reached: a Result holds only strings and numbers. The call was
		// applied, so this is not a provider refusal.
		return nil, fmt.Errorf("encoding result: %w", err)
	}
	return b, nil
}

// Details asks the platform for the block codes the account holds now
// (see Client.Details).
func (a *Adapter) Details(ctx context.Context, accountID string) (Account, error) {
	return a.client.Details(ctx, accountID)
}
