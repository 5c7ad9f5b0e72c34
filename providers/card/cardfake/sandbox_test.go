package cardfake

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/providers/card"
	"github.com/blockd/blockd/providers/card/internal/wire"
	"github.com/blockd/blockd/providers/providertest"
	"github.com/blockd/blockd/providers/sandboxfault"
)

// step is one SetBlockCode call and what it must give.
type step struct {
	slot     int
	code     string
	wantCode string // "" for success
}

func TestSandboxPriorities(t *testing.T) {
	// Default priorities: every letter 10, A 5, Z 90. The priority rule
	// applies when both slots are in use (see TestSandboxUnusedEntry), so
	// each case first puts Q into the slot it does not look at.
	tests := []struct {
		name       string
		priorities map[string]int
		steps      []step
		want1      string
		want2      string
	}{
		{"empty slot takes any code", nil, []step{{2, "Q", ""}, {1, "A", ""}}, "A", "Q"},
		{"higher replaces", nil, []step{{2, "Q", ""}, {1, "B", ""}, {1, "Z", ""}}, "Z", "Q"},
		{"equal does not replace", nil, []step{{2, "Q", ""}, {1, "B", ""}, {1, "C", wire.AppBlockCode1Kept}}, "B", "Q"},
		{"the same code does not replace", nil, []step{{2, "Q", ""}, {1, "B", ""}, {1, "B", wire.AppBlockCode1Kept}}, "B", "Q"},
		{"lower does not replace", nil, []step{{2, "Q", ""}, {1, "B", ""}, {1, "A", wire.AppBlockCode1Kept}}, "B", "Q"},
		{"slot 2: lower does not replace", nil, []step{{1, "Q", ""}, {2, "Z", ""}, {2, "B", wire.AppBlockCode2Kept}}, "Q", "Z"},
		{"slot 2: equal does not replace", nil, []step{{1, "Q", ""}, {2, "X", ""}, {2, "Y", wire.AppBlockCode2Kept}}, "Q", "X"},
		{"slot 2: higher replaces", nil, []step{{1, "Q", ""}, {2, "A", ""}, {2, "B", ""}}, "Q", "B"},
		{"unblock without priority check", nil, []step{{2, "Q", ""}, {1, "Z", ""}, {1, " ", ""}}, "", "Q"},
		{"unblock of an empty slot", nil, []step{{2, " ", ""}}, "", ""},
		{"after unblock any code goes in", nil, []step{{2, "Q", ""}, {1, "Z", ""}, {1, " ", ""}, {1, "A", ""}}, "A", "Q"},
		{"slots are independent", nil, []step{{1, "Z", ""}, {2, "A", ""}}, "Z", "A"},
		{"configured priority", map[string]int{"C": 50}, []step{{2, "Q", ""}, {1, "B", ""}, {1, "C", ""}, {1, "Z", ""}}, "Z", "Q"},
		{"configured priority lower than default", map[string]int{"Z": 0}, []step{{2, "Q", ""}, {1, "Z", ""}, {1, "A", ""}}, "A", "Q"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Config{Priorities: tc.priorities})
			id := newAccountID(t)
			wantApplied := 0
			for i, s := range tc.steps {
				before, _ := f.sandbox.Account(id)
				_, err := f.client.SetBlockCode(context.Background(), id, s.slot, s.code, 0, "c")
				if s.wantCode == "" {
					if err != nil {
						t.Fatalf("step %d (slot %d %q): %v", i, s.slot, s.code, err)
					}
					wantApplied++
					continue
				}
				wantError(t, err, providers.Permanent, s.wantCode, http.StatusUnprocessableEntity)
				if !card.IsCodeKept(err) {
					t.Errorf("IsCodeKept(%v) = false, want true", err)
				}
				if after, _ := f.sandbox.Account(id); after != before {
					t.Errorf("refused step %d changed the account: got %+v, want %+v", i, after, before)
				}
			}
			a, _ := f.sandbox.Account(id)
			if a.BlockCode1 != tc.want1 || a.BlockCode2 != tc.want2 {
				t.Errorf("got slots %q, %q, want %q, %q", a.BlockCode1, a.BlockCode2, tc.want1, tc.want2)
			}
			if got := f.sandbox.Applied(); got != wantApplied {
				t.Errorf("got %d applied, want %d", got, wantApplied)
			}
		})
	}
}

