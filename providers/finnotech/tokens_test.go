package finnotech_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blockd/blockd/providers"
	. "github.com/blockd/blockd/providers/finnotech"
	"github.com/blockd/blockd/providers/finnotech/finnotechfake"
	"github.com/blockd/blockd/providers/sandboxfault"
)

func TestTokensRefreshBeforeExpiry(t *testing.T) {
	f := newTokenFixture(t, finnotechfake.Config{}, TokensConfig{})
	if got := f.token(t, "app-1"); got != seedToken {
		t.Fatalf("Token = %q, want the stored token", got)
	}
	// Lifetime 10 days: the margin is 10% capped at 1h.
	f.clock.Advance(10*24*time.Hour - 61*time.Minute)
	if got := f.token(t, "app-1"); got != seedToken {
		t.Fatalf("Token 61 minutes before expiry = %q, want the stored token", got)
	}
	if n := f.sandbox.TokensIssued(); n != 0 {
		t.Fatalf("TokensIssued = %d before the margin, want 0", n)
	}

	f.clock.Advance(2 * time.Minute) // 59 minutes before expiry
	renewed := f.token(t, "app-1")
	if renewed == seedToken || renewed == "" {
		t.Fatalf("Token within the margin = %q, want a new one", renewed)
	}
	if n := f.sandbox.TokensIssued(); n != 1 {
		t.Errorf("TokensIssued = %d, want 1", n)
	}
	st := f.stored(t, "app-1")
	if st.Value != renewed || st.RefreshToken == "" || st.RefreshToken == "refresh-"+seedToken || st.Bank != "062" ||
		!st.IssuedAt.Equal(f.clock.Now()) || !st.ExpiresAt.Equal(f.clock.Now().Add(10*24*time.Hour)) || len(st.Scopes) == 0 {
		t.Errorf("stored token %v (value saved: %v), want the renewed one, expiring in 10 days", st, st.Value == renewed)
	}

	// The new token is used, and works.
	if got := f.token(t, "app-1"); got != renewed {
		t.Errorf("Token after the refresh = %q, want the renewed one", got)
	}
	if _, err := f.client.Block(context.Background(), "app-1", newTrackID(t), BlockRequest{Amount: 1, Description: "d", Days: 1}); err != nil {
		t.Errorf("Block with the renewed token: %v", err)
	}
	if n := f.sandbox.TokensIssued(); n != 1 {
		t.Errorf("TokensIssued = %d, want still 1", n)
	}
}

func TestTokensMargin(t *testing.T) {
	tests := []struct {
		name     string
		margin   time.Duration
		lifetime time.Duration
		issued   bool
		fresh    time.Duration // still fresh this long after issue
		renew    time.Duration // renewed this long after issue
	}{
		{"10% of a short lifetime", 0, 15 * time.Minute, true, 13*time.Minute + 29*time.Second, 13*time.Minute + 31*time.Second},
		{"capped at 1h", 0, 48 * time.Hour, true, 46*time.Hour + 59*time.Minute, 47*time.Hour + time.Minute},
		{"unknown lifetime: 1h", 0, 48 * time.Hour, false, 46*time.Hour + 59*time.Minute, 47*time.Hour + time.Minute},
		{"configured", 5 * time.Hour, 48 * time.Hour, true, 42*time.Hour + 59*time.Minute, 43*time.Hour + time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newTestClock()
			tok := Token{Value: seedToken, RefreshToken: "refresh-" + seedToken, Bank: "062", ExpiresAt: clock.Now().Add(tc.lifetime)}
			if tc.issued {
				tok.IssuedAt = clock.Now()
			}
			f := newTokenFixture(t, finnotechfake.Config{Now: clock.Now}, TokensConfig{Margin: tc.margin, Now: clock.Now,
				Store: NewMemoryTokenStore(map[string]Token{"app-1": tok})})
			clock.Advance(tc.fresh)
			if got := f.token(t, "app-1"); got != seedToken {
				t.Errorf("Token at %v = renewed, want the stored one", tc.fresh)
			}
			clock.Advance(tc.renew - tc.fresh)
			if got := f.token(t, "app-1"); got == seedToken {
				t.Errorf("Token at %v = the stored one, want it renewed", tc.renew)
			}
		})
	}
}

