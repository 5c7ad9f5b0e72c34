package processor_test

// Regression tests from the issue-8 review: each one reproduces a
// finding; each failed on the code under review and passes now.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/blockd/blockd/consumer/processor"
	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/providers/arhivaar/arhivaarfake"
	"github.com/blockd/blockd/providers/card"
	"github.com/blockd/blockd/providers/finnotech/finnotechfake"
	"github.com/blockd/blockd/providers/sandboxfault"
	"github.com/blockd/blockd/schemas"
)

// runProcessor runs p's sweeper until the test ends.
func runProcessor(t *testing.T, p *processor.Processor) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
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

func kafkaMessage(topic string, offset int64, value string) kafka.Message {
	return kafka.Message{Topic: topic, Offset: offset, Key: []byte("k"), Value: []byte(value)}
}

// TestReviewCardUnblockOfAFailedBlockRemovesAnotherPartysCode: the new
// SLOT_MISMATCH rule (rules.go) compares the unblock's slot with the slot
// its block's code went into, but Lookup.CodeSlot is read only for a DONE
// block, and for card and Arhivaar applyRules asks only that the named
// block be terminal. An unblock naming a block that FAILED (its code never
// went in) therefore passes every rule and removes whatever code the slot
// holds: another party's, exactly what SLOT_MISMATCH is meant to prevent.
func TestReviewCardUnblockOfAFailedBlockRemovesAnotherPartysCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{}, "")
	const account = "0001000010000000099"
	block := func(trackID, code string) string {
		return fmt.Sprintf(`{"trackId":%q,"provider":"card","accountId":%q,"blockCodeSlot":1,"blockCode":%q}`, trackID, account, code)
	}
	e.handle(blockTopic, block("fb0", "Z")) // another party's high-priority code, slot 1
	e.handle(blockTopic, block("fb1", "C")) // goes into the unused slot 2
	e.handle(blockTopic, block("fb2", "B")) // both slots in use, lower priority: refused
	if r := e.onlyResult("fb2"); r.Status != schemas.StatusFailed {
		t.Fatalf("block into two used slots: got %s %+v, want FAILED", r.Status, r.Error)
	}
	e.handle("blockd.cmd.unblock", fmt.Sprintf(`{"trackId":"fb3","provider":"card","accountId":%q,"blockCodeSlot":1,"blockTrackId":"fb2"}`, account))
	r := e.onlyResult("fb3")
	acct, _ := e.card.Account(account)
	if r.Status != schemas.StatusRejected || acct.BlockCode1 != "Z" {
		t.Errorf("unblock naming the FAILED block fb2: got %s %+v, and slot 1 now holds %q; want REJECTED and slot 1 still holding Z "+
			"(fb2's code never went in: the unblock removed another party's code)", r.Status, r.Error, acct.BlockCode1)
	}
}

// TestReviewCardUnblockNamingABlockOfAnotherAccount: applyRules checks the
// named block's kind, provider, outcome and code slot, never its account.
// An unblock that names block ab0 (account X) but carries account Y passes
// and removes the code in Y's slot: block ab1's, which it does not name.
func TestReviewCardUnblockNamingABlockOfAnotherAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{}, "")
	const x, y = "0001000010000000101", "0001000010000000102"
	e.handle(blockTopic, fmt.Sprintf(`{"trackId":"ab0","provider":"card","accountId":%q,"blockCodeSlot":1,"blockCode":"B"}`, x))
	e.handle(blockTopic, fmt.Sprintf(`{"trackId":"ab1","provider":"card","accountId":%q,"blockCodeSlot":1,"blockCode":"Z"}`, y))
	e.handle("blockd.cmd.unblock", fmt.Sprintf(`{"trackId":"ab2","provider":"card","accountId":%q,"blockCodeSlot":1,"blockTrackId":"ab0"}`, y))
	r := e.onlyResult("ab2")
	acct, _ := e.card.Account(y)
	if r.Status != schemas.StatusRejected || acct.BlockCode1 != "Z" {
		t.Errorf("unblock of account %s naming block ab0 of account %s: got %s %+v, and %s's slot 1 holds %q; want REJECTED and Z kept",
			y, x, r.Status, r.Error, y, acct.BlockCode1)
	}
}

// newTransferProcessor is another instance on e's store and sandboxes that
// also reads transfers.
func (e *env) newTransferProcessor(cfg processor.Config, hooks processor.Hooks) *processor.Processor {
	cfg.Topics = map[string]schemas.Kind{blockTopic: schemas.KindBlock, "blockd.cmd.unblock": schemas.KindUnblock,
		"blockd.cmd.transfer": schemas.KindTransfer}
	cfg.RetryDelay, cfg.RetryDelayMax = 10*time.Millisecond, 20*time.Millisecond
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = 2 * time.Second
	}
	return processor.New(cfg, e.store, e.validator, e.provs, hooks, zerolog.New(zerolog.NewTestWriter(e.t)).Level(zerolog.WarnLevel))
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
