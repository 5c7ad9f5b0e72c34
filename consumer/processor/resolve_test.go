package processor_test

// Tests of the resolve stage (resolve.go): a call of unknown outcome is
// never sent again blindly; only a proven "not applied" allows a new
// attempt, and nothing proven by the deadline is left to an operator.
//
// Tests named TestReview* are regression tests from the issue-8 review: each
// reproduces a finding, failed on the code under review and passes now.

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/blockd/blockd/consumer/processor"
	"github.com/blockd/blockd/providers/arhivaar/arhivaarfake"
	"github.com/blockd/blockd/providers/card"
	"github.com/blockd/blockd/providers/finnotech/finnotechfake"
	"github.com/blockd/blockd/providers/sandboxfault"
	"github.com/blockd/blockd/schemas"
)

func TestAppliedCallWithLostAnswerIsResolvedNotResent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{}, "")
	e.card.InjectNext(sandboxfault.FaultApplyThenDrop)
	e.handle(blockTopic, cardBlock("u1", "0001000010000000002"))
	r := e.onlyResult("u1")
	if r.Status != schemas.StatusDone || r.Attempts != 1 {
		t.Fatalf("got %s after %d attempts (%+v), want DONE after 1 (resolved by inquiry)", r.Status, r.Attempts, r.Error)
	}
	if got := e.card.Applied(); got != 1 {
		t.Fatalf("sandbox applied %d changes, want 1", got)
	}
	if got := e.card.Requests(); got != 1 {
		t.Fatalf("sandbox received %d blockUnblock calls, want 1 (the inquiry is a details read)", got)
	}
}

func TestTimedOutCallConfirmedAbsentIsReissued(t *testing.T) {
	t.Parallel()
	// The details read says "not there" at once, but that counts only once
	// the timed-out call can no longer land: call timeout + landing margin.
	const callTimeout, margin = 300 * time.Millisecond, 500 * time.Millisecond
	e := newEnv(t, processor.Config{CallTimeout: callTimeout, LandingMargin: margin, ResolveInline: 5 * time.Second}, "")
	e.card.InjectNext(sandboxfault.FaultTimeout)
	e.handle(blockTopic, cardBlock("u2", "0001000010000000003"))
	r := e.onlyResult("u2")
	if r.Status != schemas.StatusDone || r.Attempts != 2 {
		t.Fatalf("got %s after %d attempts (%+v), want DONE after 2", r.Status, r.Attempts, r.Error)
	}
	if got := e.card.Applied(); got != 1 {
		t.Fatalf("sandbox applied %d changes, want 1", got)
	}
	var calls []string
	if err := e.store.DB().Select(&calls, `SELECT state || ':' || coalesce(error_code, '') FROM provider_calls WHERE track_id = 'u2' ORDER BY attempt`); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || calls[0] != "FAILED:CONFIRMED_NOT_APPLIED" || calls[1] != "DONE:" {
		t.Fatalf("provider calls: %v, want the first confirmed not applied and the second done", calls)
	}
	var gap time.Duration
	if err := e.store.DB().Get(&gap, `SELECT (extract(epoch FROM max(started_at) - min(started_at)) * 1e9)::bigint FROM provider_calls WHERE track_id = 'u2'`); err != nil {
		t.Fatal(err)
	}
	if gap < callTimeout+margin {
		t.Fatalf("the second call went out %v after the first, before the first could no longer land (%v)", gap, callTimeout+margin)
	}
}

