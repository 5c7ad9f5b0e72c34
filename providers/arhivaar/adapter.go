package arhivaar

import (
	"context"
	"encoding/json"
	"fmt"

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
// {"accountId":...,"blocked":true|false,"note":...}. Other kinds fail
// Permanent with Code CodeUnsupported and send nothing. Errors are
// classified as the Client's are.
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
	b, err := json.Marshal(Result{AccountID: cmd.AccountID, Blocked: block, Note: cmd.Note})
	if err != nil {
		// Not reached: a Result holds only strings and a bool. The call was
		// applied, so this is not a provider refusal.
		return nil, fmt.Errorf("encoding result: %w", err)
	}
	return b, nil
}

// Resolve settles a call whose answer was lost by sending it again: setting
// an account's state is idempotent and Arhivaar calls carry no request id,
// so a re-send is the status inquiry. A permanent refusal of the re-send
// means the original was refused too (same input), so it was not applied.
func (a *Adapter) Resolve(ctx context.Context, req providers.Request) (providers.Resolution, error) {
	out, err := a.Execute(ctx, req)
	switch {
	case err == nil:
		return providers.Resolution{Verdict: providers.Applied, Result: out, Evidence: "the same state set again: OK"}, nil
	case providers.ClassOf(err) == providers.Permanent:
		return providers.Resolution{Verdict: providers.NotApplied, Evidence: "the same state set again: refused"}, nil
	default:
		return providers.Resolution{}, fmt.Errorf("re-sending to learn the outcome: %w", err)
	}
}