func TestSandboxBothSlotsAtOnce(t *testing.T) {
	// A body with both slots changes both, or neither when one is refused.
	f := newFixture(t, Config{})
	id := newAccountID(t)
	tok := token(t, f)
	if st, _ := f.raw(t, http.MethodPut, "/v1/accounts/"+id+"/blockUnblock", tok, `{"blockCode1":"B","blockCode2":"C"}`); st != 200 {
		t.Fatalf("got HTTP %d, want 200", st)
	}
	st, es := f.raw(t, http.MethodPut, "/v1/accounts/"+id+"/blockUnblock", tok, `{"blockCode1":"Z","blockCode2":"A"}`)
	if st != 422 || len(es) != 1 || !strings.HasPrefix(es[0].InvalidParams[0], wire.AppBlockCode2Kept) {
		t.Fatalf("got HTTP %d %+v, want 422 %s", st, es, wire.AppBlockCode2Kept)
	}
	if a, _ := f.sandbox.Account(id); a.BlockCode1 != "B" || a.BlockCode2 != "C" {
		t.Errorf("got slots %q, %q, want B, C kept", a.BlockCode1, a.BlockCode2)
	}
}

func TestSandboxDates(t *testing.T) {
	clock := providertest.NewClock(time.Date(2021, 8, 19, 9, 0, 0, 0, time.UTC))
	f := newFixture(t, Config{Now: clock.Now, DateFormat: "01/02/2006"})
	id := newAccountID(t)
	ctx := context.Background()
	if _, err := f.client.SetBlockCode(ctx, id, 1, "B", 0, "c"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(48 * time.Hour)
	a, err := f.client.SetBlockCode(ctx, id, 2, "C", 0, "c")
	if err != nil {
		t.Fatal(err)
	}
	if a.BlockCode1Date != "08/19/2021" || a.BlockCode2Date != "08/21/2021" {
		t.Errorf("got dates %q, %q, want 08/19/2021, 08/21/2021", a.BlockCode1Date, a.BlockCode2Date)
	}
	clock.Advance(24 * time.Hour)
	a, err = f.client.SetBlockCode(ctx, id, 1, " ", 0, "c")
	if err != nil {
		t.Fatal(err)
	}
	if a.BlockCode1 != "" || a.BlockCode1Date != "08/22/2021" {
		t.Errorf("got slot 1 %q on %q, want empty on 08/22/2021", a.BlockCode1, a.BlockCode1Date)
	}
}

// token fetches a token for raw calls.
func token(tb testing.TB, f *fixture) string {
	tb.Helper()
	tok, err := f.client.Tokens().Token(context.Background())
	if err != nil {
		tb.Fatalf("Token: %v", err)
	}
	return tok
}

// raw sends one request to the fixture's sandbox with a JSON body and
// returns the status and the error array, if the answer is one.
func (f *fixture) raw(tb testing.TB, method, path, tok, body string) (int, []wire.APIError) {
	tb.Helper()
	return f.rawWith(tb, method, path, tok, "application/json", body)
}

func (f *fixture) rawWith(tb testing.TB, method, path, tok, contentType, body string) (int, []wire.APIError) {
	tb.Helper()
	req, err := http.NewRequest(method, f.server.URL+path, strings.NewReader(body))
	if err != nil {
		tb.Fatalf("building request: %v", err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := f.server.Client().Do(req)
	if err != nil {
		tb.Fatalf("sending %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var es []wire.APIError
	if resp.StatusCode >= 300 {
		if err := json.Unmarshal(b, &es); err != nil {
			tb.Fatalf("decoding error answer %s: %v", b, err)
		}
	}
	return resp.StatusCode, es
}

func TestSandboxValidation(t *testing.T) {
	f := newFixture(t, Config{})
	seeded := newAccountID(t)
	f.sandbox.SeedAccount(seeded, 100)
	tok := token(t, f)
	path := func(id string) string { return "/v1/accounts/" + id + "/blockUnblock" }
	const jsonCT = "application/json"
	tests := []struct {
		name          string
		method, path  string
		tok           string
		contentType   string
		body          string
		wantStatus    int
		wantErrorCode string
		wantParam     string // prefix of the first invalid-params entry
	}{
		{"good", "PUT", path(newAccountID(t)), tok, jsonCT, `{"blockCode1":"B"}`, 200, "", ""},
		{"good with its business unit", "PUT", path(seeded) + "?businessUnit=100", tok, jsonCT, `{"blockCode2":"B"}`, 200, "", ""},
		{"content type with charset", "PUT", path(newAccountID(t)), tok, "application/json; charset=utf-8", `{"blockCode1":"B"}`, 200, "", ""},
		{"no token", "PUT", path(newAccountID(t)), "", jsonCT, `{"blockCode1":"B"}`, 401, wire.CodeUnauthorized, ""},
		{"unknown token", "PUT", path(newAccountID(t)), "made-up", jsonCT, `{"blockCode1":"B"}`, 401, wire.CodeUnauthorized, ""},
		{"no content type", "PUT", path(newAccountID(t)), tok, "", `{"blockCode1":"B"}`, 415, wire.CodeNoContentType, ""},
		{"form content type", "PUT", path(newAccountID(t)), tok, "application/x-www-form-urlencoded", `blockCode1=B`, 415, wire.CodeJSONOnly, ""},
		{"empty body", "PUT", path(newAccountID(t)), tok, jsonCT, ``, 400, wire.CodePayloadEmpty, ""},
		{"not json", "PUT", path(newAccountID(t)), tok, jsonCT, `{"blockCode1":`, 400, wire.CodeNotReadable, ""},
		{"code not a string", "PUT", path(newAccountID(t)), tok, jsonCT, `{"blockCode1":1}`, 400, wire.CodeNotReadable, ""},
		{"neither slot", "PUT", path(newAccountID(t)), tok, jsonCT, `{}`, 400, wire.CodeFieldMissing, "blockCode1"},
		{"both slots null", "PUT", path(newAccountID(t)), tok, jsonCT, `{"blockCode1":null,"blockCode2":null}`, 400, wire.CodeFieldMissing, "blockCode1"},
		{"account id 18 characters", "PUT", path("000100001000051048"), tok, jsonCT, `{"blockCode1":"B"}`, 400, wire.CodeVPLBadRequest, wire.AppInvalidAccount},
		{"account id 20 characters", "PUT", path("00010000100005104811"), tok, jsonCT, `{"blockCode1":"B"}`, 400, wire.CodeVPLBadRequest, wire.AppInvalidAccount},
		{"lowercase code 1", "PUT", path(newAccountID(t)), tok, jsonCT, `{"blockCode1":"a"}`, 400, wire.CodeVPLBadRequest, wire.AppInvalidBlockCode1},
		{"empty code 1", "PUT", path(newAccountID(t)), tok, jsonCT, `{"blockCode1":""}`, 400, wire.CodeVPLBadRequest, wire.AppInvalidBlockCode1},
		{"two letters in slot 1", "PUT", path(newAccountID(t)), tok, jsonCT, `{"blockCode1":"AB"}`, 400, wire.CodeVPLBadRequest, wire.AppInvalidBlockCode1},
		{"digit in slot 2", "PUT", path(newAccountID(t)), tok, jsonCT, `{"blockCode2":"1"}`, 400, wire.CodeVPLBadRequest, wire.AppInvalidBlockCode2},
		{"two spaces in slot 2", "PUT", path(newAccountID(t)), tok, jsonCT, `{"blockCode2":"  "}`, 400, wire.CodeVPLBadRequest, wire.AppInvalidBlockCode2},
		{"account starting with 999", "PUT", path("9990000010000510481"), tok, jsonCT, `{"blockCode1":"B"}`, 404, wire.CodeRecordNotFound, wire.AppRecordNotFound},
		{"account not digits", "PUT", path("ABCD000010000510481"), tok, jsonCT, `{"blockCode1":"B"}`, 404, wire.CodeRecordNotFound, wire.AppRecordNotFound},
		{"business unit 0", "PUT", path(seeded) + "?businessUnit=0", tok, jsonCT, `{"blockCode1":"B"}`, 400, wire.CodeConstraintViolated, "businessUnit: The minimum"},
		{"business unit 999", "PUT", path(seeded) + "?businessUnit=999", tok, jsonCT, `{"blockCode1":"B"}`, 400, wire.CodeConstraintViolated, "businessUnit: The maximum"},
		{"business unit not a number", "PUT", path(seeded) + "?businessUnit=abc", tok, jsonCT, `{"blockCode1":"B"}`, 400, wire.CodeArgsInvalid, "businessUnit"},
		{"another business unit", "PUT", path(seeded) + "?businessUnit=200", tok, jsonCT, `{"blockCode1":"B"}`, 400, wire.CodeVPLBadRequest, wire.AppInvalidBU},
		{"wrong method", "POST", path(seeded), tok, jsonCT, `{"blockCode1":"B"}`, 404, wire.CodeNoSuchAPI, ""},
		{"wrong path", "PUT", "/v1/accounts/" + seeded + "/block", tok, jsonCT, `{"blockCode1":"B"}`, 404, wire.CodeNoSuchAPI, ""},
		{"details of a 999 account", "GET", "/v1/accounts/9990000010000510481/details", tok, "", ``, 404, wire.CodeRecordNotFound, wire.AppRecordNotFound},
		{"details of a short id", "GET", "/v1/accounts/123/details", tok, "", ``, 400, wire.CodeVPLBadRequest, wire.AppInvalidAccount},
		{"details without token", "GET", "/v1/accounts/" + seeded + "/details", "", "", ``, 401, wire.CodeUnauthorized, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := f.sandbox.Applied()
			st, es := f.rawWith(t, tc.method, tc.path, tc.tok, tc.contentType, tc.body)
			if st != tc.wantStatus {
				t.Fatalf("got HTTP %d %+v, want %d", st, es, tc.wantStatus)
			}
			if tc.wantStatus == 200 {
				if got := f.sandbox.Applied() - before; got != 1 {
					t.Errorf("got %d applied, want 1", got)
				}
				return
			}
			if f.sandbox.Applied() != before {
				t.Error("a refused call changed the ledger")
			}
			if len(es) != 1 {
				t.Fatalf("got %d error entries, want 1", len(es))
			}
			e := es[0]
			if string(e.ErrorCode) != tc.wantErrorCode || e.Status != tc.wantStatus {
				t.Errorf("got errorCode %s status %d, want %s %d", e.ErrorCode, e.Status, tc.wantErrorCode, tc.wantStatus)
			}
			if tc.wantParam != "" && (len(e.InvalidParams) == 0 || !strings.HasPrefix(e.InvalidParams[0], tc.wantParam)) {
				t.Errorf("got invalid-params %q, want one starting with %q", e.InvalidParams, tc.wantParam)
			}
			if e.Instance != strings.SplitN(tc.path, "?", 2)[0] {
				t.Errorf("got instance %q, want %q", e.Instance, tc.path)
			}
		})
	}
}

func TestSandboxTokenEndpoint(t *testing.T) {
	f := newFixture(t, Config{ClientID: "me", ClientSecret: "s3cret", TokenLifetime: time.Hour})
	tests := []struct {
		name        string
		contentType string
		body        string
		wantStatus  int
		wantCode    string
	}{
		{"good", "application/json", `{"grant_type":"client_credentials","scope":"accounts","client_id":"me","client_secret":"s3cret"}`, 200, ""},
		{"scope all", "application/json", `{"grant_type":"client_credentials","scope":"all","client_id":"me","client_secret":"s3cret"}`, 200, ""},
		{"wrong secret", "application/json", `{"grant_type":"client_credentials","scope":"accounts","client_id":"me","client_secret":"nope"}`, 401, wire.CodeUnauthorized},
		{"wrong client", "application/json", `{"grant_type":"client_credentials","scope":"accounts","client_id":"you","client_secret":"s3cret"}`, 401, wire.CodeUnauthorized},
		{"wrong scope", "application/json", `{"grant_type":"client_credentials","scope":"cards","client_id":"me","client_secret":"s3cret"}`, 401, wire.CodeUnauthorized},
		{"wrong grant type", "application/json", `{"grant_type":"password","scope":"accounts","client_id":"me","client_secret":"s3cret"}`, 401, wire.CodeUnauthorized},
		{"not json", "application/json", `grant_type=client_credentials`, 400, wire.CodeNotReadable},
		{"form", "application/x-www-form-urlencoded", `grant_type=client_credentials`, 415, wire.CodeJSONOnly},
	}
	issued := 0
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, f.server.URL+wire.TokenPath, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.contentType)
			resp, err := f.server.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("got HTTP %d %s, want %d", resp.StatusCode, b, tc.wantStatus)
			}
			if tc.wantStatus == 200 {
				issued++
				var tr wire.TokenResponse
				if err := json.Unmarshal(b, &tr); err != nil {
					t.Fatal(err)
				}
				if tr.AccessToken == "" || tr.TokenType != "Bearer" || tr.ExpiresIn != 3600 {
					t.Errorf("got %+v, want a Bearer token expiring in 3600s", tr)
				}
				return
			}
			var es []wire.APIError
			if err := json.Unmarshal(b, &es); err != nil || len(es) != 1 {
				t.Fatalf("decoding %s: %v", b, err)
			}
			if string(es[0].ErrorCode) != tc.wantCode {
				t.Errorf("got errorCode %s, want %s", es[0].ErrorCode, tc.wantCode)
			}
			if strings.Contains(string(b), "s3cret") {
				t.Errorf("answer %s holds the secret", b)
			}
		})
	}
	if got := f.sandbox.TokensIssued(); got != issued {
		t.Errorf("got %d tokens issued, want %d", got, issued)
	}
}

