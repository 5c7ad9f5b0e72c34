package finnotech_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/blockd/blockd/providers"
	. "github.com/blockd/blockd/providers/finnotech"
	"github.com/blockd/blockd/providers/finnotech/finnotechfake"
	"github.com/blockd/blockd/providers/finnotech/internal/wire"
	"github.com/blockd/blockd/providers/sandboxfault"
	"github.com/blockd/blockd/schemas"
)

const destination = "0201000000001"

func TestUnblockTransfer(t *testing.T) {
	f := newFixture(t, finnotechfake.Config{}, "tok")
	ctx := context.Background()
	blockID, unblockID := f.unblocked(t, "app-1", 5000)

	trackID := newTrackID(t)
	resp, err := f.client.UnblockTransfer(ctx, "app-1", trackID, UnblockTransferRequest{Amount: 4000,
		UnblockTrackID: unblockID, Destination: destination, Description: "test", Days: 12})
	if err != nil {
		t.Fatalf("UnblockTransfer: %v", err)
	}
	want := UnblockTransferResponse{Amount: 4000, Source: finnotechfake.DepositOf("app-1"), Destination: destination,
		TransferDate: "951210", TrackID: trackID}
	if resp != want {
		t.Errorf("UnblockTransfer = %+v, want %+v", resp, want)
	}

	h, _ := f.sandbox.Hold(blockID)
	wantHold := finnotechfake.Hold{BlockTrackID: blockID, ClientID: "app-1", Deposit: finnotechfake.DepositOf("app-1"), Amount: 5000,
		Description: "test", Days: 12, BlockDate: "951210", State: finnotechfake.HoldTransferred, UnblockTrackID: unblockID,
		UnblockDate: "951210", TransferTrackID: trackID, TransferAmount: 4000, TransferDestination: destination,
		TransferDate: "951210"}
	if h != wantHold {
		t.Errorf("hold = %+v, want %+v", h, wantHold)
	}
	if st := f.callStatus(t, "app-1", trackID); st != CallDone {
		t.Errorf("CallStatus = %s, want DONE", st)
	}
	if n := f.sandbox.CallCount(finnotechfake.OpTransfer); n != 1 {
		t.Errorf("CallCount(transfer) = %d, want 1", n)
	}

	// Only one successful transfer per block and unblock, even of the
	// remainder.
	second := newTrackID(t)
	_, err = f.client.UnblockTransfer(ctx, "app-1", second, UnblockTransferRequest{Amount: 1000,
		UnblockTrackID: unblockID, Destination: destination, Description: "test", Days: 12})
	pe := wantError(t, err, providers.Permanent, wire.CodeValidation, http.StatusBadRequest)
	if pe.Message != wire.MsgAlreadyTransferred {
		t.Errorf("second transfer: Message = %q, want %q", pe.Message, wire.MsgAlreadyTransferred)
	}
	if st := f.callStatus(t, "app-1", second); st != CallFailed {
		t.Errorf("CallStatus(second transfer) = %s, want FAILED", st)
	}
	if h2, _ := f.sandbox.Hold(blockID); h2 != wantHold {
		t.Errorf("hold after the second transfer = %+v, want it unchanged", h2)
	}
	if n := f.sandbox.CallCount(finnotechfake.OpTransfer); n != 1 {
		t.Errorf("CallCount(transfer) = %d, want 1", n)
	}
}

