// Package providertest is the contract every provider adapter passes
// against its own sandbox: success, each validation refusal, a permanent
// error, a retryable error, a timeout (outcome unknown), a call applied
// whose answer is lost (outcome unknown), and token expiry with refresh.
// Each provider package calls Run from its tests with an Env built on the
// sandbox of its fake (finnotechfake, arhivaarfake, cardfake; the pattern
// of watermill's pubsub/tests.TestPubSub). It also holds the helpers those
// tests share: error checks, a hand-moved Clock and JSONEqual.
package providertest

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/providers/sandboxfault"
	"github.com/blockd/blockd/schemas"
)

// Fault is what a sandbox does to the next call it receives.
type Fault = sandboxfault.Fault

// The faults, re-exported for brevity in provider tests.
const (
	FaultRetryable     = sandboxfault.FaultRetryable
	FaultTimeout       = sandboxfault.FaultTimeout
	FaultApplyThenDrop = sandboxfault.FaultApplyThenDrop
	FaultTokenExpired  = sandboxfault.FaultTokenExpired
)

// Adapter is the provider adapter under test.
type Adapter interface {
	Execute(ctx context.Context, req providers.Request) (json.RawMessage, error)
}

// Case is a request the provider refuses for good, and the provider code
// the refusal must carry.
type Case struct {
	Name string
	Req  func() providers.Request
	Code string
}

// Env is one fresh sandbox with an adapter pointed at it.
type Env struct {
	Adapter Adapter
	// Valid returns a new request the sandbox accepts (fresh ids each call).
	Valid func() providers.Request
	// Invalid are requests the sandbox refuses as invalid input. The suite
	// sends them straight to the adapter, bypassing blockd's own schema
	// checks, to prove the provider's rules are simulated too.
	Invalid []Case
	// Permanent is a request refused for a business reason.
	Permanent Case
	// Inject makes the sandbox apply f to the next call.
	Inject func(f Fault)
	// Applied counts the state changes the sandbox ledger has applied.
	Applied func() int
	// TokensIssued counts tokens the sandbox issued; nil for a provider
	// without tokens (its token case is then skipped, and says why).
	TokensIssued func() int
}

