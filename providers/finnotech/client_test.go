package finnotech_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blockd/blockd/providers"
	. "github.com/blockd/blockd/providers/finnotech"
	"github.com/blockd/blockd/providers/finnotech/finnotechfake"
	"github.com/blockd/blockd/providers/finnotech/internal/wire"
	"github.com/blockd/blockd/providers/jalali"
)

func TestBlock(t *testing.T) {
	f := newFixture(t, finnotechfake.Config{}, "tok")
	trackID := newTrackID(t)
	resp, err := f.client.Block(context.Background(), "app-1", trackID, BlockRequest{Amount: 150_000, Description: "مسدودی توسط نظام وظیفه", Days: 12})
	if err != nil {
		t.Fatalf("Block: %v", err)
	}
	want := BlockResponse{
		Amount:      150_000,
		Description: "مسدودی توسط نظام وظیفه",
		Deposit:     finnotechfake.DepositOf("app-1"),
		BlockDate:   "951210",
		Days:        12,
		TrackID:     trackID,
	}
	if resp != want {
		t.Errorf("Block = %+v, want %+v", resp, want)
	}
	if len(resp.Deposit) != 13 || !strings.HasPrefix(resp.Deposit, "0201") {
		t.Errorf("Deposit = %q, want 0201 and 9 digits", resp.Deposit)
	}

	d, err := jalali.Parse(resp.BlockDate)
	if err != nil {
		t.Fatalf("parsing blockDate %q: %v", resp.BlockDate, err)
	}
	if d.Year != 1395 || d.Month != 12 || d.Day != 10 {
		t.Errorf("blockDate = %v, want 1395/12/10", d)
	}
	if got := d.Time().Format(time.DateOnly); got != "2017-02-28" {
		t.Errorf("blockDate in Gregorian = %s, want 2017-02-28", got)
	}

	h, ok := f.sandbox.Hold(trackID)
	if !ok {
		t.Fatal("sandbox has no hold for the block")
	}
	wantHold := finnotechfake.Hold{BlockTrackID: trackID, ClientID: "app-1", Deposit: resp.Deposit, Amount: 150_000,
		Description: resp.Description, Days: 12, BlockDate: "951210", State: finnotechfake.HoldBlocked}
	if h != wantHold {
		t.Errorf("hold = %+v, want %+v", h, wantHold)
	}
	if st := f.callStatus(t, "app-1", trackID); st != CallDone {
		t.Errorf("CallStatus = %s, want DONE", st)
	}
	if n := f.sandbox.CallCount(finnotechfake.OpBlock); n != 1 {
		t.Errorf("CallCount(block) = %d, want 1", n)
	}
}

func TestUnblock(t *testing.T) {
	f := newFixture(t, finnotechfake.Config{}, "tok")
	blockID, b := f.block(t, "app-1", 5000)

	unblockID := newTrackID(t)
	req := UnblockRequest{Amount: 5000, BlockTrackID: blockID, Deposit: b.Deposit, BlockDate: b.BlockDate, Description: "test", Days: 12}
	resp, err := f.client.Unblock(context.Background(), "app-1", unblockID, req)
	if err != nil {
		t.Fatalf("Unblock: %v", err)
	}
	want := UnblockResponse{Amount: 5000, Deposit: b.Deposit, UnblockDate: "951210", TrackID: unblockID}
	if resp != want {
		t.Errorf("Unblock = %+v, want %+v", resp, want)
	}

	h, _ := f.sandbox.Hold(blockID)
	if h.State != finnotechfake.HoldUnblocked || h.UnblockTrackID != unblockID || h.UnblockDate != "951210" {
		t.Errorf("hold after unblock = %+v, want UNBLOCKED by %s on 951210", h, unblockID)
	}
	if st := f.callStatus(t, "app-1", unblockID); st != CallDone {
		t.Errorf("CallStatus(unblock) = %s, want DONE", st)
	}

	// The hold is released: a second unblock, with a new trackId, finds nothing.
	_, err = f.client.Unblock(context.Background(), "app-1", newTrackID(t), req)
	pe := wantError(t, err, providers.Permanent, "VALIDATION_ERROR", http.StatusBadRequest)
	if pe.Message != wire.MsgTransactionNotFound {
		t.Errorf("Message = %q, want %q", pe.Message, wire.MsgTransactionNotFound)
	}
	if n := f.sandbox.CallCount(finnotechfake.OpUnblock); n != 1 {
		t.Errorf("CallCount(unblock) = %d, want 1", n)
	}
}