func TestTokensRefreshAfterInvalidate(t *testing.T) {
	f := newTokenFixture(t, finnotechfake.Config{}, TokensConfig{})
	if got := f.token(t, "app-1"); got != seedToken {
		t.Fatalf("Token = %q, want the stored token", got)
	}
	f.tokens.Invalidate("app-1")
	renewed := f.token(t, "app-1")
	if renewed == seedToken {
		t.Fatal("Token after Invalidate = the refused token, want a new one")
	}
	if n := f.sandbox.TokensIssued(); n != 1 {
		t.Errorf("TokensIssued = %d, want 1", n)
	}
	if st := f.stored(t, "app-1"); st.Value != renewed {
		t.Error("the store does not hold the renewed token")
	}

	t.Run("another process renewed it meanwhile", func(t *testing.T) {
		other := Token{Value: "other-process", RefreshToken: "r", Bank: "062", IssuedAt: f.clock.Now(), ExpiresAt: f.clock.Now().Add(24 * time.Hour)}
		if err := f.store.Save(context.Background(), "app-1", other); err != nil {
			t.Fatal(err)
		}
		f.tokens.Invalidate("app-1")
		if got := f.token(t, "app-1"); got != "other-process" {
			t.Errorf("Token = %q, want the one the store holds now", got)
		}
		if n := f.sandbox.TokensIssued(); n != 1 {
			t.Errorf("TokensIssued = %d, want still 1", n)
		}
	})
	t.Run("invalidated before ever loaded", func(t *testing.T) {
		g := newTokenFixture(t, finnotechfake.Config{}, TokensConfig{})
		g.tokens.Invalidate("app-1")
		if got := g.token(t, "app-1"); got == seedToken {
			t.Error("Token = the stored token, want it renewed")
		}
	})
}

// TestTokensDeadTokenSignal: a call refused for its token invalidates it;
// the sandbox really revoked it, and the next call works on a refreshed
// one.
func TestTokensDeadTokenSignal(t *testing.T) {
	f := newTokenFixture(t, finnotechfake.Config{}, TokensConfig{})
	ctx := context.Background()
	good := BlockRequest{Amount: 1, Description: "d", Days: 1}
	f.sandbox.InjectNext(sandboxfault.FaultTokenExpired)
	_, err := f.client.Block(ctx, "app-1", newTrackID(t), good)
	wantError(t, err, providers.Retryable, CodeTokenExpired, http.StatusForbidden)

	// The revoked token stays refused.
	_, err = NewClient(ClientConfig{BaseURL: f.server.URL, HTTPClient: f.server.Client(), Tokens: finnotechfake.StaticToken(seedToken)}).Block(ctx, "app-1", newTrackID(t), good)
	wantError(t, err, providers.Retryable, CodeTokenExpired, http.StatusForbidden)

	if _, err := f.client.Block(ctx, "app-1", newTrackID(t), good); err != nil {
		t.Fatalf("Block after the refresh: %v", err)
	}
	if n := f.sandbox.TokensIssued(); n != 1 {
		t.Errorf("TokensIssued = %d, want 1", n)
	}
}

func TestTokensSingleFlight(t *testing.T) {
	f := newTokenFixture(t, finnotechfake.Config{Latency: 50 * time.Millisecond}, TokensConfig{})
	f.tokens.Invalidate("app-1")
	const n = 20
	got := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			got[i], errs[i] = f.tokens.Token(context.Background(), "app-1")
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || got[i] != got[0] || got[i] == seedToken {
			t.Fatalf("caller %d: %q, %v; want the one renewed token", i, got[i], errs[i])
		}
	}
	if r, c := f.sandbox.Requests(finnotechfake.OpToken), f.sandbox.TokensIssued(); r != 1 || c != 1 {
		t.Errorf("token requests %d, issued %d; want 1 and 1", r, c)
	}
}

