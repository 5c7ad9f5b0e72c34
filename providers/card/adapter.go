package card

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/providers/card/internal/wire"
	"github.com/blockd/blockd/schemas"
)

// Result is the normalised result of a card block or unblock.
type Result struct {
	AccountID string `json:"accountId"`
	// Slot is the block code slot the command changed, 1 or 2.
	Slot int `json:"slot"`
	// BlockCode is the code now in Slot: the letter blocked, or "" after an
	// unblock.
	BlockCode string `json:"blockCode"`
	// The account's two slots after the call ("" when empty) and the dates
	// they last changed, as the platform formats them.
	BlockCode1     string `json:"blockCode1"`
	BlockCode2     string `json:"blockCode2"`
	BlockCode1Date string `json:"blockCode1Date"`
	BlockCode2Date string `json:"blockCode2Date"`
	BusinessUnit   int    `json:"businessUnit"`
}

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
// puts req.Command.BlockCode into req.Command.BlockCodeSlot, an unblock
// removes that slot's code. The call's x-client-correlation-id is
// req.ProviderTrackID cut to 40 characters. Other kinds fail Permanent with
// Code CodeUnsupported. Errors are classified as the Client's are.
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

	acct, err := a.client.SetBlockCode(ctx, cmd.AccountID, cmd.BlockCodeSlot, code, cmd.BusinessUnit,
		truncate(req.ProviderTrackID, wire.MaxCorrelationID))
	if err != nil {
		return nil, err
	}
	return encodeResult(cmd, acct)
}

// Resolve says what became of a blockUnblock call whose answer was lost, by
// reading the account's block codes (the details inquiry): the call counts
// as applied when the slot holds what the command asked for (the letter for
// a block, nothing for an unblock). Re-sending a block instead would meet
// the priority rule (an equal code is not "greater") and fail.
func (a *Adapter) Resolve(ctx context.Context, req providers.Request) (providers.Resolution, error) {
	cmd := req.Command
	acct, err := a.client.Details(ctx, cmd.AccountID)
	if err != nil {
		return providers.Resolution{}, fmt.Errorf("reading account state: %w", err)
	}
	want := ""
	if cmd.Kind == schemas.KindBlock {
		want = cmd.BlockCode
	}
	if acct.BlockCode(cmd.BlockCodeSlot) != want {
		return providers.Resolution{Verdict: providers.NotApplied, Evidence: "account details: the slot does not hold what the command asked"}, nil
	}
	out, err := encodeResult(cmd, acct)
	if err != nil {
		return providers.Resolution{}, err
	}
	return providers.Resolution{Verdict: providers.Applied, Result: out, Evidence: "account details: the slot holds what the command asked"}, nil
}

func encodeResult(cmd schemas.Command, acct Account) (json.RawMessage, error) {
	b, err := json.Marshal(Result{
		AccountID:      acct.AccountID,
		Slot:           cmd.BlockCodeSlot,
		BlockCode:      acct.BlockCode(cmd.BlockCodeSlot),
		BlockCode1:     acct.BlockCode1,
		BlockCode2:     acct.BlockCode2,
		BlockCode1Date: acct.BlockCode1Date,
		BlockCode2Date: acct.BlockCode2Date,
		BusinessUnit:   acct.BusinessUnit,
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
