package finnotech_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/blockd/blockd/providers"
	. "github.com/blockd/blockd/providers/finnotech"
	"github.com/blockd/blockd/providers/finnotech/finnotechfake"
	"github.com/blockd/blockd/providers/finnotech/internal/wire"
	"github.com/blockd/blockd/providers/sandboxfault"
)

// TestFaultModes: each fault of the documents' unknown outcomes, as the
// fake inflicts it on a block, how the client classifies the call, and what
// Resolve says about it over time.
func TestFaultModes(t *testing.T) {
	const lag = 300 * time.Millisecond
	tests := []struct {
		name  string
		fault sandboxfault.Fault
		// timeout bounds the call; the client gives up after it.
		timeout time.Duration
		// The client's classification of the call.
		wantClass  providers.Class
		wantCode   string
		wantStatus int
		// Resolve's verdict right after the call, and once it settles.
		wantFirst, wantLast providers.Verdict
		// wantApplied: the fake holds the block in the end.
		wantApplied bool
	}{
		{"late delivery: applied after the client gave up, never answered", sandboxfault.FaultLateDelivery, 200 * time.Millisecond,
			providers.Unknown, "", 0, providers.Unproven, providers.Applied, true},
		{"apply then timeout: 408", sandboxfault.FaultApplyThenTimeout, 10 * time.Second,
			providers.Unknown, wire.CodeRequestTimeout, http.StatusRequestTimeout, providers.Applied, providers.Applied, true},
		{"apply then provider not responding", sandboxfault.FaultApplyThenNotResponding, 10 * time.Second,
			providers.Unknown, wire.CodeServiceCall, http.StatusBadRequest, providers.Applied, providers.Applied, true},
		{"status lags: UNKNOWN, then DONE", sandboxfault.FaultStatusLags, 10 * time.Second,
			providers.Unknown, "", 0, providers.Unproven, providers.Applied, true},
		{"nested failed", sandboxfault.FaultNestedFailed, 10 * time.Second,
			providers.Permanent, wire.CodeServiceCall, http.StatusOK, providers.NotApplied, providers.NotApplied, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, finnotechfake.Config{LateBy: lag, StatusLag: lag}, "tok")
			a := NewAdapter(f.client)
			req := blockRequest(t, 50_000)
			f.sandbox.InjectNext(tc.fault)
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			out, err := a.Execute(ctx, req)
			if out != nil {
				t.Errorf("Execute = %s, want no result", out)
			}
			wantError(t, err, tc.wantClass, tc.wantCode, tc.wantStatus)

			if got := resolve(t, a, req); got.Verdict != tc.wantFirst {
				t.Errorf("Resolve right after the call = %s (%s), want %s", got.Verdict, got.Evidence, tc.wantFirst)
			}
			var last Resolution
			eventually(t, "the call to settle", func() bool {
				last = resolve(t, a, req)
				return last.Verdict == tc.wantLast
			})
			if _, ok := f.sandbox.Hold(req.ProviderTrackID); ok != tc.wantApplied {
				t.Errorf("fake holds the block: %v, want %v", ok, tc.wantApplied)
			}
			wantCalls := 0
			if tc.wantApplied {
				wantCalls = 1
			}
			if got := f.sandbox.CallCount(finnotechfake.OpBlock); got != wantCalls {
				t.Errorf("CallCount(block) = %d, want %d", got, wantCalls)
			}
			if got := f.sandbox.Requests(finnotechfake.OpBlock); got != 1 {
				t.Errorf("Requests(block) = %d, want 1", got)
			}
		})
	}
}

// TestFaultStatusLagsTransfer: a transfer wages says UNKNOWN about is
// settled by the unblock-transfer inquiry, which knows it is DONE.
func TestFaultStatusLagsTransfer(t *testing.T) {
	f := newFixture(t, finnotechfake.Config{StatusLag: time.Hour}, "tok")
	a := NewAdapter(f.client)
	blockID, b := f.block(t, "app-1", 5000)
	req := transferRequest(t, blockID, b, f.unblock(t, "app-1", blockID, b), 4000)
	f.sandbox.InjectNext(sandboxfault.FaultStatusLags)
	if _, err := a.Execute(context.Background(), req); providers.ClassOf(err) != providers.Unknown {
		t.Fatalf("Execute: %v, want an unknown outcome", err)
	}
	if st := f.callStatus(t, "app-1", req.ProviderTrackID); st != CallUnknown {
		t.Errorf("wages says %s, want UNKNOWN during the lag", st)
	}
	res := resolve(t, a, req)
	if res.Verdict != providers.Applied {
		t.Fatalf("Resolve = %+v, want applied by the transfer inquiry", res)
	}
	sameJSON(t, res.Result, `{"amount":4000,"source":"`+b.Deposit+`","destination":"`+destination+`","transferDate":"951210",`+
		`"unblockTrackId":"ubl-1","providerTrackId":"`+req.ProviderTrackID+`",`+
		`"inquiry":{"service":"unblockTransferInquiry","status":"DONE","fields":["source","transferDate"]}}`)
}

// TestFaultRates: each new fault is drawn at its configured rate, and the
// rates can be changed at runtime.
func TestFaultRates(t *testing.T) {
	f := newFixture(t, finnotechfake.Config{Rates: map[sandboxfault.Fault]float64{sandboxfault.FaultNestedFailed: 1}}, "tok")
	for range 3 {
		_, err := f.client.Block(context.Background(), "app-1", newTrackID(t), BlockRequest{Amount: 1000, Description: "d", Days: 1})
		wantError(t, err, providers.Permanent, wire.CodeServiceCall, http.StatusOK)
	}
	f.sandbox.SetFaultRates(map[sandboxfault.Fault]float64{sandboxfault.FaultApplyThenTimeout: 1})
	_, err := f.client.Block(context.Background(), "app-1", newTrackID(t), BlockRequest{Amount: 1000, Description: "d", Days: 1})
	wantError(t, err, providers.Unknown, wire.CodeRequestTimeout, http.StatusRequestTimeout)
	f.sandbox.SetFaultRates(nil)
	f.block(t, "app-1", 1000)
	if got := f.sandbox.CallCount(finnotechfake.OpBlock); got != 2 {
		t.Errorf("CallCount(block) = %d, want 2 (the timed-out one and the last)", got)
	}
}
