package processor_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/blockd/blockd/consumer/processor"
	"github.com/blockd/blockd/schemas"
)

// putCardBlockInDoubt stores a card block as a crash between its call and
// its outcome leaves it: IN_DOUBT, its one call UNKNOWN.
func (e *env) putCardBlockInDoubt(trackID, account string) {
	e.t.Helper()
	db := e.store.DB()
	if _, err := db.Exec(`
		INSERT INTO commands (track_id, kind, provider, request, request_hash, state, attempts, in_doubt_reason, in_doubt_since,
		                      source_topic, source_partition, source_offset)
		VALUES ($1, 'block', 'card', $2, '\x00', 'IN_DOUBT', 1, 'test: the answer was lost', now(), 'test', 0, 0)`,
		trackID, fmt.Sprintf(`{"trackId":%q,"provider":"card","accountId":%q,"blockCodeSlot":1,"blockCode":"B"}`, trackID, account)); err != nil {
		e.t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO provider_calls (provider_track_id, track_id, attempt, state, started_at)
		VALUES ($1, $2, 1, 'UNKNOWN', now() - interval '1 hour')`, trackID+"-a1", trackID); err != nil {
		e.t.Fatal(err)
	}
}

// TestOperatorAppliedCardBlockKeepsTheSlotRule: "applied" on a card block
// is refused without the slot its code is in; with it, the result carries
// codeSlot, so an unblock naming the other slot is still refused
// SLOT_MISMATCH (before any call) and one naming it is not.
func TestOperatorAppliedCardBlockKeepsTheSlotRule(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{}, "")
	ctx := context.Background()
	const account = "0001000010000000123"
	e.putCardBlockInDoubt("os1", account)
	d, err := e.store.CommandDetail(ctx, "os1")
	if err != nil {
		t.Fatal(err)
	}
	v := schemas.OperatorVerdict{TrackID: "os1", Verdict: schemas.VerdictApplied, Reason: "platform shows code B in slot 2", By: "alice"}
	if _, err := e.proc.OperatorSettlement(d, v); !errors.Is(err, schemas.ErrOperatorRefused) || !strings.Contains(err.Error(), "slot") {
		t.Fatalf("applied on a card block without a slot: got %v, want refused naming the slot", err)
	}
	v.CodeSlot = 2
	st, err := e.proc.OperatorSettlement(d, v)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(st.Result.Value), `"codeSlot":2`) || strings.Contains(string(st.Result.Value), "alice") {
		t.Fatalf("settlement result %s: want codeSlot 2 and not who gave the verdict", st.Result.Value)
	}
	if _, err := e.store.SettleInDoubtByOperator(ctx, st); err != nil {
		t.Fatal(err)
	}
	requests := e.card.Requests()
	e.handle("blockd.cmd.unblock", fmt.Sprintf(`{"trackId":"os2","provider":"card","accountId":%q,"blockCodeSlot":1,"blockTrackId":"os1"}`, account))
	if r := e.onlyResult("os2"); r.Status != schemas.StatusRejected || r.Error == nil || r.Error.Code != schemas.CodeSlotMismatch {
		t.Fatalf("unblock naming slot 1 of a block resolved into slot 2: got %s %+v, want REJECTED SLOT_MISMATCH", r.Status, r.Error)
	}
	if got := e.card.Requests(); got != requests {
		t.Fatalf("the refused unblock reached the platform (%d calls, want %d)", got, requests)
	}
}

// TestOperatorSettlementLeavesOutWhoGaveTheVerdict: "by" is free text (it
// may hold anything an operator typed): the published result does not
// carry it; the record keeps it.
func TestOperatorSettlementLeavesOutWhoGaveTheVerdict(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{}, "")
	e.putCardBlockInDoubt("ob1", "0001000010000000124")
	d, err := e.store.CommandDetail(context.Background(), "ob1")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []schemas.OperatorVerdict{
		{TrackID: "ob1", Verdict: schemas.VerdictNotApplied, Reason: "r", By: "ops 6037991234567890"},
		{TrackID: "ob1", Verdict: schemas.VerdictApplied, Reason: "r", By: "ops 6037991234567890", CodeSlot: 1},
	} {
		st, err := e.proc.OperatorSettlement(d, v)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(st.Result.Value), "6037991234567890") {
			t.Fatalf("%s: the result carries who gave the verdict: %s", v.Verdict, st.Result.Value)
		}
	}
}