// TestTokensRefreshSurvivesCaller: the caller that started a refresh goes
// away; the refresh still finishes and is kept.
func TestTokensRefreshSurvivesCaller(t *testing.T) {
	f := newTokenFixture(t, finnotechfake.Config{Latency: 100 * time.Millisecond}, TokensConfig{})
	f.tokens.Invalidate("app-1")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := f.tokens.Token(ctx, "app-1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Token with a short deadline: %v, want DeadlineExceeded", err)
	}
	eventually(t, "the refresh to be saved", func() bool {
		st, _, _ := f.store.Load(context.Background(), "app-1")
		return st.Value != seedToken
	})
	renewed := f.token(t, "app-1")
	if st := f.stored(t, "app-1"); renewed != st.Value || f.sandbox.TokensIssued() != 1 {
		t.Errorf("TokensIssued = %d, want 1 and the saved token in use", f.sandbox.TokensIssued())
	}
}

func TestTokensNoToken(t *testing.T) {
	clock := newTestClock()
	now := clock.Now()
	tests := []struct {
		name       string
		tok        *Token
		invalidate bool
		wantClass  providers.Class // -1: no error
		wantValue  string
	}{
		{"none stored", nil, false, providers.Permanent, ""},
		{"expired, no refresh token", &Token{Value: "v", ExpiresAt: now.Add(-time.Minute)}, false, providers.Permanent, ""},
		{"refused, no refresh token", &Token{Value: "v", ExpiresAt: now.Add(time.Hour * 48)}, true, providers.Permanent, ""},
		{"within the margin, no refresh token: used until it expires", &Token{Value: "v", IssuedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Minute)}, false, -1, "v"},
		{"expired, refresh refused", &Token{Value: "v", RefreshToken: "bad", Bank: "062", ExpiresAt: now.Add(-time.Minute)}, false, providers.Permanent, ""},
		{"refused, refresh refused", &Token{Value: "v", RefreshToken: "bad", Bank: "062", ExpiresAt: now.Add(48 * time.Hour)}, true, providers.Permanent, ""},
		{"within the margin, refresh refused: used until it expires", &Token{Value: "v", RefreshToken: "bad", Bank: "062", IssuedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Minute)}, false, -1, "v"},
		{"expired, no bank for the refresh", &Token{Value: "v", RefreshToken: "refresh-" + seedToken, ExpiresAt: now.Add(-time.Minute)}, false, providers.Permanent, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seed := map[string]Token{}
			if tc.tok != nil {
				seed["app-1"] = *tc.tok
			}
			f := newTokenFixture(t, finnotechfake.Config{Now: clock.Now}, TokensConfig{Now: clock.Now, Store: NewMemoryTokenStore(seed)})
			if tc.invalidate {
				f.tokens.Invalidate("app-1")
			}
			got, err := f.tokens.Token(context.Background(), "app-1")
			if tc.wantClass == -1 {
				if err != nil || got != tc.wantValue {
					t.Fatalf("Token = %q, %v; want %q", got, err, tc.wantValue)
				}
				return
			}
			wantError(t, err, tc.wantClass, CodeNoToken, providerErrorStatus(err))

			// A call is not sent, and fails for good.
			_, err = f.client.Block(context.Background(), "app-1", newTrackID(t), BlockRequest{Amount: 1, Description: "d", Days: 1})
			wantError(t, err, providers.Permanent, CodeNoToken, 0)
			if n := f.sandbox.Requests(finnotechfake.OpBlock); n != 0 {
				t.Errorf("Requests(block) = %d, want 0", n)
			}
			if strings.Contains(err.Error(), "bad") || strings.Contains(err.Error(), "refresh-") {
				t.Errorf("error %q holds a refresh token", err)
			}
		})
	}
}

// providerErrorStatus is the HTTP status of the *providers.Error in err.
func providerErrorStatus(err error) int {
	var pe *providers.Error
	if errors.As(err, &pe) {
		return pe.HTTPStatus
	}
	return 0
}

// flakyStore is a MemoryTokenStore whose Load and Save fail while told to.
type flakyStore struct {
	*MemoryTokenStore
	mu               sync.Mutex
	loadErr, saveErr error
}

func (s *flakyStore) set(load, save error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loadErr, s.saveErr = load, save
}

func (s *flakyStore) Load(ctx context.Context, clientID string) (Token, bool, error) {
	s.mu.Lock()
	err := s.loadErr
	s.mu.Unlock()
	if err != nil {
		return Token{}, false, err
	}
	return s.MemoryTokenStore.Load(ctx, clientID)
}