func TestUnblockRefused(t *testing.T) {
	f := newFixture(t, finnotechfake.Config{}, "tok")
	blockID, b := f.block(t, "app-1", 5000)
	good := UnblockRequest{Amount: 5000, BlockTrackID: blockID, Deposit: b.Deposit, BlockDate: b.BlockDate, Description: "test", Days: 12}

	tests := []struct {
		name     string
		clientID string
		edit     func(*UnblockRequest)
		wantMsg  string
	}{
		{"amount mismatch", "app-1", func(r *UnblockRequest) { r.Amount = 4999 }, wire.MsgInvalidAmount},
		{"unknown block", "app-1", func(r *UnblockRequest) { r.BlockTrackID = "no-such-block" }, wire.MsgTransactionNotFound},
		{"wrong deposit", "app-1", func(r *UnblockRequest) { r.Deposit = "0201000000000" }, wire.MsgTransactionNotFound},
		{"wrong block date", "app-1", func(r *UnblockRequest) { r.BlockDate = "951211" }, wire.MsgTransactionNotFound},
		{"another client", "app-2", func(*UnblockRequest) {}, wire.MsgTransactionNotFound},
		{"zero amount", "app-1", func(r *UnblockRequest) { r.Amount = 0 }, wire.MsgBadAmount},
		{"no block trackId", "app-1", func(r *UnblockRequest) { r.BlockTrackID = "" }, wire.MsgNoBlockTrackID},
		{"days mismatch", "app-1", func(r *UnblockRequest) { r.Days = 13 }, wire.MsgDaysMismatch},
		{"no days", "app-1", func(r *UnblockRequest) { r.Days = 0 }, wire.MsgBadDays},
		{"description mismatch", "app-1", func(r *UnblockRequest) { r.Description = "other" }, wire.MsgDescriptionMismatch},
		{"no description", "app-1", func(r *UnblockRequest) { r.Description = "" }, wire.MsgDescriptionMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := good
			tc.edit(&req)
			trackID := newTrackID(t)
			_, err := f.client.Unblock(context.Background(), tc.clientID, trackID, req)
			pe := wantError(t, err, providers.Permanent, "VALIDATION_ERROR", http.StatusBadRequest)
			if pe.Message != tc.wantMsg {
				t.Errorf("Message = %q, want %q", pe.Message, tc.wantMsg)
			}
			if h, _ := f.sandbox.Hold(blockID); h.State != finnotechfake.HoldBlocked {
				t.Errorf("hold state = %s, want BLOCKED", h.State)
			}
			if st := f.callStatus(t, tc.clientID, trackID); st != CallFailed {
				t.Errorf("CallStatus = %s, want FAILED", st)
			}
		})
	}
	if n := f.sandbox.CallCount(finnotechfake.OpUnblock); n != 0 {
		t.Errorf("CallCount(unblock) = %d, want 0", n)
	}
}

func TestDuplicateTrackID(t *testing.T) {
	f := newFixture(t, finnotechfake.Config{}, "tok")
	ctx := context.Background()
	good := BlockRequest{Amount: 1000, Description: "test", Days: 12}

	t.Run("after a successful call", func(t *testing.T) {
		trackID, _ := f.block(t, "app-1", 1000)
		_, err := f.client.Block(ctx, "app-1", trackID, good)
		wantError(t, err, providers.Permanent, CodeDuplicateTrackID, http.StatusBadRequest)
		if n := len(f.sandbox.Holds()); n != 1 {
			t.Errorf("holds = %d, want 1", n)
		}
		if st := f.callStatus(t, "app-1", trackID); st != CallDone {
			t.Errorf("CallStatus = %s, want DONE (the first call)", st)
		}
	})
	t.Run("after a refused call", func(t *testing.T) {
		trackID := newTrackID(t)
		if _, err := f.client.Block(ctx, "app-1", trackID, BlockRequest{Amount: 1000, Description: "test", Days: 91}); err == nil {
			t.Fatal("Block with 91 days: got no error")
		}
		_, err := f.client.Block(ctx, "app-1", trackID, good)
		wantError(t, err, providers.Permanent, CodeDuplicateTrackID, http.StatusBadRequest)
		if st := f.callStatus(t, "app-1", trackID); st != CallFailed {
			t.Errorf("CallStatus = %s, want FAILED (the first call)", st)
		}
	})
	t.Run("an unblock reusing a block's trackId", func(t *testing.T) {
		trackID, b := f.block(t, "app-1", 1000)
		_, err := f.client.Unblock(ctx, "app-1", trackID, UnblockRequest{Amount: 1000, BlockTrackID: trackID, Deposit: b.Deposit, BlockDate: b.BlockDate})
		wantError(t, err, providers.Permanent, CodeDuplicateTrackID, http.StatusBadRequest)
		if h, _ := f.sandbox.Hold(trackID); h.State != finnotechfake.HoldBlocked {
			t.Errorf("hold state = %s, want BLOCKED", h.State)
		}
	})
	if got, want := f.sandbox.CallCount(finnotechfake.OpBlock), 2; got != want {
		t.Errorf("CallCount(block) = %d, want %d", got, want)
	}
}

