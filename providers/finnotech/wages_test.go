package finnotech_test

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/blockd/blockd/providers"
	. "github.com/blockd/blockd/providers/finnotech"
	"github.com/blockd/blockd/providers/finnotech/finnotechfake"
)

// wagesEntry is one documented wages entry about trackId "t".
func wagesEntry(status string) string {
	return `{"trackId":"t","status":"` + status + `","amount":1000,"transactionAmount":5000,"serviceName":"oak-block",` +
		`"scopeName":"oak:block:post","tariffName":"standard","uid":"9c1f","deposit":"0201698541000","date":"13951210103000"}`
}

// wagesAnswer is the documented wages answer holding entries.
func wagesAnswer(entries ...string) string {
	list := ""
	for i, e := range entries {
		if i > 0 {
			list += ","
		}
		list += e
	}
	return `{"result":{"wages":[` + list + `],"total":` + strconv.Itoa(len(entries)) + `},"status":"DONE"}`
}

func TestCallStatusDocumentedAnswers(t *testing.T) {
	other := `{"trackId":"x","status":"DONE","amount":1000,"date":"13951210103000"}`
	tests := []struct {
		name string
		body string
		want CallStatus
	}{
		{"done", wagesAnswer(wagesEntry("DONE")), CallDone},
		{"failed", wagesAnswer(wagesEntry("FAILED")), CallFailed},
		{"pending", wagesAnswer(wagesEntry("PENDING")), CallPending},
		{"unknown", wagesAnswer(wagesEntry("UNKNOWN")), CallUnknown},
		{"empty: not known (yet)", wagesAnswer(), CallAbsent},
		{"only other calls", wagesAnswer(other), CallAbsent},
		{"another call beside it", wagesAnswer(other, wagesEntry("FAILED")), CallFailed},
		{"done beside a failed entry", wagesAnswer(wagesEntry("FAILED"), wagesEntry("DONE")), CallDone},
		{"unknown beside a failed entry", wagesAnswer(wagesEntry("FAILED"), wagesEntry("UNKNOWN")), CallUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := newCannedServer(t, 200, tc.body)
			tokens := &recordingTokens{tok: "customer-token", cc: "cc-token"}
			c := NewClient(ClientConfig{BaseURL: cs.URL, HTTPClient: cs.Client(), Tokens: tokens})
			got, err := c.CallStatus(context.Background(), "app-1", "t")
			if err != nil {
				t.Fatalf("CallStatus: %v", err)
			}
			if got != tc.want {
				t.Errorf("CallStatus = %s, want %s", got, tc.want)
			}
			r, _ := cs.last()
			if r.Method != http.MethodGet || r.URL.Path != "/dev/v2/clients/app-1/wages" || r.URL.Query().Get("trackId") != "t" {
				t.Errorf("request %s %s, want GET /dev/v2/clients/app-1/wages?trackId=t", r.Method, r.URL)
			}
			if got := r.Header.Get("Authorization"); got != "Bearer cc-token" {
				t.Errorf("Authorization = %q, want the client-credential token", got)
			}
			if !slices.EqualFunc(tokens.asked, [][]string{{ScopeWages}}, slices.Equal) {
				t.Errorf("client-credential scopes asked = %q, want [[%s]]", tokens.asked, ScopeWages)
			}
		})
	}
}

func TestCallStatusDetailEntry(t *testing.T) {
	cs := newCannedServer(t, 200, wagesAnswer(wagesEntry("DONE")))
	c := NewClient(ClientConfig{BaseURL: cs.URL, HTTPClient: cs.Client(), Tokens: finnotechfake.StaticToken("tok")})
	got, err := c.CallStatusDetail(context.Background(), "app-1", "t")
	if err != nil {
		t.Fatalf("CallStatusDetail: %v", err)
	}
	want := CallStatusResult{Status: CallDone, Entry: &WagesEntry{TrackID: "t", Status: CallDone, Fee: 1000, TransactionAmount: 5000,
		ServiceName: "oak-block", ScopeName: "oak:block:post", TariffName: "standard", UID: "9c1f", Deposit: "0201698541000",
		Date: "13951210103000"}}
	if got.Status != want.Status || got.Entry == nil || *got.Entry != *want.Entry {
		t.Errorf("CallStatusDetail = %+v (entry %+v), want %+v (entry %+v)", got, got.Entry, want, want.Entry)
	}

	cs = newCannedServer(t, 200, wagesAnswer())
	c = NewClient(ClientConfig{BaseURL: cs.URL, HTTPClient: cs.Client(), Tokens: finnotechfake.StaticToken("tok")})
	if got, err := c.CallStatusDetail(context.Background(), "app-1", "t"); err != nil || got.Status != CallAbsent || got.Entry != nil {
		t.Errorf("CallStatusDetail of an empty answer = %+v, %v; want ABSENT without an entry", got, err)
	}
}

