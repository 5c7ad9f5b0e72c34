package processor_test

// Tests of the sweeper (sweep.go): commands abandoned by a dead owner are
// carried on.

import (
	"context"
	"testing"
	"time"

	"github.com/blockd/blockd/consumer/processor"
	"github.com/blockd/blockd/schemas"
)

func TestAbandonedCommandIsTakenOverAfterItsLease(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{Lease: 300 * time.Millisecond, SweepInterval: 50 * time.Millisecond}, "")
	// A dead instance stored the command and never called the provider.
	cmd := schemas.Command{Kind: schemas.KindBlock, TrackID: "a1", Provider: schemas.ProviderCard, AccountID: "0001000010000000004", BlockCodeSlot: 1, BlockCode: "B"}
	if _, err := e.store.Receive(context.Background(), cmd, schemas.SourceMeta{Topic: blockTopic}, "dead-instance", 100*time.Millisecond, func(string) bool { return false }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.proc.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for len(e.results("a1")) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if r := e.onlyResult("a1"); r.Status != schemas.StatusDone {
		t.Fatalf("got %s %+v, want DONE", r.Status, r.Error)
	}
	if got := e.card.Applied(); got != 1 {
		t.Fatalf("sandbox applied %d changes, want 1", got)
	}
}
