package card_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blockd/blockd/providers"
	. "github.com/blockd/blockd/providers/card"
	"github.com/blockd/blockd/providers/card/cardfake"
	"github.com/blockd/blockd/providers/card/internal/wire"
	"github.com/blockd/blockd/providers/providertest"
)

func TestTokenRequest(t *testing.T) {
	f := newFixture(t, cardfake.Config{})
	if _, err := f.client.Tokens().Token(context.Background()); err != nil {
		t.Fatalf("Token: %v", err)
	}
	r := f.rec.last(t, wire.TokenPath)
	if r.method != http.MethodPost {
		t.Errorf("got method %s, want POST", r.method)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("got Content-Type %q, want application/json", ct)
	}
	var got map[string]string
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatalf("decoding token request %s: %v", r.body, err)
	}
	want := map[string]string{"grant_type": "client_credentials", "scope": "accounts",
		"client_id": cardfake.DefaultClientID, "client_secret": cardfake.DefaultClientSecret}
	if len(got) != len(want) {
		t.Errorf("got token request %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("got %s %q, want %q", k, got[k], v)
		}
	}
}

func TestTokenCached(t *testing.T) {
	f := newFixture(t, cardfake.Config{})
	ctx := context.Background()
	for i := range 3 {
		if _, err := f.client.SetBlockCode(ctx, newAccountID(t), 1, "B", 0, "c"); err != nil {
			t.Fatalf("SetBlockCode %d: %v", i, err)
		}
	}
	if got := f.sandbox.TokensIssued(); got != 1 {
		t.Errorf("got %d tokens issued for 3 calls, want 1", got)
	}
}

func TestTokenSingleFlight(t *testing.T) {
	// Latency keeps the first fetch in flight while the others arrive.
	f := newFixture(t, cardfake.Config{Latency: 50 * time.Millisecond})
	const n = 32
	var wg sync.WaitGroup
	toks := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			toks[i], errs[i] = f.client.Tokens().Token(context.Background())
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Token %d: %v", i, errs[i])
		}
		if toks[i] != toks[0] {
			t.Errorf("caller %d got another token than caller 0", i)
		}
	}
	if got := f.sandbox.TokensIssued(); got != 1 {
		t.Errorf("got %d tokens issued for %d concurrent callers, want 1", got, n)
	}
	if got := f.rec.tokenFetches(); got != 1 {
		t.Errorf("got %d token requests, want 1", got)
	}
}

func TestTokenSingleFlightCallerLeaves(t *testing.T) {
	f := newFixture(t, cardfake.Config{Latency: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.client.Tokens().Token(ctx); err == nil {
		t.Fatal("Token with an ended context: got no error")
	}
	// The shared fetch went on without the caller that left.
	tok, err := f.client.Tokens().Token(context.Background())
	if err != nil || tok == "" {
		t.Fatalf("Token: %q, %v", tok, err)
	}
	if got := f.sandbox.TokensIssued(); got != 1 {
		t.Errorf("got %d tokens issued, want 1", got)
	}
}

func TestTokenRefreshBeforeExpiry(t *testing.T) {
	clock := providertest.NewClock(sandboxDay())
	f := newFixture(t, cardfake.Config{Now: clock.Now})
	ctx := context.Background()
	call := func(t *testing.T) {
		t.Helper()
		if _, err := f.client.SetBlockCode(ctx, newAccountID(t), 2, "C", 0, "c"); err != nil {
			t.Fatalf("SetBlockCode: %v", err)
		}
	}

	steps := []struct {
		name    string
		advance time.Duration
		want    int
	}{
		{"first call fetches", 0, 1},
		{"61s before expiry: cached", 7199*time.Second - 61*time.Second, 1},
		{"59s before expiry: refreshed", 2 * time.Second, 2},
		{"the new token is cached", time.Minute, 2},
		{"past the new token's margin: refreshed", 7199 * time.Second, 3},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			clock.Advance(st.advance)
			call(t)
			if got := f.sandbox.TokensIssued(); got != st.want {
				t.Errorf("got %d tokens issued, want %d", got, st.want)
			}
		})
	}
}