func TestInvalidToken(t *testing.T) {
	const secret = "expired-secret-token"
	f := newFixture(t, finnotechfake.Config{Tokens: []string{"good-token"}}, secret)
	_, err := f.client.Block(context.Background(), "app-1", newTrackID(t), BlockRequest{Amount: 1000, Description: "test", Days: 12})
	pe := wantError(t, err, providers.Retryable, CodeTokenExpired, http.StatusForbidden)
	if !IsTokenExpired(err) {
		t.Errorf("IsTokenExpired(%v) = false, want true", err)
	}
	if pe.Message != wire.MsgBadToken {
		t.Errorf("Message = %q, want %q", pe.Message, wire.MsgBadToken)
	}
	if got := f.tokens.Invalidated(); !slices.Equal(got, []string{"app-1"}) {
		t.Errorf("invalidated %q, want [app-1]", got)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error %q holds the token", err)
	}
	if n := len(f.sandbox.Holds()); n != 0 {
		t.Errorf("holds = %d, want 0", n)
	}
}

func TestBlockRejectedBySandbox(t *testing.T) {
	f := newFixture(t, finnotechfake.Config{}, "tok")
	tests := []struct {
		name    string
		req     BlockRequest
		wantMsg string
	}{
		{"91 days", BlockRequest{Amount: 1000, Description: "test", Days: 91}, wire.MsgBadDays},
		{"0 days", BlockRequest{Amount: 1000, Description: "test", Days: 0}, wire.MsgBadDays},
		{"zero amount", BlockRequest{Amount: 0, Description: "test", Days: 12}, wire.MsgBadAmount},
		{"negative amount", BlockRequest{Amount: -1, Description: "test", Days: 12}, wire.MsgBadAmount},
		{"no description", BlockRequest{Amount: 1000, Days: 12}, wire.MsgNoDescription},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			trackID := newTrackID(t)
			_, err := f.client.Block(context.Background(), "app-1", trackID, tc.req)
			pe := wantError(t, err, providers.Permanent, "VALIDATION_ERROR", http.StatusBadRequest)
			if pe.Message != tc.wantMsg {
				t.Errorf("Message = %q, want %q", pe.Message, tc.wantMsg)
			}
			if st := f.callStatus(t, "app-1", trackID); st != CallFailed {
				t.Errorf("CallStatus = %s, want FAILED", st)
			}
		})
	}
	t.Run("trackId too long", func(t *testing.T) {
		_, err := f.client.Block(context.Background(), "app-1", strings.Repeat("a", 41), BlockRequest{Amount: 1000, Description: "test", Days: 12})
		wantError(t, err, providers.Permanent, "VALIDATION_ERROR", http.StatusBadRequest)
	})
	if n := len(f.sandbox.Holds()); n != 0 {
		t.Errorf("holds = %d, want 0", n)
	}
}

