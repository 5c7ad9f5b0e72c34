package finnotech_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/blockd/blockd/providers"
	. "github.com/blockd/blockd/providers/finnotech"
	"github.com/blockd/blockd/providers/finnotech/finnotechfake"
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
				Description: b.Description, Days: b.Days, Deposit: b.Deposit, BlockDate: b.BlockDate, ProviderTrackID: blockID},
			State: schemas.HoldTransferring, UnblockTrackID: "ubl-1", UnblockProviderTrackID: unblockID,
		},
	}
}

// sameJSON fails the test when got does not hold the same JSON value as
// want.
func sameJSON(t *testing.T, got json.RawMessage, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("decoding result %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("decoding want %s: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("result %s, want %s", got, want)
	}
}

// statusServer answers wages with wagesBody and the unblock-transfer
// inquiry with inquiryStatus and inquiryBody, counting both.
type statusServer struct {
	*httptest.Server
	mu                 sync.Mutex
	wages, inquiries   int
	inquired, wagesTok string
}

func newStatusServer(t *testing.T, wagesBody string, inquiryStatus int, inquiryBody string) *statusServer {
	t.Helper()
	ss := &statusServer{}
	ss.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		ss.mu.Lock()
		defer ss.mu.Unlock()
		switch r.URL.Path {
		case "/dev/v2/clients/app-1/wages":
			ss.wages++
			ss.wagesTok = r.Header.Get("Authorization")
			io.WriteString(w, wagesBody)
		case "/oak/v2/clients/app-1/unblockTransferInquiry":
			ss.inquiries++
			ss.inquired = r.URL.Query().Get("inquiryTrackId")
			w.WriteHeader(inquiryStatus)
			io.WriteString(w, inquiryBody)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(ss.Close)
	return ss
}

// wagesOf is the documented wages answer about the call "call" with
// status, deposit and date.
func wagesOf(status, deposit, date string) string {
	return `{"result":{"wages":[{"trackId":"call","status":"` + status + `","amount":0,"transactionAmount":4000,"serviceName":"s","scopeName":"sc",` +
		`"tariffName":"t","uid":"u-1","deposit":"` + deposit + `","date":"` + date + `"}],"total":1},"status":"DONE"}`
}

const noWages = `{"result":{"wages":[],"total":0},"status":"DONE"}`

// statusRequests are a block, an unblock and a transfer, each sent as the
// provider call "call" for app-1.
func statusRequests() map[schemas.Kind]providers.Request {
	return map[schemas.Kind]providers.Request{
		schemas.KindBlock: {
			Command: schemas.Command{Kind: schemas.KindBlock, TrackID: "blk-1", Provider: schemas.ProviderFinnotech, ClientID: "app-1",
				Amount: 4000, Description: "court order", Days: 30},
			ProviderTrackID: "call",
		},
		schemas.KindUnblock: {
			Command: schemas.Command{Kind: schemas.KindUnblock, TrackID: "ubl-1", Provider: schemas.ProviderFinnotech, BlockTrackID: "blk-1"},
			Block: &schemas.BlockRef{TrackID: "blk-1", Provider: schemas.ProviderFinnotech, ClientID: "app-1", Amount: 4000,
				Description: "court order", Days: 30, Deposit: "0201698541000", BlockDate: "030105", ProviderTrackID: "blk-call"},
			ProviderTrackID: "call",
		},
		schemas.KindTransfer: {
			Command: schemas.Command{Kind: schemas.KindTransfer, TrackID: "xfr-1", Provider: schemas.ProviderFinnotech,
				UnblockTrackID: "ubl-1", Amount: 4000, Destination: destination, Description: "payout"},
			Hold: &schemas.Hold{Block: schemas.BlockRef{TrackID: "blk-1", ClientID: "app-1", Amount: 4000, Description: "court order",
				Days: 30, Deposit: "0201698541000", BlockDate: "030105", ProviderTrackID: "blk-call"},
				State: schemas.HoldTransferring, UnblockTrackID: "ubl-1", UnblockProviderTrackID: "ubl-call"},
			ProviderTrackID: "call",
		},
	}
}

// TestResolveByWages: the outcome rules of the wages answer (finnotech/doc.go,
// "Unknown outcomes"). The transfer inquiry, when asked, knows nothing.
func TestResolveByWages(t *testing.T) {
	const date = "14030105143000" // 1403/01/05 14:30:00
	tests := []struct {
		name        string
		kind        schemas.Kind
		wages       string
		want        providers.Verdict
		wantResult  string
		wantErr     bool
		wantInquiry bool
	}{
		{"block done", schemas.KindBlock, wagesOf("DONE", "0201698541000", date), providers.Applied,
			`{"amount":4000,"description":"court order","deposit":"0201698541000","blockDate":"030105","days":30,"providerTrackId":"call",` +
				`"inquiry":{"service":"wages","status":"DONE","fields":["deposit","blockDate"]}}`, false, false},
		{"block failed", schemas.KindBlock, wagesOf("FAILED", "", date), providers.NotApplied, "", false, false},
		{"block pending", schemas.KindBlock, wagesOf("PENDING", "", date), providers.Unproven, "", false, false},
		{"block unknown", schemas.KindBlock, wagesOf("UNKNOWN", "", date), providers.Unproven, "", false, false},
		{"block absent", schemas.KindBlock, noWages, providers.Unproven, "", false, false},
		{"block done without deposit", schemas.KindBlock, wagesOf("DONE", "", date), providers.Unproven, "", true, false},
		{"block done with an unreadable date", schemas.KindBlock, wagesOf("DONE", "0201698541000", "1403010514"), providers.Unproven, "", true, false},
		{"block done with an impossible date", schemas.KindBlock, wagesOf("DONE", "0201698541000", "14031305143000"), providers.Unproven, "", true, false},

		{"unblock done", schemas.KindUnblock, wagesOf("DONE", "0201698541000", date), providers.Applied,
			`{"amount":4000,"deposit":"0201698541000","unblockDate":"030105","blockTrackId":"blk-1","providerTrackId":"call",` +
				`"inquiry":{"service":"wages","status":"DONE","fields":["unblockDate"]}}`, false, false},
		{"unblock done without a deposit in wages", schemas.KindUnblock, wagesOf("DONE", "", date), providers.Applied,
			`{"amount":4000,"deposit":"0201698541000","unblockDate":"030105","blockTrackId":"blk-1","providerTrackId":"call",` +
				`"inquiry":{"service":"wages","status":"DONE","fields":["unblockDate"]}}`, false, false},
		{"unblock failed", schemas.KindUnblock, wagesOf("FAILED", "", date), providers.NotApplied, "", false, false},
		{"unblock unknown", schemas.KindUnblock, wagesOf("UNKNOWN", "", date), providers.Unproven, "", false, false},
		{"unblock absent", schemas.KindUnblock, noWages, providers.Unproven, "", false, false},

		{"transfer done", schemas.KindTransfer, wagesOf("DONE", "0201698541000", date), providers.Applied,
			`{"amount":4000,"source":"0201698541000","destination":"0201000000001","transferDate":"030105","unblockTrackId":"ubl-1",` +
				`"providerTrackId":"call","inquiry":{"service":"wages","status":"DONE","fields":["transferDate"]}}`, false, false},
		{"transfer failed", schemas.KindTransfer, wagesOf("FAILED", "", date), providers.NotApplied, "", false, false},
		{"transfer pending, inquiry knows nothing", schemas.KindTransfer, wagesOf("PENDING", "", date), providers.Unproven, "", false, true},
		{"transfer unknown, inquiry knows nothing", schemas.KindTransfer, wagesOf("UNKNOWN", "", date), providers.Unproven, "", false, true},
		{"transfer absent, inquiry knows nothing", schemas.KindTransfer, noWages, providers.Unproven, "", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ss := newStatusServer(t, tc.wages, 400,
				`{"status":"FAILED","trackId":"i","error":{"code":"VALIDATION_ERROR","message":"تراکنش یافت نشد"}}`)
			a := NewAdapter(NewClient(ClientConfig{BaseURL: ss.URL, HTTPClient: ss.Client(), Tokens: finnotechfake.StaticToken("tok")}))
			got, err := a.Resolve(context.Background(), statusRequests()[tc.kind])
			if tc.wantErr {
				if err == nil || providers.ClassOf(err) != providers.Unknown || got.Verdict != providers.Unproven {
					t.Errorf("Resolve = %+v, %v; want an unknown-outcome error", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if got.Verdict != tc.want {
				t.Errorf("verdict %s (evidence %q), want %s", got.Verdict, got.Evidence, tc.want)
			}
			if tc.wantResult == "" && got.Result != nil {
				t.Errorf("result %s, want none", got.Result)
			}
			if tc.wantResult != "" {
				sameJSON(t, got.Result, tc.wantResult)
			}
			if got.Evidence == "" {
				t.Error("no evidence")
			}
			if (ss.inquiries > 0) != tc.wantInquiry {
				t.Errorf("transfer inquiries %d, want them: %v", ss.inquiries, tc.wantInquiry)
			}
			if ss.wagesTok != "Bearer cc-tok" {
				t.Errorf("wages asked with %q, want the client-credential token", ss.wagesTok)
			}
		})
	}
}

// TestResolveTransferByInquiry: wages does not settle the transfer, the
// unblock-transfer inquiry is asked.
func TestResolveTransferByInquiry(t *testing.T) {
	tests := []struct {
		name          string
		inquiryStatus int
		inquiryBody   string
		want          providers.Verdict
		wantResult    string
		wantErr       bool
	}{
		{"done", 200, `{"result":{"status":"DONE","amount":"4000","source":"0201698541000","destination":"0201000000001","transferDate":"030105"},"status":"DONE","trackId":"i"}`,
			providers.Applied, `{"amount":4000,"source":"0201698541000","destination":"0201000000001","transferDate":"030105","unblockTrackId":"ubl-1","providerTrackId":"call",` +
				`"inquiry":{"service":"unblockTransferInquiry","status":"DONE","fields":["source","transferDate"]}}`, false},
		{"done without source", 200, `{"result":{"status":"DONE","amount":4000,"destination":"0201000000001","transferDate":"030105"},"status":"DONE","trackId":"i"}`,
			providers.Applied, `{"amount":4000,"source":"0201698541000","destination":"0201000000001","transferDate":"030105","unblockTrackId":"ubl-1","providerTrackId":"call",` +
				`"inquiry":{"service":"unblockTransferInquiry","status":"DONE","fields":["transferDate"]}}`, false},
		{"done without a date", 200, `{"result":{"status":"DONE","amount":4000},"status":"DONE","trackId":"i"}`, providers.Unproven, "", true},
		{"done of another amount", 200, `{"result":{"status":"DONE","amount":3000,"transferDate":"030105"},"status":"DONE","trackId":"i"}`, providers.Unproven, "", true},
		{"failed", 200, `{"result":{"status":"FAILED","amount":4000},"status":"DONE","trackId":"i"}`, providers.NotApplied, "", false},
		{"pending", 200, `{"result":{"status":"PENDING"},"status":"DONE","trackId":"i"}`, providers.Unproven, "", false},
		{"not found", 400, `{"status":"FAILED","trackId":"i","error":{"code":"VALIDATION_ERROR","message":"تراکنش یافت نشد"}}`, providers.Unproven, "", false},
		{"inquiry unavailable", 503, ``, providers.Unproven, "", true},
	}
	for _, wages := range []string{wagesOf("UNKNOWN", "", "14030105143000"), wagesOf("PENDING", "", "14030105143000"), noWages} {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				ss := newStatusServer(t, wages, tc.inquiryStatus, tc.inquiryBody)
				a := NewAdapter(NewClient(ClientConfig{BaseURL: ss.URL, HTTPClient: ss.Client(), Tokens: finnotechfake.StaticToken("tok")}))
				got, err := a.Resolve(context.Background(), statusRequests()[schemas.KindTransfer])
				if tc.wantErr {
					if err == nil || providers.ClassOf(err) != providers.Unknown || got.Verdict != providers.Unproven {
						t.Errorf("Resolve = %+v, %v; want an unknown-outcome error", got, err)
					}
				} else {
					if err != nil {
						t.Fatalf("Resolve: %v", err)
					}
					if got.Verdict != tc.want {
						t.Errorf("verdict %s (evidence %q), want %s", got.Verdict, got.Evidence, tc.want)
					}
					if tc.wantResult != "" {
						sameJSON(t, got.Result, tc.wantResult)
					}
				}
				if ss.inquired != "call" {
					t.Errorf("inquiryTrackId = %q, want the transfer call's", ss.inquired)
				}
			})
		}
	}
}