func TestUnprovableOutcomeEndsOutcomeUnknownForAnOperator(t *testing.T) {
	t.Parallel()
	// A provider that never answers: the call and every re-send time out.
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body first: only then does the server notice the client leaving.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	t.Cleanup(hang.Close)
	e := newEnv(t, processor.Config{CallTimeout: 100 * time.Millisecond, ResolveInline: 200 * time.Millisecond,
		ResolveRetry: 50 * time.Millisecond, ResolveDeadline: 500 * time.Millisecond, SweepInterval: 50 * time.Millisecond}, hang.URL)
	e.handle(blockTopic, `{"trackId":"u3","provider":"arhivaar","accountId":"ab13","note":"n"}`)
	if rs := e.results("u3"); len(rs) != 0 {
		t.Fatalf("an unproven outcome was answered at once: %+v", rs)
	}
	if st, _ := e.store.State(context.Background(), "u3"); st != schemas.StateInDoubt {
		t.Fatalf("state: got %s, want IN_DOUBT", st)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.proc.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for len(e.results("u3")) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	r := e.onlyResult("u3")
	if r.Status != schemas.StatusFailed || r.Error == nil || r.Error.Code != schemas.CodeOutcomeUnknown || !r.Error.NeedsReconciliation || r.Error.Retryable {
		t.Fatalf("got %s %+v, want FAILED OUTCOME_UNKNOWN needing reconciliation, not retryable", r.Status, r.Error)
	}
	list, err := e.store.NeedsReconciliation(context.Background(), 10)
	if err != nil || len(list) != 1 || list[0].TrackID != "u3" {
		t.Fatalf("reconciliation list: %+v, %v", list, err)
	}
}

// TestInDoubtResolutionKeepsTheProvidersAttemptBound: the provider's own
// MaxAttempts bounds the calls of a command whose in-doubt call is settled
// not applied, as it bounds retries; the resolver used to compare with the
// global bound and send again past the provider's.
func TestInDoubtResolutionKeepsTheProvidersAttemptBound(t *testing.T) {
	t.Parallel()
	const callTimeout, margin = 300 * time.Millisecond, 200 * time.Millisecond
	e := newEnv(t, processor.Config{CallTimeout: callTimeout, LandingMargin: margin, ResolveInline: 5 * time.Second,
		MaxAttempts: 4, Policies: map[schemas.Provider]processor.Policy{schemas.ProviderCard: {MaxAttempts: 1}}}, "")
	e.card.InjectNext(sandboxfault.FaultTimeout)
	e.handle(blockTopic, cardBlock("ma1", "0001000010000000131"))
	r := e.onlyResult("ma1")
	if r.Status != schemas.StatusFailed || r.Attempts != 1 {
		t.Fatalf("got %s after %d attempts (%+v), want FAILED after the provider's 1", r.Status, r.Attempts, r.Error)
	}
	if got := e.card.Requests(); got != 1 {
		t.Fatalf("the card platform got %d calls, want 1: the provider's MaxAttempts is 1", got)
	}
}

// TestReviewArhivaarResendThatTimedOutLandsAfterTheNextCommand: Arhivaar's
// Resolve is a re-send of the state-setting call, sent once the ORIGINAL
// call can no longer land. But a re-send is itself a call that can time out
// and land late (up to LandingMargin after its client gave up, by blockd's
// own assumption), and nothing records it or waits for it: the next
// Resolve re-sends again, gets OK, the command is DONE, the account's next
// command goes out, and then the first re-send lands and undoes it.
//
// Interleaving: block X's call times out (not applied) -> IN_DOUBT; after
// CannotLandAfter the sweeper re-sends (re-send #1), which hangs and times
// out, but takes effect LateBy later (< LandingMargin); the next sweep
// re-sends (#2) -> OK -> X DONE; unblock Y on the same account -> DONE
// (account active); re-send #1 lands -> the account is blocked again while
// blockd's last word for it is "unblocked".
func TestReviewArhivaarResendThatTimedOutLandsAfterTheNextCommand(t *testing.T) {
	t.Parallel()
	const (
		callTimeout = 200 * time.Millisecond
		margin      = 3 * time.Second
		lateBy      = 2 * time.Second // inside the landing margin blockd itself assumes
	)
	arh := arhivaarfake.New(arhivaarfake.Config{LateBy: lateBy})
	srv := httptest.NewServer(arh)
	t.Cleanup(srv.Close)
	e := newEnv(t, processor.Config{CallTimeout: callTimeout, LandingMargin: margin, ResolveInline: 100 * time.Millisecond,
		ResolveRetry: 50 * time.Millisecond, SweepInterval: 50 * time.Millisecond}, srv.URL)
	arh.InjectNext(sandboxfault.FaultTimeout)      // the block's own call: hangs, not applied
	arh.InjectNext(sandboxfault.FaultLateDelivery) // Resolve's first re-send: times out, lands lateBy later

	const account = "ab77"
	e.handle(blockTopic, `{"trackId":"rx","provider":"arhivaar","accountId":"`+account+`","note":"court order"}`)
	if st, _ := e.store.State(context.Background(), "rx"); st != schemas.StateInDoubt {
		t.Fatalf("block after a timed-out call: got %s, want IN_DOUBT", st)
	}
	runProcessor(t, e.proc)
	waitFor(t, 20*time.Second, "a result for the block", func() bool { return len(e.results("rx")) > 0 })
	if r := e.onlyResult("rx"); r.Status != schemas.StatusDone {
		t.Fatalf("block: got %s %+v, want DONE", r.Status, r.Error)
	}
	e.handle("blockd.cmd.unblock", `{"trackId":"ry","provider":"arhivaar","accountId":"`+account+`","note":"released"}`)
	if r := e.onlyResult("ry"); r.Status != schemas.StatusDone {
		t.Fatalf("unblock: got %s %+v, want DONE", r.Status, r.Error)
	}
	if a, _ := arh.Account(account); a.Blocked {
		t.Fatalf("account blocked right after the unblock was answered DONE")
	}
	time.Sleep(lateBy + 500*time.Millisecond)
	if a, _ := arh.Account(account); a.Blocked {
		t.Errorf("account %s is blocked at Arhivaar (%d state changes, %d accepted calls) while blockd answered its last command, "+
			"unblock ry, DONE: a Resolve re-send of block rx that timed out landed after the unblock", account, a.Changes, a.Calls)
	}
}

// TestReviewTransferNeverSentIsNotReportedNotApplied is reproduction B for
// an unblock-transfer: instance A records the transfer's intent and pauses
// past its lease; B's sweeper takes it over (IN_DOUBT); A wakes, does not
// send, and records the call NOT_SENT. recordedVerdict turns NOT_SENT into
// NotApplied, and resolveClaimed answers every NotApplied transfer FAILED
// TRANSFER_NOT_APPLIED (retryable false), whose message says "the answer to
// transfer call ... was lost and the provider then said it was not
// applied". Neither is true: the call was provably never sent (the brief's
// case for a safe new attempt), the provider was never asked, and the
// upstream is told to check a statement for a transfer that never left.
func TestReviewTransferNeverSentIsNotReportedNotApplied(t *testing.T) {
	t.Parallel()
	const lease = time.Second
	e := newEnv(t, processor.Config{Lease: lease}, "")
	woke := make(chan struct{})
	a := e.newTransferProcessor(processor.Config{Owner: "a", Lease: lease}, processor.Hooks{AfterIntent: func(trackID string) {
		if trackID == "nt-t" {
			time.Sleep(lease + time.Second)
			close(woke)
		}
	}})
	handle := func(topic, value string) {
		t.Helper()
		e.offset++
		if err := a.Handle(context.Background(), kafkaMessage(topic, e.offset, value)); err != nil {
			t.Fatalf("A's Handle: %v", err)
		}
	}
	handle(blockTopic, `{"trackId":"nt-b","provider":"finnotech","clientId":"app-1","amount":6000,"description":"court order","days":30}`)
	handle("blockd.cmd.unblock", `{"trackId":"nt-u","provider":"finnotech","blockTrackId":"nt-b"}`)
	if r := e.onlyResult("nt-u"); r.Status != schemas.StatusDone {
		t.Fatalf("unblock: got %s %+v, want DONE", r.Status, r.Error)
	}
	b := e.newTransferProcessor(processor.Config{Owner: "b", Lease: lease, SweepInterval: 50 * time.Millisecond,
		ResolveRetry: 50 * time.Millisecond, CallTimeout: 500 * time.Millisecond}, processor.Hooks{})
	runProcessor(t, b)
	handle("blockd.cmd.transfer", `{"trackId":"nt-t","provider":"finnotech","unblockTrackId":"nt-u","amount":6000,"destination":"0201000000001","description":"payout"}`)
	<-woke
	waitFor(t, 15*time.Second, "a result for the transfer", func() bool { return len(e.results("nt-t")) > 0 })
	r := e.onlyResult("nt-t")
	if got := e.finnotech.Requests(finnotechfake.OpTransfer); got > 1 {
		t.Fatalf("the transfer was sent %d times", got)
	}
	if r.Error != nil && r.Error.Code == schemas.CodeTransferNotApplied {
		t.Errorf("a transfer whose only call was never sent (sandbox got %d transfer calls) ended FAILED %s, retryable %v: %q",
			e.finnotech.Requests(finnotechfake.OpTransfer), r.Error.Code, r.Error.Retryable, r.Error.Message)
	}
}

// TestReviewCardResolveOfASecondBlockWithTheSameCode: the platform puts a
// block whose slot is in use into the unused slot, even the same letter
// (cardfake's place, the seed). Card's Resolve takes "either slot holds the
// command's code" as Applied and reports codeSlot = the slot asked when it
// holds the code. With an earlier block of the same code in that slot, the
// details read cannot tell this call's code from the earlier one's: block 2
// (answer lost, applied into slot 2) is recorded with codeSlot 1, and
// SLOT_MISMATCH then makes its unblock name slot 1, removing block 1's
// code and leaving block 2's in place.
func TestReviewCardResolveOfASecondBlockWithTheSameCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{}, "")
	const account = "0001000010000000111"
	e.handle(blockTopic, cardBlock("sc1", account)) // "B" into slot 1
	e.card.InjectNext(sandboxfault.FaultApplyThenDrop)
	e.handle(blockTopic, cardBlock("sc2", account)) // "B" asked for slot 1, goes into slot 2; answer lost
	acct, _ := e.card.Account(account)
	var res card.Result
	r := e.onlyResult("sc2")
	if r.Status != schemas.StatusDone || json.Unmarshal(r.Result, &res) != nil {
		t.Fatalf("second block: got %s %s", r.Status, r.Result)
	}
	if acct.BlockCode1 != "B" || acct.BlockCode2 != "B" {
		t.Fatalf("account slots %q %q, want B in both", acct.BlockCode1, acct.BlockCode2)
	}
	if res.CodeSlot != 2 {
		t.Errorf("block sc2's code went into slot 2 (slot 1 held sc1's), but blockd recorded codeSlot %d from the details read (%s): "+
			"its unblock must now name slot %d and would remove sc1's code", res.CodeSlot, res.StateFrom, res.CodeSlot)
	}
}

