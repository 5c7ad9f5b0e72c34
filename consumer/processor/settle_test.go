package processor_test

// Tests of the settle stage (settle.go): what a call's outcome records.

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/blockd/blockd/consumer/processor"
	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/schemas"
)

// amountChanger is a Finnotech adapter whose block answers report another
// amount than the one asked for (what ledgerEffects guards against); its
// Resolve is the real one (wages).
type amountChanger struct {
	processor.Provider
	resolver processor.Resolver
}

func (a amountChanger) Execute(ctx context.Context, req providers.Request) (json.RawMessage, error) {
	out, err := a.Provider.Execute(ctx, req)
	if err != nil || req.Command.Kind != schemas.KindBlock {
		return out, err
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		return nil, err
	}
	m["amount"] = req.Command.Amount - 1000
	return json.Marshal(m)
}

func (a amountChanger) Resolve(ctx context.Context, req providers.Request) (providers.Resolution, error) {
	return a.resolver.Resolve(ctx, req)
}

// TestFinnotechBlockOfAnotherAmountIsFlaggedNotSettled (review finding F4):
// a block whose answer reports another amount than asked was kept IN_DOUBT
// "for an operator", and the sweeper then settled it DONE from wages with
// the asked amount, dropping the provider's own answer. The answer is a
// known fact, not a doubt: the command ends FAILED PROVIDER_ANSWER_MISMATCH,
// flagged and listed for reconciliation, the call is recorded applied with
// the provider's answer, and no hold is made of an amount nobody blocked.
func TestFinnotechBlockOfAnotherAmountIsFlaggedNotSettled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{}, "")
	real := e.provs[schemas.ProviderFinnotech]
	e.provs[schemas.ProviderFinnotech] = amountChanger{Provider: real, resolver: real.(processor.Resolver)}
	p := e.newProcessor(processor.Config{Lease: 500 * time.Millisecond, SweepInterval: 50 * time.Millisecond, ResolveRetry: 50 * time.Millisecond}, processor.Hooks{})
	runProcessor(t, p)

	e.offset++
	block := `{"trackId":"am1","provider":"finnotech","clientId":"app-1","amount":1500000,"description":"court order","days":30}`
	if err := p.Handle(context.Background(), kafkaMessage(blockTopic, e.offset, block)); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	time.Sleep(500 * time.Millisecond) // let a sweeper act, if anything were left for it
	r := e.onlyResult("am1")
	if r.Status != schemas.StatusFailed || r.Error == nil || r.Error.Code != schemas.CodeAnswerMismatch || !r.Error.NeedsReconciliation || r.Error.Retryable {
		t.Fatalf("got %s %+v, want FAILED PROVIDER_ANSWER_MISMATCH, needing reconciliation, not retryable", r.Status, r.Error)
	}
	list, err := e.store.NeedsReconciliation(context.Background(), 10)
	if err != nil || len(list) != 1 || list[0].TrackID != "am1" || !strings.Contains(list[0].Reason, schemas.CodeAnswerMismatch) {
		t.Fatalf("reconciliation list: %+v, %v; want am1 with its reason", list, err)
	}
	var call struct {
		State  string `db:"state"`
		Answer []byte `db:"answer"`
	}
	if err := e.store.DB().Get(&call, `SELECT state, answer FROM provider_calls WHERE track_id = 'am1'`); err != nil {
		t.Fatal(err)
	}
	if call.State != schemas.CallDone || !strings.Contains(string(call.Answer), "1499000") {
		t.Errorf("the call row: %s %s, want DONE with the provider's own answer (1499000)", call.State, call.Answer)
	}
	var holds int
	if err := e.store.DB().Get(&holds, `SELECT count(*) FROM holds WHERE block_track_id = 'am1'`); err != nil {
		t.Fatal(err)
	}
	if holds != 0 {
		t.Errorf("blockd's ledger holds %d entries for am1, want none until an operator reconciles", holds)
	}
}

// TestFinnotechBlockDoneCreatesItsHold: a block the provider applied as
// asked ends DONE and its hold enters the ledger, in the same transaction,
// with the provider's amount and the call that made it.
func TestFinnotechBlockDoneCreatesItsHold(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{}, "")
	e.handle(blockTopic, `{"trackId":"h1","provider":"finnotech","clientId":"app-1","amount":2500000,"description":"court order","days":30}`)
	if r := e.onlyResult("h1"); r.Status != schemas.StatusDone {
		t.Fatalf("got %s %+v, want DONE", r.Status, r.Error)
	}
	var hold struct {
		Amount          int64  `db:"amount"`
		State           string `db:"state"`
		ProviderTrackID string `db:"block_provider_track_id"`
	}
	if err := e.store.DB().Get(&hold, `SELECT amount, state, block_provider_track_id FROM holds WHERE block_track_id = 'h1'`); err != nil {
		t.Fatalf("the hold of h1: %v", err)
	}
	var call string
	if err := e.store.DB().Get(&call, `SELECT provider_track_id FROM provider_calls WHERE track_id = 'h1' AND state = 'DONE'`); err != nil {
		t.Fatalf("the DONE call of h1: %v", err)
	}
	if hold.Amount != 2500000 || hold.State != "BLOCKED" || hold.ProviderTrackID != call {
		t.Errorf("hold of h1: %+v, want 2500000 rials BLOCKED by call %s", hold, call)
	}
}
