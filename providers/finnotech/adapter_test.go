package finnotech_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/blockd/blockd/providers"
	. "github.com/blockd/blockd/providers/finnotech"
	"github.com/blockd/blockd/providers/finnotech/finnotechfake"
	"github.com/blockd/blockd/schemas"
)

func TestAdapterBlockThenUnblock(t *testing.T) {
	f := newFixture(t, finnotechfake.Config{}, "tok")
	a := NewAdapter(f.client)
	ctx := context.Background()

	blockCmd := schemas.Command{Kind: schemas.KindBlock, TrackID: "cmd-block-1", Provider: schemas.ProviderFinnotech,
		ClientID: "app-1", Amount: 250_000, Description: "ضمانت", Days: 30}
	blockCall := newTrackID(t)
	raw, err := a.Execute(ctx, providers.Request{Command: blockCmd, ProviderTrackID: blockCall})
	if err != nil {
		t.Fatalf("Execute(block): %v", err)
	}
	var br schemas.FinnotechBlockResult
	if err := json.Unmarshal(raw, &br); err != nil {
		t.Fatalf("decoding block result %s: %v", raw, err)
	}
	wantBlock := schemas.FinnotechBlockResult{Amount: 250_000, Description: "ضمانت", Deposit: finnotechfake.DepositOf("app-1"),
		BlockDate: "951210", Days: 30, ProviderTrackID: blockCall}
	if br != wantBlock {
		t.Errorf("block result = %+v, want %+v", br, wantBlock)
	}
	if st, err := a.Status(ctx, "app-1", blockCall); err != nil || st != CallDone {
		t.Errorf("Status(block call) = %s, %v; want DONE", st, err)
	}

	// The unblock is built from the stored block, not from the command.
	ref := &schemas.BlockRef{TrackID: blockCmd.TrackID, Provider: schemas.ProviderFinnotech, ClientID: "app-1",
		Amount: br.Amount, Description: br.Description, Days: br.Days, Deposit: br.Deposit, BlockDate: br.BlockDate,
		ProviderTrackID: br.ProviderTrackID}
	unblockCmd := schemas.Command{Kind: schemas.KindUnblock, TrackID: "cmd-unblock-1", Provider: schemas.ProviderFinnotech,
		BlockTrackID: blockCmd.TrackID}
	unblockCall := newTrackID(t)
	raw, err = a.Execute(ctx, providers.Request{Command: unblockCmd, ProviderTrackID: unblockCall, Block: ref})
	if err != nil {
		t.Fatalf("Execute(unblock): %v", err)
	}
	var ur schemas.FinnotechUnblockResult
	if err := json.Unmarshal(raw, &ur); err != nil {
		t.Fatalf("decoding unblock result %s: %v", raw, err)
	}
	wantUnblock := schemas.FinnotechUnblockResult{Amount: 250_000, Deposit: br.Deposit, UnblockDate: "951210",
		BlockTrackID: "cmd-block-1", ProviderTrackID: unblockCall}
	if ur != wantUnblock {
		t.Errorf("unblock result = %+v, want %+v", ur, wantUnblock)
	}
	if h, _ := f.sandbox.Hold(blockCall); h.State != finnotechfake.HoldUnblocked || h.UnblockTrackID != unblockCall {
		t.Errorf("hold = %+v, want UNBLOCKED by %s", h, unblockCall)
	}
}

