package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/blockd/blockd/schemas"
	"github.com/blockd/blockd/store"
)

// calling stores a block command and records one call attempt for it,
// returning the claim.
func calling(t *testing.T, s *store.Store, trackID, providerTrackID string, lease time.Duration) string {
	t.Helper()
	ctx := context.Background()
	r, err := s.Receive(ctx, block(trackID, 100), schemas.SourceMeta{Topic: "blockd.cmd.block"}, "a", lease, notLocal)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.BeginCall(ctx, schemas.CallStart{TrackID: trackID, Claim: r.Claim, ProviderTrackID: providerTrackID}, lease); err != nil {
		t.Fatal(err)
	}
	return r.Claim
}

func callRow(t *testing.T, s *store.Store, providerTrackID string) (state, lateState, evidence string) {
	t.Helper()
	row := s.DB().QueryRow(`SELECT state, coalesce(late_state, ''), coalesce(evidence, '') FROM provider_calls WHERE provider_track_id = $1`, providerTrackID)
	if err := row.Scan(&state, &lateState, &evidence); err != nil {
		t.Fatal(err)
	}
	return state, lateState, evidence
}

func flagged(t *testing.T, s *store.Store, trackID string) (bool, string) {
	t.Helper()
	var f bool
	var reason string
	if err := s.DB().QueryRow(`SELECT needs_reconciliation, coalesce(reconcile_reason, '') FROM commands WHERE track_id = $1`, trackID).Scan(&f, &reason); err != nil {
		t.Fatal(err)
	}
	return f, reason
}

func TestCallNotSentGivesTheCommandBackAndTellsTheResolver(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	ctx := context.Background()

	// Still held: the command goes back to RECEIVED, unclaimed, at once.
	claim := calling(t, s, "ns1", "ns1-a1", time.Minute)
	if err := s.RecordCallNotSent(ctx, schemas.CallNotSentParams{TrackID: "ns1", Claim: claim, ProviderTrackID: "ns1-a1", Reason: "paused"}); err != nil {
		t.Fatal(err)
	}
	if st, _, ev := callRow(t, s, "ns1-a1"); st != schemas.CallNotSent || ev != "paused" {
		t.Errorf("call row: got %s (%q), want NOT_SENT (paused)", st, ev)
	}
	claimed, _, err := s.TakeOverAbandoned(ctx, "b", time.Minute, 10)
	if err != nil || len(claimed) != 1 || claimed[0].Command.TrackID != "ns1" {
		t.Fatalf("TakeOverAbandoned after the call was not sent: got %+v, %v; want ns1 claimed at once", claimed, err)
	}

	// Taken over meanwhile: the command stays IN_DOUBT for its new owner,
	// who learns from the call row that the call cannot have landed.
	claim = calling(t, s, "ns2", "ns2-a1", time.Millisecond)
	time.Sleep(5 * time.Millisecond)
	if _, n, err := s.TakeOverAbandoned(ctx, "b", time.Minute, 10); err != nil || n != 1 {
		t.Fatalf("TakeOverAbandoned: %d in doubt, %v; want 1", n, err)
	}
	if err := s.RecordCallNotSent(ctx, schemas.CallNotSentParams{TrackID: "ns2", Claim: claim, ProviderTrackID: "ns2-a1", Reason: "lease ran out"}); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.State(ctx, "ns2"); st != schemas.StateInDoubt {
		t.Errorf("command taken over: got %s, want still IN_DOUBT", st)
	}
	doubts, err := s.ClaimInDoubt(ctx, "b", time.Minute, 10)
	if err != nil || len(doubts) != 1 {
		t.Fatalf("ClaimInDoubt: got %+v, %v", doubts, err)
	}
	if c := doubts[0].Call; c.State != schemas.CallNotSent || c.ProviderTrackID != "ns2-a1" || c.Evidence != "lease ran out" || c.Age <= 0 || c.Age > time.Minute {
		t.Errorf("the claimed call: got %+v, want NOT_SENT ns2-a1 with its reason and a small positive age", c)
	}
}

