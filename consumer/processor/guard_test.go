package processor

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/schemas"
)

func TestRateLimitHoldsCallsBack(t *testing.T) {
	g := newGuard("card", Policy{RateLimit: 1, Burst: 1}) // one call a second
	report, err := g.admit(context.Background(), schemas.ProviderCard)
	if err != nil {
		t.Fatalf("first call: %v", err)
	}
	report(nil, providers.Permanent)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := g.admit(ctx, schemas.ProviderCard); err == nil {
		t.Fatal("a second call within the same second was admitted with a limit of 1/s")
	}
	unlimited := newGuard("card", Policy{})
	for i := range 100 {
		r, err := unlimited.admit(context.Background(), schemas.ProviderCard)
		if err != nil {
			t.Fatalf("call %d without a limit: %v", i, err)
		}
		r(nil, providers.Permanent)
	}
}

// TestHalfOpenTrialNotSentKeepsTheBreakerHalfOpen: a half-open breaker
// admits one trial call; when that call is never sent (its intent could not
// be recorded, or the fence held it back), nothing is proven, and the
// breaker must not close as if the provider had answered.
func TestHalfOpenTrialNotSentKeepsTheBreakerHalfOpen(t *testing.T) {
	g := newGuard("card", Policy{BreakerFailures: 1, BreakerCooldown: 50 * time.Millisecond})
	report, err := g.admit(context.Background(), schemas.ProviderCard)
	if err != nil {
		t.Fatal(err)
	}
	report(errors.New("503"), providers.Retryable)
	if got := g.state(); got != "open" {
		t.Fatalf("after one failure with BreakerFailures 1: got %s, want open", got)
	}
	time.Sleep(60 * time.Millisecond)
	trial, err := g.admit(context.Background(), schemas.ProviderCard)
	if err != nil {
		t.Fatalf("half-open trial: %v", err)
	}
	trial(errNothingSent, providers.Permanent)
	if got := g.state(); got != "half-open" {
		t.Fatalf("after a trial that sent nothing: got %s, want half-open", got)
	}
	// The next admitted call is the trial that counts.
	trial, err = g.admit(context.Background(), schemas.ProviderCard)
	if err != nil {
		t.Fatalf("second trial: %v", err)
	}
	trial(nil, providers.Permanent)
	if got := g.state(); got != "closed" {
		t.Fatalf("after a trial that was answered: got %s, want closed", got)
	}
}
