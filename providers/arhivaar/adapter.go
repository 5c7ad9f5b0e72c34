package arhivaar

import (
	"context"
	"encoding/json"
	"errors"
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
	return a.send(ctx, req, StateFromAnswer)
}

// send makes the call for req and returns its Result, saying stateFrom.
func (a *Adapter) send(ctx context.Context, req providers.Request, stateFrom string) (json.RawMessage, error) {
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
	b, err := json.Marshal(Result{AccountID: cmd.AccountID, Blocked: block, Note: cmd.Note, StateFrom: stateFrom})
	if err != nil {
		// Not reached: a Result holds only strings and a bool. The call was
		// applied, so this is not a provider refusal.
		return nil, fmt.Errorf("encoding result: %w", err)
	}
	return b, nil
}

// Resolve settles a call whose answer was lost by sending it again: setting
// an account's state is idempotent and Arhivaar calls carry no request id
// nor any status inquiry, so a re-send is the only inquiry there is.
//
// The re-send goes out only after req.CannotLandAfter. Before it, or when
// it is zero, the original call may still land, and a re-send would prove
// nothing (its OK would make the command DONE while the original could
// still land after the account's next command and undo it): the verdict is
// Unproven and nothing is sent.
//
//   - OK: Applied; the Result says "stateFrom":"resend".
//   - A documented refusal (INVALID_ID, INVALID_BLOCK, INVALID_NOTE, and
//     the assumed INVALID_SIGNATURE): the same input was refused, so the
//     original was too: NotApplied.
//   - Anything else (an undocumented answer, a 429 or 503, a timeout or
//     another transport failure) proves nothing: the error is returned and
//     the verdict is Unproven, so that the processor logs what the provider
//     said and asks again later.
func (a *Adapter) Resolve(ctx context.Context, req providers.Request) (providers.Resolution, error) {
	if req.CannotLandAfter.IsZero() || !time.Now().After(req.CannotLandAfter) {
		return providers.Resolution{Evidence: "the call could still land: too early to re-send it"}, nil
	}
	out, err := a.send(ctx, req, StateFromResend)
	if err == nil {
		return providers.Resolution{Verdict: providers.Applied, Result: out, Evidence: "the same state set again: OK"}, nil
	}
	var pe *providers.Error
	if errors.As(err, &pe) && pe.Provider == provider && pe.Class == providers.Permanent && documented(pe.Code) != "" {
		return providers.Resolution{Verdict: providers.NotApplied, Evidence: "the same state set again: refused " + pe.Code}, nil
	}
	return providers.Resolution{}, fmt.Errorf("re-sending to learn the outcome: %w", err)
}