func TestLateAnswersAreKeptAndContradictionsFlagged(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	ctx := context.Background()
	done := func(trackID, claim, providerTrackID string) {
		t.Helper()
		if err := s.Complete(ctx, schemas.Completion{TrackID: trackID, Claim: claim, State: schemas.StateDone, ProviderTrackID: providerTrackID,
			CallState: schemas.CallDone, CallAnswer: []byte(`{"amount":100}`), EventID: uuid.NewString(), Result: resultMsg(trackID)}); err != nil {
			t.Fatal(err)
		}
	}
	failOutcomeUnknown := func(trackID, claim, providerTrackID string) {
		t.Helper()
		if err := s.Complete(ctx, schemas.Completion{TrackID: trackID, Claim: claim, State: schemas.StateFailed, ProviderTrackID: providerTrackID,
			CallState: schemas.CallUnknown, EventID: uuid.NewString(), Result: resultMsg(trackID), NeedsReconciliation: true}); err != nil {
			t.Fatal(err)
		}
	}
	late := func(trackID, providerTrackID, state string) schemas.LateAnswerVerdict {
		t.Helper()
		v, err := s.RecordLateAnswer(ctx, schemas.LateAnswer{TrackID: trackID, ProviderTrackID: providerTrackID, State: state,
			Answer: []byte(`{"amount":100}`), Evidence: "the call's own answer"})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	t.Run("the same outcome recorded by another worker", func(t *testing.T) {
		claim := calling(t, s, "la1", "la1-a1", time.Minute)
		done("la1", claim, "la1-a1")
		if v := late("la1", "la1-a1", schemas.CallDone); v.Contradicts {
			t.Errorf("got a contradiction (%s), want none", v.Reason)
		}
		if f, _ := flagged(t, s, "la1"); f {
			t.Error("command flagged, want not")
		}
		if st, ls, _ := callRow(t, s, "la1-a1"); st != schemas.CallDone || ls != schemas.CallDone {
			t.Errorf("call row: got %s/%s, want DONE kept and DONE beside it", st, ls)
		}
	})
	t.Run("applied, but the command was answered OUTCOME_UNKNOWN", func(t *testing.T) {
		claim := calling(t, s, "la2", "la2-a1", time.Minute)
		failOutcomeUnknown("la2", claim, "la2-a1")
		v := late("la2", "la2-a1", schemas.CallDone)
		if !v.Contradicts {
			t.Fatal("got no contradiction, want one")
		}
		if f, reason := flagged(t, s, "la2"); !f || reason != v.Reason {
			t.Errorf("flag: got %v %q, want true %q", f, reason, v.Reason)
		}
		if st, _, _ := callRow(t, s, "la2-a1"); st != schemas.CallDone {
			t.Errorf("call row: got %s, want DONE (it was UNKNOWN, the answer settles it)", st)
		}
	})
	t.Run("applied, but the call was confirmed not applied and a new one sent", func(t *testing.T) {
		claim := calling(t, s, "la3", "la3-a1", time.Minute)
		if err := s.MarkInDoubt(ctx, schemas.MarkInDoubtParams{TrackID: "la3", Claim: claim, Reason: "timeout"}); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordInDoubtNotApplied(ctx, schemas.RecordInDoubtNotAppliedParams{TrackID: "la3", Claim: claim, Evidence: "wages FAILED"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.BeginCall(ctx, schemas.CallStart{TrackID: "la3", Claim: claim, ProviderTrackID: "la3-a2"}, time.Minute); err != nil {
			t.Fatal(err)
		}
		if v := late("la3", "la3-a1", schemas.CallDone); !v.Contradicts {
			t.Error("got no contradiction, want one: the call was recorded FAILED")
		}
		if f, _ := flagged(t, s, "la3"); !f {
			t.Error("command not flagged")
		}
	})
	t.Run("two calls of one command applied", func(t *testing.T) {
		// The first call was refused, the second applied; then the first's
		// worker reports it applied after all.
		claim := calling(t, s, "la4", "la4-a1", time.Minute)
		if err := s.RecordAttemptNotApplied(ctx, schemas.RecordAttemptNotAppliedParams{TrackID: "la4", Claim: claim, ProviderTrackID: "la4-a1", ErrorCode: "X"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.BeginCall(ctx, schemas.CallStart{TrackID: "la4", Claim: claim, ProviderTrackID: "la4-a2"}, time.Minute); err != nil {
			t.Fatal(err)
		}
		done("la4", claim, "la4-a2")
		if v := late("la4", "la4-a1", schemas.CallDone); !v.Contradicts {
			t.Error("got no contradiction, want one: two calls applied")
		}
	})
	t.Run("a late refusal of a call the command never relied on", func(t *testing.T) {
		claim := calling(t, s, "la5", "la5-a1", time.Minute)
		failOutcomeUnknown("la5", claim, "la5-a1")
		if v := late("la5", "la5-a1", schemas.CallFailed); v.Contradicts {
			t.Errorf("got a contradiction (%s), want none: FAILED agrees with a FAILED command", v.Reason)
		}
	})
	t.Run("a late refusal of a call recorded DONE", func(t *testing.T) {
		claim := calling(t, s, "la6", "la6-a1", time.Minute)
		done("la6", claim, "la6-a1")
		if v := late("la6", "la6-a1", schemas.CallFailed); !v.Contradicts {
			t.Error("got no contradiction, want one")
		}
	})
	t.Run("a flag survives the command's completion", func(t *testing.T) {
		claim := calling(t, s, "la7", "la7-a1", time.Minute)
		if err := s.RecordAttemptNotApplied(ctx, schemas.RecordAttemptNotAppliedParams{TrackID: "la7", Claim: claim, ProviderTrackID: "la7-a1"}); err != nil {
			t.Fatal(err)
		}
		if v := late("la7", "la7-a1", schemas.CallDone); !v.Contradicts {
			t.Fatal("got no contradiction, want one")
		}
		if _, err := s.BeginCall(ctx, schemas.CallStart{TrackID: "la7", Claim: claim, ProviderTrackID: "la7-a2"}, time.Minute); err != nil {
			t.Fatal(err)
		}
		done("la7", claim, "la7-a2")
		if f, _ := flagged(t, s, "la7"); !f {
			t.Error("the flag was cleared by Complete")
		}
		list, err := s.NeedsReconciliation(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, c := range list {
			found = found || c.TrackID == "la7" && c.Reason != ""
		}
		if !found {
			t.Errorf("la7 not listed with its reason: %+v", list)
		}
	})
	t.Run("an inquiry answered twice", func(t *testing.T) {
		ctx := context.Background()
		r, err := s.Receive(ctx, schemas.Command{Kind: schemas.KindInquiry, TrackID: "la8", Provider: schemas.ProviderFinnotech,
			Inquiry: "facility", ClientID: "c1", NationalID: "0012345678"}, schemas.SourceMeta{Topic: "blockd.cmd.inquiry"}, "a", time.Minute, notLocal)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.BeginCall(ctx, schemas.CallStart{TrackID: "la8", Claim: r.Claim, ProviderTrackID: "la8-a1"}, time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordAttemptNotApplied(ctx, schemas.RecordAttemptNotAppliedParams{TrackID: "la8", Claim: r.Claim, ProviderTrackID: "la8-a1"}); err != nil {
			t.Fatal(err)
		}
		if v := late("la8", "la8-a1", schemas.CallDone); v.Contradicts {
			t.Errorf("got a contradiction (%s), want none: an inquiry only reads", v.Reason)
		}
		if f, _ := flagged(t, s, "la8"); f {
			t.Error("inquiry flagged for reconciliation")
		}
	})
	t.Run("an unknown call", func(t *testing.T) {
		_, err := s.RecordLateAnswer(ctx, schemas.LateAnswer{TrackID: "la1", ProviderTrackID: "nope", State: schemas.CallDone})
		if err == nil || errors.Is(err, store.ErrNotClaimed) {
			t.Errorf("got %v, want an error naming the missing call", err)
		}
	})
}