func TestUnblockTransferRefused(t *testing.T) {
	f := newFixture(t, finnotechfake.Config{}, "tok")
	tests := []struct {
		name     string
		clientID string
		edit     func(r *UnblockTransferRequest, blockID string)
		wantMsg  string
	}{
		{"amount over the unblocked amount", "app-1", func(r *UnblockTransferRequest, _ string) { r.Amount = 5001 }, wire.MsgInvalidAmount},
		{"transfer without unblock (a block's trackId)", "app-1", func(r *UnblockTransferRequest, blockID string) { r.UnblockTrackID = blockID }, wire.MsgTransactionNotFound},
		{"unknown unblock", "app-1", func(r *UnblockTransferRequest, _ string) { r.UnblockTrackID = "no-such-unblock" }, wire.MsgTransactionNotFound},
		{"another client", "app-2", func(*UnblockTransferRequest, string) {}, wire.MsgTransactionNotFound},
		{"no destination", "app-1", func(r *UnblockTransferRequest, _ string) { r.Destination = " " }, wire.MsgNoDestination},
		{"no unblock trackId", "app-1", func(r *UnblockTransferRequest, _ string) { r.UnblockTrackID = "" }, wire.MsgNoUnblockTrackID},
		{"zero amount", "app-1", func(r *UnblockTransferRequest, _ string) { r.Amount = 0 }, wire.MsgBadAmount},
		{"negative amount", "app-1", func(r *UnblockTransferRequest, _ string) { r.Amount = -1 }, wire.MsgBadAmount},
		{"to the source deposit", "app-1", func(r *UnblockTransferRequest, _ string) { r.Destination = finnotechfake.DepositOf("app-1") }, wire.MsgSameAccounts},
		{"days not the block's", "app-1", func(r *UnblockTransferRequest, _ string) { r.Days = 11 }, wire.MsgDaysMismatch},
		{"no days", "app-1", func(r *UnblockTransferRequest, _ string) { r.Days = 0 }, wire.MsgBadDays},
		{"description not the block's", "app-1", func(r *UnblockTransferRequest, _ string) { r.Description = "payout" }, wire.MsgDescriptionMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			blockID, unblockID := f.unblocked(t, "app-1", 5000)
			req := UnblockTransferRequest{Amount: 5000, UnblockTrackID: unblockID, Destination: destination, Description: "test", Days: 12}
			tc.edit(&req, blockID)
			trackID := newTrackID(t)
			_, err := f.client.UnblockTransfer(context.Background(), tc.clientID, trackID, req)
			pe := wantError(t, err, providers.Permanent, wire.CodeValidation, http.StatusBadRequest)
			if pe.Message != tc.wantMsg {
				t.Errorf("Message = %q, want %q", pe.Message, tc.wantMsg)
			}
			if h, _ := f.sandbox.Hold(blockID); h.State != finnotechfake.HoldUnblocked || h.TransferTrackID != "" {
				t.Errorf("hold = %+v, want UNBLOCKED without transfer", h)
			}
			if st := f.callStatus(t, tc.clientID, trackID); st != CallFailed {
				t.Errorf("CallStatus = %s, want FAILED", st)
			}
		})
	}
	t.Run("transfer of a block never unblocked", func(t *testing.T) {
		blockID, _ := f.block(t, "app-1", 5000)
		_, err := f.client.UnblockTransfer(context.Background(), "app-1", newTrackID(t),
			UnblockTransferRequest{Amount: 5000, UnblockTrackID: blockID, Destination: destination, Description: "test", Days: 12})
		wantError(t, err, providers.Permanent, wire.CodeValidation, http.StatusBadRequest)
		if h, _ := f.sandbox.Hold(blockID); h.State != finnotechfake.HoldBlocked {
			t.Errorf("hold state = %s, want BLOCKED", h.State)
		}
	})
	if n := f.sandbox.CallCount(finnotechfake.OpTransfer); n != 0 {
		t.Errorf("CallCount(transfer) = %d, want 0", n)
	}
}

