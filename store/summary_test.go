package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/blockd/blockd/schemas"
)

// TestInDoubtSummaryCountsInDoubtAndReconcile: the summary counts the
// commands IN_DOUBT with the age of the oldest, and those flagged for
// reconciliation; nothing else.
func TestInDoubtSummaryCountsInDoubtAndReconcile(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	ctx := context.Background()
	if got, err := s.InDoubtSummary(ctx); err != nil || got.InDoubt != 0 || got.OldestInDoubt != 0 || got.NeedsReconciliation != 0 {
		t.Fatalf("empty store: got %+v, %v; want zeros", got, err)
	}
	calling := func(trackID string) string {
		t.Helper()
		r, err := s.Receive(ctx, block(trackID, 100), schemas.SourceMeta{Topic: "blockd.cmd.block"}, "me", time.Minute, notLocal)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.BeginCall(ctx, schemas.CallStart{TrackID: trackID, Claim: r.Claim, ProviderTrackID: trackID + "-a1"}, time.Minute); err != nil {
			t.Fatal(err)
		}
		return r.Claim
	}
	for _, id := range []string{"sd1", "sd2"} {
		if err := s.MarkInDoubt(ctx, schemas.MarkInDoubtParams{TrackID: id, Claim: calling(id), Reason: "timeout"}); err != nil {
			t.Fatal(err)
		}
	}
	claim := calling("sr1")
	if err := s.Complete(ctx, schemas.Completion{TrackID: "sr1", Claim: claim, State: schemas.StateFailed, ProviderTrackID: "sr1-a1",
		CallState: schemas.CallUnknown, EventID: uuid.NewString(), Result: resultMsg("sr1"), NeedsReconciliation: true, ReconcileReason: "test"}); err != nil {
		t.Fatal(err)
	}
	calling("open") // CALLING: neither
	time.Sleep(50 * time.Millisecond)
	got, err := s.InDoubtSummary(ctx)
	if err != nil || got.InDoubt != 2 || got.NeedsReconciliation != 1 {
		t.Fatalf("got %+v, %v; want 2 in doubt, 1 to reconcile", got, err)
	}
	if got.OldestInDoubt < 40*time.Millisecond || got.OldestInDoubt > time.Minute {
		t.Fatalf("oldest in doubt: got %s, want about 50ms", got.OldestInDoubt)
	}
}
