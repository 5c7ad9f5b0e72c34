package processor_test

// Tests of the receive stage (receive.go): what a consumed message does
// once its command is stored under its trackId. Refusals of what cannot
// become a command are tested in poison_test.go.

import (
	"context"
	"testing"
	"time"

	"github.com/blockd/blockd/consumer/processor"
	"github.com/blockd/blockd/schemas"
)

// TestDuplicateOfAFinishedCommandRequeuesItsResultWithoutACall: a
// redelivery of a command that has its result is answered from the store,
// the same event again, and nothing reaches the provider.
func TestDuplicateOfAFinishedCommandRequeuesItsResultWithoutACall(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{}, "")
	const account = "ab31"
	block := `{"trackId":"dup1","provider":"arhivaar","accountId":"` + account + `","note":"n"}`
	e.handle(blockTopic, block)
	first := e.onlyResult("dup1")
	if first.Status != schemas.StatusDone {
		t.Fatalf("first delivery: got %s %+v, want DONE", first.Status, first.Error)
	}
	calls := e.arhivaar.RequestsFor(account)

	e.handle(blockTopic, block) // redelivered, at the next offset
	rs := e.results("dup1")
	if n := len(e.answersFor("dup1")); len(rs) != 2 || n != 2 {
		t.Fatalf("after the redelivery %d results (%d answers in all) are queued for dup1, want 2 (the stored one, again)", len(rs), n)
	}
	if again := rs[1]; again.EventID != first.EventID || again.Status != first.Status || !again.CompletedAt.Equal(first.CompletedAt) {
		t.Errorf("the redelivery was answered %+v, want the stored result %+v", again, first)
	}
	if got := e.arhivaar.RequestsFor(account); got != calls {
		t.Errorf("the redelivery reached the provider: %d calls for the account, want %d", got, calls)
	}
	var attempts int
	if err := e.store.DB().Get(&attempts, `SELECT count(*) FROM provider_calls WHERE track_id = 'dup1'`); err != nil {
		t.Fatal(err)
	}
	if attempts != 1 {
		t.Errorf("%d provider calls recorded for dup1, want 1", attempts)
	}
}

// TestRedeliveryOfAnInDoubtCommandSendsNothing: a command whose call may
// have been applied is never sent again because its message came again; it
// stays IN_DOUBT, unanswered, for the resolver.
func TestRedeliveryOfAnInDoubtCommandSendsNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{}, "")
	ctx := context.Background()
	const account = "ab32"
	block := `{"trackId":"idd1","provider":"arhivaar","accountId":"` + account + `","note":"n"}`
	cmd, err := e.validator.DecodeCommand(schemas.KindBlock, []byte(block))
	if err != nil {
		t.Fatal(err)
	}
	// A dead instance sent the call and never learned its outcome.
	rec, err := e.store.Receive(ctx, cmd, schemas.SourceMeta{Topic: blockTopic}, "dead", time.Minute, func(string) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.BeginCall(ctx, schemas.CallStart{TrackID: "idd1", Claim: rec.Claim, ProviderTrackID: "idd1-a1"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := e.store.MarkInDoubt(ctx, schemas.MarkInDoubtParams{TrackID: "idd1", Claim: rec.Claim, Reason: "test"}); err != nil {
		t.Fatal(err)
	}

	e.handle(blockTopic, block)
	if rs := e.answersFor("idd1"); len(rs) != 0 {
		t.Errorf("the redelivery of an IN_DOUBT command was answered: %d messages", len(rs))
	}
	if got := e.arhivaar.RequestsFor(account); got != 0 {
		t.Errorf("the redelivery of an IN_DOUBT command sent %d calls, want none", got)
	}
	if st, _ := e.store.State(ctx, "idd1"); st != schemas.StateInDoubt {
		t.Errorf("state after the redelivery: got %s, want IN_DOUBT", st)
	}
}