func TestUnblockTransferInsufficientBalance(t *testing.T) {
	f := newFixture(t, finnotechfake.Config{InsufficientBalanceDeposits: []string{finnotechfake.DepositOf("app-low")}}, "tok")
	ctx := context.Background()
	blockID, unblockID := f.unblocked(t, "app-low", 50_000)

	for _, amount := range []int64{50_000, 49_001} {
		trackID := newTrackID(t)
		_, err := f.client.UnblockTransfer(ctx, "app-low", trackID, UnblockTransferRequest{Amount: amount,
			UnblockTrackID: unblockID, Destination: destination, Description: "test", Days: 12})
		pe := wantError(t, err, providers.Permanent, CodeInsufficientBalance, http.StatusBadRequest)
		if !IsInsufficientBalance(err) || pe.Message != wire.MsgInsufficientBalance {
			t.Errorf("amount %d: IsInsufficientBalance = %v, Message %q; want true, %q", amount, IsInsufficientBalance(err), pe.Message, wire.MsgInsufficientBalance)
		}
		if st := f.callStatus(t, "app-low", trackID); st != CallFailed {
			t.Errorf("amount %d: CallStatus = %s, want FAILED", amount, st)
		}
	}
	if h, _ := f.sandbox.Hold(blockID); h.State != finnotechfake.HoldUnblocked {
		t.Fatalf("hold state = %s, want UNBLOCKED after the refusals", h.State)
	}

	// The documented remedy: 1000 rial less, with a new trackId.
	resp, err := f.client.UnblockTransfer(ctx, "app-low", newTrackID(t), UnblockTransferRequest{Amount: 49_000,
		UnblockTrackID: unblockID, Destination: destination, Description: "test", Days: 12})
	if err != nil {
		t.Fatalf("UnblockTransfer of amount - 1000: %v", err)
	}
	if resp.Amount != 49_000 {
		t.Errorf("Amount = %d, want 49000", resp.Amount)
	}

	// Other deposits are not short.
	_, other := f.unblocked(t, "app-1", 50_000)
	if _, err := f.client.UnblockTransfer(ctx, "app-1", newTrackID(t), UnblockTransferRequest{Amount: 50_000,
		UnblockTrackID: other, Destination: destination, Description: "test", Days: 12}); err != nil {
		t.Errorf("UnblockTransfer from another deposit: %v", err)
	}
}

func TestUnblockTransferFaults(t *testing.T) {
	t.Run("retryable: not applied", func(t *testing.T) {
		f := newFixture(t, finnotechfake.Config{}, "tok")
		blockID, unblockID := f.unblocked(t, "app-1", 5000)
		f.sandbox.InjectNext(sandboxfault.FaultRetryable)
		_, err := f.client.UnblockTransfer(context.Background(), "app-1", newTrackID(t),
			UnblockTransferRequest{Amount: 5000, UnblockTrackID: unblockID, Destination: destination, Description: "test", Days: 12})
		wantError(t, err, providers.Retryable, wire.CodeTooManyRequests, http.StatusTooManyRequests)
		if h, _ := f.sandbox.Hold(blockID); h.State != finnotechfake.HoldUnblocked {
			t.Errorf("hold state = %s, want UNBLOCKED", h.State)
		}
	})
	t.Run("apply then drop: unknown, applied", func(t *testing.T) {
		f := newFixture(t, finnotechfake.Config{}, "tok")
		blockID, unblockID := f.unblocked(t, "app-1", 5000)
		f.sandbox.InjectNext(sandboxfault.FaultApplyThenDrop)
		trackID := newTrackID(t)
		_, err := f.client.UnblockTransfer(context.Background(), "app-1", trackID,
			UnblockTransferRequest{Amount: 5000, UnblockTrackID: unblockID, Destination: destination, Description: "test", Days: 12})
		wantError(t, err, providers.Unknown, "", 0)
		if h, _ := f.sandbox.Hold(blockID); h.State != finnotechfake.HoldTransferred || h.TransferTrackID != trackID {
			t.Errorf("hold = %+v, want TRANSFERRED by %s", h, trackID)
		}
	})
	t.Run("token expired: not applied", func(t *testing.T) {
		f := newFixture(t, finnotechfake.Config{}, "tok")
		blockID, unblockID := f.unblocked(t, "app-1", 5000)
		f.sandbox.InjectNext(sandboxfault.FaultTokenExpired)
		_, err := f.client.UnblockTransfer(context.Background(), "app-1", newTrackID(t),
			UnblockTransferRequest{Amount: 5000, UnblockTrackID: unblockID, Destination: destination, Description: "test", Days: 12})
		wantError(t, err, providers.Retryable, CodeTokenExpired, http.StatusForbidden)
		if h, _ := f.sandbox.Hold(blockID); h.State != finnotechfake.HoldUnblocked {
			t.Errorf("hold state = %s, want UNBLOCKED", h.State)
		}
	})
}

