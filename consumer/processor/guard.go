package processor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/schemas"
)

// Policy is how one provider is protected and retried. Zero fields take the
// defaults in the comments (or the processor-wide setting).
type Policy struct {
	// RateLimit caps calls per second to the provider (0: no limit); Burst
	// is how many may go at once (default 1 + RateLimit/10).
	RateLimit float64
	Burst     int
	// BreakerFailures consecutive failed calls (not applied or of unknown
	// outcome) open the provider's circuit breaker. Default 10.
	BreakerFailures uint32
	// BreakerCooldown is how long the breaker stays open before one trial
	// call is let through. Default 10s.
	BreakerCooldown time.Duration
	// MaxAttempts and RetryBudget override Config's for this provider.
	MaxAttempts int
	RetryBudget time.Duration
}

// guard is one provider's rate limiter and circuit breaker.
type guard struct {
	limiter *rate.Limiter
	breaker *gobreaker.TwoStepCircuitBreaker[struct{}]
	policy  Policy
}

func newGuard(name schemas.Provider, p Policy) *guard {
	if p.BreakerFailures == 0 {
		p.BreakerFailures = 10
	}
	if p.BreakerCooldown == 0 {
		p.BreakerCooldown = 10 * time.Second
	}
	limit := rate.Inf
	if p.RateLimit > 0 {
		limit = rate.Limit(p.RateLimit)
		if p.Burst == 0 {
			p.Burst = 1 + int(p.RateLimit/10)
		}
	}
	failures := p.BreakerFailures
	return &guard{
		limiter: rate.NewLimiter(limit, max(p.Burst, 1)),
		breaker: gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
			Name:        string(name),
			MaxRequests: 1,
			Timeout:     p.BreakerCooldown,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
			// An admitted call that was never sent proves nothing either
			// way: above all, a half-open breaker's trial must not close it.
			IsExcluded: func(err error) bool { return errors.Is(err, errNothingSent) },
		}),
		policy: p,
	}
}

// errNothingSent is what a caller reports for an admitted call it did not
// send (its intent could not be recorded, or the fence held it back).
var errNothingSent = errors.New("no call was sent")

// providerDown is returned by Handle when a provider's breaker is open: the
// command stays stored and claimed, no attempt is spent, and the consumer
// holds the message back (without holding an in-flight slot) until
// Deferred has passed.
type providerDown struct {
	provider schemas.Provider
	retryIn  time.Duration
}

func (e *providerDown) Error() string {
	return fmt.Sprintf("provider %s is unavailable (circuit breaker open); waiting %s", e.provider, e.retryIn)
}

// Deferred tells the consumer how long to hold the message back.
func (e *providerDown) Deferred() time.Duration { return e.retryIn }

// admit waits for the provider's rate limiter and asks its breaker for a
// call. done must be called with the call's error class; a nil done and a
// *providerDown error mean the breaker is open.
func (g *guard) admit(ctx context.Context, p schemas.Provider) (done func(callErr error, class providers.Class), err error) {
	if err := g.limiter.Wait(ctx); err != nil {
		return nil, fmt.Errorf("waiting for %s rate limit: %w", p, err)
	}
	report, err := g.breaker.Allow()
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return nil, &providerDown{provider: p, retryIn: min(g.policy.BreakerCooldown, 2*time.Second)}
	}
	if err != nil {
		return nil, fmt.Errorf("asking %s circuit breaker: %w", p, err)
	}
	return func(callErr error, class providers.Class) {
		// A refusal proves the provider is up; only failures that say
		// nothing was done, or nothing is known, count against it.
		if errors.Is(callErr, errNothingSent) {
			report(errNothingSent)
			return
		}
		if callErr == nil || class == providers.Permanent {
			report(nil)
			return
		}
		report(callErr)
	}, nil
}

// state is the breaker's state: "closed", "half-open" or "open".
func (g *guard) state() string { return g.breaker.State().String() }