func (s *flakyStore) Save(ctx context.Context, clientID string, t Token) error {
	s.mu.Lock()
	err := s.saveErr
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.MemoryTokenStore.Save(ctx, clientID, t)
}

func TestTokensStoreErrors(t *testing.T) {
	clock := newTestClock()
	store := &flakyStore{MemoryTokenStore: NewMemoryTokenStore(map[string]Token{"app-1": {Value: seedToken,
		RefreshToken: "refresh-" + seedToken, Bank: "062", IssuedAt: clock.Now(), ExpiresAt: clock.Now().Add(48 * time.Hour)}})}
	f := newTokenFixture(t, finnotechfake.Config{Now: clock.Now}, TokensConfig{Now: clock.Now, Store: store})
	f.store = store.MemoryTokenStore
	ctx := context.Background()
	good := BlockRequest{Amount: 1, Description: "d", Days: 1}

	store.set(errors.New("store down"), nil)
	_, err := f.client.Block(ctx, "app-1", newTrackID(t), good)
	wantError(t, err, providers.Retryable, CodeNoToken, 0)

	// A refresh whose result cannot be saved is kept, and saved first next
	// time; its refresh token is not lost.
	store.set(nil, errors.New("store down"))
	f.tokens.Invalidate("app-1")
	_, err = f.client.Block(ctx, "app-1", newTrackID(t), good)
	wantError(t, err, providers.Retryable, CodeNoToken, 0)
	if n := f.sandbox.TokensIssued(); n != 1 {
		t.Fatalf("TokensIssued = %d, want 1", n)
	}
	_, err = f.tokens.Token(ctx, "app-1")
	if err == nil {
		t.Fatal("Token while the store is still down: got no error")
	}

	store.set(nil, nil)
	renewed := f.token(t, "app-1")
	if st := f.stored(t, "app-1"); st.Value != renewed || renewed == seedToken {
		t.Error("the renewed token was not saved once the store came back")
	}
	if n := f.sandbox.TokensIssued(); n != 1 {
		t.Errorf("TokensIssued = %d, want still 1", n)
	}
	if _, err := f.client.Block(ctx, "app-1", newTrackID(t), good); err != nil {
		t.Errorf("Block: %v", err)
	}
}

func TestClientCredentialCaching(t *testing.T) {
	f := newTokenFixture(t, finnotechfake.Config{}, TokensConfig{})
	ctx := context.Background()
	cc := func(scopes ...string) string {
		t.Helper()
		tok, err := f.tokens.ClientCredential(ctx, scopes...)
		if err != nil {
			t.Fatalf("ClientCredential(%q): %v", scopes, err)
		}
		return tok
	}
	ab := cc("b", "a")
	if got := cc("a", "b"); got != ab {
		t.Error("the same scope set in another order got another token")
	}
	if got := cc("a", " b", "a"); got != ab {
		t.Error("the same scope set with a repeat got another token")
	}
	a := cc("a")
	if a == ab {
		t.Error("scope set {a} got the token of {a,b}")
	}
	if n := f.sandbox.TokensIssued(); n != 2 {
		t.Errorf("TokensIssued = %d, want 2 (one per scope set)", n)
	}

	f.tokens.InvalidateClientCredential("b", "a")
	ab2 := cc("a", "b")
	if ab2 == ab {
		t.Error("InvalidateClientCredential kept the token")
	}
	if got := cc("a"); got != a {
		t.Error("invalidating {a,b} dropped {a}")
	}
	if n := f.sandbox.TokensIssued(); n != 3 {
		t.Errorf("TokensIssued = %d, want 3", n)
	}

	// Lifetime 1 day: renewed within 1h of expiry.
	f.clock.Advance(22*time.Hour + 59*time.Minute)
	if got := cc("a"); got != a {
		t.Error("renewed 61 minutes before expiry")
	}
	f.clock.Advance(2 * time.Minute)
	if got := cc("a"); got == a {
		t.Error("not renewed 59 minutes before expiry")
	}

	if _, err := f.tokens.ClientCredential(ctx); err == nil {
		t.Error("ClientCredential without scopes: got no error")
	}
}

