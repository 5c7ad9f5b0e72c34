package finnotech_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/blockd/blockd/providers"
	. "github.com/blockd/blockd/providers/finnotech"
	"github.com/blockd/blockd/providers/finnotech/finnotechfake"
	"github.com/blockd/blockd/providers/finnotech/internal/wire"
	"github.com/blockd/blockd/providers/sandboxfault"
	"github.com/blockd/blockd/schemas"
)

// blockRequest is a block request for app-1 with a fresh provider trackId.
func blockRequest(t *testing.T, amount int64) providers.Request {
	t.Helper()
	return providers.Request{
		Command: schemas.Command{Kind: schemas.KindBlock, TrackID: "blk-" + newTrackID(t)[:8], Provider: schemas.ProviderFinnotech,
			ClientID: "app-1", Amount: amount, Description: "court order", Days: 30},
		ProviderTrackID: newTrackID(t),
	}
}

// resolve calls Resolve and fails the test on an error.
func resolve(t *testing.T, a *Adapter, req providers.Request) Resolution {
	t.Helper()
	res, err := a.Resolve(context.Background(), req)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	return res
}

func TestResolveBlock(t *testing.T) {
	t.Run("applied then dropped: applied, with the hold's deposit and blockDate", func(t *testing.T) {
		f := newFixture(t, finnotechfake.Config{}, "tok")
		a := NewAdapter(f.client)
		req := blockRequest(t, 1_500_000)
		f.sandbox.InjectNext(sandboxfault.FaultApplyThenDrop)
		if _, err := a.Execute(context.Background(), req); providers.ClassOf(err) != providers.Unknown {
			t.Fatalf("Execute with the answer dropped: %v, want an unknown outcome", err)
		}
		res := resolve(t, a, req)
		if res.Verdict != providers.Applied {
			t.Fatalf("Resolve = %+v, want applied", res)
		}
		var got schemas.FinnotechBlockResult
		if err := json.Unmarshal(res.Result, &got); err != nil {
			t.Fatalf("decoding %s: %v", res.Result, err)
		}
		h, ok := f.sandbox.Hold(req.ProviderTrackID)
		if !ok {
			t.Fatal("the sandbox has no hold")
		}
		want := schemas.FinnotechBlockResult{Amount: 1_500_000, Description: "court order", Deposit: h.Deposit,
			BlockDate: h.BlockDate, Days: 30, ProviderTrackID: req.ProviderTrackID}
		if got != want || got.Deposit == "" || got.BlockDate != "951210" {
			t.Errorf("result = %+v, want %+v", got, want)
		}
	})

	t.Run("same JSON as Execute", func(t *testing.T) {
		f := newFixture(t, finnotechfake.Config{}, "tok")
		a := NewAdapter(f.client)
		req := blockRequest(t, 7000)
		out, err := a.Execute(context.Background(), req)
		if err != nil {
			t.Fatalf("Execute: %v", err)
		}
		if res := resolve(t, a, req); res.Verdict != providers.Applied || string(res.Result) != string(out) {
			t.Errorf("Resolve = %+v (%s), want applied with %s", res, res.Result, out)
		}
	})

	t.Run("never sent: not applied", func(t *testing.T) {
		f := newFixture(t, finnotechfake.Config{}, "tok")
		a := NewAdapter(f.client)
		if res := resolve(t, a, blockRequest(t, 1000)); res.Verdict != providers.NotApplied || res.Result != nil {
			t.Errorf("Resolve = %+v, want not applied", res)
		}
	})

	t.Run("refused: not applied", func(t *testing.T) {
		f := newFixture(t, finnotechfake.Config{}, "tok")
		a := NewAdapter(f.client)
		req := blockRequest(t, 1000)
		req.Command.Days = 91
		if _, err := a.Execute(context.Background(), req); err == nil {
			t.Fatal("Execute of 91 days: got no error")
		}
		if res := resolve(t, a, req); res.Verdict != providers.NotApplied {
			t.Errorf("Resolve = %+v, want not applied", res)
		}
	})

	t.Run("timed out: not applied", func(t *testing.T) {
		f := newFixture(t, finnotechfake.Config{}, "tok")
		a := NewAdapter(f.client)
		req := blockRequest(t, 1000)
		f.sandbox.InjectNext(sandboxfault.FaultTimeout)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if _, err := a.Execute(ctx, req); providers.ClassOf(err) != providers.Unknown {
			t.Fatalf("Execute that timed out: %v, want an unknown outcome", err)
		}
		var res Resolution
		eventually(t, "the timed-out call to settle", func() bool {
			res = resolve(t, a, req)
			return res.Verdict != providers.Unproven
		})
		if res.Verdict == providers.Applied {
			t.Errorf("Resolve = %+v, want not applied", res)
		}
		if _, ok := f.sandbox.Hold(req.ProviderTrackID); ok {
			t.Error("the sandbox holds the block")
		}
	})

	t.Run("pending", func(t *testing.T) {
		f := newFixture(t, finnotechfake.Config{TimeoutDelay: time.Hour}, "tok")
		a := NewAdapter(f.client)
		req := blockRequest(t, 1000)
		f.sandbox.InjectNext(sandboxfault.FaultTimeout)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() {
			_, err := a.Execute(ctx, req)
			done <- err
		}()
		eventually(t, "the sandbox to see the call", func() bool { return f.callStatus(t, "app-1", req.ProviderTrackID) != CallUnknown })
		if res := resolve(t, a, req); res.Verdict != providers.Unproven {
			t.Errorf("Resolve of a hanging call = %+v, want pending", res)
		}
		cancel()
		<-done
	})
}

