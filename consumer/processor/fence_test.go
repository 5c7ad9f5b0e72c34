package processor_test

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/blockd/blockd/consumer/processor"
	"github.com/blockd/blockd/providers/finnotech/finnotechfake"
	"github.com/blockd/blockd/schemas"
)

// TestWorkerPausedPastItsLeaseNeverSendsItsCall is reproduction B at the
// processor: instance A records a call's intent and then pauses (a GC
// pause, a frozen VM) past its lease; instance B's sweeper takes the command
// over and settles it. When A wakes it must not send its call: it can no
// longer prove it holds the command. The provider sees one call.
func TestWorkerPausedPastItsLeaseNeverSendsItsCall(t *testing.T) {
	t.Parallel()
	const lease = time.Second
	e := newEnv(t, processor.Config{Lease: lease}, "")
	woke := make(chan struct{})
	a := e.newProcessor(processor.Config{Owner: "a", Lease: lease}, processor.Hooks{AfterIntent: func(string) {
		time.Sleep(lease + 500*time.Millisecond)
		close(woke)
	}})
	b := e.newProcessor(processor.Config{Owner: "b", Lease: lease, SweepInterval: 50 * time.Millisecond,
		ResolveRetry: 50 * time.Millisecond, LandingMargin: 100 * time.Millisecond, CallTimeout: 200 * time.Millisecond}, processor.Hooks{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("B's Run: %v", err)
		}
	}()

	const account = "0001000010000000077"
	err := a.Handle(context.Background(), kafka.Message{Topic: blockTopic, Offset: 1, Key: []byte("k"), Value: []byte(cardBlock("f1", account))})
	if err != nil {
		t.Fatalf("A's Handle: %v", err)
	}
	<-woke
	waitFor(t, 10*time.Second, "a terminal result for f1", func() bool { return len(e.results("f1")) > 0 })
	r := e.onlyResult("f1")
	if r.Status != schemas.StatusDone {
		t.Fatalf("got %s (%+v), want DONE", r.Status, r.Error)
	}
	if got := e.card.Requests(); got != 1 {
		t.Errorf("the card platform got %d blockUnblock calls, want 1: the paused worker sent its call after losing the command", got)
	}
	var states []string
	if err := e.store.DB().Select(&states, `SELECT state FROM provider_calls WHERE track_id = 'f1' ORDER BY attempt`); err != nil {
		t.Fatal(err)
	}
	// The paused worker's call is settled not applied (FAILED or NOT_SENT);
	// on a loaded machine B's own fence may refuse a stale intent too
	// (NOT_SENT), which is safe; exactly one call, the last, is DONE.
	dones := 0
	for _, st := range states {
		if st == schemas.CallDone {
			dones++
		}
	}
	if len(states) < 2 || states[0] == schemas.CallDone || states[len(states)-1] != schemas.CallDone || dones != 1 {
		t.Errorf("provider calls of f1: got %v, want the paused worker's call settled not applied, then exactly one DONE, last", states)
	}
}

// TestPausedWorkerLeavesOneFinnotechHold is reproduction B as the issue
// found it: one Finnotech block, instance A paused past its lease after
// recording the call's intent, instance B's sweeper taking the command over.
// B must not send again while wages does not know the call (A has not sent
// it), and A must not send once it woke: the sandbox ends with one hold.
func TestPausedWorkerLeavesOneFinnotechHold(t *testing.T) {
	t.Parallel()
	const lease = time.Second
	e := newEnv(t, processor.Config{Lease: lease}, "")
	woke := make(chan struct{})
	a := e.newProcessor(processor.Config{Owner: "a", Lease: lease}, processor.Hooks{AfterIntent: func(string) {
		time.Sleep(lease + time.Second)
		close(woke)
	}})
	b := e.newProcessor(processor.Config{Owner: "b", Lease: lease, SweepInterval: 50 * time.Millisecond,
		ResolveRetry: 50 * time.Millisecond, CallTimeout: 500 * time.Millisecond}, processor.Hooks{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("B's Run: %v", err)
		}
	}()

	block := `{"trackId":"fb1","provider":"finnotech","clientId":"app-1","amount":1500000,"description":"court order","days":30}`
	if err := a.Handle(context.Background(), kafka.Message{Topic: blockTopic, Offset: 1, Key: []byte("k"), Value: []byte(block)}); err != nil {
		t.Fatalf("A's Handle: %v", err)
	}
	<-woke
	waitFor(t, 15*time.Second, "a terminal result for fb1", func() bool { return len(e.results("fb1")) > 0 })
	if r := e.onlyResult("fb1"); r.Status != schemas.StatusDone {
		t.Fatalf("got %s (%+v), want DONE", r.Status, r.Error)
	}
	if got := len(e.finnotech.Holds()); got != 1 {
		t.Errorf("the Finnotech sandbox holds %d blocks for one block command, want 1", got)
	}
	if got := e.finnotech.Requests(finnotechfake.OpBlock); got != 1 {
		t.Errorf("the block was sent %d times, want once", got)
	}
}
