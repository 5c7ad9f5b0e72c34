package arhivaar

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/schemas"
)

// Adapter carries out blockd commands at Arhivaar through a Client.
type Adapter struct {
	client *Client
}

// NewAdapter returns an Adapter that calls c.
func NewAdapter(c *Client) *Adapter {
	return &Adapter{client: c}
}

// Execute sends one call for req: a block command blocks the account
// req.Command.AccountID, an unblock command activates it, each with
// req.Command.Note as the reason. It returns a Result as JSON,
// {"accountId":...,"blocked":true|false,"note":...,"stateFrom":"answer"}.
// Other kinds fail Permanent with Code CodeUnsupported and send nothing.
// Errors are classified as the Client's are.
//
// The command is sent as given, not checked here: blockd checks it against
// the JSON Schema before, and Arhivaar (or the Sandbox) checks it again.
// Arhivaar has no request id, so req.ProviderTrackID is not sent.
func (a *Adapter) Execute(ctx context.Context, req providers.Request) (json.RawMessage, error) {
	cmd := req.Command
	var block bool
	switch cmd.Kind {
	case schemas.KindBlock:
		block = true
	case schemas.KindUnblock:
		block = false
	default:
		return nil, &providers.Error{Provider: provider, Class: providers.Permanent, Code: CodeUnsupported,
			Message: fmt.Sprintf("arhivaar adapter does not carry out %q commands", cmd.Kind)}
	}
	if err := a.client.SetBlocked(ctx, cmd.AccountID, block, cmd.Note); err != nil {
		return nil, err
	}
	b, err := json.Marshal(Result{AccountID: cmd.AccountID, Blocked: block, Note: cmd.Note, StateFrom: StateFromAnswer})
	if err != nil {
		// Not reached: a Result holds only strings and a bool. The call was
		// applied, so this is not a provider refusal.
		return nil, fmt.Errorf("encoding result: %w", err)
	}
	return b, nil
}

// Resolve settles a call whose answer was lost. Arhivaar has no status
// inquiry and its calls carry no request id; setting an account's state is
// idempotent (assumed: package doc, "Idempotency"). So Resolve never sends
// anything itself: a re-send made here would be a call nobody records or
// fences, which could time out and land after the account's next command.
//
//   - Before req.CannotLandAfter (or when it is zero) the original call may
//     still land: Unproven.
//   - After it: SafeToRepeat. Whether the call took effect is not known,
//     but it can no longer, so the processor sends the same state again as
//     a new, recorded and fenced attempt, whose own answer settles the
//     command (and whose own lost answer is resolved the same way).
func (a *Adapter) Resolve(_ context.Context, req providers.Request) (providers.Resolution, error) {
	if req.CannotLandAfter.IsZero() || !time.Now().After(req.CannotLandAfter) {
		return providers.Resolution{Evidence: "no status inquiry, and the call could still land"}, nil
	}
	return providers.Resolution{Verdict: providers.SafeToRepeat,
		Evidence: "no status inquiry; the call can no longer land; setting the same state again is safe"}, nil
}