func TestResolveUnblock(t *testing.T) {
	f := newFixture(t, finnotechfake.Config{}, "tok")
	a := NewAdapter(f.client)
	blockID, b := f.block(t, "app-1", 5000)
	req := providers.Request{
		Command:         schemas.Command{Kind: schemas.KindUnblock, TrackID: "ubl-1", Provider: schemas.ProviderFinnotech, BlockTrackID: "blk-1"},
		ProviderTrackID: newTrackID(t),
		Block: &schemas.BlockRef{TrackID: "blk-1", Provider: schemas.ProviderFinnotech, ClientID: "app-1", Amount: 5000,
			Description: "test", Days: 12, Deposit: b.Deposit, BlockDate: b.BlockDate, ProviderTrackID: blockID},
	}
	f.sandbox.InjectNext(sandboxfault.FaultApplyThenDrop)
	if _, err := a.Execute(context.Background(), req); providers.ClassOf(err) != providers.Unknown {
		t.Fatalf("Execute with the answer dropped: %v", err)
	}
	res := resolve(t, a, req)
	var got schemas.FinnotechUnblockResult
	if err := json.Unmarshal(res.Result, &got); err != nil || res.Verdict != providers.Applied {
		t.Fatalf("Resolve = %+v (%v), want applied", res, err)
	}
	want := schemas.FinnotechUnblockResult{Amount: 5000, Deposit: b.Deposit, UnblockDate: "951210", BlockTrackID: "blk-1",
		ProviderTrackID: req.ProviderTrackID}
	if got != want {
		t.Errorf("result = %+v, want %+v", got, want)
	}
	if _, err := a.Resolve(context.Background(), providers.Request{Command: req.Command, ProviderTrackID: "x"}); providers.ClassOf(err) != providers.Permanent {
		t.Errorf("Resolve of an unblock without its block: %v, want a permanent error", err)
	}
}

// transferRequest is a transfer of amount from the hold released by
// unblockID (of the block blockID, answered b).
func transferRequest(t *testing.T, blockID string, b BlockResponse, unblockID string, amount int64) providers.Request {
	t.Helper()
	return providers.Request{
		Command: schemas.Command{Kind: schemas.KindTransfer, TrackID: "xfr-1", Provider: schemas.ProviderFinnotech,
			UnblockTrackID: "ubl-1", Amount: amount, Destination: destination, Description: "payout"},
		ProviderTrackID: newTrackID(t),
		Hold: &schemas.Hold{
			Block: schemas.BlockRef{TrackID: "blk-1", Provider: schemas.ProviderFinnotech, ClientID: "app-1", Amount: b.Amount,
				Deposit: b.Deposit, BlockDate: b.BlockDate, ProviderTrackID: blockID},
			State: schemas.HoldTransferring, UnblockTrackID: "ubl-1", UnblockProviderTrackID: unblockID,
		},
	}
}

