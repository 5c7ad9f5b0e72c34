package cardfake

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/providers/card/internal/wire"
	"github.com/blockd/blockd/providers/sandboxfault"
)

// TestSandboxFaultsOfUnknownOutcome covers the faults whose call may have
// been applied, as the card platform answers them.
func TestSandboxFaultsOfUnknownOutcome(t *testing.T) {
	tests := []struct {
		name        string
		fault       sandboxfault.Fault
		wantClass   providers.Class
		wantCode    string
		wantStatus  int
		wantApplied int
	}{
		{"apply then timeout answers 504 with the error array", sandboxfault.FaultApplyThenTimeout, providers.Unknown, wire.CodeGatewayTimeout, http.StatusGatewayTimeout, 1},
		{"apply then not responding is the same 504", sandboxfault.FaultApplyThenNotResponding, providers.Unknown, wire.CodeGatewayTimeout, http.StatusGatewayTimeout, 1},
		{"status lags is an apply then drop", sandboxfault.FaultStatusLags, providers.Unknown, "", 0, 1},
		{"nested failed is the 503", sandboxfault.FaultNestedFailed, providers.Retryable, wire.CodeServiceUnavailable, http.StatusServiceUnavailable, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Config{})
			id := newAccountID(t)
			f.sandbox.InjectNext(tc.fault)
			_, err := f.client.SetBlockCode(context.Background(), id, 1, "B", 0, "c")
			wantError(t, err, tc.wantClass, tc.wantCode, tc.wantStatus)
			if got := f.sandbox.Applied(); got != tc.wantApplied {
				t.Errorf("got %d applied, want %d", got, tc.wantApplied)
			}
			if a, _ := f.sandbox.Account(id); (a.BlockCode1 == "B") != (tc.wantApplied == 1) {
				t.Errorf("got slot 1 %q, want B only when applied", a.BlockCode1)
			}
		})
	}
}

// TestSandboxLateDelivery: the call hangs unanswered until the client gives
// up, then takes effect LateBy later, and is never answered.
func TestSandboxLateDelivery(t *testing.T) {
	const lateBy = 150 * time.Millisecond
	f := newFixture(t, Config{LateBy: lateBy})
	id := newAccountID(t)
	f.sandbox.InjectNext(sandboxfault.FaultLateDelivery)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := f.client.Tokens().Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := f.client.SetBlockCode(ctx, id, 1, "B", 0, "c")
	wantError(t, err, providers.Unknown, "", 0)
	gaveUp := time.Now()
	if got := f.sandbox.Applied(); got != 0 {
		t.Fatalf("got %d applied when the client gave up, want 0", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.sandbox.Applied() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	landed := time.Since(gaveUp)
	if got := f.sandbox.Applied(); got != 1 {
		t.Fatalf("got %d applied, want the late call applied", got)
	}
	if landed < lateBy/2 {
		t.Errorf("the call landed %s after the client gave up, want about %s", landed, lateBy)
	}
	if a, _ := f.sandbox.Account(id); a.BlockCode1 != "B" {
		t.Errorf("got slot 1 %q, want B", a.BlockCode1)
	}
}

// TestSandboxFaultRatesOfTheOtherFaults: each fault can be drawn at a rate.
func TestSandboxFaultRatesOfTheOtherFaults(t *testing.T) {
	f := newFixture(t, Config{Rates: map[sandboxfault.Fault]float64{sandboxfault.FaultApplyThenTimeout: 1}})
	_, err := f.client.SetBlockCode(context.Background(), newAccountID(t), 1, "B", 0, "c")
	wantError(t, err, providers.Unknown, wire.CodeGatewayTimeout, http.StatusGatewayTimeout)

	f.sandbox.SetFaultRates(map[sandboxfault.Fault]float64{sandboxfault.FaultNestedFailed: 1})
	_, err = f.client.SetBlockCode(context.Background(), newAccountID(t), 1, "B", 0, "c")
	wantError(t, err, providers.Retryable, wire.CodeServiceUnavailable, http.StatusServiceUnavailable)

	f.sandbox.SetFaultRates(nil)
	if _, err := f.client.SetBlockCode(context.Background(), newAccountID(t), 1, "B", 0, "c"); err != nil {
		t.Fatalf("with no faults: %v", err)
	}
	if got, want := f.sandbox.Applied(), 2; got != want {
		t.Errorf("got %d applied, want %d", got, want)
	}
}
