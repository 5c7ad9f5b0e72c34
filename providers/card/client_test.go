package card_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/blockd/blockd/providers"
	. "github.com/blockd/blockd/providers/card"
	"github.com/blockd/blockd/providers/card/cardfake"
	"github.com/blockd/blockd/providers/card/internal/wire"
)

// bodyKeys returns the keys of a JSON object body, sorted.
func bodyKeys(tb testing.TB, body []byte) []string {
	tb.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		tb.Fatalf("decoding body %s: %v", body, err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestSetBlockCodeBodyHoldsOnlyTheChangedSlot(t *testing.T) {
	tests := []struct {
		name     string
		slot     int
		code     string
		wantBody string
	}{
		{"block slot 2", 2, "X", `{"blockCode2":"X"}`},
		{"unblock slot 2", 2, " ", `{"blockCode2":" "}`},
		{"block slot 1", 1, "B", `{"blockCode1":"B"}`},
		{"unblock slot 1", 1, " ", `{"blockCode1":" "}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, cardfake.Config{})
			id := newAccountID(t)
			other := 3 - tc.slot
			// Put a code into the other slot, which the call must not touch.
			if _, err := f.client.SetBlockCode(context.Background(), id, other, "Q", 0, "setup"); err != nil {
				t.Fatalf("setting up slot %d: %v", other, err)
			}
			acct, err := f.client.SetBlockCode(context.Background(), id, tc.slot, tc.code, 0, "c-1")
			if err != nil {
				t.Fatalf("SetBlockCode: %v", err)
			}
			r := f.rec.last(t, "/blockUnblock")
			if got := string(r.body); got != tc.wantBody {
				t.Errorf("got body %s, want %s", got, tc.wantBody)
			}
			wantKey := map[int]string{1: "blockCode1", 2: "blockCode2"}[tc.slot]
			if got := bodyKeys(t, r.body); !slices.Equal(got, []string{wantKey}) {
				t.Errorf("got body keys %v, want only [%s]", got, wantKey)
			}
			if got := acct.BlockCode(other); got != "Q" {
				t.Errorf("got slot %d %q after the call, want Q kept", other, got)
			}
			if got, want := acct.BlockCode(tc.slot), strings.TrimSpace(tc.code); got != want {
				t.Errorf("got slot %d %q, want %q", tc.slot, got, want)
			}
		})
	}
}

func TestSetBlockCodeRequest(t *testing.T) {
	f := newFixture(t, cardfake.Config{})
	id := newAccountID(t)
	f.sandbox.SeedAccount(id, 100)
	long := strings.Repeat("c", 50)
	if _, err := f.client.SetBlockCode(context.Background(), id, 2, "X", 100, long); err != nil {
		t.Fatalf("SetBlockCode: %v", err)
	}
	r := f.rec.last(t, "/blockUnblock")
	tok, _ := f.client.Tokens().Token(context.Background())
	checks := []struct {
		what, got, want string
	}{
		{"method", r.method, http.MethodPut},
		{"path", r.path, "/v1/accounts/" + id + "/blockUnblock"},
		{"query", r.query, "businessUnit=100"},
		{"Authorization", r.header.Get("Authorization"), "Bearer " + tok},
		{"Content-Type", r.header.Get("Content-Type"), "application/json"},
		{"x-client-correlation-id", r.header.Get("x-client-correlation-id"), long[:40]},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("got %s %q, want %q", c.what, c.got, c.want)
		}
	}

	t.Run("no businessUnit", func(t *testing.T) {
		if _, err := f.client.SetBlockCode(context.Background(), newAccountID(t), 1, "B", 0, "c"); err != nil {
			t.Fatalf("SetBlockCode: %v", err)
		}
		if r := f.rec.last(t, "/blockUnblock"); r.query != "" {
			t.Errorf("got query %q, want none", r.query)
		}
	})
}

func TestSetBlockCodeAnswer(t *testing.T) {
	f := newFixture(t, cardfake.Config{})
	id := newAccountID(t)
	f.sandbox.SeedAccount(id, 100)
	acct, err := f.client.SetBlockCode(context.Background(), id, 2, "X", 100, "c")
	if err != nil {
		t.Fatalf("SetBlockCode: %v", err)
	}
	want := Account{AccountID: id, BlockCode2: "X", BlockCode2Date: "19/08/2021", BusinessUnit: 100}
	if acct != want {
		t.Errorf("got %+v, want %+v", acct, want)
	}
	if got, _ := f.sandbox.Account(id); got != want {
		t.Errorf("got sandbox account %+v, want %+v", got, want)
	}
	if got := f.sandbox.Applied(); got != 1 {
		t.Errorf("got %d applied, want 1", got)
	}
}

func TestSetBlockCodeNotSent(t *testing.T) {
	f := newFixture(t, cardfake.Config{})
	tests := []struct {
		name      string
		accountID string
		slot      int
	}{
		{"slot 0", newAccountID(t), 0},
		{"slot 3", newAccountID(t), 3},
		{"no account id", "", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.client.SetBlockCode(context.Background(), tc.accountID, tc.slot, "B", 0, "c")
			wantError(t, err, providers.Permanent, CodeBadRequest, 0)
		})
	}
	if n := f.sandbox.Requests(); n != 0 {
		t.Errorf("got %d requests, want 0", n)
	}
}

func TestDetails(t *testing.T) {
	f := newFixture(t, cardfake.Config{})
	ctx := context.Background()
	id := newAccountID(t)
	f.sandbox.SeedAccount(id, 200)
	if _, err := f.client.SetBlockCode(ctx, id, 1, "Z", 200, "c"); err != nil {
		t.Fatalf("SetBlockCode: %v", err)
	}
	got, err := f.client.Details(ctx, id)
	if err != nil {
		t.Fatalf("Details: %v", err)
	}
	want := Account{AccountID: id, BlockCode1: "Z", BlockCode1Date: "19/08/2021", BusinessUnit: 200}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if r := f.rec.last(t, "/details"); r.method != http.MethodGet || r.path != "/v1/accounts/"+id+"/details" {
		t.Errorf("got %s %s, want GET /v1/accounts/%s/details", r.method, r.path, id)
	}

	_, err = f.client.Details(ctx, "9990000000000000001")
	wantError(t, err, providers.Permanent, wire.AppRecordNotFound, http.StatusNotFound)
	if err == nil || !strings.HasPrefix(err.Error(), "asking account details: ") {
		t.Errorf("got error %v, want it to start with %q", err, "asking account details: ")
	}
}

// TestCannedAnswers covers answers the sandbox never gives.
func TestCannedAnswers(t *testing.T) {
	tests := []struct {
		name            string
		status          int
		body            string
		wantClass       providers.Class
		wantCode        string
		wantMsg         string
		wantInvalidated bool
	}{
		{"seed error", 404, `[{"detail":"Please refer to invalid-params for error details","errorCode":"440401","instance":"/v1/accounts/0001000010000510481/blockUnblock","invalid-params":["V5BS0010SF: Update Request - Record not found"],"source":"VPL","status":404,"title":"Not found"}]`,
			providers.Permanent, "V5BS0010SF", "Update Request - Record not found", false},
		{"space before the colon", 400, `[{"errorCode":"440001","invalid-params":["V7RS4003EQ : Some refusal"],"status":400}]`,
			providers.Permanent, "V7RS4003EQ", "Some refusal", false},
		{"record add pending", 422, `[{"errorCode":"442201","invalid-params":["V5BS0011SF: Update Request - Record add pending"],"status":422}]`,
			providers.Retryable, "V5BS0011SF", "Update Request - Record add pending", false},
		{"constraint without a code", 400, `[{"detail":"Please refer to invalid-params for error details","errorCode":"240010","invalid-params":["businessUnit: The maximum value for this field is 999"],"source":"APT","status":400,"title":"Constraint(s) Violated"}]`,
			providers.Permanent, "240010", "businessUnit: The maximum value for this field is 999", false},
		{"numeric errorCode", 503, `[{"errorCode":250301,"status":503,"title":"Service Unavailable"}]`,
			providers.Retryable, "250301", "Service Unavailable", false},
		{"single object", 500, `{"errorCode":"250001","status":500,"title":"Internal","detail":"An unexpected internal server error occurred"}`,
			providers.Unknown, "250001", "Internal: An unexpected internal server error occurred", false},
		{"token expired", 401, `[{"errorCode":"240101","source":"AGT","status":401,"title":"Unauthorized","detail":"The token is expired"}]`,
			providers.Retryable, CodeTokenExpired, "240101 Unauthorized: The token is expired", true},
		{"bearer invalid", 400, `[{"errorCode":"240004","status":400,"title":"Bearer token is invalid"}]`,
			providers.Retryable, CodeTokenExpired, "240004 Bearer token is invalid", true},
		{"401 without body", 401, ``, providers.Retryable, CodeTokenExpired, "Unauthorized", true},
		{"504 plain text", 504, `gateway timeout`, providers.Unknown, "", "Gateway Timeout", false},
		{"502 empty", 502, ``, providers.Unknown, "", "Bad Gateway", false},
		{"400 unreadable", 400, `not json`, providers.Unknown, "", "Bad Request", false},
		{"unknown code on 409", 409, `[{"errorCode":"440901","invalid-params":["V5XX9999ZZ: something new"],"status":409}]`,
			providers.Unknown, "V5XX9999ZZ", "something new", false},
		{"unknown code on 500", 500, `[{"errorCode":"450001","invalid-params":["V5XX9999ZZ: something new"],"status":500}]`,
			providers.Unknown, "V5XX9999ZZ", "something new", false},
		{"200 unreadable", 200, `{"accountId":`, providers.Unknown, CodeUnreadableResponse, "reading answer", false},
		{"200 without block codes", 200, `{"accountId":"0001000010000510481","businessUnit":100}`,
			providers.Unknown, CodeUnreadableResponse, "reading answer", false},
		{"200 code kept", 200, `{"accountId":"0001000010000510481","blockCode1":" ","blockCode1Date":"","blockCode2":"Z","blockCode2Date":"19/08/2021","businessUnit":100}`,
			providers.Permanent, CodeBlockCodeNotApplied, `neither slot holds "X" after the call (slot 2 holds "Z"): an existing code of higher or equal priority was kept`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newCannedServer(t, tc.status, tc.body)
			c := NewClient(ClientConfig{BaseURL: srv.URL, ClientID: "id", ClientSecret: "secret", HTTPClient: srv.Client()})
			if _, err := c.Tokens().Token(context.Background()); err != nil {
				t.Fatal(err)
			}
			_, err := c.SetBlockCode(context.Background(), "0001000010000510481", 2, "X", 0, "c")
			pe := wantError(t, err, tc.wantClass, tc.wantCode, tc.status)
			if pe.Message != tc.wantMsg {
				t.Errorf("got message %q, want %q", pe.Message, tc.wantMsg)
			}
			if strings.Contains(err.Error(), cannedToken) || strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q holds the token or the secret", err)
			}
			if !strings.HasPrefix(err.Error(), "setting block code: ") {
				t.Errorf("got error %q, want it to start with %q", err, "setting block code: ")
			}
			// A dropped token makes the next call fetch again.
			if _, err := c.Tokens().Token(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got, want := srv.rec.tokenFetches(), map[bool]int{false: 1, true: 2}[tc.wantInvalidated]; got != want {
				t.Errorf("got %d token fetches, want %d (token invalidated: %v)", got, want, tc.wantInvalidated)
			}
		})
	}
}

func TestCodeKeptAnswerReturnsTheAccount(t *testing.T) {
	srv := newCannedServer(t, 200, `{"accountId":"0001000010000510481","blockCode1":"Z","blockCode1Date":"01/01/2021","blockCode2":" ","blockCode2Date":"","businessUnit":100}`)
	c := NewClient(ClientConfig{BaseURL: srv.URL, ClientID: "id", ClientSecret: "secret", HTTPClient: srv.Client()})
	acct, err := c.SetBlockCode(context.Background(), "0001000010000510481", 1, "B", 0, "c")
	if !IsCodeKept(err) {
		t.Fatalf("IsCodeKept(%v) = false, want true", err)
	}
	want := Account{AccountID: "0001000010000510481", BlockCode1: "Z", BlockCode1Date: "01/01/2021", BusinessUnit: 100}
	if acct != want {
		t.Errorf("got %+v, want %+v", acct, want)
	}
}

func TestTransportErrors(t *testing.T) {
	t.Run("connection refused is retryable", func(t *testing.T) {
		srv := newCannedServer(t, 200, `{}`)
		c := NewClient(ClientConfig{BaseURL: srv.URL, ClientID: "id", ClientSecret: "secret", HTTPClient: srv.Client()})
		if _, err := c.Tokens().Token(context.Background()); err != nil {
			t.Fatal(err)
		}
		srv.Close()
		_, err := c.SetBlockCode(context.Background(), "0001000010000510481", 1, "B", 0, "c")
		wantError(t, err, providers.Retryable, "", 0)
		if strings.Contains(err.Error(), "0001000010000510481") {
			t.Errorf("error %q holds the full account number", err)
		}
	})
	t.Run("timeout after sending is unknown", func(t *testing.T) {
		f := newFixture(t, cardfake.Config{TimeoutRate: 1})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		// Fetch the token first so the deadline falls on the blockUnblock call.
		if _, err := f.client.Tokens().Token(context.Background()); err != nil {
			t.Fatal(err)
		}
		id := newAccountID(t)
		_, err := f.client.SetBlockCode(ctx, id, 1, "B", 0, "c")
		wantError(t, err, providers.Unknown, "", 0)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got error %v, want it to hold context.DeadlineExceeded", err)
		}
		if strings.Contains(err.Error(), id) {
			t.Errorf("error %q holds the full account number", err)
		}
		if n := f.sandbox.Applied(); n != 0 {
			t.Errorf("got %d applied, want 0", n)
		}
	})
}

func TestClientConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     ClientConfig
		wantErr bool
	}{
		{"good", ClientConfig{BaseURL: "https://stg34.visionplus.io/sandbox", ClientID: "id", ClientSecret: "s"}, false},
		{"no base URL", ClientConfig{ClientID: "id", ClientSecret: "s"}, true},
		{"no client id", ClientConfig{BaseURL: "http://x", ClientSecret: "s"}, true},
		{"no client secret", ClientConfig{BaseURL: "http://x", ClientID: "id"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); (err != nil) != tc.wantErr {
				t.Errorf("got Validate() = %v, want an error: %v", err, tc.wantErr)
			}
		})
	}
}