func TestResolveTransfer(t *testing.T) {
	t.Run("applied then dropped: applied", func(t *testing.T) {
		f := newFixture(t, finnotechfake.Config{}, "tok")
		a := NewAdapter(f.client)
		blockID, b := f.block(t, "app-1", 5000)
		req := transferRequest(t, blockID, b, f.unblock(t, "app-1", blockID, b), 4000)
		f.sandbox.InjectNext(sandboxfault.FaultApplyThenDrop)
		if _, err := a.Execute(context.Background(), req); providers.ClassOf(err) != providers.Unknown {
			t.Fatalf("Execute with the answer dropped: %v", err)
		}
		res := resolve(t, a, req)
		var got schemas.FinnotechTransferResult
		if err := json.Unmarshal(res.Result, &got); err != nil || res.Verdict != providers.Applied {
			t.Fatalf("Resolve = %+v (%v), want applied", res, err)
		}
		want := schemas.FinnotechTransferResult{Amount: 4000, Source: b.Deposit, Destination: destination, TransferDate: "951210",
			UnblockTrackID: "ubl-1", ProviderTrackID: req.ProviderTrackID}
		if got != want {
			t.Errorf("result = %+v, want %+v", got, want)
		}
	})
	t.Run("never sent: not applied, asked twice", func(t *testing.T) {
		f := newFixture(t, finnotechfake.Config{}, "tok")
		a := NewAdapter(f.client)
		blockID, b := f.block(t, "app-1", 5000)
		req := transferRequest(t, blockID, b, f.unblock(t, "app-1", blockID, b), 4000)
		if res := resolve(t, a, req); res.Verdict != providers.NotApplied {
			t.Errorf("Resolve = %+v, want not applied", res)
		}
		if w, i := f.sandbox.Requests(finnotechfake.OpWages), f.sandbox.Requests(finnotechfake.OpTransferInquiry); w != 1 || i != 1 {
			t.Errorf("wages asked %d times, inquiry %d; want 1 and 1", w, i)
		}
	})
	t.Run("insufficient balance: not applied", func(t *testing.T) {
		f := newFixture(t, finnotechfake.Config{InsufficientBalanceDeposits: []string{finnotechfake.DepositOf("app-1")}}, "tok")
		a := NewAdapter(f.client)
		blockID, b := f.block(t, "app-1", 5000)
		req := transferRequest(t, blockID, b, f.unblock(t, "app-1", blockID, b), 5000)
		if _, err := a.Execute(context.Background(), req); !IsInsufficientBalance(err) {
			t.Fatalf("Execute: %v, want insufficient balance", err)
		}
		if res := resolve(t, a, req); res.Verdict != providers.NotApplied {
			t.Errorf("Resolve = %+v, want not applied", res)
		}
	})
}

// TestResolveTransferByInquiry: wages does not know the transfer, the
// unblock-transfer inquiry does.
func TestResolveTransferByInquiry(t *testing.T) {
	tests := []struct {
		name          string
		inquiryStatus int
		inquiryBody   string
		want          Resolution
		wantErr       bool
	}{
		{"done", 200, `{"result":{"status":"DONE","amount":"4000","source":"0201698541000","destination":"0201000000001","transferDate":"030105"},"status":"DONE","trackId":"i"}`,
			Resolution{Verdict: providers.Applied, Result: json.RawMessage(`{"amount":4000,"source":"0201698541000","destination":"0201000000001","transferDate":"030105","unblockTrackId":"ubl-1","providerTrackId":"xfr-call"}`)}, false},
		{"done without source", 200, `{"result":{"status":"DONE","amount":4000,"destination":"0201000000001","transferDate":"030105"},"status":"DONE","trackId":"i"}`,
			Resolution{Verdict: providers.Applied, Result: json.RawMessage(`{"amount":4000,"source":"0201000000999","destination":"0201000000001","transferDate":"030105","unblockTrackId":"ubl-1","providerTrackId":"xfr-call"}`)}, false},
		{"failed", 200, `{"result":{"status":"FAILED","amount":4000},"status":"DONE","trackId":"i"}`, Resolution{Verdict: providers.NotApplied}, false},
		{"pending", 200, `{"result":{"status":"PENDING"},"status":"DONE","trackId":"i"}`, Resolution{Verdict: providers.Unproven}, false},
		{"not found", 400, `{"status":"FAILED","trackId":"i","error":{"code":"VALIDATION_ERROR","message":"تراکنش یافت نشد"}}`, Resolution{Verdict: providers.NotApplied}, false},
		{"inquiry unavailable", 503, ``, Resolution{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var inquired string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				switch r.URL.Path {
				case "/dev/v2/clients/app-1/wages":
					io.WriteString(w, `{"result":{"trackId":"xfr-call","status":"UNKNOWN"},"status":"DONE","trackId":"xfr-call"}`)
				case "/oak/v2/clients/app-1/unblockTransferInquiry":
					inquired = r.URL.Query().Get("inquiryTrackId")
					w.WriteHeader(tc.inquiryStatus)
					io.WriteString(w, tc.inquiryBody)
				default:
					http.NotFound(w, r)
				}
			}))
			t.Cleanup(srv.Close)
			a := NewAdapter(NewClient(ClientConfig{BaseURL: srv.URL, HTTPClient: srv.Client(), Tokens: finnotechfake.StaticToken("tok")}))
			req := providers.Request{
				Command:         schemas.Command{Kind: schemas.KindTransfer, TrackID: "xfr-1", Amount: 4000, Destination: destination},
				ProviderTrackID: "xfr-call",
				Hold: &schemas.Hold{Block: schemas.BlockRef{ClientID: "app-1", Deposit: "0201000000999"},
					UnblockTrackID: "ubl-1", UnblockProviderTrackID: "ubl-call"},
			}
			got, err := a.Resolve(context.Background(), req)
			if tc.wantErr {
				if err == nil || providers.ClassOf(err) != providers.Unknown {
					t.Errorf("Resolve = %+v, %v; want an unknown-outcome error", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if got.Verdict != tc.want.Verdict || string(got.Result) != string(tc.want.Result) {
				t.Errorf("Resolve = %+v (%s), want %+v (%s)", got, got.Result, tc.want, tc.want.Result)
			}
			if inquired != "xfr-call" {
				t.Errorf("inquiryTrackId = %q, want the transfer call's", inquired)
			}
		})
	}
}