func TestUnblockTransferInquiry(t *testing.T) {
	f := newFixture(t, finnotechfake.Config{}, "tok")
	ctx := context.Background()
	inquire := func(t *testing.T, clientID, transferID string) (TransferInquiryResponse, error) {
		t.Helper()
		return f.client.UnblockTransferInquiry(ctx, clientID, newTrackID(t), transferID)
	}

	_, unblockID := f.unblocked(t, "app-1", 5000)
	refused := newTrackID(t)
	if _, err := f.client.UnblockTransfer(ctx, "app-1", refused, UnblockTransferRequest{Amount: 6000,
		UnblockTrackID: unblockID, Destination: destination, Description: "test", Days: 12}); err == nil {
		t.Fatal("transfer over the unblocked amount: got no error")
	}
	done := newTrackID(t)
	if _, err := f.client.UnblockTransfer(ctx, "app-1", done, UnblockTransferRequest{Amount: 4500,
		UnblockTrackID: unblockID, Destination: destination, Description: "test", Days: 12}); err != nil {
		t.Fatalf("UnblockTransfer: %v", err)
	}
	blockID, _ := f.block(t, "app-1", 1000)

	t.Run("done", func(t *testing.T) {
		got, err := inquire(t, "app-1", done)
		if err != nil {
			t.Fatalf("UnblockTransferInquiry: %v", err)
		}
		want := TransferInquiryResponse{Status: CallDone, Amount: 4500, Source: finnotechfake.DepositOf("app-1"),
			Destination: destination, TransferDate: "951210", TrackID: got.TrackID}
		if got != want || got.TrackID == "" {
			t.Errorf("inquiry = %+v, want %+v", got, want)
		}
	})
	t.Run("failed", func(t *testing.T) {
		got, err := inquire(t, "app-1", refused)
		if err != nil {
			t.Fatalf("UnblockTransferInquiry: %v", err)
		}
		if got.Status != CallFailed || got.Amount != 6000 || got.TransferDate != "" {
			t.Errorf("inquiry = %+v, want FAILED of 6000 without a date", got)
		}
	})
	for _, tc := range []struct {
		name, clientID, transferID string
	}{
		{"never seen", "app-1", newTrackID(t)},
		{"a block, not a transfer", "app-1", blockID},
		{"another client's transfer", "app-2", done},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := inquire(t, tc.clientID, tc.transferID)
			pe := wantError(t, err, providers.Permanent, wire.CodeValidation, http.StatusBadRequest)
			if pe.Message != wire.MsgTransactionNotFound {
				t.Errorf("Message = %q, want %q", pe.Message, wire.MsgTransactionNotFound)
			}
		})
	}
	t.Run("reused inquiry trackId", func(t *testing.T) {
		id := newTrackID(t)
		if _, err := f.client.UnblockTransferInquiry(ctx, "app-1", id, done); err != nil {
			t.Fatalf("first inquiry: %v", err)
		}
		_, err := f.client.UnblockTransferInquiry(ctx, "app-1", id, done)
		wantError(t, err, providers.Permanent, CodeDuplicateTrackID, http.StatusBadRequest)
	})
	if got, want := f.sandbox.CallCount(finnotechfake.OpTransferInquiry), 3; got != want {
		t.Errorf("CallCount(transferInquiry) = %d, want %d", got, want)
	}
	if got, want := f.sandbox.Requests(finnotechfake.OpTransferInquiry), 7; got != want {
		t.Errorf("Requests(transferInquiry) = %d, want %d", got, want)
	}
}

func TestUnblockTransferInquiryPending(t *testing.T) {
	f := newFixture(t, finnotechfake.Config{TimeoutDelay: time.Hour}, "tok")
	_, unblockID := f.unblocked(t, "app-1", 5000)
	f.sandbox.InjectNext(sandboxfault.FaultTimeout)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	trackID := newTrackID(t)
	done := make(chan error, 1)
	go func() {
		_, err := f.client.UnblockTransfer(ctx, "app-1", trackID, UnblockTransferRequest{Amount: 5000,
			UnblockTrackID: unblockID, Destination: destination, Description: "test", Days: 12})
		done <- err
	}()
	eventually(t, "the sandbox to see the transfer", func() bool { return f.callStatus(t, "app-1", trackID) != CallAbsent })
	got, err := f.client.UnblockTransferInquiry(context.Background(), "app-1", newTrackID(t), trackID)
	if err != nil || got.Status != CallPending {
		t.Errorf("inquiry of a hanging transfer = %+v, %v; want PENDING", got, err)
	}
	cancel()
	wantError(t, <-done, providers.Unknown, "", 0)
}