func TestClientCredentialSingleFlight(t *testing.T) {
	f := newTokenFixture(t, finnotechfake.Config{Latency: 50 * time.Millisecond}, TokensConfig{})
	var wg sync.WaitGroup
	got := make([]string, 10)
	for i := range got {
		wg.Go(func() { got[i], _ = f.tokens.ClientCredential(context.Background(), ScopeFacilityInquiry) })
	}
	wg.Wait()
	for i := range got {
		if got[i] == "" || got[i] != got[0] {
			t.Fatalf("caller %d got %q, want the one token %q", i, got[i], got[0])
		}
	}
	if n := f.sandbox.TokensIssued(); n != 1 {
		t.Errorf("TokensIssued = %d, want 1", n)
	}
}

func TestTokenRequestShape(t *testing.T) {
	answer := `{"result":{"value":"v1","refreshToken":"r2","lifeTime":864000000,"creationDate":"13970730111355","scopes":["x"]},"status":"DONE","trackId":"t"}`
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("app:s3cret"))
	tests := []struct {
		name     string
		do       func(*Tokens) error
		wantBody string
	}{
		{"client credentials", func(tk *Tokens) error {
			_, err := tk.ClientCredential(context.Background(), "b:c:d", "a:b:c")
			return err
		}, `{"grant_type":"client_credentials","nid":"0012345678","scopes":"a:b:c,b:c:d"}`},
		{"refresh", func(tk *Tokens) error {
			tk.Invalidate("app-1")
			_, err := tk.Token(context.Background(), "app-1")
			return err
		}, `{"grant_type":"refresh_token","token_type":"CODE","bank":"062","refresh_token":"r1"}`},
		{"authorization code", func(tk *Tokens) error {
			return tk.Exchange(context.Background(), "app-2", "code-1", "062", "https://blockd.example/cb")
		}, `{"grant_type":"authorization_code","code":"code-1","redirect_uri":"https://blockd.example/cb","bank":"062"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := newCannedServer(t, 200, answer)
			store := NewMemoryTokenStore(map[string]Token{"app-1": {Value: "v0", RefreshToken: "r1", Bank: "062"}})
			tk := NewTokens(cs.URL, cs.Client(), TokensConfig{ClientID: "app", ClientSecret: "s3cret", NID: "0012345678", Store: store})
			if err := tc.do(tk); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			r, body := cs.last()
			if r.Method != http.MethodPost || r.URL.Path != "/dev/v2/oauth2/token" || r.Header.Get("Authorization") != wantAuth ||
				r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("request %s %s, Authorization %q, Content-Type %q; want POST /dev/v2/oauth2/token with Basic auth",
					r.Method, r.URL, r.Header.Get("Authorization"), r.Header.Get("Content-Type"))
			}
			if string(body) != tc.wantBody {
				t.Errorf("body = %s, want %s", body, tc.wantBody)
			}
		})
	}

	t.Run("answer read into the store", func(t *testing.T) {
		cs := newCannedServer(t, 200, answer)
		clock := newTestClock()
		store := NewMemoryTokenStore(nil)
		tk := NewTokens(cs.URL, cs.Client(), TokensConfig{ClientID: "app", ClientSecret: "s", Store: store, Now: clock.Now})
		if err := tk.Exchange(context.Background(), "app-2", "code-1", "062", "u"); err != nil {
			t.Fatal(err)
		}
		got, ok, _ := store.Load(context.Background(), "app-2")
		want := Token{Value: "v1", RefreshToken: "r2", Bank: "062", Scopes: []string{"x"}, IssuedAt: clock.Now(),
			ExpiresAt: clock.Now().Add(10 * 24 * time.Hour)}
		if !ok || got.Value != want.Value || got.RefreshToken != want.RefreshToken || got.Bank != want.Bank ||
			!got.ExpiresAt.Equal(want.ExpiresAt) || !got.IssuedAt.Equal(want.IssuedAt) || len(got.Scopes) != 1 {
			t.Errorf("stored %v, want %v", got, want)
		}
	})
}

func TestTokenEndpointFailures(t *testing.T) {
	const secret, refresh = "very-secret", "refresh-secret-value"
	tests := []struct {
		name      string
		status    int
		body      string
		wantClass providers.Class
	}{
		{"bad client", 401, `{"status":"FAILED","error":{"code":"UNAUTHORIZED","message":"invalid client credentials"}}`, providers.Permanent},
		{"refresh refused", 400, `{"status":"FAILED","error":{"code":"VALIDATION_ERROR","message":"invalid refresh token"}}`, providers.Permanent},
		{"too many requests", 429, ``, providers.Retryable},
		{"server error", 502, `<html>`, providers.Retryable},
		{"no token in the answer", 200, `{"result":{},"status":"DONE"}`, providers.Retryable},
		{"unreadable answer", 200, `{"result":`, providers.Retryable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := newCannedServer(t, tc.status, tc.body)
			store := NewMemoryTokenStore(map[string]Token{"app-1": {Value: "dead-token-value", RefreshToken: refresh, Bank: "062"}})
			tk := NewTokens(cs.URL, cs.Client(), TokensConfig{ClientID: "app", ClientSecret: secret, NID: "0012345678", Store: store})
			tk.Invalidate("app-1")
			_, err := tk.Token(context.Background(), "app-1")
			wantError(t, err, tc.wantClass, CodeNoToken, tc.status)
			_, ccErr := tk.ClientCredential(context.Background(), "a")
			wantError(t, ccErr, tc.wantClass, CodeNoToken, tc.status)
			for _, e := range []error{err, ccErr} {
				for _, s := range []string{secret, refresh, "dead-token-value", base64.StdEncoding.EncodeToString([]byte("app:" + secret))} {
					if strings.Contains(e.Error(), s) {
						t.Errorf("error %q holds a secret", e)
					}
				}
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		tk := NewTokens("http://127.0.0.1:1", nil, TokensConfig{ClientID: "app", ClientSecret: secret, Store: NewMemoryTokenStore(
			map[string]Token{"app-1": {Value: "v", RefreshToken: refresh, Bank: "062", ExpiresAt: time.Now().Add(-time.Hour)}})})
		_, err := tk.Token(context.Background(), "app-1")
		wantError(t, err, providers.Retryable, CodeNoToken, 0)
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), refresh) {
			t.Errorf("error %q holds a secret", err)
		}
	})
}

func TestTokenString(t *testing.T) {
	tok := Token{Value: "secret-value", RefreshToken: "secret-refresh", Bank: "062", ExpiresAt: sandboxDay()}
	for _, s := range []string{fmt.Sprint(tok), fmt.Sprintf("%+v", tok), fmt.Sprintf("%#v", tok), fmt.Sprintf("%v", &tok)} {
		if strings.Contains(s, "secret") {
			t.Errorf("formatted token %q shows a secret", s)
		}
	}
}

func TestTokensConfigValidate(t *testing.T) {
	if err := (TokensConfig{ClientID: "a", ClientSecret: "b", NID: "0012345678"}).Validate(); err != nil {
		t.Errorf("Validate(good) = %v", err)
	}
	for name, cfg := range map[string]TokensConfig{
		"no client id":    {ClientSecret: "b"},
		"no secret":       {ClientID: "a"},
		"short nid":       {ClientID: "a", ClientSecret: "b", NID: "123"},
		"negative margin": {ClientID: "a", ClientSecret: "b", Margin: -time.Second},
	} {
		if err := cfg.Validate(); err == nil {
			t.Errorf("Validate(%s) = nil, want an error", name)
		}
	}
}

func TestTokensExchange(t *testing.T) {
	f := newTokenFixture(t, finnotechfake.Config{}, TokensConfig{})
	ctx := context.Background()
	if err := f.tokens.Exchange(ctx, "app-2", "code-abc", "062", "https://blockd.example/cb"); err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	st := f.stored(t, "app-2")
	if st.Value == "" || st.RefreshToken == "" || st.Bank != "062" || !st.ExpiresAt.Equal(f.clock.Now().Add(finnotechfake.DefaultTokenLifetime)) {
		t.Errorf("stored %v, want a 10-day token at bank 062", st)
	}
	if _, err := f.client.Block(ctx, "app-2", newTrackID(t), BlockRequest{Amount: 1, Description: "d", Days: 1}); err != nil {
		t.Errorf("Block with the exchanged token: %v", err)
	}
	err := f.tokens.Exchange(ctx, "app-3", "not-a-code", "062", "u")
	wantError(t, err, providers.Permanent, CodeNoToken, http.StatusBadRequest)
}