// TestReviewCardResolveCountsACodeAlreadyThereBeforeTheCallCanLand: Resolve
// takes a block as Applied as soon as either slot holds its code, without
// waiting for CannotLandAfter (unlike its "not applied" and its unblock
// verdicts). When the code was already there (an earlier block of the same
// letter), the timed-out call has not landed yet: the command is DONE at
// once, and the call lands afterwards into the unused slot, a code no
// record knows about; both unblocks then leave the card blocked.
func TestReviewCardResolveCountsACodeAlreadyThereBeforeTheCallCanLand(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{CallTimeout: time.Second, LandingMargin: time.Second}, "")
	const account = "0001000010000000112"
	e.handle(blockTopic, cardBlock("sl1", account))
	e.card.InjectNext(sandboxfault.FaultLateDelivery) // hangs until the client gives up, lands 100ms later
	e.handle(blockTopic, cardBlock("sl2", account))
	r := e.onlyResult("sl2")
	time.Sleep(500 * time.Millisecond)
	acct, _ := e.card.Account(account)
	var after time.Duration
	if err := e.store.DB().Get(&after, `SELECT (extract(epoch FROM c.completed_at - p.started_at) * 1e9)::bigint
		FROM commands c JOIN provider_calls p USING (track_id) WHERE c.track_id = 'sl2'`); err != nil {
		t.Fatal(err)
	}
	var res card.Result
	if r.Status == schemas.StatusDone && (json.Unmarshal(r.Result, &res) != nil || res.CodeSlot != 2 || acct.BlockCode2 != "B") {
		t.Errorf("block sl2 was answered DONE %v after its call's intent with codeSlot %d (from %s), and the account holds %q %q: "+
			"slot 1's B was there before the call (sl1's); only a B in slot 2, where the call landed, is sl2's",
			after.Round(time.Millisecond), res.CodeSlot, res.StateFrom, acct.BlockCode1, acct.BlockCode2)
	}
}