func TestTransferRequestShape(t *testing.T) {
	ok := `{"result":{"amount":"1500000","source":"0201698541000","destination":"0201000000001","transferDate":"030105"},"status":"DONE","trackId":"xfr-1"}`
	cs := newCannedServer(t, 200, ok)
	c := NewClient(ClientConfig{BaseURL: cs.URL, HTTPClient: cs.Client(), Tokens: finnotechfake.StaticToken("tok-1")})
	resp, err := c.UnblockTransfer(context.Background(), "app-1", "xfr-1", UnblockTransferRequest{Amount: 1_500_000,
		UnblockTrackID: "ubl-1", Destination: destination, Description: "court order", Days: 30})
	if err != nil {
		t.Fatalf("UnblockTransfer: %v", err)
	}
	want := UnblockTransferResponse{Amount: 1_500_000, Source: "0201698541000", Destination: destination, TransferDate: "030105", TrackID: "xfr-1"}
	if resp != want {
		t.Errorf("UnblockTransfer = %+v, want %+v", resp, want)
	}
	r, body := cs.last()
	if r.Method != http.MethodPost || r.URL.Path != "/oak/v2/clients/app-1/unblockTransfer" || r.URL.Query().Get("trackId") != "xfr-1" {
		t.Errorf("request %s %s, want POST /oak/v2/clients/app-1/unblockTransfer?trackId=xfr-1", r.Method, r.URL)
	}
	if got, want := string(body), `{"amount":1500000,"description":"court order","days":"30","unblockTrackId":"ubl-1","destination":"0201000000001"}`; got != want {
		t.Errorf("body = %s, want %s", got, want)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer tok-1" {
		t.Errorf("Authorization = %q, want Bearer tok-1", got)
	}

	inq := `{"result":{"status":"DONE","amount":1500000,"destination":"0201000000001","transferDate":"030105"},"status":"DONE","trackId":"inq-1"}`
	cs = newCannedServer(t, 200, inq)
	c = NewClient(ClientConfig{BaseURL: cs.URL, HTTPClient: cs.Client(), Tokens: finnotechfake.StaticToken("tok-1")})
	got, err := c.UnblockTransferInquiry(context.Background(), "app-1", "inq-1", "xfr-1")
	if err != nil {
		t.Fatalf("UnblockTransferInquiry: %v", err)
	}
	if got.Status != CallDone || got.Amount != 1_500_000 || got.TrackID != "inq-1" {
		t.Errorf("inquiry = %+v, want DONE of 1500000", got)
	}
	r, body = cs.last()
	q := r.URL.Query()
	if r.Method != http.MethodGet || r.URL.Path != "/oak/v2/clients/app-1/unblockTransferInquiry" ||
		q.Get("trackId") != "inq-1" || q.Get("inquiryTrackId") != "xfr-1" || len(body) != 0 {
		t.Errorf("request %s %s (body %q), want GET .../unblockTransferInquiry?trackId=inq-1&inquiryTrackId=xfr-1", r.Method, r.URL, body)
	}
}