// Run runs the contract against envs made by newEnv.
func Run(t *testing.T, newEnv func(t *testing.T) Env) {
	call := func(t *testing.T, env Env, req providers.Request, timeout time.Duration) (json.RawMessage, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if req.ProviderTrackID == "" {
			req.ProviderTrackID = uuid.NewString()
		}
		return env.Adapter.Execute(ctx, req)
	}
	wantClass := func(t *testing.T, err error, want providers.Class) *providers.Error {
		t.Helper()
		if err == nil {
			t.Fatalf("got no error, want a %s one", want)
		}
		if got := providers.ClassOf(err); got != want {
			t.Fatalf("got class %s (%v), want %s", got, err, want)
		}
		var pe *providers.Error
		errors.As(err, &pe)
		return pe
	}

	t.Run("success", func(t *testing.T) {
		env := newEnv(t)
		before := env.Applied()
		out, err := call(t, env, env.Valid(), 10*time.Second)
		if err != nil {
			t.Fatalf("Execute: %v", err)
		}
		var v map[string]any
		if err := json.Unmarshal(out, &v); err != nil || len(v) == 0 {
			t.Fatalf("result %s is not a non-empty JSON object: %v", out, err)
		}
		if got := env.Applied() - before; got != 1 {
			t.Fatalf("sandbox applied %d changes, want 1", got)
		}
	})
	for _, c := range newEnv(t).Invalid {
		t.Run("invalid/"+c.Name, func(t *testing.T) {
			env := newEnv(t)
			var req providers.Request
			for _, ec := range env.Invalid {
				if ec.Name == c.Name {
					req = ec.Req()
				}
			}
			before := env.Applied()
			_, err := call(t, env, req, 10*time.Second)
			pe := wantClass(t, err, providers.Permanent)
			if pe == nil || pe.Code != c.Code {
				t.Fatalf("got %v, want provider code %s", err, c.Code)
			}
			if env.Applied() != before {
				t.Fatal("an invalid request changed the ledger")
			}
		})
	}
	t.Run("permanent", func(t *testing.T) {
		env := newEnv(t)
		before := env.Applied()
		_, err := call(t, env, env.Permanent.Req(), 10*time.Second)
		pe := wantClass(t, err, providers.Permanent)
		if env.Permanent.Code != "" && (pe == nil || pe.Code != env.Permanent.Code) {
			t.Fatalf("got %v, want provider code %s", err, env.Permanent.Code)
		}
		if env.Applied() != before {
			t.Fatal("a refused request changed the ledger")
		}
	})
	t.Run("retryable", func(t *testing.T) {
		env := newEnv(t)
		before := env.Applied()
		env.Inject(FaultRetryable)
		_, err := call(t, env, env.Valid(), 10*time.Second)
		wantClass(t, err, providers.Retryable)
		if env.Applied() != before {
			t.Fatal("a retryable failure changed the ledger")
		}
		if _, err := call(t, env, env.Valid(), 10*time.Second); err != nil {
			t.Fatalf("the next attempt failed: %v", err)
		}
	})
	t.Run("timeout is outcome unknown", func(t *testing.T) {
		env := newEnv(t)
		before := env.Applied()
		env.Inject(FaultTimeout)
		_, err := call(t, env, env.Valid(), 300*time.Millisecond)
		wantClass(t, err, providers.Unknown)
		if env.Applied() != before {
			t.Fatal("a timed-out call changed the ledger")
		}
	})
	t.Run("applied then dropped is outcome unknown", func(t *testing.T) {
		env := newEnv(t)
		before := env.Applied()
		env.Inject(FaultApplyThenDrop)
		_, err := call(t, env, env.Valid(), 10*time.Second)
		wantClass(t, err, providers.Unknown)
		if got := env.Applied() - before; got != 1 {
			t.Fatalf("sandbox applied %d changes, want 1 (applied before the drop)", got)
		}
	})
	t.Run("token expiry and refresh", func(t *testing.T) {
		env := newEnv(t)
		if env.TokensIssued == nil {
			t.Skip("this provider authenticates every request with a signature; it has no token to expire")
		}
		if _, err := call(t, env, env.Valid(), 10*time.Second); err != nil {
			t.Fatalf("warm-up call: %v", err)
		}
		issued, before := env.TokensIssued(), env.Applied()
		env.Inject(FaultTokenExpired)
		_, err := call(t, env, env.Valid(), 10*time.Second)
		pe := wantClass(t, err, providers.Retryable)
		if pe == nil || pe.Code != providers.CodeTokenExpired {
			t.Fatalf("got %v, want code %s", err, providers.CodeTokenExpired)
		}
		if env.Applied() != before {
			t.Fatal("a call refused for its token changed the ledger")
		}
		if _, err := call(t, env, env.Valid(), 10*time.Second); err != nil {
			t.Fatalf("the attempt after the refresh failed: %v", err)
		}
		if env.TokensIssued() <= issued {
			t.Fatal("no new token was fetched after the dead-token signal")
		}
	})
}

// ProviderError returns the *providers.Error in err, failing the test when
// there is none.
func ProviderError(tb testing.TB, err error) *providers.Error {
	tb.Helper()
	var pe *providers.Error
	if !errors.As(err, &pe) {
		tb.Fatalf("got error %v (%T), want a *providers.Error", err, err)
	}
	return pe
}

// WantError checks that err is a *providers.Error from provider with the
// class, code and HTTP status given, and returns it.
func WantError(tb testing.TB, err error, provider schemas.Provider, class providers.Class, code string, httpStatus int) *providers.Error {
	tb.Helper()
	if err == nil {
		tb.Fatalf("got no error, want %s %s (HTTP %d)", class, code, httpStatus)
	}
	pe := ProviderError(tb, err)
	if pe.Provider != provider {
		tb.Errorf("got provider %q, want %q", pe.Provider, provider)
	}
	if pe.Class != class || pe.Code != code || pe.HTTPStatus != httpStatus {
		tb.Errorf("got %s %q (HTTP %d), want %s %q (HTTP %d); error: %v",
			pe.Class, pe.Code, pe.HTTPStatus, class, code, httpStatus, err)
	}
	return pe
}

// Clock is a clock a test moves by hand; its Now method fits the Now
// fields of the clients' and the fakes' configs. It is safe for concurrent
// use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock showing t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the time the clock shows.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock d forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// JSONEqual fails the test when got and want do not encode to the same
// JSON.
func JSONEqual(tb testing.TB, got, want any) {
	tb.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		tb.Fatalf("encoding got: %v", err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		tb.Fatalf("encoding want: %v", err)
	}
	if string(g) != string(w) {
		tb.Errorf("got  %s\nwant %s", g, w)
	}
}
