package finnotechfake

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/providers/finnotech"
	"github.com/blockd/blockd/providers/finnotech/internal/wire"
	"github.com/blockd/blockd/providers/jalali"
	"github.com/blockd/blockd/providers/providertest"
	"github.com/blockd/blockd/schemas"
)

const (
	// nationalID is a national code the facility tests ask about.
	nationalID = "0071331951"
	// destination is the deposit transfers go to.
	destination = "0201000000001"
	// seedToken is the one token a tokenFixture's sandbox is configured with.
	seedToken = "seed"
)

// sandboxDay is the sandbox clock of the tests: 1395/12/10 in Tehran, the
// seed's blockDate "951210".
func sandboxDay() time.Time {
	return time.Date(2017, 2, 28, 10, 30, 0, 0, jalali.Tehran())
}

// newTestClock returns a clock at sandboxDay that the test moves by hand.
func newTestClock() *providertest.Clock { return providertest.NewClock(sandboxDay()) }

// fixture is a finnotech.Client with a fixed token talking to a Sandbox
// over real HTTP.
type fixture struct {
	sandbox *Sandbox
	server  *httptest.Server
	client  *finnotech.Client
}

// newFixture starts a sandbox configured by cfg (its clock defaulting to
// sandboxDay) and a client with token tok.
func newFixture(tb testing.TB, cfg Config, tok string) *fixture {
	tb.Helper()
	if cfg.Now == nil {
		cfg.Now = sandboxDay
	}
	sb := New(cfg)
	srv := httptest.NewServer(sb)
	tb.Cleanup(srv.Close)
	return &fixture{sandbox: sb, server: srv,
		client: finnotech.NewClient(finnotech.ClientConfig{BaseURL: srv.URL, HTTPClient: srv.Client(), Tokens: StaticToken(tok)})}
}

// tokenFixture is a finnotech.Client on finnotech.Tokens and a memory
// store, talking to a Sandbox that accepts only the configured token "seed"
// and the tokens it issues. The store holds "seed" for app-1.
type tokenFixture struct {
	sandbox *Sandbox
	server  *httptest.Server
	tokens  *finnotech.Tokens
	client  *finnotech.Client
}

func newTokenFixture(tb testing.TB, cfg Config) *tokenFixture {
	tb.Helper()
	clock := newTestClock()
	cfg.Now, cfg.Tokens = clock.Now, []string{seedToken}
	sb := New(cfg)
	srv := httptest.NewServer(sb)
	tb.Cleanup(srv.Close)
	store := finnotech.NewMemoryTokenStore(map[string]finnotech.Token{"app-1": {Value: seedToken,
		RefreshToken: "refresh-" + seedToken, Bank: "062", IssuedAt: clock.Now(), ExpiresAt: clock.Now().Add(10 * 24 * time.Hour)}})
	tokens := finnotech.NewTokens(srv.URL, srv.Client(), finnotech.TokensConfig{ClientID: DefaultClientID,
		ClientSecret: DefaultClientSecret, NID: "0012345678", Store: store, Now: clock.Now})
	return &tokenFixture{sandbox: sb, server: srv, tokens: tokens, client: finnotech.NewClient(finnotech.ClientConfig{BaseURL: srv.URL, HTTPClient: srv.Client(), Tokens: tokens})}
}

// newTrackID returns a fresh trackId (26 letters and digits).
func newTrackID(tb testing.TB) string {
	tb.Helper()
	return rand.Text()
}

// block places a good block and returns its trackId and answer.
func (f *fixture) block(tb testing.TB, clientID string, amount int64) (string, finnotech.BlockResponse) {
	tb.Helper()
	trackID := newTrackID(tb)
	resp, err := f.client.Block(context.Background(), clientID, trackID, finnotech.BlockRequest{Amount: amount, Description: "test", Days: 12})
	if err != nil {
		tb.Fatalf("Block: %v", err)
	}
	return trackID, resp
}

// rawCall sends one request to the fixture's sandbox and decodes the
// envelope of its answer.
func (f *fixture) rawCall(tb testing.TB, method, path, auth, contentType, body string) (int, wire.Envelope[json.RawMessage]) {
	tb.Helper()
	req, err := http.NewRequest(method, f.server.URL+path, strings.NewReader(body))
	if err != nil {
		tb.Fatalf("building request: %v", err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := f.server.Client().Do(req)
	if err != nil {
		tb.Fatalf("sending %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var env wire.Envelope[json.RawMessage]
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &env); err != nil {
		tb.Fatalf("decoding answer %s: %v", b, err)
	}
	return resp.StatusCode, env
}

// wantError checks that err is Finnotech's error with the class, code and
// HTTP status given.
func wantError(tb testing.TB, err error, class providers.Class, code string, httpStatus int) *providers.Error {
	tb.Helper()
	return providertest.WantError(tb, err, schemas.ProviderFinnotech, class, code, httpStatus)
}

// sameTokens is a finnotech.TokenSource that hands out tok for every call,
// of either kind: what a client that mixed the kinds up would send.
type sameTokens string

func (s sameTokens) Token(context.Context, string) (string, error) { return string(s), nil }
func (sameTokens) Invalidate(string)                               {}
func (s sameTokens) ClientCredential(context.Context, ...string) (string, error) {
	return string(s), nil
}
func (sameTokens) InvalidateClientCredential(...string) {}
