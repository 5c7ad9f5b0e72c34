package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/blockd/blockd/schemas"
	"github.com/blockd/blockd/store"
)

// inDoubtAfterCall leaves trackID IN_DOUBT after one call (its worker lost
// it), the call UNKNOWN or SENDING as the takeover leaves it.
func inDoubtAfterCall(t *testing.T, s *store.Store, trackID string) {
	t.Helper()
	calling(t, s, trackID, trackID+"-a1", time.Millisecond)
	time.Sleep(5 * time.Millisecond)
	if _, n, err := s.TakeOverAbandoned(context.Background(), "b", time.Minute, 10); err != nil || n != 1 {
		t.Fatalf("TakeOverAbandoned: %d in doubt, %v", n, err)
	}
}

func settlement(trackID, verdict string, state schemas.State) schemas.OperatorSettlement {
	return schemas.OperatorSettlement{
		Verdict:  schemas.OperatorVerdict{TrackID: trackID, Verdict: verdict, Reason: "statement checked", By: "alice"},
		Attempts: 1, State: state, EventID: "00000000-0000-0000-0000-0000000000e1", Result: resultMsg(trackID)}
}

// TestOperatorNotAppliedWaitsUntilTheCallCannotLand: while an open call
// may still land (its intent + 2 × CallTimeout + LandingMargin), not-applied
// is refused, saying from when it is taken; after, it is taken.
func TestOperatorNotAppliedWaitsUntilTheCallCannotLand(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	ctx := context.Background()
	inDoubtAfterCall(t, s, "opl1")
	st := settlement("opl1", schemas.VerdictNotApplied, schemas.StateFailed)
	st.CallTimeout, st.LandingMargin = 20*time.Second, 30*time.Second
	_, err := s.SettleInDoubtByOperator(ctx, st)
	if !errors.Is(err, schemas.ErrOperatorRefused) || !strings.Contains(err.Error(), "from then on") {
		t.Fatalf("not-applied right after the call: got %v, want refused saying from when", err)
	}
	if got, _ := s.State(ctx, "opl1"); got != schemas.StateInDoubt {
		t.Fatalf("after the refusal: %s, want IN_DOUBT", got)
	}
	if _, err := s.DB().Exec(`UPDATE provider_calls SET started_at = now() - interval '71 seconds' WHERE track_id = 'opl1'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SettleInDoubtByOperator(ctx, st); err != nil {
		t.Fatalf("not-applied once the call cannot land: %v", err)
	}
	if call, _, _ := callRow(t, s, "opl1-a1"); call != schemas.CallFailed {
		t.Fatalf("call after not-applied: %s, want FAILED", call)
	}
}

// TestOperatorAppliedNeedsACallThatMayHaveApplied: applied is refused when
// every call is FAILED or NOT_SENT; otherwise the latest open call is
// marked DONE even when a later call was not sent.
func TestOperatorAppliedNeedsACallThatMayHaveApplied(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	ctx := context.Background()
	inDoubtAfterCall(t, s, "opa1")
	if _, err := s.DB().Exec(`UPDATE provider_calls SET state = 'FAILED' WHERE track_id = 'opa1'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SettleInDoubtByOperator(ctx, settlement("opa1", schemas.VerdictApplied, schemas.StateDone)); !errors.Is(err, schemas.ErrOperatorRefused) {
		t.Fatalf("applied with every call FAILED: got %v, want refused", err)
	}
	if got, _ := s.State(ctx, "opa1"); got != schemas.StateInDoubt {
		t.Fatalf("after the refusal: %s, want IN_DOUBT", got)
	}

	// An open call, then a later one that was not sent.
	inDoubtAfterCall(t, s, "opa2")
	if _, err := s.DB().Exec(`
		INSERT INTO provider_calls (provider_track_id, track_id, attempt, state) VALUES ('opa2-a2', 'opa2', 2, 'NOT_SENT');
		UPDATE commands SET attempts = 2 WHERE track_id = 'opa2'`); err != nil {
		t.Fatal(err)
	}
	st := settlement("opa2", schemas.VerdictApplied, schemas.StateDone)
	st.Attempts = 2
	if _, err := s.SettleInDoubtByOperator(ctx, st); err != nil {
		t.Fatalf("applied with an open first call: %v", err)
	}
	if call, _, _ := callRow(t, s, "opa2-a1"); call != schemas.CallDone {
		t.Fatalf("the open call after applied: %s, want DONE", call)
	}
	if call, _, _ := callRow(t, s, "opa2-a2"); call != schemas.CallNotSent {
		t.Fatalf("the call not sent after applied: %s, want NOT_SENT", call)
	}
}

// TestOperatorSettlingClearsTheReconciliationFlag: the verdict on an
// IN_DOUBT command that is also flagged is recorded: the flag is cleared.
func TestOperatorSettlingClearsTheReconciliationFlag(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	ctx := context.Background()
	inDoubtAfterCall(t, s, "opf1")
	if _, err := s.DB().Exec(`UPDATE commands SET needs_reconciliation = true, reconcile_reason = 'test' WHERE track_id = 'opf1'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SettleInDoubtByOperator(ctx, settlement("opf1", schemas.VerdictApplied, schemas.StateDone)); err != nil {
		t.Fatal(err)
	}
	if f, _ := flagged(t, s, "opf1"); f {
		t.Fatal("settled by an operator's verdict, still flagged for reconciliation")
	}
	out, err := s.SettleInDoubtByOperator(ctx, settlement("opf1", schemas.VerdictApplied, schemas.StateDone))
	if err != nil || !out.Repeated {
		t.Fatalf("the same verdict again: %+v, %v; want repeated", out, err)
	}
}
