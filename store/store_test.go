package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/blockd/blockd/schemas"
	"github.com/blockd/blockd/store"
	"github.com/blockd/blockd/store/storetest"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, storetest.NewSchema(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func block(trackID string, amount int64) schemas.Command {
	return schemas.Command{Kind: schemas.KindBlock, TrackID: trackID, Provider: schemas.ProviderFinnotech,
		ClientID: "c1", Amount: amount, Description: "d", Days: 3}
}

func notLocal(string) bool { return false }

func resultMsg(trackID string) schemas.Outbound {
	return schemas.Outbound{Topic: "results", Key: []byte(trackID), Value: []byte(`{"eventId":"e1"}`), Headers: map[string]string{"ce_id": "e1"}}
}

func TestReceiveDeduplicatesAndDetectsConflicts(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	ctx := context.Background()
	src := schemas.SourceMeta{Topic: "blockd.cmd.block", Partition: 0, Offset: 7}
	const lease = time.Minute

	first, err := s.Receive(ctx, block("t1", 100), src, "me", lease, notLocal)
	if err != nil || first.Status != schemas.ReceiptNew || first.Claim == "" {
		t.Fatalf("first Receive: got %+v, %v; want New with a claim", first, err)
	}
	busy, err := s.Receive(ctx, block("t1", 100), src, "other", lease, notLocal)
	if err != nil || busy.Status != schemas.ReceiptBusy {
		t.Fatalf("second Receive by another owner: got %+v, %v; want Busy", busy, err)
	}
	conflict, err := s.Receive(ctx, block("t1", 101), src, "other", lease, notLocal)
	if err != nil || conflict.Status != schemas.ReceiptConflict {
		t.Fatalf("Receive with another amount: got %+v, %v; want Conflict", conflict, err)
	}
	// The same owner with no local worker on it takes it over (a failed attempt of its own).
	resumed, err := s.Receive(ctx, block("t1", 100), src, "me", lease, notLocal)
	if err != nil || resumed.Status != schemas.ReceiptResumed || resumed.Claim == first.Claim {
		t.Fatalf("Receive by the same owner: got %+v, %v; want Resumed with a new claim", resumed, err)
	}
	if err := s.Complete(ctx, schemas.Completion{TrackID: "t1", Claim: first.Claim, State: schemas.StateDone, EventID: uuid.NewString(), Result: resultMsg("t1")}); !errors.Is(err, store.ErrNotClaimed) {
		t.Fatalf("Complete with a stale claim: got %v, want ErrNotClaimed", err)
	}
	if err := s.Complete(ctx, schemas.Completion{TrackID: "t1", Claim: resumed.Claim, State: schemas.StateDone, EventID: uuid.NewString(), Result: resultMsg("t1")}); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	again, err := s.Receive(ctx, block("t1", 100), src, "other", lease, notLocal)
	if err != nil || again.Status != schemas.ReceiptFinished {
		t.Fatalf("Receive after completion: got %+v, %v; want Finished", again, err)
	}
	var published [][]byte
	pass, err := s.PublishPending(ctx, 10, func(_ context.Context, rows []schemas.OutboxRow) []schemas.OutboxOutcome {
		var out []schemas.OutboxOutcome
		for _, m := range rows {
			published = append(published, m.Value)
			out = append(out, schemas.OutboxOutcome{ID: m.ID, Verdict: schemas.OutboxPublished})
		}
		return out
	})
	if err != nil || pass.Published != 2 {
		t.Fatalf("PublishPending: got %+v, %v; want 2 rows published (result and its re-publication)", pass, err)
	}
	if string(published[0]) != string(published[1]) {
		t.Fatalf("re-published result differs: %s vs %s", published[0], published[1])
	}
}

func TestCallingCommandOfGoneOwnerIsInDoubtNotResent(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	ctx := context.Background()
	src := schemas.SourceMeta{Topic: "blockd.cmd.block"}
	r, err := s.Receive(ctx, block("t2", 100), src, "dead", 50*time.Millisecond, notLocal)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.BeginCall(ctx, schemas.CallStart{TrackID: "t2", Claim: r.Claim, ProviderTrackID: "t2-a1"}, 50*time.Millisecond); err != nil {
		t.Fatalf("BeginCall: %v", err)
	}
	time.Sleep(100 * time.Millisecond) // let the lease expire; the test asserts state, not timing
	claimed, inDoubt, err := s.TakeOverAbandoned(ctx, "alive", time.Minute, 100)
	if err != nil || len(claimed) != 0 || inDoubt != 1 {
		t.Fatalf("TakeOverAbandoned: got %d claimed, %d in doubt, %v; want 0, 1", len(claimed), inDoubt, err)
	}
	st, err := s.State(ctx, "t2")
	if err != nil || st != schemas.StateInDoubt {
		t.Fatalf("state: got %s, %v; want IN_DOUBT", st, err)
	}
	rec, err := s.Receive(ctx, block("t2", 100), src, "alive", time.Minute, notLocal)
	if err != nil || rec.Status != schemas.ReceiptInDoubt {
		t.Fatalf("redelivery: got %+v, %v; want InDoubt", rec, err)
	}
	list, err := s.InDoubt(ctx, 10)
	if err != nil || len(list) != 1 || list[0].LastProviderCall != "t2-a1" {
		t.Fatalf("InDoubt: got %+v, %v", list, err)
	}
	// A known answer for the latest call still settles it.
	if err := s.Complete(ctx, schemas.Completion{TrackID: "t2", State: schemas.StateDone, ProviderTrackID: "t2-a1", CallState: "DONE", EventID: uuid.NewString(), Result: resultMsg("t2")}); err != nil {
		t.Fatalf("Complete of in-doubt with its call's answer: %v", err)
	}
}

func TestHoldReservedByOneUnblockOnly(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	ctx := context.Background()
	src := schemas.SourceMeta{Topic: "x"}
	b, _ := s.Receive(ctx, block("b1", 500), src, "me", time.Minute, notLocal)
	if _, err := s.BeginCall(ctx, schemas.CallStart{TrackID: "b1", Claim: b.Claim, ProviderTrackID: "b1-a1"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	hold := &schemas.BlockRef{TrackID: "b1", Provider: schemas.ProviderFinnotech, ClientID: "c1", Amount: 500, Deposit: "0201", BlockDate: "030901", ProviderTrackID: "b1-a1"}
	if err := s.Complete(ctx, schemas.Completion{TrackID: "b1", Claim: b.Claim, State: schemas.StateDone, ProviderTrackID: "b1-a1", CallState: "DONE", EventID: uuid.NewString(), Result: resultMsg("b1"), CreateHold: hold}); err != nil {
		t.Fatal(err)
	}
	look, err := s.Lookup(ctx, "b1")
	if err != nil || !look.Found || look.Hold == nil || look.Hold.Block.Amount != 500 || look.Hold.Block.ProviderTrackID != "b1-a1" || look.Hold.State != schemas.HoldBlocked {
		t.Fatalf("Lookup: got %+v (hold %+v), %v", look, look.Hold, err)
	}
	unblock := func(id string) schemas.Command {
		return schemas.Command{Kind: schemas.KindUnblock, TrackID: id, Provider: schemas.ProviderFinnotech, BlockTrackID: "b1"}
	}
	u1, _ := s.Receive(ctx, unblock("u1"), src, "me", time.Minute, notLocal)
	u2, _ := s.Receive(ctx, unblock("u2"), src, "me", time.Minute, notLocal)
	if _, err := s.BeginCall(ctx, schemas.CallStart{TrackID: "u1", Claim: u1.Claim, ProviderTrackID: "u1-a1", ReserveHold: "b1"}, time.Minute); err != nil {
		t.Fatalf("first unblock BeginCall: %v", err)
	}
	if _, err := s.BeginCall(ctx, schemas.CallStart{TrackID: "u2", Claim: u2.Claim, ProviderTrackID: "u2-a1", ReserveHold: "b1"}, time.Minute); !errors.Is(err, store.ErrHoldTaken) {
		t.Fatalf("second unblock BeginCall: got %v, want ErrHoldTaken", err)
	}
	if st, _ := s.State(ctx, "u2"); st != schemas.StateReceived {
		t.Fatalf("second unblock state after refused reservation: got %s, want RECEIVED (nothing committed)", st)
	}
	if err := s.Complete(ctx, schemas.Completion{TrackID: "u1", Claim: u1.Claim, State: schemas.StateDone, ProviderTrackID: "u1-a1", CallState: "DONE", EventID: uuid.NewString(), Result: resultMsg("u1"), ReleaseHold: "b1", UnblockDate: "030902"}); err != nil {
		t.Fatal(err)
	}
	look, _ = s.Lookup(ctx, "b1")
	if look.Hold.State != schemas.HoldUnblocked || look.Hold.UnblockTrackID != "u1" || look.Hold.UnblockProviderTrackID != "u1-a1" {
		t.Fatalf("hold after unblock: got %+v, want UNBLOCKED by u1 (call u1-a1)", look.Hold)
	}
	// The unblock's lookup finds the same hold.
	if viaUnblock, _ := s.Lookup(ctx, "u1"); viaUnblock.Hold == nil || viaUnblock.Hold.Block.TrackID != "b1" || viaUnblock.Kind != schemas.KindUnblock {
		t.Fatalf("Lookup(u1): got %+v", viaUnblock)
	}
	transfer := func(id string) schemas.Command {
		return schemas.Command{Kind: schemas.KindTransfer, TrackID: id, Provider: schemas.ProviderFinnotech, UnblockTrackID: "u1", Amount: 400, Destination: "0201000000001", Description: "d"}
	}
	t1, _ := s.Receive(ctx, transfer("x1"), src, "me", time.Minute, notLocal)
	t2, _ := s.Receive(ctx, transfer("x2"), src, "me", time.Minute, notLocal)
	if _, err := s.BeginCall(ctx, schemas.CallStart{TrackID: "x1", Claim: t1.Claim, ProviderTrackID: "x1-a1", ReserveTransfer: "u1"}, time.Minute); err != nil {
		t.Fatalf("first transfer BeginCall: %v", err)
	}
	if _, err := s.BeginCall(ctx, schemas.CallStart{TrackID: "x2", Claim: t2.Claim, ProviderTrackID: "x2-a1", ReserveTransfer: "u1"}, time.Minute); !errors.Is(err, store.ErrHoldTaken) {
		t.Fatalf("second transfer BeginCall: got %v, want ErrHoldTaken", err)
	}
	// A transfer that certainly failed gives the hold back for another try.
	if err := s.Complete(ctx, schemas.Completion{TrackID: "x1", Claim: t1.Claim, State: schemas.StateFailed, ProviderTrackID: "x1-a1", CallState: "FAILED", EventID: uuid.NewString(), Result: resultMsg("x1"), UnreserveTransfer: "u1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BeginCall(ctx, schemas.CallStart{TrackID: "x2", Claim: t2.Claim, ProviderTrackID: "x2-a2", ReserveTransfer: "u1"}, time.Minute); err != nil {
		t.Fatalf("transfer after a failed one: %v", err)
	}
	if err := s.Complete(ctx, schemas.Completion{TrackID: "x2", Claim: t2.Claim, State: schemas.StateDone, ProviderTrackID: "x2-a2", CallState: "DONE", EventID: uuid.NewString(), Result: resultMsg("x2"),
		TransferDone: "u1", TransferAmount: 400, TransferDestination: "0201000000001", TransferDate: "050902"}); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.Lookup(ctx, "x2"); l.Hold == nil || l.Hold.State != schemas.HoldTransferred || l.Hold.TransferAmount != 400 || l.ProviderTrackID != "x2-a2" {
		t.Fatalf("Lookup(x2) after transfer: %+v (hold %+v)", l, l.Hold)
	}
}

func TestAbandonedReceivedCommandIsTakenOver(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	ctx := context.Background()
	if _, err := s.Receive(ctx, block("t3", 100), schemas.SourceMeta{Topic: "x"}, "dead", time.Millisecond, notLocal); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	claimed, inDoubt, err := s.TakeOverAbandoned(ctx, "alive", time.Minute, 100)
	if err != nil || len(claimed) != 1 || inDoubt != 0 {
		t.Fatalf("TakeOverAbandoned: got %d claimed, %d in doubt, %v; want 1, 0", len(claimed), inDoubt, err)
	}
	got := claimed[0].Command
	if got.TrackID != "t3" || got.Kind != schemas.KindBlock || got.Amount != 100 || claimed[0].Claim == "" {
		t.Fatalf("claimed command: got %+v", claimed[0])
	}
}

func TestReleasedClaimsAreLeftAloneUntilTheirDelay(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	ctx := context.Background()
	// A RECEIVED command released while its provider is down.
	received, err := s.Receive(ctx, block("pk1", 100), schemas.SourceMeta{Topic: "x"}, "a", time.Minute, notLocal)
	if err != nil {
		t.Fatal(err)
	}
	// An IN_DOUBT command whose provider could not answer yet.
	doubt, err := s.Receive(ctx, block("pk2", 100), schemas.SourceMeta{Topic: "x"}, "a", time.Minute, notLocal)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.BeginCall(ctx, schemas.CallStart{TrackID: "pk2", Claim: doubt.Claim, ProviderTrackID: "pk2-a1"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkInDoubt(ctx, schemas.MarkInDoubtParams{TrackID: "pk2", Claim: doubt.Claim, Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	// A claim on a command in another state is not released.
	if err := s.ReleaseReceivedClaim(ctx, schemas.ReleaseClaimParams{TrackID: "pk2", Claim: doubt.Claim}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ClaimInDoubt(ctx, "b", time.Minute, 10); err != nil || len(got) != 0 {
		t.Fatalf("ClaimInDoubt after ReleaseReceivedClaim on an IN_DOUBT command: got %d, %v; want 0 (it releases only RECEIVED)", len(got), err)
	}

	const delay = 300 * time.Millisecond
	if err := s.ReleaseReceivedClaim(ctx, schemas.ReleaseClaimParams{TrackID: "pk1", Claim: received.Claim, RetryIn: delay}); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseInDoubtClaim(ctx, schemas.ReleaseClaimParams{TrackID: "pk2", Claim: doubt.Claim, RetryIn: delay}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"pk1", "pk2"} {
		if st, _ := s.State(ctx, id); st != map[string]schemas.State{"pk1": schemas.StateReceived, "pk2": schemas.StateInDoubt}[id] {
			t.Fatalf("%s: state changed to %s", id, st)
		}
	}
	claimed, _, err := s.TakeOverAbandoned(ctx, "b", time.Minute, 10)
	if err != nil || len(claimed) != 0 {
		t.Fatalf("TakeOverAbandoned before the delay: got %d, %v; want 0", len(claimed), err)
	}
	if got, err := s.ClaimInDoubt(ctx, "b", time.Minute, 10); err != nil || len(got) != 0 {
		t.Fatalf("ClaimInDoubt before the delay: got %d, %v; want 0", len(got), err)
	}
	time.Sleep(delay + 100*time.Millisecond) // the test asserts order, not timing: the delay must be over
	claimed, _, err = s.TakeOverAbandoned(ctx, "b", time.Minute, 10)
	if err != nil || len(claimed) != 1 || claimed[0].Command.TrackID != "pk1" {
		t.Fatalf("TakeOverAbandoned after the delay: got %+v, %v; want pk1", claimed, err)
	}
	got, err := s.ClaimInDoubt(ctx, "b", time.Minute, 10)
	if err != nil || len(got) != 1 || got[0].Command.TrackID != "pk2" || got[0].ProviderTrackID != "pk2-a1" {
		t.Fatalf("ClaimInDoubt after the delay: got %+v, %v; want pk2 with its provider trackId", got, err)
	}
}