func TestFaults(t *testing.T) {
	good := BlockRequest{Amount: 1000, Description: "test", Days: 12}

	t.Run("error answers 503, classified unknown", func(t *testing.T) {
		f := newFixture(t, finnotechfake.Config{ErrorRate: 1}, "tok")
		trackID := newTrackID(t)
		_, err := f.client.Block(context.Background(), "app-1", trackID, good)
		// The sandbox applied nothing, but a client cannot know that from a 503.
		wantError(t, err, providers.Unknown, "SERVICE_UNAVAILABLE", http.StatusServiceUnavailable)
		if _, ok := f.sandbox.Hold(trackID); ok {
			t.Error("sandbox holds the block, want none")
		}
		if st := f.callStatus(t, "app-1", trackID); st != CallFailed {
			t.Errorf("CallStatus = %s, want FAILED", st)
		}
	})

	t.Run("apply then drop: unknown, but applied", func(t *testing.T) {
		f := newFixture(t, finnotechfake.Config{ApplyThenDropRate: 1}, "tok")
		trackID := newTrackID(t)
		_, err := f.client.Block(context.Background(), "app-1", trackID, good)
		wantError(t, err, providers.Unknown, "", 0)
		h, ok := f.sandbox.Hold(trackID)
		if !ok || h.State != finnotechfake.HoldBlocked || h.Amount != 1000 {
			t.Errorf("hold = %+v, %v; want the block applied", h, ok)
		}
		if st := f.callStatus(t, "app-1", trackID); st != CallDone {
			t.Errorf("CallStatus = %s, want DONE", st)
		}
		if n := f.sandbox.CallCount(finnotechfake.OpBlock); n != 1 {
			t.Errorf("CallCount(block) = %d, want 1", n)
		}
	})

	t.Run("timeout: unknown, not applied", func(t *testing.T) {
		f := newFixture(t, finnotechfake.Config{TimeoutRate: 1}, "tok")
		trackID := newTrackID(t)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := f.client.Block(ctx, "app-1", trackID, good)
		wantError(t, err, providers.Unknown, "", 0)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v, want it to hold context.DeadlineExceeded", err)
		}
		if _, ok := f.sandbox.Hold(trackID); ok {
			t.Error("sandbox holds the block, want none")
		}
		eventually(t, "the timed-out call to be recorded FAILED", func() bool {
			return f.callStatus(t, "app-1", trackID) == CallFailed
		})
		if n := f.sandbox.CallCount(finnotechfake.OpBlock); n != 0 {
			t.Errorf("CallCount(block) = %d, want 0", n)
		}
	})

	t.Run("faults changed at runtime", func(t *testing.T) {
		f := newFixture(t, finnotechfake.Config{ErrorRate: 1}, "tok")
		if _, err := f.client.Block(context.Background(), "app-1", newTrackID(t), good); providers.ClassOf(err) != providers.Unknown {
			t.Fatalf("Block with ErrorRate 1: got %v, want an unknown outcome", err)
		}
		f.sandbox.SetFaults(0, 0, 0)
		f.block(t, "app-1", 1000)
	})
}

func TestCallStatusPending(t *testing.T) {
	f := newFixture(t, finnotechfake.Config{TimeoutRate: 1, TimeoutDelay: time.Hour}, "tok")
	trackID := newTrackID(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := f.client.Block(ctx, "app-1", trackID, BlockRequest{Amount: 1000, Description: "test", Days: 12})
		done <- err
	}()

	var st CallStatus
	eventually(t, "the sandbox to see the call", func() bool {
		st = f.callStatus(t, "app-1", trackID)
		return st != CallAbsent
	})
	if st != CallPending {
		t.Errorf("CallStatus of a hanging call = %s, want PENDING", st)
	}

	cancel()
	wantError(t, <-done, providers.Unknown, "", 0)
	eventually(t, "the abandoned call to be recorded FAILED", func() bool {
		return f.callStatus(t, "app-1", trackID) == CallFailed
	})
}

func TestCallStatusAbsent(t *testing.T) {
	f := newFixture(t, finnotechfake.Config{}, "tok")
	f.block(t, "app-1", 1000)
	if st := f.callStatus(t, "app-1", newTrackID(t)); st != CallAbsent {
		t.Errorf("CallStatus of a never-sent trackId = %s, want ABSENT", st)
	}
}

