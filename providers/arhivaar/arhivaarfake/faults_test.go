package arhivaarfake

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/providers/sandboxfault"
)

// TestSandboxFaultsOfUnknownOutcome covers the faults whose call may have
// been applied, and their fallbacks, as the sandbox answers them.
func TestSandboxFaultsOfUnknownOutcome(t *testing.T) {
	tests := []struct {
		name        string
		fault       sandboxfault.Fault
		wantClass   providers.Class
		wantCode    string
		wantStatus  int
		wantApplied int
	}{
		{"apply then timeout answers 504", sandboxfault.FaultApplyThenTimeout, providers.Unknown, "GATEWAY_TIMEOUT", http.StatusGatewayTimeout, 1},
		{"apply then not responding is the same 504", sandboxfault.FaultApplyThenNotResponding, providers.Unknown, "GATEWAY_TIMEOUT", http.StatusGatewayTimeout, 1},
		{"status lags is an apply then drop", sandboxfault.FaultStatusLags, providers.Unknown, "", 0, 1},
		{"nested failed is the 503", sandboxfault.FaultNestedFailed, providers.Retryable, "SERVICE_UNAVAILABLE", http.StatusServiceUnavailable, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Config{})
			id := newAccountID(t)
			f.sandbox.InjectNext(tc.fault)
			err := f.client.SetBlocked(context.Background(), id, true, "n")
			wantError(t, err, tc.wantClass, tc.wantCode, tc.wantStatus)
			if got := f.sandbox.Applied(); got != tc.wantApplied {
				t.Errorf("got %d applied calls, want %d", got, tc.wantApplied)
			}
			if a, _ := f.sandbox.Account(id); a.Blocked != (tc.wantApplied == 1) {
				t.Errorf("got account %+v, want it blocked only when applied", a)
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
	err := f.client.SetBlocked(ctx, id, true, "Maksmata arve.")
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
	if a, _ := f.sandbox.Account(id); !a.Blocked || a.Note != "Maksmata arve." {
		t.Errorf("got account %+v, want it blocked by the late call", a)
	}
	if got := f.sandbox.RequestsFor(id); got != 1 {
		t.Errorf("got %d requests for the account, want 1", got)
	}
}

// TestSandboxFaultRatesOfTheOtherFaults: each fault can be drawn at a rate.
func TestSandboxFaultRatesOfTheOtherFaults(t *testing.T) {
	f := newFixture(t, Config{Rates: map[sandboxfault.Fault]float64{sandboxfault.FaultApplyThenTimeout: 1}})
	err := f.client.SetBlocked(context.Background(), newAccountID(t), true, "n")
	wantError(t, err, providers.Unknown, "GATEWAY_TIMEOUT", http.StatusGatewayTimeout)

	f.sandbox.SetFaultRates(map[sandboxfault.Fault]float64{sandboxfault.FaultNestedFailed: 1})
	err = f.client.SetBlocked(context.Background(), newAccountID(t), true, "n")
	wantError(t, err, providers.Retryable, "SERVICE_UNAVAILABLE", http.StatusServiceUnavailable)

	f.sandbox.SetFaultRates(nil)
	if err := f.client.SetBlocked(context.Background(), newAccountID(t), true, "n"); err != nil {
		t.Fatalf("with no faults: %v", err)
	}
	if got, want := f.sandbox.Applied(), 2; got != want {
		t.Errorf("got %d applied calls, want %d", got, want)
	}
}
