package finnotechfake

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/providers/finnotech"
	"github.com/blockd/blockd/providers/finnotech/internal/wire"
	"github.com/blockd/blockd/providers/sandboxfault"
)

func TestSandboxValidation(t *testing.T) {
	const (
		bearer = "Bearer good"
		jsonCT = "application/json"
		body   = `{"amount":1000,"description":"d","days":"12"}`
	)
	block := func(trackID string) string { return "/oak/v2/clients/app-1/block?trackId=" + trackID }
	tests := []struct {
		name        string
		path        string
		auth        string
		contentType string
		body        string
		wantStatus  int
		wantCode    string
		wantMsg     string
	}{
		{"good", block("ok-1"), bearer, jsonCT, body, 200, "", ""},
		{"amount and days leniently", block("ok-2"), bearer, jsonCT, `{"amount":"1000","description":"d","days":12}`, 200, "", ""},
		{"content type with charset", block("ok-3"), bearer, "application/json; charset=utf-8", body, 200, "", ""},
		{"40-character trackId", block(strings.Repeat("a", 40)), bearer, jsonCT, body, 200, "", ""},
		{"lower-case bearer", block("ok-4"), "bearer good", jsonCT, body, 200, "", ""},
		{"no authorization", block("a-1"), "", jsonCT, body, 403, wire.CodeUnauthorized, wire.MsgBadToken},
		{"basic auth", block("a-2"), "Basic Z29vZA==", jsonCT, body, 403, wire.CodeUnauthorized, wire.MsgBadToken},
		{"empty bearer", block("a-3"), "Bearer ", jsonCT, body, 403, wire.CodeUnauthorized, wire.MsgBadToken},
		{"unknown token", block("a-4"), "Bearer other", jsonCT, body, 403, wire.CodeUnauthorized, wire.MsgBadToken},
		{"no trackId", "/oak/v2/clients/app-1/block", bearer, jsonCT, body, 400, wire.CodeValidation, wire.MsgBadTrackID},
		{"41-character trackId", block(strings.Repeat("a", 41)), bearer, jsonCT, body, 400, wire.CodeValidation, wire.MsgBadTrackID},
		{"trackId with a dot", block("a.b"), bearer, jsonCT, body, 400, wire.CodeValidation, wire.MsgBadTrackID},
		{"no content type", block("v-1"), bearer, "", body, 400, wire.CodeValidation, wire.MsgBadContentType},
		{"form body", block("v-2"), bearer, "application/x-www-form-urlencoded", "amount=1", 400, wire.CodeValidation, wire.MsgBadContentType},
		{"not json", block("v-3"), bearer, jsonCT, `amount=1`, 400, wire.CodeValidation, wire.MsgBadBody},
		{"no amount", block("v-4"), bearer, jsonCT, `{"description":"d","days":"12"}`, 400, wire.CodeValidation, wire.MsgBadAmount},
		{"fractional amount", block("v-5"), bearer, jsonCT, `{"amount":1.5,"description":"d","days":"12"}`, 400, wire.CodeValidation, wire.MsgBadAmount},
		{"amount not a number", block("v-6"), bearer, jsonCT, `{"amount":"ten","description":"d","days":"12"}`, 400, wire.CodeValidation, wire.MsgBadAmount},
		{"no days", block("v-7"), bearer, jsonCT, `{"amount":1,"description":"d"}`, 400, wire.CodeValidation, wire.MsgBadDays},
		{"days 91", block("v-8"), bearer, jsonCT, `{"amount":1,"description":"d","days":"91"}`, 400, wire.CodeValidation, wire.MsgBadDays},
		{"days 90", block("ok-5"), bearer, jsonCT, `{"amount":1,"description":"d","days":"90"}`, 200, "", ""},
		{"blank description", block("v-9"), bearer, jsonCT, `{"amount":1,"description":"  ","days":"1"}`, 400, wire.CodeValidation, wire.MsgNoDescription},
		{"duplicate trackId", block("ok-1"), bearer, jsonCT, body, 400, wire.CodeValidation, wire.MsgDuplicateTrackID},
		{"duplicate of a refused call", block("v-8"), bearer, jsonCT, body, 400, wire.CodeValidation, wire.MsgDuplicateTrackID},
	}
	f := newFixture(t, Config{Tokens: []string{"good"}}, "good")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, env := f.rawCall(t, http.MethodPost, tc.path, tc.auth, tc.contentType, tc.body)
			if status != tc.wantStatus {
				t.Errorf("HTTP %d, want %d; answer %+v", status, tc.wantStatus, env)
			}
			if tc.wantCode == "" {
				if env.Status != wire.StatusDone || env.Error != nil {
					t.Errorf("answer %+v, want DONE", env)
				}
				return
			}
			if env.Status != wire.StatusFailed || env.Error == nil || env.Error.Code != tc.wantCode || env.Error.Message != tc.wantMsg {
				t.Errorf("answer %+v (error %+v), want FAILED %s %q", env, env.Error, tc.wantCode, tc.wantMsg)
			}
		})
	}
	if got, want := f.sandbox.CallCount(OpBlock), 6; got != want {
		t.Errorf("CallCount(block) = %d, want %d", got, want)
	}
	if got, want := f.sandbox.Requests(OpBlock), len(tests); got != want {
		t.Errorf("Requests(block) = %d, want %d", got, want)
	}
}