func TestCallStatusUnreadable(t *testing.T) {
	tests := []struct{ name, body string }{
		{"no wages", `{"result":{"total":0},"status":"DONE"}`},
		{"wages not a list", `{"result":{"wages":{"trackId":"t"},"total":1},"status":"DONE"}`},
		{"no result", `{"status":"DONE"}`},
		{"status not documented", wagesAnswer(wagesEntry("REVERSED"))},
		{"status in lower case", wagesAnswer(wagesEntry("done"))},
		{"entry without status", wagesAnswer(`{"trackId":"t"}`)},
		{"the invented shape", `{"result":{"trackId":"t","status":"DONE","response":{}},"status":"DONE"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := newCannedServer(t, 200, tc.body)
			c := NewClient(ClientConfig{BaseURL: cs.URL, HTTPClient: cs.Client(), Tokens: finnotechfake.StaticToken("tok")})
			_, err := c.CallStatus(context.Background(), "app-1", "t")
			wantError(t, err, providers.Unknown, CodeUnreadableResponse, http.StatusOK)
		})
	}
}

// TestCallStatusTokenRefusals: a refused client-credential token is
// dropped, never the customer's; a 403 without a dead-token signal drops
// nothing.
func TestCallStatusTokenRefusals(t *testing.T) {
	tests := []struct {
		name          string
		status        int
		body          string
		wantClass     providers.Class
		wantCode      string
		wantCCDropped bool
	}{
		{"401", 401, ``, providers.Retryable, CodeTokenExpired, true},
		{"403 unauthorized", 403, `{"status":"FAILED","error":{"code":"UNAUTHORIZED","message":"خطای دریافتی از سرور احراز هویت: توکن ارسالی نامعتبر است"}}`,
			providers.Retryable, CodeTokenExpired, true},
		{"400 invalid token", 400, `{"status":"FAILED","error":{"code":"VALIDATION_ERROR","message":"invalid token"}}`,
			providers.Retryable, CodeTokenExpired, true},
		{"403 without a code", 403, ``, providers.Permanent, "", false},
		{"403 forbidden", 403, `{"status":"FAILED","error":{"code":"FORBIDDEN","message":"token does not give access to this service"}}`,
			providers.Permanent, "FORBIDDEN", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := newCannedServer(t, tc.status, tc.body)
			tokens := &recordingTokens{tok: "customer-token", cc: "cc-token"}
			c := NewClient(ClientConfig{BaseURL: cs.URL, HTTPClient: cs.Client(), Tokens: tokens})
			_, err := c.CallStatus(context.Background(), "app-1", "t")
			wantError(t, err, tc.wantClass, tc.wantCode, tc.status)
			if got := tokens.Invalidated(); len(got) != 0 {
				t.Errorf("customer tokens invalidated %q, want none", got)
			}
			var want [][]string
			if tc.wantCCDropped {
				want = [][]string{{ScopeWages}}
			}
			if !slices.EqualFunc(tokens.ccInvalidated, want, slices.Equal) {
				t.Errorf("client-credential tokens invalidated %q, want %q", tokens.ccInvalidated, want)
			}
		})
	}
}

// TestCallStatusAgainstTheFake: the fake answers wages only with a
// client-credential token of scope boomrang:wages:get.
func TestCallStatusAgainstTheFake(t *testing.T) {
	f := newTokenFixture(t, finnotechfake.Config{}, TokensConfig{})
	blockID, _ := f.blockWithTokens(t, 1000)
	if st, err := f.client.CallStatus(context.Background(), "app-1", blockID); err != nil || st != CallDone {
		t.Fatalf("CallStatus through Tokens = %s, %v; want DONE", st, err)
	}
	if st, err := f.client.CallStatus(context.Background(), "app-1", newTrackID(t)); err != nil || st != CallAbsent {
		t.Errorf("CallStatus of a trackId never sent = %s, %v; want ABSENT", st, err)
	}
	if got := f.sandbox.TokensIssued(); got != 1 {
		t.Errorf("TokensIssued = %d, want 1 (the client-credential token for wages)", got)
	}

	// A client that handed wages the customer's token would be refused.
	customer := NewClient(ClientConfig{BaseURL: f.server.URL, HTTPClient: f.server.Client(),
		Tokens: &recordingTokens{tok: seedToken, cc: seedToken}})
	_, err := customer.CallStatus(context.Background(), "app-1", blockID)
	wantError(t, err, providers.Permanent, "FORBIDDEN", http.StatusForbidden)
}

// TestCallStatusDetailFromTheFake: the fake's entries carry what Resolve
// reads: the deposit, the date, the amount held.
func TestCallStatusDetailFromTheFake(t *testing.T) {
	f := newFixture(t, finnotechfake.Config{}, "tok")
	blockID, b := f.block(t, "app-1", 9000)
	got, err := f.client.CallStatusDetail(context.Background(), "app-1", blockID)
	if err != nil {
		t.Fatalf("CallStatusDetail: %v", err)
	}
	if got.Status != CallDone || got.Entry == nil {
		t.Fatalf("CallStatusDetail = %+v, want DONE with an entry", got)
	}
	e := *got.Entry
	if e.TrackID != blockID || e.Deposit != b.Deposit || e.Date != "13951210103000" || e.TransactionAmount != 9000 || e.Fee <= 0 ||
		e.ServiceName != finnotechfake.OpBlock || e.UID == "" {
		t.Errorf("entry %+v, want the block's deposit %s, date 13951210103000, amount 9000 and a fee", e, b.Deposit)
	}

	refused := newTrackID(t)
	if _, err := f.client.Block(context.Background(), "app-1", refused, BlockRequest{Amount: 1, Description: "d", Days: 91}); err == nil {
		t.Fatal("Block of 91 days: got no error")
	}
	got, err = f.client.CallStatusDetail(context.Background(), "app-1", refused)
	if err != nil || got.Status != CallFailed || got.Entry == nil || got.Entry.Fee != 0 {
		t.Errorf("CallStatusDetail(refused) = %+v, %v; want FAILED without a fee", got, err)
	}
	if got, err := f.client.CallStatusDetail(context.Background(), "app-2", blockID); err != nil || got.Status != CallAbsent {
		t.Errorf("CallStatusDetail of app-1's call under app-2 = %+v, %v; want ABSENT", got, err)
	}
}