func TestResolveAnswers(t *testing.T) {
	req := blockRequest(t, 1000)
	req.ProviderTrackID = "t"
	tests := []struct {
		name      string
		body      string
		wantClass providers.Class
	}{
		{"done without its answer", `{"result":{"trackId":"t","status":"DONE"},"status":"DONE"}`, providers.Unknown},
		{"done with an unreadable answer", `{"result":{"trackId":"t","status":"DONE","response":{"amount":"x"}},"status":"DONE"}`, providers.Unknown},
		{"unexpected status", `{"result":{"trackId":"t","status":"REVERSED"},"status":"DONE"}`, providers.Unknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := newCannedServer(t, 200, tc.body)
			a := NewAdapter(NewClient(ClientConfig{BaseURL: cs.URL, HTTPClient: cs.Client(), Tokens: finnotechfake.StaticToken("tok")}))
			res, err := a.Resolve(context.Background(), req)
			if err == nil || providers.ClassOf(err) != tc.wantClass {
				t.Errorf("Resolve = %+v, %v; want a %s error", res, err, tc.wantClass)
			}
		})
	}
}

func TestResolveInquiryIsNeverInDoubt(t *testing.T) {
	f := newFixture(t, finnotechfake.Config{}, "tok")
	a := NewAdapter(f.client)
	for _, inq := range []string{InquiryTransfer, InquiryFacility} {
		res := resolve(t, a, providers.Request{Command: schemas.Command{Kind: schemas.KindInquiry, Inquiry: inq}, ProviderTrackID: newTrackID(t)})
		if res.Verdict != providers.NotApplied {
			t.Errorf("Resolve(%s inquiry) = %+v, want not applied", inq, res)
		}
	}
	if n := f.sandbox.Requests(finnotechfake.OpWages); n != 0 {
		t.Errorf("Requests(wages) = %d, want 0", n)
	}
}

func TestCallStatusDetail(t *testing.T) {
	f := newFixture(t, finnotechfake.Config{}, "tok")
	blockID, b := f.block(t, "app-1", 9000)
	got, err := f.client.CallStatusDetail(context.Background(), "app-1", blockID)
	if err != nil {
		t.Fatalf("CallStatusDetail: %v", err)
	}
	if got.Status != CallDone || got.Service != finnotechfake.OpBlock {
		t.Errorf("status %s, service %q; want DONE block", got.Status, got.Service)
	}
	var r wire.BlockResult
	if err := json.Unmarshal(got.Response, &r); err != nil || BlockResponseOf(r, blockID, BlockRequest{}) != b {
		t.Errorf("response %s (%v), want the block's answer %+v", got.Response, err, b)
	}

	refused := newTrackID(t)
	if _, err := f.client.Block(context.Background(), "app-1", refused, BlockRequest{Amount: 1, Description: "d", Days: 91}); err == nil {
		t.Fatal("Block of 91 days: got no error")
	}
	if got, err := f.client.CallStatusDetail(context.Background(), "app-1", refused); err != nil || got.Status != CallFailed || got.Response != nil {
		t.Errorf("CallStatusDetail(refused) = %+v, %v; want FAILED without a response", got, err)
	}
}
