package processor_test

// Tests of the call stage (call.go): attempts recorded before they are
// sent, retried with a new provider trackId, held back by the guard.

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/blockd/blockd/consumer/processor"
	"github.com/blockd/blockd/providers/sandboxfault"
	"github.com/blockd/blockd/schemas"
)

func TestRetryableFailureIsRetriedWithANewAttempt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{}, "")
	e.card.InjectNext(sandboxfault.FaultRetryable)
	e.handle(blockTopic, cardBlock("r1", "0001000010000000001"))
	r := e.onlyResult("r1")
	if r.Status != schemas.StatusDone || r.Attempts != 2 {
		t.Fatalf("got %s after %d attempts (%+v), want DONE after 2", r.Status, r.Attempts, r.Error)
	}
	if got := e.card.Applied(); got != 1 {
		t.Fatalf("sandbox applied %d changes, want 1", got)
	}
}

func TestRetriesAreBoundedAndEndRetryable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{MaxAttempts: 3}, "")
	e.arhivaar.SetFaults(1, 0, 0) // every call: 503, not applied
	e.handle(blockTopic, `{"trackId":"r2","provider":"arhivaar","accountId":"ab12","note":"n"}`)
	r := e.onlyResult("r2")
	if r.Status != schemas.StatusFailed || r.Error == nil || !r.Error.Retryable || r.Error.Code != schemas.CodeProviderUnavailable || r.Attempts != 3 {
		t.Fatalf("got %s after %d attempts (%+v), want FAILED, retryable, PROVIDER_UNAVAILABLE after 3", r.Status, r.Attempts, r.Error)
	}
	if acct, ok := e.arhivaar.Account("ab12"); ok && acct.Changes != 0 {
		t.Fatalf("account changed %d times, want 0", acct.Changes)
	}
}

func TestProviderDownMakesItsCommandsWaitWithoutSpendingAttempts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{MaxAttempts: 2, Policies: map[schemas.Provider]processor.Policy{
		schemas.ProviderArhivaar: {BreakerFailures: 2, BreakerCooldown: time.Hour},
	}}, "")
	e.arhivaar.SetFaults(1, 0, 0)                                                                // down: every call 503
	e.handle(blockTopic, `{"trackId":"d1","provider":"arhivaar","accountId":"ab14","note":"n"}`) // 2 failed attempts open the breaker
	if r := e.onlyResult("d1"); r.Status != schemas.StatusFailed || r.Attempts != 2 {
		t.Fatalf("first command: got %s after %d attempts, want FAILED after 2", r.Status, r.Attempts)
	}
	if got := e.proc.ProviderStates()["arhivaar"]; got != "open" {
		t.Fatalf("arhivaar breaker: got %s, want open", got)
	}
	e.offset++
	err := e.proc.Handle(context.Background(), kafka.Message{Topic: blockTopic, Offset: e.offset, Key: []byte("k2"),
		Value: []byte(`{"trackId":"d2","provider":"arhivaar","accountId":"ab15","note":"n"}`)})
	var held interface{ Deferred() time.Duration }
	if !errors.As(err, &held) || held.Deferred() <= 0 {
		t.Fatalf("Handle while the provider is down: got %v, want an error that defers the message", err)
	}
	if e.arhivaar.RequestsFor("ab15") != 0 {
		t.Fatal("a call was sent to a provider whose breaker is open")
	}
	if st, _ := e.store.State(context.Background(), "d2"); st != schemas.StateReceived {
		t.Fatalf("waiting command state: got %s, want RECEIVED (kept, no attempt spent)", st)
	}
	// Other providers keep flowing.
	e.handle(blockTopic, cardBlock("d3", "0001000010000000005"))
	if r := e.onlyResult("d3"); r.Status != schemas.StatusDone {
		t.Fatalf("card command while arhivaar is down: got %s, want DONE", r.Status)
	}
}

// TestRetriedAttemptGetsANewProviderTrackID: a call refused in a way that
// proves it was not applied is recorded FAILED before the next attempt,
// and the next attempt goes out under a new provider trackId (a provider
// such as Finnotech never replays one).
func TestRetriedAttemptGetsANewProviderTrackID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{}, "")
	e.card.InjectNext(sandboxfault.FaultRetryable)
	e.handle(blockTopic, cardBlock("nt1", "0001000010000000141"))
	if r := e.onlyResult("nt1"); r.Status != schemas.StatusDone {
		t.Fatalf("got %s %+v, want DONE", r.Status, r.Error)
	}
	var calls []struct {
		Attempt         int    `db:"attempt"`
		ProviderTrackID string `db:"provider_track_id"`
		State           string `db:"state"`
	}
	if err := e.store.DB().Select(&calls, `SELECT attempt, provider_track_id, state FROM provider_calls WHERE track_id = 'nt1' ORDER BY attempt`); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || calls[0].State != schemas.CallFailed || calls[1].State != schemas.CallDone {
		t.Fatalf("provider calls of nt1: %+v, want the first FAILED and the second DONE", calls)
	}
	if calls[0].ProviderTrackID == "" || calls[0].ProviderTrackID == calls[1].ProviderTrackID {
		t.Errorf("the retry reused provider trackId %q; each attempt needs its own", calls[0].ProviderTrackID)
	}
}