func TestTransferInquiryAnswers(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		want      TransferInquiryResponse
		wantClass providers.Class
		wantCode  string
	}{
		{"pending without amount", `{"result":{"status":"PENDING"},"status":"DONE","trackId":"i"}`,
			TransferInquiryResponse{Status: CallPending, TrackID: "i"}, 0, ""},
		{"failed with empty amount", `{"result":{"status":"FAILED","amount":""},"status":"DONE","trackId":"i"}`,
			TransferInquiryResponse{Status: CallFailed, TrackID: "i"}, 0, ""},
		{"no status", `{"result":{"amount":1},"status":"DONE","trackId":"i"}`, TransferInquiryResponse{}, providers.Unknown, CodeUnreadableResponse},
		{"other status", `{"result":{"status":"REVERSED"},"status":"DONE","trackId":"i"}`, TransferInquiryResponse{}, providers.Unknown, CodeUnreadableResponse},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := newCannedServer(t, 200, tc.body)
			c := NewClient(ClientConfig{BaseURL: cs.URL, HTTPClient: cs.Client(), Tokens: finnotechfake.StaticToken("tok")})
			got, err := c.UnblockTransferInquiry(context.Background(), "app-1", "i", "x")
			if tc.wantCode != "" {
				wantError(t, err, tc.wantClass, tc.wantCode, http.StatusOK)
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("inquiry = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestAdapterTransferAndInquiry(t *testing.T) {
	f := newFixture(t, finnotechfake.Config{}, "tok")
	a := NewAdapter(f.client)
	ctx := context.Background()
	blockID, b := f.block(t, "app-1", 1_500_000)
	unblockID := f.unblock(t, "app-1", blockID, b)

	hold := &schemas.Hold{
		Block: schemas.BlockRef{TrackID: "blk-1", Provider: schemas.ProviderFinnotech, ClientID: "app-1", Amount: b.Amount,
			Description: b.Description, Days: b.Days, Deposit: b.Deposit, BlockDate: b.BlockDate, ProviderTrackID: blockID},
		State:                  schemas.HoldTransferring,
		UnblockTrackID:         "ubl-1",
		UnblockProviderTrackID: unblockID,
	}
	cmd := schemas.Command{Kind: schemas.KindTransfer, TrackID: "xfr-1", Provider: schemas.ProviderFinnotech,
		UnblockTrackID: "ubl-1", Amount: 1_500_000, Destination: destination, Description: "court order 1403-77 payout"}
	call := newTrackID(t)
	raw, err := a.Execute(ctx, providers.Request{Command: cmd, ProviderTrackID: call, Hold: hold})
	if err != nil {
		t.Fatalf("Execute(transfer): %v", err)
	}
	var tr schemas.FinnotechTransferResult
	if err := json.Unmarshal(raw, &tr); err != nil {
		t.Fatalf("decoding transfer result %s: %v", raw, err)
	}
	want := schemas.FinnotechTransferResult{Amount: 1_500_000, Source: b.Deposit, Destination: destination,
		TransferDate: "951210", UnblockTrackID: "ubl-1", ProviderTrackID: call}
	if tr != want {
		t.Errorf("transfer result = %+v, want %+v", tr, want)
	}
	if h, _ := f.sandbox.Hold(blockID); h.State != finnotechfake.HoldTransferred || h.TransferTrackID != call {
		t.Errorf("hold = %+v, want TRANSFERRED by %s", h, call)
	}

	inqCmd := schemas.Command{Kind: schemas.KindInquiry, TrackID: "inq-1", Provider: schemas.ProviderFinnotech,
		Inquiry: InquiryTransfer, TransferTrackID: "xfr-1"}
	raw, err = a.Execute(ctx, providers.Request{Command: inqCmd, ProviderTrackID: newTrackID(t),
		InquiredTrackID: call, InquiredClientID: "app-1"})
	if err != nil {
		t.Fatalf("Execute(transfer inquiry): %v", err)
	}
	var ir schemas.FinnotechTransferInquiryResult
	if err := json.Unmarshal(raw, &ir); err != nil {
		t.Fatalf("decoding inquiry result %s: %v", raw, err)
	}
	wantInq := schemas.FinnotechTransferInquiryResult{TransferTrackID: "xfr-1", Status: "DONE", Amount: 1_500_000,
		Destination: destination, TransferDate: "951210", ProviderTrackID: call}
	if ir != wantInq {
		t.Errorf("inquiry result = %+v, want %+v", ir, wantInq)
	}

	// A transfer inquiry about a call Finnotech never saw is refused.
	_, err = a.Execute(ctx, providers.Request{Command: inqCmd, ProviderTrackID: newTrackID(t),
		InquiredTrackID: newTrackID(t), InquiredClientID: "app-1"})
	wantError(t, err, providers.Permanent, wire.CodeValidation, http.StatusBadRequest)
}