func TestSandboxFaultTokenExpiredRevokes(t *testing.T) {
	f := newFixture(t, Config{}, "tok")
	f.block(t, "app-1", 1000)
	f.sandbox.InjectNext(sandboxfault.FaultTokenExpired)
	_, err := f.client.Block(context.Background(), "app-1", newTrackID(t), finnotech.BlockRequest{Amount: 1, Description: "d", Days: 1})
	wantError(t, err, providers.Retryable, finnotech.CodeTokenExpired, http.StatusForbidden)
	// Any token works in this sandbox, except the revoked one: the oak
	// calls fail from now on...
	_, err = f.client.Block(context.Background(), "app-1", newTrackID(t), finnotech.BlockRequest{Amount: 1, Description: "d", Days: 1})
	wantError(t, err, providers.Retryable, finnotech.CodeTokenExpired, http.StatusForbidden)
	// ...while the client-credential calls, on another token, do not.
	if _, err := f.client.CallStatus(context.Background(), "app-1", "t"); err != nil {
		t.Errorf("CallStatus on the client-credential token: %v", err)
	}
	if _, err := f.client.FacilityInquiry(context.Background(), "app-1", newTrackID(t), "0071331951"); err != nil {
		t.Errorf("FacilityInquiry on the client-credential token: %v", err)
	}
	other := finnotech.NewClient(finnotech.ClientConfig{BaseURL: f.server.URL, HTTPClient: f.server.Client(), Tokens: StaticToken("other")})
	if _, err := other.Block(context.Background(), "app-1", newTrackID(t), finnotech.BlockRequest{Amount: 1, Description: "d", Days: 1}); err != nil {
		t.Errorf("Block with another token: %v", err)
	}
}

func TestSandboxWagesNeedsAuth(t *testing.T) {
	f := newFixture(t, Config{Tokens: []string{"good"}}, "bad")
	_, err := f.client.CallStatus(context.Background(), "app-1", "t-1")
	wantError(t, err, providers.Retryable, finnotech.CodeTokenExpired, http.StatusForbidden)
	if n := f.sandbox.Requests(OpWages); n != 1 {
		t.Errorf("Requests(wages) = %d, want 1", n)
	}
}

