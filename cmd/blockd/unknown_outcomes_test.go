package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blockd/blockd/consumer/processor"
	"github.com/blockd/blockd/providers/finnotech/finnotechfake"
	"github.com/blockd/blockd/providers/sandboxfault"
	"github.com/blockd/blockd/schemas"
	"github.com/blockd/blockd/store"
)

// holdsOf counts the sandbox holds of amount: each test uses its own.
func holdsOf(sb *finnotechfake.Sandbox, amount int64) int {
	n := 0
	for _, h := range sb.Holds() {
		if h.Amount == amount {
			n++
		}
	}
	return n
}

// TestFinnotechUnknownOutcomesAreSettledNeverResent sends one block per
// fault mode of an unknown (or a failed) outcome through the whole pipeline
// (Kafka in, result out) and checks the sandbox's ledger: the block is sent
// once and held exactly once when it was applied, and never when not. The
// first case is reproduction A: the call timed out while it was still on
// its way, wages did not know it yet, and the old code sent it again.
func TestFinnotechUnknownOutcomesAreSettledNeverResent(t *testing.T) {
	if testing.Short() {
		t.Skip("each unknown-outcome fault through Kafka, PostgreSQL and the Finnotech fake: long integration run; run without -short")
	}
	h := newHarness(t, processor.Hooks{}, "BLOCKD_CALL_TIMEOUT", "1s")
	cases := []struct {
		name  string
		fault sandboxfault.Fault
		// want is the result's status; applied says the block took effect
		// (and so must be held once, with the result saying wages settled it).
		want    schemas.Status
		applied bool
		code    string
	}{
		{"late delivery: reproduction A", sandboxfault.FaultLateDelivery, schemas.StatusDone, true, ""},
		{"applied then HTTP 408", sandboxfault.FaultApplyThenTimeout, schemas.StatusDone, true, ""},
		{"applied then provider not responding", sandboxfault.FaultApplyThenNotResponding, schemas.StatusDone, true, ""},
		{"wages UNKNOWN for a window, then DONE", sandboxfault.FaultStatusLags, schemas.StatusDone, true, ""},
		{"nested FAILED at HTTP 200", sandboxfault.FaultNestedFailed, schemas.StatusFailed, false, schemas.CodeProviderRejected},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, amount := fmt.Sprintf("uo-%d", i), int64(2_000_000+i)
			before := h.sandbox.Requests(finnotechfake.OpBlock)
			h.sandbox.InjectNext(tc.fault)
			h.publish(h.cfg.TopicBlock, "acct-uo-"+id, blockJSON(id, amount))
			r := h.awaitResults(id, 1)[0]
			settle()
			if got := len(h.results.byKey(id)); got != 1 {
				t.Fatalf("got %d results, want 1", got)
			}
			if r.Status != tc.want || (tc.code != "" && (r.Error == nil || r.Error.Code != tc.code)) {
				t.Fatalf("got %s %+v, want %s %s", r.Status, r.Error, tc.want, tc.code)
			}
			if got := h.sandbox.Requests(finnotechfake.OpBlock) - before; got != 1 {
				t.Errorf("the block was sent %d times, want once", got)
			}
			wantHolds := 0
			if tc.applied {
				wantHolds = 1
				var res schemas.FinnotechBlockResult
				if err := json.Unmarshal(r.Result, &res); err != nil {
					t.Fatal(err)
				}
				if res.Amount != amount || res.Deposit == "" || res.BlockDate == "" || res.Inquiry == nil || res.Inquiry.Service != schemas.FinnotechInquiryWages {
					t.Errorf("result %s: want the amount, a deposit and blockDate, and an inquiry naming wages", r.Result)
				}
			}
			if got := holdsOf(h.sandbox, amount); got != wantHolds {
				t.Errorf("the sandbox holds %d blocks of %d rials, want %d", got, amount, wantHolds)
			}
		})
	}
}

