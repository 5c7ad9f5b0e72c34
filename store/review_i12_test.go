package store_test

// Tests from the independent review of issue 12 (the operator CLI). Each
// fails on the code under review and shows one defect.

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/blockd/blockd/schemas"
)

// TestReviewI12NotAppliedRefusedWhenACallIsRecordedApplied: an IN_DOUBT
// command whose call is already recorded DONE with the provider's answer
// (its worker lost the command, then the answer came: RecordLateAnswer
// keeps it on the open call "so whoever settles the command uses it"; the
// sweeper's recordedVerdict would end it DONE). SettleInDoubtByOperator
// takes --not-applied anyway: it ends the command FAILED
// OPERATOR_NOT_APPLIED (for an unblock or transfer it also gives the hold
// back), leaves the DONE call as it is, and flags nothing — a second,
// contradicting outcome against a recorded fact, and nobody is told.
func TestReviewI12NotAppliedRefusedWhenACallIsRecordedApplied(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	ctx := context.Background()
	calling(t, s, "opd1", "opd1-a1", time.Millisecond)
	time.Sleep(5 * time.Millisecond)
	if _, n, err := s.TakeOverAbandoned(ctx, "b", time.Minute, 10); err != nil || n != 1 {
		t.Fatalf("TakeOverAbandoned: %d in doubt, %v", n, err)
	}
	if _, err := s.RecordLateAnswer(ctx, schemas.LateAnswer{TrackID: "opd1", ProviderTrackID: "opd1-a1", State: schemas.CallDone,
		Answer: []byte(`{"deposit":"x"}`), Evidence: "the call's own answer"}); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.State(ctx, "opd1"); st != schemas.StateInDoubt {
		t.Fatalf("state before the verdict: %s, want IN_DOUBT", st)
	}
	_, err := s.SettleInDoubtByOperator(ctx, schemas.OperatorSettlement{
		Verdict:  schemas.OperatorVerdict{TrackID: "opd1", Verdict: schemas.VerdictNotApplied, Reason: "statement shows nothing yet", By: "alice"},
		Attempts: 1, State: schemas.StateFailed, EventID: "00000000-0000-0000-0000-0000000000d1", Result: resultMsg("opd1")})
	f, _ := flagged(t, s, "opd1")
	st, _ := s.State(ctx, "opd1")
	if err == nil && !f {
		call, _, _ := callRow(t, s, "opd1-a1")
		t.Fatalf("--not-applied on a command whose call is recorded DONE was taken: command %s, call %s, not flagged; "+
			"want refused (schemas.ErrOperatorRefused), or at the very least flagged for reconciliation", st, call)
	}
	if err != nil && !errors.Is(err, schemas.ErrOperatorRefused) {
		t.Fatalf("refused with %v, want schemas.ErrOperatorRefused", err)
	}
}
