package finnotechfake

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/blockd/blockd/providers/finnotech/internal/wire"
)

func TestSandboxTokenEndpoint(t *testing.T) {
	clock := newTestClock()
	f := newFixture(t, Config{Tokens: []string{seedToken}, Now: clock.Now, TokenLifetime: time.Hour}, "")
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(DefaultClientID+":"+DefaultClientSecret))
	post := func(t *testing.T, auth, body string) (int, wire.Envelope[json.RawMessage], wire.TokenResult) {
		t.Helper()
		status, env := f.rawCall(t, http.MethodPost, "/dev/v2/oauth2/token", auth, "application/json", body)
		var res wire.TokenResult
		if status == 200 {
			if err := json.Unmarshal(env.Result, &res); err != nil {
				t.Fatalf("decoding %s: %v", env.Result, err)
			}
		}
		return status, env, res
	}

	tests := []struct {
		name, auth, body string
		wantStatus       int
		wantMsg          string
	}{
		{"no auth", "", `{"grant_type":"client_credentials","nid":"0012345678","scopes":"a"}`, 401, wire.MsgBadClient},
		{"wrong secret", "Basic " + base64.StdEncoding.EncodeToString([]byte(DefaultClientID+":x")), `{"grant_type":"client_credentials","nid":"0012345678","scopes":"a"}`, 401, wire.MsgBadClient},
		{"bearer instead of basic", "Bearer " + seedToken, `{"grant_type":"client_credentials","nid":"0012345678","scopes":"a"}`, 401, wire.MsgBadClient},
		{"unknown grant", basic, `{"grant_type":"password"}`, 400, wire.MsgBadGrant},
		{"not json", basic, `grant_type=client_credentials`, 400, wire.MsgBadBody},
		{"client credentials, bad nid", basic, `{"grant_type":"client_credentials","nid":"123","scopes":"a"}`, 400, wire.MsgBadNID},
		{"client credentials, no scopes", basic, `{"grant_type":"client_credentials","nid":"0012345678","scopes":" , "}`, 400, wire.MsgNoScopes},
		{"authorization code, bad code", basic, `{"grant_type":"authorization_code","code":"abc","bank":"062"}`, 400, wire.MsgBadCode},
		{"authorization code, no bank", basic, `{"grant_type":"authorization_code","code":"code-1"}`, 400, wire.MsgNoBank},
		{"refresh, bad token type", basic, `{"grant_type":"refresh_token","token_type":"X","bank":"062","refresh_token":"refresh-seed"}`, 400, wire.MsgBadTokenType},
		{"refresh, unknown refresh token", basic, `{"grant_type":"refresh_token","token_type":"CODE","bank":"062","refresh_token":"nope"}`, 400, wire.MsgBadRefreshToken},
		{"refresh, no bank", basic, `{"grant_type":"refresh_token","token_type":"CODE","refresh_token":"refresh-seed"}`, 400, wire.MsgNoBank},
		{"refresh of a code token as client credential", basic, `{"grant_type":"refresh_token","token_type":"CLIENT-CREDENTIAL","refresh_token":"refresh-seed"}`, 400, wire.MsgBadRefreshToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, env, _ := post(t, tc.auth, tc.body)
			if status != tc.wantStatus || env.Error == nil || env.Error.Message != tc.wantMsg {
				t.Errorf("HTTP %d %+v, want %d %q", status, env.Error, tc.wantStatus, tc.wantMsg)
			}
		})
	}
	if n := f.sandbox.TokensIssued(); n != 0 {
		t.Fatalf("TokensIssued = %d after refusals, want 0", n)
	}

	status, _, cc := post(t, basic, `{"grant_type":"client_credentials","nid":"0012345678","scopes":"a:b,c:d"}`)
	if status != 200 || cc.Type != wire.TokenTypeCC || int64(cc.LifeTime) != DefaultCCTokenLifetime.Milliseconds() ||
		len(cc.Scopes) != 2 || cc.Value == "" || cc.RefreshToken == "" || cc.CreationDate != "13951210103000" {
		t.Errorf("client credentials: HTTP %d %+v, want a 1-day CLIENT-CREDENTIAL token created 13951210103000", status, cc)
	}
	status, _, ac := post(t, basic, `{"grant_type":"authorization_code","code":"code-1","bank":"062","redirect_uri":"u"}`)
	if status != 200 || ac.Type != wire.TokenTypeCode || ac.Bank != "062" || int64(ac.LifeTime) != time.Hour.Milliseconds() {
		t.Errorf("authorization code: HTTP %d %+v, want a 1-hour CODE token at 062", status, ac)
	}

	// A refresh token works once; the new token works.
	refresh := `{"grant_type":"refresh_token","token_type":"CODE","bank":"062","refresh_token":"` + ac.RefreshToken + `"}`
	status, _, renewed := post(t, basic, refresh)
	if status != 200 || renewed.Value == ac.Value || renewed.Bank != "062" {
		t.Fatalf("refresh: HTTP %d %+v", status, renewed)
	}
	if status, env, _ := post(t, basic, refresh); status != 400 || env.Error.Message != wire.MsgBadRefreshToken {
		t.Errorf("second use of a refresh token: HTTP %d %+v, want 400 %q", status, env.Error, wire.MsgBadRefreshToken)
	}
	status, _, _ = post(t, basic, `{"grant_type":"refresh_token","token_type":"CODE","bank":"017","refresh_token":"`+renewed.RefreshToken+`"}`)
	if status != 400 {
		t.Errorf("refresh at another bank: HTTP %d, want 400", status)
	}
	status, _, fromSeed := post(t, basic, `{"grant_type":"refresh_token","token_type":"CODE","bank":"062","refresh_token":"refresh-seed"}`)
	if status != 200 || fromSeed.Bank != "062" {
		t.Errorf("refresh of the configured token: HTTP %d %+v", status, fromSeed)
	}
	status, _, _ = post(t, basic, `{"grant_type":"refresh_token","token_type":"CLIENT-CREDENTIAL","refresh_token":"`+cc.RefreshToken+`"}`)
	if status != 200 {
		t.Errorf("refresh of a client-credential token: HTTP %d", status)
	}
	if got, want := f.sandbox.TokensIssued(), 5; got != want {
		t.Errorf("TokensIssued = %d, want %d", got, want)
	}
	if got := f.sandbox.CallCount(OpToken); got != 5 {
		t.Errorf("CallCount(token) = %d, want 5", got)
	}
	if got, want := f.sandbox.Requests(OpToken), len(tests)+7; got != want {
		t.Errorf("Requests(token) = %d, want %d", got, want)
	}

	// Issued tokens expire by the sandbox clock; the configured one never.
	block := func(tok string) int {
		status, _ := f.rawCall(t, http.MethodPost, "/oak/v2/clients/app-1/block?trackId="+newTrackID(t), "Bearer "+tok,
			"application/json", `{"amount":1,"description":"d","days":"1"}`)
		return status
	}
	if got := block(renewed.Value); got != 200 {
		t.Errorf("block with an issued token: HTTP %d, want 200", got)
	}
	clock.Advance(time.Hour)
	if got := block(renewed.Value); got != 403 {
		t.Errorf("block with an expired token: HTTP %d, want 403", got)
	}
	if got := block(seedToken); got != 200 {
		t.Errorf("block with the configured token: HTTP %d, want 200", got)
	}
	if got := block("unknown"); got != 403 {
		t.Errorf("block with an unknown token in strict mode: HTTP %d, want 403", got)
	}
}