func TestAdapterErrors(t *testing.T) {
	f := newFixture(t, finnotechfake.Config{}, "tok")
	a := NewAdapter(f.client)
	tests := []struct {
		name       string
		req        providers.Request
		wantClass  providers.Class
		wantCode   string
		wantStatus int
	}{
		{"unblock without its block",
			providers.Request{Command: schemas.Command{Kind: schemas.KindUnblock, ClientID: "app-1"}, ProviderTrackID: "u-1"},
			providers.Permanent, CodeMissingBlock, 0},
		{"transfer without its hold", providers.Request{Command: schemas.Command{Kind: schemas.KindTransfer}, ProviderTrackID: "t-1"},
			providers.Permanent, CodeMissingHold, 0},
		{"transfer of a hold never unblocked",
			providers.Request{Command: schemas.Command{Kind: schemas.KindTransfer, Amount: 1, Destination: "0201000000001"}, ProviderTrackID: "t-2",
				Hold: &schemas.Hold{Block: schemas.BlockRef{ClientID: "app-1"}, State: schemas.HoldBlocked}},
			providers.Permanent, CodeMissingHold, 0},
		{"inquiry of no kind", providers.Request{Command: schemas.Command{Kind: schemas.KindInquiry}, ProviderTrackID: "i-1"},
			providers.Permanent, CodeUnsupported, 0},
		{"inquiry of another kind", providers.Request{Command: schemas.Command{Kind: schemas.KindInquiry, Inquiry: "balance"}, ProviderTrackID: "i-2"},
			providers.Permanent, CodeUnsupported, 0},
		{"transfer inquiry without its transfer",
			providers.Request{Command: schemas.Command{Kind: schemas.KindInquiry, Inquiry: "transfer", TransferTrackID: "xfr-1"}, ProviderTrackID: "i-3"},
			providers.Permanent, CodeMissingTransfer, 0},
		{"facility inquiry with a national id of letters",
			providers.Request{Command: schemas.Command{Kind: schemas.KindInquiry, Inquiry: "facility", ClientID: "app-1", NationalID: "00713319x1"}, ProviderTrackID: "i-4"},
			providers.Permanent, CodeBadRequest, 0},
		{"refund", providers.Request{Command: schemas.Command{Kind: "refund"}, ProviderTrackID: "r-1"},
			providers.Permanent, CodeUnsupported, 0},
		{"block refused by finnotech",
			providers.Request{Command: schemas.Command{Kind: schemas.KindBlock, ClientID: "app-1", Amount: 1, Description: "d", Days: 91}, ProviderTrackID: "b-91"},
			providers.Permanent, "VALIDATION_ERROR", http.StatusBadRequest},
		{"unblock of an unknown block",
			providers.Request{Command: schemas.Command{Kind: schemas.KindUnblock}, ProviderTrackID: "u-2",
				Block: &schemas.BlockRef{ClientID: "app-1", Amount: 1, ProviderTrackID: "never-blocked"}},
			providers.Permanent, "VALIDATION_ERROR", http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := a.Execute(context.Background(), tc.req)
			if raw != nil {
				t.Errorf("result = %s, want none", raw)
			}
			wantError(t, err, tc.wantClass, tc.wantCode, tc.wantStatus)
		})
	}
	if n := f.sandbox.Requests(finnotechfake.OpUnblock); n != 1 {
		t.Errorf("Requests(unblock) = %d, want 1 (an unblock without its block is never sent)", n)
	}
	for _, op := range []string{finnotechfake.OpTransfer, finnotechfake.OpTransferInquiry, finnotechfake.OpFacility} {
		if n := f.sandbox.Requests(op); n != 0 {
			t.Errorf("Requests(%s) = %d, want 0 (nothing to send)", op, n)
		}
	}
}

// TestAdapterBodies: an unblock carries the stored block's amount,
// description and days; an unblock-transfer the transfer's amount and the
// block's description and days (finnotech/doc.go, "Unblock", "Unblock-transfer").
func TestAdapterBodies(t *testing.T) {
	answer := `{"result":{"amount":1500000,"deposit":"0201698541000","unblockDate":"030106","source":"0201698541000",` +
		`"destination":"0201000000001","transferDate":"030107"},"status":"DONE","trackId":"x"}`
	block := schemas.BlockRef{TrackID: "blk-1", Provider: schemas.ProviderFinnotech, ClientID: "app-1", Amount: 1_500_000,
		Description: "court order 1403-77", Days: 30, Deposit: "0201698541000", BlockDate: "030105", ProviderTrackID: "blk-call"}
	tests := []struct {
		name string
		req  providers.Request
		want string
	}{
		{"unblock", providers.Request{
			Command:         schemas.Command{Kind: schemas.KindUnblock, TrackID: "ubl-1", Provider: schemas.ProviderFinnotech, BlockTrackID: "blk-1"},
			ProviderTrackID: "ubl-call", Block: &block},
			`{"amount":1500000,"description":"court order 1403-77","days":"30","blockTrackId":"blk-call","deposit":"0201698541000","blockDate":"030105"}`},
		{"transfer", providers.Request{
			Command: schemas.Command{Kind: schemas.KindTransfer, TrackID: "xfr-1", Provider: schemas.ProviderFinnotech, UnblockTrackID: "ubl-1",
				Amount: 1_499_000, Destination: "0201000000001", Description: "payout"},
			ProviderTrackID: "xfr-call",
			Hold:            &schemas.Hold{Block: block, State: schemas.HoldTransferring, UnblockTrackID: "ubl-1", UnblockProviderTrackID: "ubl-call"}},
			`{"amount":1499000,"description":"court order 1403-77","days":"30","unblockTrackId":"ubl-call","destination":"0201000000001"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := newCannedServer(t, 200, answer)
			a := NewAdapter(NewClient(ClientConfig{BaseURL: cs.URL, HTTPClient: cs.Client(), Tokens: finnotechfake.StaticToken("tok")}))
			if _, err := a.Execute(context.Background(), tc.req); err != nil {
				t.Fatalf("Execute: %v", err)
			}
			if _, body := cs.last(); string(body) != tc.want {
				t.Errorf("body %s, want %s", body, tc.want)
			}
		})
	}
}