// TestCallNotAppliedIsResentOnlyWhenWagesSaysFailed: a block whose call
// timed out without being applied is sent again (new trackId) only once
// wages says FAILED; a transfer in the same state is not sent again: it
// ends FAILED TRANSFER_NOT_APPLIED and its hold is free for a new transfer.
func TestCallNotAppliedIsResentOnlyWhenWagesSaysFailed(t *testing.T) {
	if testing.Short() {
		t.Skip("timed-out block and transfer through Kafka: long integration run; run without -short")
	}
	h := newHarness(t, processor.Hooks{}, "BLOCKD_CALL_TIMEOUT", "1s")
	const acct = "acct-nf"

	h.sandbox.InjectNext(sandboxfault.FaultTimeout)
	h.publish(h.cfg.TopicBlock, acct, blockJSON("nf-b", 7000))
	if r := h.awaitResults("nf-b", 1)[0]; r.Status != schemas.StatusDone || r.Attempts != 2 {
		t.Fatalf("block: got %s after %d attempts %+v, want DONE after 2", r.Status, r.Attempts, r.Error)
	}
	if got := h.sandbox.Requests(finnotechfake.OpBlock); got != 2 {
		t.Fatalf("block sent %d times, want 2 (the timed-out one, then one after wages said FAILED)", got)
	}
	if got := holdsOf(h.sandbox, 7000); got != 1 {
		t.Fatalf("holds: %d, want 1", got)
	}

	h.publish(h.cfg.TopicUnblock, acct, `{"trackId":"nf-u","provider":"finnotech","blockTrackId":"nf-b"}`)
	if r := h.awaitResults("nf-u", 1)[0]; r.Status != schemas.StatusDone {
		t.Fatalf("unblock: got %s %+v", r.Status, r.Error)
	}
	transfer := func(trackID string) string {
		return fmt.Sprintf(`{"trackId":%q,"provider":"finnotech","unblockTrackId":"nf-u","amount":6000,"destination":"0201000000001","description":"payout"}`, trackID)
	}
	h.sandbox.InjectNext(sandboxfault.FaultTimeout)
	h.publish(h.cfg.TopicTransfer, acct, transfer("nf-t1"))
	r := h.awaitResults("nf-t1", 1)[0]
	if r.Status != schemas.StatusFailed || r.Error == nil || r.Error.Code != schemas.CodeTransferNotApplied || r.Error.Retryable {
		t.Fatalf("timed-out transfer: got %s %+v, want FAILED TRANSFER_NOT_APPLIED, not retryable", r.Status, r.Error)
	}
	settle()
	if got := h.sandbox.Requests(finnotechfake.OpTransfer); got != 1 {
		t.Fatalf("transfer sent %d times, want once: a transfer whose answer was lost is never sent again", got)
	}
	h.publish(h.cfg.TopicTransfer, acct, transfer("nf-t2"))
	if r := h.awaitResults("nf-t2", 1)[0]; r.Status != schemas.StatusDone {
		t.Fatalf("the upstream's new transfer: got %s %+v, want DONE", r.Status, r.Error)
	}
}

// TestPausedWorkerNeverSendsAStaleCall is reproduction B through the
// pipeline: the worker that recorded a call's intent pauses past its lease
// before sending. It must not send: the call is recorded NOT_SENT, the
// command is carried on with a new call, and the sandbox holds one block.
func TestPausedWorkerNeverSendsAStaleCall(t *testing.T) {
	if testing.Short() {
		t.Skip("a paused worker through Kafka: long integration run; run without -short")
	}
	var paused atomic.Bool
	hooks := processor.Hooks{AfterIntent: func(string) {
		if paused.CompareAndSwap(false, true) {
			time.Sleep(3500 * time.Millisecond) // BLOCKD_LEASE is 3s in the harness
		}
	}}
	h := newHarness(t, hooks)
	h.publish(h.cfg.TopicBlock, "acct-p", blockJSON("pz-1", 9100))
	r := h.awaitResults("pz-1", 1)[0]
	if r.Status != schemas.StatusDone {
		t.Fatalf("got %s %+v, want DONE", r.Status, r.Error)
	}
	settle()
	if got := h.sandbox.Requests(finnotechfake.OpBlock); got != 1 {
		t.Fatalf("block sent %d times, want once: the paused worker sent its stale call", got)
	}
	if got := holdsOf(h.sandbox, 9100); got != 1 {
		t.Fatalf("holds: %d, want 1", got)
	}
	st, err := store.Open(context.Background(), h.cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var states []string
	if err := st.DB().Select(&states, `SELECT state FROM provider_calls WHERE track_id = 'pz-1' ORDER BY attempt`); err != nil {
		t.Fatal(err)
	}
	if len(states) != 2 || states[0] != schemas.CallNotSent || states[1] != schemas.CallDone {
		t.Fatalf("provider calls: %v, want [NOT_SENT DONE]", states)
	}
}