func TestSandboxLedger(t *testing.T) {
	f := newFixture(t, Config{}, "tok")
	blockID, b := f.block(t, "app-1", 7000)
	f.block(t, "app-2", 8000)
	unblockID := newTrackID(t)
	if _, err := f.client.Unblock(context.Background(), "app-1", unblockID, finnotech.UnblockRequest{Amount: 7000, BlockTrackID: blockID, Deposit: b.Deposit, BlockDate: b.BlockDate, Description: b.Description, Days: b.Days}); err != nil {
		t.Fatalf("Unblock: %v", err)
	}
	transferID := newTrackID(t)
	if _, err := f.client.UnblockTransfer(context.Background(), "app-1", transferID, finnotech.UnblockTransferRequest{Amount: 6500, UnblockTrackID: unblockID, Destination: destination, Description: b.Description, Days: b.Days}); err != nil {
		t.Fatalf("UnblockTransfer: %v", err)
	}
	if _, err := f.client.UnblockTransferInquiry(context.Background(), "app-1", newTrackID(t), transferID); err != nil {
		t.Fatalf("UnblockTransferInquiry: %v", err)
	}
	if _, err := f.client.FacilityInquiry(context.Background(), "app-1", newTrackID(t), "0071331951"); err != nil {
		t.Fatalf("FacilityInquiry: %v", err)
	}

	resp, err := f.server.Client().Get(f.server.URL + "/_sandbox/ledger")
	if err != nil {
		t.Fatalf("getting ledger: %v", err)
	}
	defer resp.Body.Close()
	var ledger struct {
		Holds        []Hold         `json:"holds"`
		Calls        map[string]int `json:"calls"`
		Requests     map[string]int `json:"requests"`
		TokensIssued *int           `json:"tokensIssued"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ledger); err != nil {
		t.Fatalf("decoding ledger: %v", err)
	}
	if len(ledger.Holds) != 2 || ledger.Holds[1].State != HoldBlocked || ledger.Holds[1].Amount != 8000 {
		t.Errorf("ledger holds = %+v, want app-1 then app-2 BLOCKED", ledger.Holds)
	}
	if h := ledger.Holds[0]; h.State != HoldTransferred || h.UnblockTrackID != unblockID || h.TransferTrackID != transferID ||
		h.TransferAmount != 6500 || h.TransferDestination != destination || h.TransferDate != "951210" {
		t.Errorf("ledger hold of app-1 = %+v, want TRANSFERRED 6500 to %s", h, destination)
	}
	wantCounts := map[string]int{OpBlock: 2, OpUnblock: 1, OpTransfer: 1, OpTransferInquiry: 1, OpFacility: 1}
	for op, n := range wantCounts {
		if ledger.Calls[op] != n || ledger.Requests[op] != n || f.sandbox.CallCount(op) != n || f.sandbox.Requests(op) != n {
			t.Errorf("%s: ledger calls %d, requests %d, CallCount %d, Requests %d; want %d", op, ledger.Calls[op],
				ledger.Requests[op], f.sandbox.CallCount(op), f.sandbox.Requests(op), n)
		}
	}
	if ledger.TokensIssued == nil || *ledger.TokensIssued != 0 || f.sandbox.CallCount(OpToken) != 0 {
		t.Errorf("ledger tokensIssued = %v, want 0", ledger.TokensIssued)
	}

	// Holds returns a copy.
	holds := f.sandbox.Holds()
	holds[0].Amount = 1
	if h, _ := f.sandbox.Hold(blockID); h.Amount != 7000 {
		t.Errorf("Hold amount = %d after editing the copy, want 7000", h.Amount)
	}
}

func TestSandboxDeposits(t *testing.T) {
	if first, again := DepositOf("app-1"), DepositOf("app-1"); first != again {
		t.Error("DepositOf is not deterministic")
	}
	if DepositOf("app-1") == DepositOf("app-2") {
		t.Errorf("app-1 and app-2 share deposit %s", DepositOf("app-1"))
	}
	for _, id := range []string{"", "app-1", "a-much-longer-client-id-than-usual"} {
		d := DepositOf(id)
		if len(d) != 13 || !strings.HasPrefix(d, "0201") || strings.Trim(d, "0123456789") != "" {
			t.Errorf("DepositOf(%q) = %q, want 0201 and 9 digits", id, d)
		}
	}
}

// TestSandboxSeededFaults: the same seed draws the same faults.
func TestSandboxSeededFaults(t *testing.T) {
	outcomes := func() []providers.Class {
		f := newFixture(t, Config{ErrorRate: 0.5, Seed: 7}, "tok")
		var out []providers.Class
		for range 20 {
			_, err := f.client.Block(context.Background(), "app-1", newTrackID(t), finnotech.BlockRequest{Amount: 1, Description: "d", Days: 1})
			class := providers.Class(-1) // success
			if err != nil {
				class = providers.ClassOf(err)
			}
			out = append(out, class)
		}
		return out
	}
	a, b := outcomes(), outcomes()
	seen := map[providers.Class]bool{}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("call %d: %v then %v with the same seed", i, a[i], b[i])
		}
		seen[a[i]] = true
	}
	if !seen[-1] || !seen[providers.Unknown] || len(seen) != 2 {
		t.Errorf("outcomes %v, want both successes and 503s", a)
	}
}

// TestSandboxWagesNeedsClientCredential: wages answers the documented
// list, and only to a client-credential token.
func TestSandboxWagesNeedsClientCredential(t *testing.T) {
	f := newFixture(t, Config{}, "tok")
	blockID, _ := f.block(t, "app-1", 1000)
	status, env := f.rawCall(t, http.MethodGet, "/dev/v2/clients/app-1/wages?trackId="+blockID, "Bearer tok", "", "")
	if status != http.StatusForbidden || env.Error == nil || env.Error.Code != wire.CodeForbidden {
		t.Errorf("wages with the customer's token: HTTP %d %+v, want 403 FORBIDDEN", status, env.Error)
	}
	status, env = f.rawCall(t, http.MethodGet, "/dev/v2/clients/app-1/wages?trackId="+blockID, "Bearer cc-tok", "", "")
	var res struct {
		Wages []map[string]any `json:"wages"`
		Total int              `json:"total"`
	}
	if err := json.Unmarshal(env.Result, &res); status != 200 || err != nil || res.Total != 1 || len(res.Wages) != 1 {
		t.Fatalf("wages: HTTP %d %s (%v), want one entry", status, env.Result, err)
	}
	for _, k := range []string{"trackId", "status", "amount", "transactionAmount", "serviceName", "scopeName", "tariffName", "uid", "deposit", "date"} {
		if _, ok := res.Wages[0][k]; !ok {
			t.Errorf("entry %v lacks %q", res.Wages[0], k)
		}
	}
	_, env = f.rawCall(t, http.MethodGet, "/dev/v2/clients/app-1/wages?trackId=never-sent", "Bearer cc-tok", "", "")
	if string(env.Result) != `{"wages":[],"total":0}` {
		t.Errorf("wages of a trackId never sent: %s, want an empty list", env.Result)
	}

	// With configured tokens, only the token endpoint's client-credential
	// token of scope boomrang:wages:get is taken.
	tf := newTokenFixture(t, Config{})
	for _, scope := range []string{finnotech.ScopeFacilityInquiry, finnotech.ScopeWages} {
		tok, err := tf.tokens.ClientCredential(context.Background(), scope)
		if err != nil {
			t.Fatalf("ClientCredential(%s): %v", scope, err)
		}
		_, err = finnotech.NewClient(finnotech.ClientConfig{BaseURL: tf.server.URL, HTTPClient: tf.server.Client(),
			Tokens: sameTokens(tok)}).CallStatus(context.Background(), "app-1", "t")
		if scope == finnotech.ScopeWages && err != nil {
			t.Errorf("wages with a token of scope %s: %v", scope, err)
		}
		if scope != finnotech.ScopeWages {
			wantError(t, err, providers.Permanent, wire.CodeForbidden, http.StatusForbidden)
		}
	}
}

// TestSandboxWagesWhileACallIsUnderWay: wages says PENDING about a call
// while the fake applies it (its latency), and knows nothing of a late one
// until it arrives.
func TestSandboxWagesWhileACallIsUnderWay(t *testing.T) {
	t.Run("pending during the latency", func(t *testing.T) {
		f := newFixture(t, Config{Latency: 300 * time.Millisecond}, "tok")
		trackID := newTrackID(t)
		done := make(chan error, 1)
		go func() {
			_, err := f.client.Block(context.Background(), "app-1", trackID, finnotech.BlockRequest{Amount: 1, Description: "d", Days: 1})
			done <- err
		}()
		// The call is reserved as it arrives, then takes its latency.
		deadline := time.Now().Add(10 * time.Second)
		for f.sandbox.Requests(OpBlock) == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if st, err := f.client.CallStatus(context.Background(), "app-1", trackID); err != nil || st != finnotech.CallPending {
			t.Errorf("CallStatus during the call's latency = %s, %v; want PENDING", st, err)
		}
		if err := <-done; err != nil {
			t.Fatalf("Block: %v", err)
		}
		if st, err := f.client.CallStatus(context.Background(), "app-1", trackID); err != nil || st != finnotech.CallDone {
			t.Errorf("CallStatus after the answer = %s, %v; want DONE", st, err)
		}
	})
	t.Run("a late call is unseen until it lands", func(t *testing.T) {
		f := newFixture(t, Config{LateBy: 200 * time.Millisecond}, "tok")
		f.sandbox.InjectNext(sandboxfault.FaultLateDelivery)
		trackID := newTrackID(t)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := f.client.Block(ctx, "app-1", trackID, finnotech.BlockRequest{Amount: 1, Description: "d", Days: 1})
		wantError(t, err, providers.Unknown, "", 0)
		if st, err := f.client.CallStatus(context.Background(), "app-1", trackID); err != nil || st != finnotech.CallAbsent {
			t.Errorf("CallStatus before the call lands = %s, %v; want ABSENT", st, err)
		}
		if n := len(f.sandbox.Holds()); n != 0 {
			t.Errorf("holds before the call lands = %d, want 0", n)
		}
		deadline := time.Now().Add(10 * time.Second)
		for len(f.sandbox.Holds()) == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if st, err := f.client.CallStatus(context.Background(), "app-1", trackID); err != nil || st != finnotech.CallDone {
			t.Errorf("CallStatus once it landed = %s, %v; want DONE", st, err)
		}
		if got := f.sandbox.CallCount(OpBlock); got != 1 {
			t.Errorf("CallCount(block) = %d, want 1", got)
		}
	})
}