func TestTransportErrors(t *testing.T) {
	t.Run("dial failure is retryable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		c := NewClient(ClientConfig{BaseURL: url, Tokens: finnotechfake.StaticToken("tok")})
		_, err := c.Block(context.Background(), "app-1", "t1", BlockRequest{Amount: 1, Description: "x", Days: 1})
		wantError(t, err, providers.Retryable, "", 0)
	})
	t.Run("no token: retryable, nothing sent", func(t *testing.T) {
		f := newFixture(t, finnotechfake.Config{}, "")
		f.tokens.err = errors.New("token store down")
		_, err := f.client.Block(context.Background(), "app-1", newTrackID(t), BlockRequest{Amount: 1, Description: "x", Days: 1})
		wantError(t, err, providers.Retryable, CodeNoToken, 0)
		if n := f.sandbox.Requests(finnotechfake.OpBlock); n != 0 {
			t.Errorf("Requests(block) = %d, want 0", n)
		}
	})
}

// cannedServer answers every request with status and body, and records the
// last request.
type cannedServer struct {
	*httptest.Server

	mu      sync.Mutex
	lastReq *http.Request
	lastBdy []byte
}

// last returns the last request and its body.
func (cs *cannedServer) last() (*http.Request, []byte) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.lastReq, cs.lastBdy
}

func newCannedServer(tb testing.TB, status int, body string) *cannedServer {
	tb.Helper()
	cs := &cannedServer{}
	cs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		cs.mu.Lock()
		cs.lastReq, cs.lastBdy = r.Clone(context.Background()), b
		cs.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	tb.Cleanup(cs.Close)
	return cs
}

func TestRequestShape(t *testing.T) {
	// One answer for both calls, holding what each must return.
	ok := `{"result":{"amount":1,"description":"d","deposit":"0201698541000","blockDate":"951210","days":"12","unblockDate":"951211"},"status":"DONE","trackId":"block-1"}`
	cs := newCannedServer(t, 200, ok)
	c := NewClient(ClientConfig{BaseURL: cs.URL + "/", HTTPClient: cs.Client(), Tokens: finnotechfake.StaticToken("tok-1")})
	if _, err := c.Block(context.Background(), "app 1", "block-1", BlockRequest{Amount: 1, Description: "مسدودی", Days: 12}); err != nil {
		t.Fatalf("Block: %v", err)
	}
	r, body := cs.last()
	if r.Method != http.MethodPost || r.URL.EscapedPath() != "/oak/v2/clients/app%201/block" || r.URL.Query().Get("trackId") != "block-1" {
		t.Errorf("request %s %s, want POST /oak/v2/clients/app%%201/block?trackId=block-1", r.Method, r.URL)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer tok-1" {
		t.Errorf("Authorization = %q, want Bearer tok-1", got)
	}
	if got := r.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	if got, want := string(body), `{"amount":1,"description":"مسدودی","days":"12"}`; got != want {
		t.Errorf("body = %s, want %s", got, want)
	}

	if _, err := c.Unblock(context.Background(), "app-1", "unblock-1", UnblockRequest{Amount: 1, BlockTrackID: "block-1", Deposit: "0201698541000", BlockDate: "951210", Description: "d", Days: 12}); err != nil {
		t.Fatalf("Unblock: %v", err)
	}
	r, body = cs.last()
	if got, want := string(body), `{"amount":1,"description":"d","days":"12","blockTrackId":"block-1","deposit":"0201698541000","blockDate":"951210"}`; got != want {
		t.Errorf("unblock body = %s, want %s", got, want)
	}
	if r.URL.Path != "/oak/v2/clients/app-1/unblock" || r.URL.Query().Get("trackId") != "unblock-1" {
		t.Errorf("unblock request %s, want /oak/v2/clients/app-1/unblock?trackId=unblock-1", r.URL)
	}
}