// TestReviewInDoubtCommandOfADisabledProviderGetsItsDeadline:
// resolveClaimed releases the claim of a command whose provider is not
// enabled (and of one whose rules cannot be rebuilt) before it looks at
// ResolveDeadline: such a command is claimed and released forever and
// never gets a terminal result, nor is it listed for reconciliation.
func TestReviewInDoubtCommandOfADisabledProviderGetsItsDeadline(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{}, "")
	ctx := context.Background()
	cmd := schemas.Command{Kind: schemas.KindBlock, TrackID: "dp1", Provider: schemas.ProviderCard, AccountID: "0001000010000000121", BlockCodeSlot: 1, BlockCode: "B"}
	rec, err := e.store.Receive(ctx, cmd, schemas.SourceMeta{Topic: blockTopic}, "dead", time.Minute, func(string) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.BeginCall(ctx, schemas.CallStart{TrackID: "dp1", Claim: rec.Claim, ProviderTrackID: "dp1-a1"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := e.store.MarkInDoubt(ctx, schemas.MarkInDoubtParams{TrackID: "dp1", Claim: rec.Claim, Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.ReleaseInDoubtClaim(ctx, schemas.ReleaseClaimParams{TrackID: "dp1", Claim: rec.Claim}); err != nil {
		t.Fatal(err)
	}
	// This deployment no longer enables the card platform.
	provs := map[schemas.Provider]processor.Provider{schemas.ProviderArhivaar: e.provs[schemas.ProviderArhivaar]}
	p := processor.New(processor.Config{Topics: map[string]schemas.Kind{blockTopic: schemas.KindBlock}, SweepInterval: 50 * time.Millisecond,
		ResolveRetry: 50 * time.Millisecond, ResolveDeadline: 300 * time.Millisecond}, e.store, e.validator, provs, processor.Hooks{},
		zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel))
	runProcessor(t, p)
	time.Sleep(3 * time.Second)
	if rs := e.results("dp1"); len(rs) == 0 {
		st, _ := e.store.State(ctx, "dp1")
		list, _ := e.store.NeedsReconciliation(ctx, 10)
		t.Errorf("10x past ResolveDeadline the command is still %s with no result (reconciliation list: %d entries): claimed and released forever", st, len(list))
	}
}

// TestResendAfterAnUnknownCallNeverEndsNotApplied: an Arhivaar block's call
// is applied and its answer lost (a timeout); once it can no longer land it
// is superseded by a re-send (setting the same state again is safe), and the
// re-send is refused 503 on the last attempt. The 503 says nothing of the
// first call, which blocked the account: the command must not end FAILED
// PROVIDER_UNAVAILABLE (retryable: "not applied, send it again") but FAILED
// OUTCOME_UNKNOWN for an operator. Seen in the full chaos run: an Arhivaar
// account changed state for a command answered PROVIDER_UNAVAILABLE.
func TestResendAfterAnUnknownCallNeverEndsNotApplied(t *testing.T) {
	t.Parallel()
	const callTimeout, margin = 200 * time.Millisecond, 300 * time.Millisecond
	arh := arhivaarfake.New(arhivaarfake.Config{})
	srv := httptest.NewServer(arh)
	t.Cleanup(srv.Close)
	e := newEnv(t, processor.Config{CallTimeout: callTimeout, LandingMargin: margin, ResolveInline: 5 * time.Second,
		ResolveRetry: 50 * time.Millisecond, RetryDelay: time.Millisecond, RetryDelayMax: time.Millisecond,
		Policies: map[schemas.Provider]processor.Policy{schemas.ProviderArhivaar: {MaxAttempts: 2}}}, srv.URL)
	arh.InjectNext(sandboxfault.FaultApplyThenTimeout) // the first call blocks the account; its answer is lost
	arh.InjectNext(sandboxfault.FaultRetryable)        // the re-send, the last attempt: 503, nothing done

	const account = "ab99"
	e.handle(blockTopic, `{"trackId":"su1","provider":"arhivaar","accountId":"`+account+`","note":"court order"}`)
	if a, _ := arh.Account(account); !a.Blocked {
		t.Fatalf("the first call did not block the account at Arhivaar (the fault did not apply it)")
	}
	r := e.onlyResult("su1")
	if r.Status != schemas.StatusFailed || r.Error == nil || r.Error.Code != schemas.CodeOutcomeUnknown || !r.Error.NeedsReconciliation || r.Error.Retryable {
		t.Fatalf("got %s %+v; want FAILED %s, needsReconciliation, not retryable: the first call blocked the account", r.Status, r.Error, schemas.CodeOutcomeUnknown)
	}
}