// TestResolveAgainstTheFake: each outcome the fake can give a money call,
// and what Resolve makes of it.
func TestResolveAgainstTheFake(t *testing.T) {
	t.Run("block applied then dropped: applied, with the hold's deposit and blockDate", func(t *testing.T) {
		f := newFixture(t, finnotechfake.Config{}, "tok")
		a := NewAdapter(f.client)
		req := blockRequest(t, 1_500_000)
		f.sandbox.InjectNext(sandboxfault.FaultApplyThenDrop)
		if _, err := a.Execute(context.Background(), req); providers.ClassOf(err) != providers.Unknown {
			t.Fatalf("Execute with the answer dropped: %v, want an unknown outcome", err)
		}
		res := resolve(t, a, req)
		h, ok := f.sandbox.Hold(req.ProviderTrackID)
		if res.Verdict != providers.Applied || !ok {
			t.Fatalf("Resolve = %+v (hold found: %v), want applied", res, ok)
		}
		sameJSON(t, res.Result, `{"amount":1500000,"description":"court order","deposit":"`+h.Deposit+`","blockDate":"951210","days":30,`+
			`"providerTrackId":"`+req.ProviderTrackID+`","inquiry":{"service":"wages","status":"DONE","fields":["deposit","blockDate"]}}`)
	})
	t.Run("block answered: the same result as Execute but for the inquiry", func(t *testing.T) {
		f := newFixture(t, finnotechfake.Config{}, "tok")
		a := NewAdapter(f.client)
		req := blockRequest(t, 7000)
		out, err := a.Execute(context.Background(), req)
		if err != nil {
			t.Fatalf("Execute: %v", err)
		}
		res := resolve(t, a, req)
		var viaCall, viaWages map[string]any
		if err := json.Unmarshal(out, &viaCall); err != nil || res.Verdict != providers.Applied || json.Unmarshal(res.Result, &viaWages) != nil {
			t.Fatalf("Execute %s (%v), Resolve %+v", out, err, res)
		}
		if viaCall["inquiry"] != nil || viaWages["inquiry"] == nil {
			t.Errorf("inquiry in Execute's result %v, in Resolve's %v; want only in Resolve's", viaCall["inquiry"], viaWages["inquiry"])
		}
		delete(viaWages, "inquiry")
		if !reflect.DeepEqual(viaCall, viaWages) {
			t.Errorf("Resolve %v, want Execute's %v", viaWages, viaCall)
		}
	})
	t.Run("never sent: unproven", func(t *testing.T) {
		f := newFixture(t, finnotechfake.Config{}, "tok")
		if res := resolve(t, NewAdapter(f.client), blockRequest(t, 1000)); res.Verdict != providers.Unproven || res.Result != nil {
			t.Errorf("Resolve = %+v, want unproven", res)
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
	t.Run("timed out: not applied once the fake gave up", func(t *testing.T) {
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
		if res.Verdict != providers.NotApplied {
			t.Errorf("Resolve = %+v, want not applied", res)
		}
		if _, ok := f.sandbox.Hold(req.ProviderTrackID); ok {
			t.Error("the sandbox holds the block")
		}
	})
	t.Run("hanging: unproven", func(t *testing.T) {
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
		eventually(t, "the sandbox to see the call", func() bool { return f.callStatus(t, "app-1", req.ProviderTrackID) == CallPending })
		if res := resolve(t, a, req); res.Verdict != providers.Unproven {
			t.Errorf("Resolve of a hanging call = %+v, want unproven", res)
		}
		cancel()
		if err := <-done; err == nil {
			t.Error("Execute of a call that hung until cancelled returned no error")
		}
	})
	t.Run("unblock applied then dropped: applied", func(t *testing.T) {
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
		if res.Verdict != providers.Applied {
			t.Fatalf("Resolve = %+v, want applied", res)
		}
		sameJSON(t, res.Result, `{"amount":5000,"deposit":"`+b.Deposit+`","unblockDate":"951210","blockTrackId":"blk-1","providerTrackId":"`+
			req.ProviderTrackID+`","inquiry":{"service":"wages","status":"DONE","fields":["unblockDate"]}}`)
		if _, err := a.Resolve(context.Background(), providers.Request{Command: req.Command, ProviderTrackID: "x"}); providers.ClassOf(err) != providers.Permanent {
			t.Errorf("Resolve of an unblock without its block: %v, want a permanent error", err)
		}
	})
	t.Run("transfer applied then dropped: applied", func(t *testing.T) {
		f := newFixture(t, finnotechfake.Config{}, "tok")
		a := NewAdapter(f.client)
		blockID, b := f.block(t, "app-1", 5000)
		req := transferRequest(t, blockID, b, f.unblock(t, "app-1", blockID, b), 4000)
		f.sandbox.InjectNext(sandboxfault.FaultApplyThenDrop)
		if _, err := a.Execute(context.Background(), req); providers.ClassOf(err) != providers.Unknown {
			t.Fatalf("Execute with the answer dropped: %v", err)
		}
		res := resolve(t, a, req)
		if res.Verdict != providers.Applied {
			t.Fatalf("Resolve = %+v, want applied", res)
		}
		sameJSON(t, res.Result, `{"amount":4000,"source":"`+b.Deposit+`","destination":"`+destination+`","transferDate":"951210",`+
			`"unblockTrackId":"ubl-1","providerTrackId":"`+req.ProviderTrackID+`","inquiry":{"service":"wages","status":"DONE","fields":["transferDate"]}}`)
	})
	t.Run("transfer never sent: unproven, asked twice", func(t *testing.T) {
		f := newFixture(t, finnotechfake.Config{}, "tok")
		a := NewAdapter(f.client)
		blockID, b := f.block(t, "app-1", 5000)
		req := transferRequest(t, blockID, b, f.unblock(t, "app-1", blockID, b), 4000)
		if res := resolve(t, a, req); res.Verdict != providers.Unproven {
			t.Errorf("Resolve = %+v, want unproven", res)
		}
		if w, i := f.sandbox.Requests(finnotechfake.OpWages), f.sandbox.Requests(finnotechfake.OpTransferInquiry); w != 1 || i != 1 {
			t.Errorf("wages asked %d times, inquiry %d; want 1 and 1", w, i)
		}
	})
	t.Run("transfer refused for insufficient balance: not applied", func(t *testing.T) {
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