func TestSandboxInjectNext(t *testing.T) {
	ctx := context.Background()
	t.Run("retryable", func(t *testing.T) {
		f := newFixture(t, Config{})
		f.sandbox.InjectNext(sandboxfault.FaultRetryable)
		_, err := f.client.SetBlockCode(ctx, newAccountID(t), 1, "B", 0, "c")
		wantError(t, err, providers.Retryable, wire.CodeServiceUnavailable, http.StatusServiceUnavailable)
		if _, err := f.client.SetBlockCode(ctx, newAccountID(t), 1, "B", 0, "c"); err != nil {
			t.Fatalf("the call after the injected fault: %v", err)
		}
		if got := f.sandbox.Applied(); got != 1 {
			t.Errorf("got %d applied, want 1", got)
		}
	})
	t.Run("token expired revokes the token", func(t *testing.T) {
		f := newFixture(t, Config{})
		tok := token(t, f)
		f.sandbox.InjectNext(sandboxfault.FaultTokenExpired)
		_, err := f.client.SetBlockCode(ctx, newAccountID(t), 1, "B", 0, "c")
		wantError(t, err, providers.Retryable, card.CodeTokenExpired, http.StatusUnauthorized)
		if strings.Contains(err.Error(), tok) {
			t.Errorf("error %q holds the token", err)
		}
		// The old token is dead for good, not only for one call.
		if st, _ := f.raw(t, http.MethodPut, "/v1/accounts/"+newAccountID(t)+"/blockUnblock", tok, `{"blockCode1":"B"}`); st != 401 {
			t.Errorf("got HTTP %d with the revoked token, want 401", st)
		}
		if got := f.sandbox.Applied(); got != 0 {
			t.Errorf("got %d applied, want 0", got)
		}
	})
	t.Run("apply then drop", func(t *testing.T) {
		f := newFixture(t, Config{})
		id := newAccountID(t)
		f.sandbox.InjectNext(sandboxfault.FaultApplyThenDrop)
		_, err := f.client.SetBlockCode(ctx, id, 2, "X", 0, "c")
		wantError(t, err, providers.Unknown, "", 0)
		a, err := f.client.Details(ctx, id)
		if err != nil {
			t.Fatalf("Details: %v", err)
		}
		if a.BlockCode2 != "X" {
			t.Errorf("got slot 2 %q, want X applied before the drop", a.BlockCode2)
		}
	})
	t.Run("timeout with a short delay answers 504", func(t *testing.T) {
		f := newFixture(t, Config{TimeoutDelay: time.Millisecond})
		f.sandbox.InjectNext(sandboxfault.FaultTimeout)
		_, err := f.client.SetBlockCode(ctx, newAccountID(t), 1, "B", 0, "c")
		wantError(t, err, providers.Unknown, "", http.StatusGatewayTimeout)
		if got := f.sandbox.Applied(); got != 0 {
			t.Errorf("got %d applied, want 0", got)
		}
	})
}