func TestTokenShortLifetime(t *testing.T) {
	// A token living 10s is replaced at half its life, not 60s before
	// its end (which would be before it was issued).
	clock := providertest.NewClock(sandboxDay())
	f := newFixture(t, cardfake.Config{Now: clock.Now, TokenLifetime: 10 * time.Second})
	ctx := context.Background()
	tok1, err := f.client.Tokens().Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(4 * time.Second)
	if tok, _ := f.client.Tokens().Token(ctx); tok != tok1 {
		t.Error("token replaced at 4s of 10s, want it cached")
	}
	clock.Advance(2 * time.Second)
	if tok, _ := f.client.Tokens().Token(ctx); tok == tok1 {
		t.Error("token kept at 6s of 10s, want it replaced")
	}
	if got := f.sandbox.TokensIssued(); got != 2 {
		t.Errorf("got %d tokens issued, want 2", got)
	}
}

func TestTokenExpiredInSandbox(t *testing.T) {
	// A client whose clock lags the sandbox's sends a token the sandbox
	// thinks expired: the call is refused, the token dropped, and the next
	// call works with a new one.
	sandboxClock := providertest.NewClock(sandboxDay())
	f := newFixture(t, cardfake.Config{Now: sandboxClock.Now})
	SetTokenClock(f.client, sandboxDay)
	ctx := context.Background()
	if _, err := f.client.SetBlockCode(ctx, newAccountID(t), 1, "B", 0, "c"); err != nil {
		t.Fatalf("SetBlockCode: %v", err)
	}
	sandboxClock.Advance(7200 * time.Second)
	_, err := f.client.SetBlockCode(ctx, newAccountID(t), 1, "B", 0, "c")
	wantError(t, err, providers.Retryable, CodeTokenExpired, http.StatusUnauthorized)
	if !IsTokenExpired(err) {
		t.Errorf("IsTokenExpired(%v) = false, want true", err)
	}
	if _, err := f.client.SetBlockCode(ctx, newAccountID(t), 1, "B", 0, "c"); err != nil {
		t.Fatalf("SetBlockCode after the refusal: %v", err)
	}
	if got := f.sandbox.TokensIssued(); got != 2 {
		t.Errorf("got %d tokens issued, want 2", got)
	}
}

func TestTokenInvalidate(t *testing.T) {
	f := newFixture(t, cardfake.Config{})
	ctx := context.Background()
	tok1, err := f.client.Tokens().Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.client.Tokens().Invalidate()
	tok2, err := f.client.Tokens().Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tok1 == tok2 {
		t.Error("got the same token after Invalidate, want a new one")
	}
	// Dropping a token that is no longer cached keeps the new one.
	f.client.Tokens().InvalidateToken(tok1)
	if tok3, _ := f.client.Tokens().Token(ctx); tok3 != tok2 {
		t.Error("invalidating an old token dropped the new one")
	}
	if got := f.sandbox.TokensIssued(); got != 2 {
		t.Errorf("got %d tokens issued, want 2", got)
	}
}

func TestTokenBadCredentials(t *testing.T) {
	const secret = "not-the-sandbox-secret"
	f := newFixture(t, cardfake.Config{})
	c := NewClient(ClientConfig{BaseURL: f.server.URL, ClientID: cardfake.DefaultClientID, ClientSecret: secret, HTTPClient: f.server.Client()})
	_, err := c.SetBlockCode(context.Background(), newAccountID(t), 1, "B", 0, "c")
	pe := wantError(t, err, providers.Retryable, CodeNoToken, 0)
	inner := providerError(t, pe.Err)
	if inner.Code != wire.CodeUnauthorized || inner.HTTPStatus != http.StatusUnauthorized {
		t.Errorf("got token error %s (HTTP %d), want %s (HTTP 401)", inner.Code, inner.HTTPStatus, wire.CodeUnauthorized)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error %q holds the client secret", err)
	}
	if n := f.sandbox.Requests(); n != 0 {
		t.Errorf("got %d blockUnblock requests, want 0 (nothing is sent without a token)", n)
	}
}

func TestTokenEndpointAnswers(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{"no access_token", 200, `{"token_type":"Bearer","expires_in":7199}`},
		{"not json", 200, `<html>`},
		{"other token type", 200, `{"access_token":"x","token_type":"MAC","expires_in":7199}`},
		{"503", 503, `[{"errorCode":"250301","status":503,"title":"Service Unavailable"}]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newCannedServer(t, tc.status, tc.body)
			// The canned server answers the token path itself; put the canned
			// answer under another base path so the token request gets it.
			ts := NewTokenSource(ClientConfig{BaseURL: srv.URL + "/other", ClientID: "id", ClientSecret: "secret", HTTPClient: srv.Client()})
			if _, err := ts.Token(context.Background()); err == nil {
				t.Fatal("got no error, want one")
			}
		})
	}
}
