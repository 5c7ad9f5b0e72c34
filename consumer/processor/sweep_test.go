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

// TestTakenOverCommandThatMustWaitIsGivenBack: a command the sweeper
// carries on whose reference is not ready yet is not held while it waits:
// ProcessClaimed gives its claim back, the command stays RECEIVED and
// unanswered, and any instance takes it over after the wait.
func TestTakenOverCommandThatMustWaitIsGivenBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{}, "")
	ctx := context.Background()
	// A dead instance stored an unblock whose block has not arrived.
	cmd := schemas.Command{Kind: schemas.KindUnblock, TrackID: "gb-u", Provider: schemas.ProviderFinnotech, BlockTrackID: "gb-b"}
	if _, err := e.store.Receive(ctx, cmd, schemas.SourceMeta{Topic: "blockd.cmd.unblock"}, "dead-instance", time.Millisecond, func(string) bool { return false }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // its lease runs out
	claimed, _, err := e.store.TakeOverAbandoned(ctx, "sweeper", time.Minute, 100)
	if err != nil || len(claimed) != 1 || claimed[0].Command.TrackID != "gb-u" {
		t.Fatalf("taking over: %+v, %v; want gb-u", claimed, err)
	}
	if err := e.proc.ProcessClaimed(ctx, claimed[0]); err != nil {
		t.Fatalf("ProcessClaimed of a command that must wait: %v, want nil (its claim given back)", err)
	}
	var row struct {
		State string  `db:"state"`
		Owner *string `db:"owner"`
	}
	if err := e.store.DB().Get(&row, `SELECT state, owner FROM commands WHERE track_id = 'gb-u'`); err != nil {
		t.Fatal(err)
	}
	if row.State != string(schemas.StateReceived) || row.Owner != nil {
		t.Errorf("after ProcessClaimed gb-u is %s owned by %v, want RECEIVED and unowned", row.State, row.Owner)
	}
	if rs := e.answersFor("gb-u"); len(rs) != 0 {
		t.Errorf("a waiting command was answered: %d messages", len(rs))
	}
	waitFor(t, 10*time.Second, "gb-u to be taken over again after its wait", func() bool {
		again, _, err := e.store.TakeOverAbandoned(ctx, "another", time.Minute, 100)
		return err == nil && len(again) == 1
	})
}