func TestSandboxFaultRates(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, Config{ErrorRate: 1})
	_, err := f.client.SetBlockCode(ctx, newAccountID(t), 1, "B", 0, "c")
	wantError(t, err, providers.Retryable, wire.CodeServiceUnavailable, http.StatusServiceUnavailable)

	f.sandbox.SetFaults(0, 0, 1)
	_, err = f.client.SetBlockCode(ctx, newAccountID(t), 1, "B", 0, "c")
	wantError(t, err, providers.Unknown, "", 0)

	f.sandbox.SetFaults(-1, 0, 0)
	if _, err := f.client.SetBlockCode(ctx, newAccountID(t), 1, "B", 0, "c"); err != nil {
		t.Fatalf("with no faults: %v", err)
	}
	if got, want := f.sandbox.Applied(), 2; got != want {
		t.Errorf("got %d applied, want %d (the dropped call and the last)", got, want)
	}
	if got, want := f.sandbox.Requests(), 3; got != want {
		t.Errorf("got %d requests, want %d", got, want)
	}
}

func TestSandboxLedger(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	a, b := "0001000000000000002", "0001000000000000001"
	if _, err := f.client.SetBlockCode(ctx, a, 1, "B", 0, "c"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client.SetBlockCode(ctx, b, 2, "Z", 0, "c"); err != nil {
		t.Fatal(err)
	}
	resp, err := f.server.Client().Get(f.server.URL + "/_sandbox/ledger")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var l struct {
		Accounts     []card.Account `json:"accounts"`
		Applied      int            `json:"applied"`
		Requests     int            `json:"requests"`
		TokensIssued int            `json:"tokensIssued"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
		t.Fatal(err)
	}
	want := []card.Account{
		{AccountID: b, BlockCode2: "Z", BlockCode2Date: "19/08/2021", BusinessUnit: 100},
		{AccountID: a, BlockCode1: "B", BlockCode1Date: "19/08/2021", BusinessUnit: 100},
	}
	if len(l.Accounts) != 2 || l.Accounts[0] != want[0] || l.Accounts[1] != want[1] {
		t.Errorf("got accounts %+v, want %+v", l.Accounts, want)
	}
	if l.Applied != 2 || l.Requests != 2 || l.TokensIssued != 1 {
		t.Errorf("got applied %d requests %d tokens %d, want 2 2 1", l.Applied, l.Requests, l.TokensIssued)
	}
}

func TestSandboxWireEmptySlotIsASpace(t *testing.T) {
	f := newFixture(t, Config{})
	id := newAccountID(t)
	if _, err := f.client.SetBlockCode(context.Background(), id, 1, "B", 0, "c"); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, f.server.URL+"/v1/accounts/"+id+"/details", nil)
	req.Header.Set("Authorization", "Bearer "+token(t, f))
	resp, err := f.server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	if m["blockCode1"] != "B" || m["blockCode2"] != " " || m["businessUnit"] != float64(100) {
		t.Errorf("got %v, want blockCode1 B, blockCode2 a space, businessUnit 100", m)
	}
}

// TestSandboxUnusedEntry is the seed's rule for where a new block code
// goes (see Sandbox.place): the slot asked when it is free; else the other
// slot when that one is free (the seed's "unused entry"); else, both taken,
// the slot asked when the new code's priority is greater than its code's,
// and otherwise the existing code is kept (V5BS0125SC / V5BS0127SC).
func TestSandboxUnusedEntry(t *testing.T) {
	// Default priorities: every letter 10, A 5, Z 90.
	tests := []struct {
		name  string
		steps []step
		want1 string
		want2 string
	}{
		{"the slot asked is free", []step{{1, "X", ""}}, "X", ""},
		{"slot 1 taken, slot 2 free", []step{{1, "Q", ""}, {1, "X", ""}}, "Q", "X"},
		{"slot 2 taken, slot 1 free", []step{{2, "Q", ""}, {2, "X", ""}}, "X", "Q"},
		{"a lower code goes into the unused entry", []step{{1, "Z", ""}, {1, "A", ""}}, "Z", "A"},
		{"a higher code goes into the unused entry too", []step{{1, "A", ""}, {1, "Z", ""}}, "A", "Z"},
		{"the same code again goes into the unused entry", []step{{1, "X", ""}, {1, "X", ""}}, "X", "X"},
		{"both taken, higher replaces the slot asked", []step{{1, "B", ""}, {2, "C", ""}, {1, "Z", ""}}, "Z", "C"},
		{"both taken, higher replaces slot 2", []step{{1, "B", ""}, {2, "C", ""}, {2, "Z", ""}}, "B", "Z"},
		{"both taken, equal is kept", []step{{1, "B", ""}, {2, "C", ""}, {1, "D", wire.AppBlockCode1Kept}}, "B", "C"},
		{"both taken, lower is kept in slot 2", []step{{1, "B", ""}, {2, "C", ""}, {2, "A", wire.AppBlockCode2Kept}}, "B", "C"},
		{"both taken, the same code is kept", []step{{1, "B", ""}, {2, "C", ""}, {1, "B", wire.AppBlockCode1Kept}}, "B", "C"},
		{"unblock empties only the slot asked", []step{{1, "B", ""}, {2, "C", ""}, {1, " ", ""}}, "", "C"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Config{})
			id := newAccountID(t)
			for i, s := range tc.steps {
				_, err := f.client.SetBlockCode(context.Background(), id, s.slot, s.code, 0, "c")
				if s.wantCode == "" {
					if err != nil {
						t.Fatalf("step %d (slot %d %q): %v", i, s.slot, s.code, err)
					}
					continue
				}
				wantError(t, err, providers.Permanent, s.wantCode, http.StatusUnprocessableEntity)
			}
			if a, _ := f.sandbox.Account(id); a.BlockCode1 != tc.want1 || a.BlockCode2 != tc.want2 {
				t.Errorf("got slots %q, %q, want %q, %q", a.BlockCode1, a.BlockCode2, tc.want1, tc.want2)
			}
		})
	}
}