func TestLenientDecoding(t *testing.T) {
	tests := []struct {
		name       string
		amount     string
		days       string
		wantAmount int64
		wantDays   int
	}{
		{"numbers", `150000`, `12`, 150000, 12},
		{"strings", `"150000"`, `"12"`, 150000, 12},
		{"seed shape", `1`, `"12"`, 1, 12},
		{"large amount as string", `"90000000000000"`, `"90"`, 90000000000000, 90},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"result":{"amount":` + tc.amount + `,"description":"d","deposit":"0201698541000","blockDate":"951210","days":` + tc.days + `},"status":"DONE","trackId":"t"}`
			cs := newCannedServer(t, 200, body)
			c := NewClient(ClientConfig{BaseURL: cs.URL, HTTPClient: cs.Client(), Tokens: finnotechfake.StaticToken("tok")})
			resp, err := c.Block(context.Background(), "app-1", "t", BlockRequest{Amount: 1, Description: "d", Days: 12})
			if err != nil {
				t.Fatalf("Block: %v", err)
			}
			if resp.Amount != tc.wantAmount || resp.Days != tc.wantDays {
				t.Errorf("amount, days = %d, %d; want %d, %d", resp.Amount, resp.Days, tc.wantAmount, tc.wantDays)
			}

			ub := `{"result":{"amount":` + tc.amount + `,"deposit":"0201698541000","unblockDate":"951211"},"status":"DONE","trackId":"u"}`
			cs = newCannedServer(t, 200, ub)
			c = NewClient(ClientConfig{BaseURL: cs.URL, HTTPClient: cs.Client(), Tokens: finnotechfake.StaticToken("tok")})
			uresp, err := c.Unblock(context.Background(), "app-1", "u", UnblockRequest{Amount: 1, BlockTrackID: "t"})
			if err != nil {
				t.Fatalf("Unblock: %v", err)
			}
			if uresp.Amount != tc.wantAmount {
				t.Errorf("unblock amount = %d, want %d", uresp.Amount, tc.wantAmount)
			}
		})
	}
}

// TestCannedAnswers covers answers the sandbox never gives.
func TestCannedAnswers(t *testing.T) {
	tests := []struct {
		name          string
		status        int
		body          string
		wantClass     providers.Class
		wantCode      string
		wantInvalidat bool
	}{
		{"validation error invalid token", 400, `{"status":"FAILED","trackId":"t","error":{"code":"VALIDATION_ERROR","message":"invalid token"}}`, providers.Retryable, CodeTokenExpired, true},
		{"401 without body", 401, ``, providers.Retryable, CodeTokenExpired, true},
		{"provider not responding", 400, `{"status":"FAILED","trackId":"t","error":{"code":"SERVICE_CALL_ERROR","message":"سرویس دهنده جوابگو نیست"}}`, providers.Unknown, "SERVICE_CALL_ERROR", false},
		{"403 without body is a refusal", 403, ``, providers.Permanent, "", false},
		{"403 unauthorized", 403, `{"status":"FAILED","trackId":"t","error":{"code":"UNAUTHORIZED","message":"خطای دریافتی از سرور احراز هویت: توکن ارسالی نامعتبر است"}}`, providers.Retryable, CodeTokenExpired, true},
		{"408 FAILED envelope", 408, `{"status":"FAILED","trackId":"t","error":{"code":"REQUEST_TIMEOUT","message":"request timeout"}}`, providers.Unknown, "REQUEST_TIMEOUT", false},
		// The nested failure envelope (finnotech/doc.go, "Envelope").
		{"200 nested FAILED under outer DONE", 200, `{"result":{"response":null,"status":"FAILED","error":{"code":"SERVICE_CALL_ERROR","message":"Minimum amount is 10000 Rials."}},"status":"DONE","trackId":"t"}`, providers.Permanent, "SERVICE_CALL_ERROR", false},
		{"200 nested FAILED insufficient balance", 200, `{"result":{"response":null,"status":"FAILED","error":{"code":"SERVICE_CALL_ERROR","message":"موجودی حساب کافی نیست"}},"status":"DONE","trackId":"t"}`, providers.Permanent, CodeInsufficientBalance, false},
		{"400 outer FAILED, error only nested", 400, `{"result":{"response":null,"status":"FAILED","error":{"code":"SERVICE_CALL_ERROR","message":"موجودی حساب کافی نیست"}},"status":"FAILED","trackId":"t"}`, providers.Permanent, CodeInsufficientBalance, false},
		{"200 nested FAILED without error", 200, `{"result":{"response":null,"status":"FAILED"},"status":"DONE","trackId":"t"}`, providers.Unknown, "", false},
		{"200 nested not responding", 200, `{"result":{"response":null,"status":"FAILED","error":{"code":"SERVICE_CALL_ERROR","message":"سرویس دهنده جوابگو نیست"}},"status":"DONE","trackId":"t"}`, providers.Unknown, "SERVICE_CALL_ERROR", false},
		// A partial decode keeps the error.
		{"result of the wrong type beside an insufficient balance", 400, `{"result":"oops","status":"FAILED","trackId":"t","error":{"code":"VALIDATION_ERROR","message":"موجودی حساب کافی نیست"}}`, providers.Permanent, CodeInsufficientBalance, false},
		{"result of the wrong type beside a dead token", 400, `{"result":[1],"status":"FAILED","trackId":"t","error":{"code":"UNAUTHORIZED","message":"x"}}`, providers.Retryable, CodeTokenExpired, true},
		{"200 result of the wrong type beside invalid token", 200, `{"result":"x","status":"FAILED","error":{"code":"VALIDATION_ERROR","message":"invalid token"}}`, providers.Retryable, CodeTokenExpired, true},
		{"trackId of the wrong type beside an error", 400, `{"trackId":7,"status":"FAILED","error":{"code":"VALIDATION_ERROR","message":"invalid days"}}`, providers.Permanent, "VALIDATION_ERROR", false},
		// A DONE answer without what the operation returns is no success.
		{"200 DONE without deposit and blockDate", 200, `{"result":{"amount":1,"description":"d","days":"1"},"status":"DONE","trackId":"t"}`, providers.Unknown, CodeUnreadableResponse, false},
		{"200 DONE without result", 200, `{"status":"DONE","trackId":"t"}`, providers.Unknown, CodeUnreadableResponse, false},
		{"200 DONE with a null result", 200, `{"result":null,"status":"DONE","trackId":"t"}`, providers.Unknown, CodeUnreadableResponse, false},
		{"200 DONE with an empty amount", 200, `{"result":{"amount":"","description":"d","deposit":"0201698541000","blockDate":"951210","days":"1"},"status":"DONE","trackId":"t"}`, providers.Unknown, CodeUnreadableResponse, false},
		{"200 DONE beside an error", 200, `{"result":{"amount":1,"description":"d","deposit":"0201698541000","blockDate":"951210","days":"1"},"status":"DONE","trackId":"t","error":{"code":"SERVICE_CALL_ERROR","message":"x"}}`, providers.Unknown, CodeUnreadableResponse, false},
		{"200 FAILED without error", 200, `{"status":"FAILED","trackId":"t"}`, providers.Unknown, "", false},
		{"insufficient balance", 400, `{"status":"FAILED","trackId":"t","error":{"code":"VALIDATION_ERROR","message":"موجودی حساب کافی نیست"}}`, providers.Permanent, CodeInsufficientBalance, false},
		{"429", 429, `{"status":"FAILED","trackId":"t","error":{"code":"TOO_MANY_REQUESTS","message":"slow down"}}`, providers.Retryable, "TOO_MANY_REQUESTS", false},
		{"500 html", 500, `<html>oops</html>`, providers.Unknown, "", false},
		{"502 empty", 502, ``, providers.Unknown, "", false},
		{"504 wire.Envelope", 504, `{"status":"FAILED","error":{"code":"GATEWAY_TIMEOUT","message":"x"}}`, providers.Unknown, "GATEWAY_TIMEOUT", false},
		{"400 unreadable", 400, `not json`, providers.Permanent, "", false},
		{"200 unreadable", 200, `{"result":`, providers.Unknown, CodeUnreadableResponse, false},
		{"200 fractional amount", 200, `{"result":{"amount":1.5},"status":"DONE"}`, providers.Unknown, CodeUnreadableResponse, false},
		{"200 pending", 200, `{"result":{},"status":"PENDING","trackId":"t"}`, providers.Unknown, CodeUnreadableResponse, false},
		{"200 failed", 200, `{"status":"FAILED","trackId":"t","error":{"code":"SERVICE_CALL_ERROR","message":"Minimum amount is 10000 Rials."}}`, providers.Permanent, "SERVICE_CALL_ERROR", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := newCannedServer(t, tc.status, tc.body)
			tokens := &recordingTokens{tok: "tok"}
			c := NewClient(ClientConfig{BaseURL: cs.URL, HTTPClient: cs.Client(), Tokens: tokens})
			_, err := c.Block(context.Background(), "app-1", "t", BlockRequest{Amount: 1, Description: "d", Days: 1})
			wantError(t, err, tc.wantClass, tc.wantCode, tc.status)
			if got := len(tokens.Invalidated()) > 0; got != tc.wantInvalidat {
				t.Errorf("token invalidated = %v, want %v", got, tc.wantInvalidat)
			}
		})
	}
}

// TestMoneyAnswers: an unblock or a transfer answered DONE outside and
// FAILED inside, or DONE without what it returns, is no success.
func TestMoneyAnswers(t *testing.T) {
	const nested = `{"result":{"response":null,"status":"FAILED","error":{"code":"SERVICE_CALL_ERROR","message":"Minimum amount is 10000 Rials."}},"status":"DONE","trackId":"t"}`
	calls := map[string]func(c *Client) error{
		"unblock": func(c *Client) error {
			_, err := c.Unblock(context.Background(), "app-1", "t", UnblockRequest{Amount: 1, BlockTrackID: "b", Deposit: "0201698541000",
				BlockDate: "951210", Description: "d", Days: 1})
			return err
		},
		"transfer": func(c *Client) error {
			_, err := c.UnblockTransfer(context.Background(), "app-1", "t", UnblockTransferRequest{Amount: 1, UnblockTrackID: "u",
				Destination: destination, Description: "d", Days: 1})
			return err
		},
	}
	tests := []struct {
		name, op, body string
		wantClass      providers.Class
		wantCode       string
	}{
		{"unblock nested FAILED", "unblock", nested, providers.Permanent, "SERVICE_CALL_ERROR"},
		{"transfer nested FAILED", "transfer", nested, providers.Permanent, "SERVICE_CALL_ERROR"},
		{"transfer nested insufficient balance", "transfer", `{"result":{"status":"FAILED","error":{"code":"SERVICE_CALL_ERROR","message":"موجودی حساب کافی نیست"}},"status":"DONE"}`, providers.Permanent, CodeInsufficientBalance},
		{"unblock DONE with an empty result", "unblock", `{"result":{},"status":"DONE","trackId":"t"}`, providers.Unknown, CodeUnreadableResponse},
		{"unblock DONE without unblockDate", "unblock", `{"result":{"amount":1,"deposit":"0201698541000"},"status":"DONE","trackId":"t"}`, providers.Unknown, CodeUnreadableResponse},
		{"transfer DONE with an empty result", "transfer", `{"result":{},"status":"DONE","trackId":"t"}`, providers.Unknown, CodeUnreadableResponse},
		{"transfer DONE without transferDate", "transfer", `{"result":{"amount":1,"source":"0201698541000","destination":"0201000000001"},"status":"DONE","trackId":"t"}`, providers.Unknown, CodeUnreadableResponse},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := newCannedServer(t, 200, tc.body)
			c := NewClient(ClientConfig{BaseURL: cs.URL, HTTPClient: cs.Client(), Tokens: finnotechfake.StaticToken("tok")})
			wantError(t, calls[tc.op](c), tc.wantClass, tc.wantCode, http.StatusOK)
		})
	}
}

// TestErrorsAreWrapped checks the gerund context on a client error.
func TestErrorsAreWrapped(t *testing.T) {
	cs := newCannedServer(t, 503, ``)
	c := NewClient(ClientConfig{BaseURL: cs.URL, HTTPClient: cs.Client(), Tokens: finnotechfake.StaticToken("tok")})
	_, err := c.Block(context.Background(), "app-1", "t", BlockRequest{Amount: 1, Description: "d", Days: 1})
	if err == nil || !strings.HasPrefix(err.Error(), "sending block: ") {
		t.Errorf("error = %v, want it to start with %q", err, "sending block: ")
	}
}

func TestClientConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     ClientConfig
		wantErr bool
	}{
		{"good", ClientConfig{BaseURL: "https://apibeta.finnotech.ir", Tokens: finnotechfake.StaticToken("tok")}, false},
		{"no HTTP client is fine", ClientConfig{BaseURL: "http://x", Tokens: finnotechfake.StaticToken("tok"), HTTPClient: nil}, false},
		{"no base URL", ClientConfig{Tokens: finnotechfake.StaticToken("tok")}, true},
		{"no tokens", ClientConfig{BaseURL: "http://x"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); (err != nil) != tc.wantErr {
				t.Errorf("got Validate() = %v, want an error: %v", err, tc.wantErr)
			}
		})
	}
}
