package store_test

// Regression tests from the issue-8 review: each failed on the code under review and passes now.

import (
	"context"
	"testing"
	"time"

	"github.com/blockd/blockd/schemas"
)

// TestReviewCallNotSentLocksInTheStoresOrder: every other writer of a
// command and its calls (TakeOverAbandoned, Receive's and MarkInDoubt's
// markInDoubt, Complete, RecordInDoubtNotApplied, RecordLateAnswer) locks
// the commands row first and the provider_calls row second.
// RecordCallNotSent locks the call first and the command second. When the
// paused worker of reproduction B wakes while a sweeper takes the command
// over, the two deadlock and PostgreSQL aborts one: if it is
// RecordCallNotSent, the call stays UNKNOWN although it was never sent (for
// Finnotech, wages never knows it: OUTCOME_UNKNOWN after the deadline); if
// it is TakeOverAbandoned, its whole batch is lost for that sweep.
//
// The other transaction below does what TakeOverAbandoned does, in its
// order: UPDATE commands, then UPDATE provider_calls.
func TestReviewCallNotSentLocksInTheStoresOrder(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	ctx := context.Background()
	claim := calling(t, s, "dl1", "dl1-a1", time.Minute)

	other, err := s.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = other.Rollback() }() // after a Commit, ErrTxDone
	if _, err := other.Exec(`UPDATE commands SET state = 'IN_DOUBT', owner = NULL, claim = NULL, lease_until = NULL WHERE track_id = 'dl1'`); err != nil {
		t.Fatal(err)
	}
	notSent := make(chan error, 1)
	go func() {
		notSent <- s.RecordCallNotSent(ctx, schemas.CallNotSentParams{TrackID: "dl1", Claim: claim, ProviderTrackID: "dl1-a1", Reason: "paused"})
	}()
	time.Sleep(300 * time.Millisecond) // RecordCallNotSent now holds the call row and waits for the command row
	_, otherErr := other.Exec(`UPDATE provider_calls SET state = 'UNKNOWN' WHERE track_id = 'dl1' AND state = 'SENDING'`)
	if otherErr == nil {
		otherErr = other.Commit()
	}
	if err := <-notSent; err != nil {
		t.Errorf("RecordCallNotSent racing a takeover: %v (the takeover: %v)", err, otherErr)
	}
	if otherErr != nil {
		t.Errorf("a takeover racing RecordCallNotSent: %v", otherErr)
	}
}

// TestReviewCompleteWithoutClaimNeedsAKnownAnswer: Complete lets "a known
// answer for the command's latest call" settle an IN_DOUBT command without
// the claim. It does not check that the answer is known: resolveClaimed's
// deadline path passes ProviderTrackID with CallState UNKNOWN, so a sweeper
// that lost its claim (paused past its lease) still answers FAILED
// OUTCOME_UNKNOWN over the instance that now holds the command and may be
// recording the proven outcome that very moment (its Complete then fails
// and its answer only flags the command).
func TestReviewCompleteWithoutClaimNeedsAKnownAnswer(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	ctx := context.Background()
	calling(t, s, "cu1", "cu1-a1", time.Millisecond)
	time.Sleep(5 * time.Millisecond)
	if _, n, err := s.TakeOverAbandoned(ctx, "b", time.Minute, 10); err != nil || n != 1 {
		t.Fatalf("TakeOverAbandoned: %d in doubt, %v", n, err)
	}
	stale, err := s.ClaimInDoubt(ctx, "b", time.Millisecond, 10) // B's claim, soon lost
	if err != nil || len(stale) != 1 {
		t.Fatalf("ClaimInDoubt by B: %+v, %v", stale, err)
	}
	time.Sleep(5 * time.Millisecond)
	if cur, err := s.ClaimInDoubt(ctx, "c", time.Minute, 10); err != nil || len(cur) != 1 {
		t.Fatalf("ClaimInDoubt by C: %+v, %v", cur, err)
	}
	err = s.Complete(ctx, schemas.Completion{TrackID: "cu1", Claim: stale[0].Claim, State: schemas.StateFailed, ProviderTrackID: "cu1-a1",
		CallState: schemas.CallUnknown, EventID: "00000000-0000-0000-0000-0000000000c1", Result: resultMsg("cu1"), NeedsReconciliation: true})
	if err == nil {
		st, _ := s.State(ctx, "cu1")
		t.Errorf("B, whose claim C took over, answered the command OUTCOME_UNKNOWN (state now %s) without the claim and without a known answer; want ErrNotClaimed", st)
	}
}
