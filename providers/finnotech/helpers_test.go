package finnotech_test

import (
	"context"
	"crypto/rand"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/blockd/blockd/providers"
	. "github.com/blockd/blockd/providers/finnotech"
	"github.com/blockd/blockd/providers/finnotech/finnotechfake"
	"github.com/blockd/blockd/providers/jalali"
	"github.com/blockd/blockd/providers/providertest"
	"github.com/blockd/blockd/schemas"
)

// sandboxDay is the sandbox clock of the tests: 1395/12/10 in Tehran, the
// seed's blockDate "951210".
func sandboxDay() time.Time {
	return time.Date(2017, 2, 28, 10, 30, 0, 0, jalali.Tehran())
}

// recordingTokens is a TokenSource that hands out tok as the customer's
// token and cc as every client-credential token (ClientCredentialPrefix+tok
// when cc is empty), and remembers what it was asked and what was
// invalidated.
type recordingTokens struct {
	tok, cc string
	err     error

	mu            sync.Mutex
	invalidated   []string
	asked         [][]string
	ccInvalidated [][]string
}

func (r *recordingTokens) Token(context.Context, string) (string, error) {
	return r.tok, r.err
}

func (r *recordingTokens) Invalidate(clientID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.invalidated = append(r.invalidated, clientID)
}

func (r *recordingTokens) Invalidated() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.invalidated...)
}

func (r *recordingTokens) ClientCredential(_ context.Context, scopes ...string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked = append(r.asked, scopes)
	if r.cc == "" {
		return finnotechfake.ClientCredentialPrefix + r.tok, r.err
	}
	return r.cc, r.err
}

func (r *recordingTokens) InvalidateClientCredential(scopes ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ccInvalidated = append(r.ccInvalidated, scopes)
}

// fixture is a Client talking to a Sandbox over real HTTP.
type fixture struct {
	sandbox *finnotechfake.Sandbox
	server  *httptest.Server
	tokens  *recordingTokens
	client  *Client
}

// newFixture starts a sandbox configured by cfg (its clock defaulting to
// sandboxDay) and a client with token tok.
func newFixture(tb testing.TB, cfg finnotechfake.Config, tok string) *fixture {
	tb.Helper()
	if cfg.Now == nil {
		cfg.Now = sandboxDay
	}
	sb := finnotechfake.New(cfg)
	srv := httptest.NewServer(sb)
	tb.Cleanup(srv.Close)
	tokens := &recordingTokens{tok: tok}
	return &fixture{sandbox: sb, server: srv, tokens: tokens, client: NewClient(ClientConfig{BaseURL: srv.URL, HTTPClient: srv.Client(), Tokens: tokens})}
}

// newTrackID returns a fresh trackId (26 letters and digits).
func newTrackID(tb testing.TB) string {
	tb.Helper()
	return rand.Text()
}

// block places a good block and returns its trackId and answer.
func (f *fixture) block(tb testing.TB, clientID string, amount int64) (string, BlockResponse) {
	tb.Helper()
	trackID := newTrackID(tb)
	resp, err := f.client.Block(context.Background(), clientID, trackID, BlockRequest{Amount: amount, Description: "test", Days: 12})
	if err != nil {
		tb.Fatalf("Block: %v", err)
	}
	return trackID, resp
}

// callStatus asks the status of trackID and fails the test on an error.
func (f *fixture) callStatus(tb testing.TB, clientID, trackID string) CallStatus {
	tb.Helper()
	st, err := f.client.CallStatus(context.Background(), clientID, trackID)
	if err != nil {
		tb.Fatalf("CallStatus(%s): %v", trackID, err)
	}
	return st
}

// wantError checks that err is this provider's error with the class, code
// and HTTP status given.
func wantError(tb testing.TB, err error, class providers.Class, code string, httpStatus int) *providers.Error {
	tb.Helper()
	return providertest.WantError(tb, err, schemas.ProviderFinnotech, class, code, httpStatus)
}

// eventually polls cond until it holds; it fails after a generous bound,
// which is a guard against hanging, not a timing assertion.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// unblock releases the block blockID (answered b) of clientID and returns
// the unblock call's trackId.
func (f *fixture) unblock(tb testing.TB, clientID, blockID string, b BlockResponse) string {
	tb.Helper()
	trackID := newTrackID(tb)
	if _, err := f.client.Unblock(context.Background(), clientID, trackID, UnblockRequest{Amount: b.Amount,
		BlockTrackID: blockID, Deposit: b.Deposit, BlockDate: b.BlockDate, Description: b.Description, Days: b.Days}); err != nil {
		tb.Fatalf("Unblock: %v", err)
	}
	return trackID
}

// unblocked blocks and unblocks amount for clientID and returns the block
// and unblock trackIds.
func (f *fixture) unblocked(tb testing.TB, clientID string, amount int64) (blockID, unblockID string) {
	tb.Helper()
	blockID, b := f.block(tb, clientID, amount)
	return blockID, f.unblock(tb, clientID, blockID, b)
}

// newTestClock returns a clock at sandboxDay that the test moves by hand.
func newTestClock() *providertest.Clock { return providertest.NewClock(sandboxDay()) }

// tokenFixture is a Client on Tokens and a memory store, talking to a
// Sandbox that accepts only the configured token "seed" and the tokens it
// issues. The store holds "seed" for app-1, issued at the clock's start
// and valid for 10 days, with its refresh token.
type tokenFixture struct {
	sandbox *finnotechfake.Sandbox
	server  *httptest.Server
	clock   *providertest.Clock
	store   *MemoryTokenStore
	tokens  *Tokens
	client  *Client
}

const seedToken = "seed"

func newTokenFixture(tb testing.TB, cfg finnotechfake.Config, tcfg TokensConfig) *tokenFixture {
	tb.Helper()
	clock := newTestClock()
	if cfg.Now == nil {
		cfg.Now = clock.Now
	}
	if cfg.Tokens == nil {
		cfg.Tokens = []string{seedToken}
	}
	sb := finnotechfake.New(cfg)
	srv := httptest.NewServer(sb)
	tb.Cleanup(srv.Close)
	if tcfg.Store == nil {
		tcfg.Store = NewMemoryTokenStore(map[string]Token{"app-1": {Value: seedToken, RefreshToken: "refresh-" + seedToken,
			Bank: "062", IssuedAt: clock.Now(), ExpiresAt: clock.Now().Add(10 * 24 * time.Hour)}})
	}
	if tcfg.ClientID == "" {
		tcfg.ClientID, tcfg.ClientSecret = finnotechfake.DefaultClientID, finnotechfake.DefaultClientSecret
	}
	if tcfg.NID == "" {
		tcfg.NID = "0012345678"
	}
	if tcfg.Now == nil {
		tcfg.Now = clock.Now
	}
	tokens := NewTokens(srv.URL, srv.Client(), tcfg)
	store, _ := tcfg.Store.(*MemoryTokenStore)
	return &tokenFixture{sandbox: sb, server: srv, clock: clock, store: store, tokens: tokens,
		client: NewClient(ClientConfig{BaseURL: srv.URL, HTTPClient: srv.Client(), Tokens: tokens})}
}

// token gets the token of clientID and fails the test on an error.
func (f *tokenFixture) token(tb testing.TB, clientID string) string {
	tb.Helper()
	tok, err := f.tokens.Token(context.Background(), clientID)
	if err != nil {
		tb.Fatalf("Token(%s): %v", clientID, err)
	}
	return tok
}

// stored returns the token the store holds for clientID.
func (f *tokenFixture) stored(tb testing.TB, clientID string) Token {
	tb.Helper()
	t, ok, err := f.store.Load(context.Background(), clientID)
	if err != nil || !ok {
		tb.Fatalf("Load(%s) = %v, %v", clientID, ok, err)
	}
	return t
}

// blockWithTokens places a good block for app-1 through the fixture's
// client and returns its trackId and answer.
func (f *tokenFixture) blockWithTokens(tb testing.TB, amount int64) (string, BlockResponse) {
	tb.Helper()
	trackID := newTrackID(tb)
	resp, err := f.client.Block(context.Background(), "app-1", trackID, BlockRequest{Amount: amount, Description: "test", Days: 12})
	if err != nil {
		tb.Fatalf("Block: %v", err)
	}
	return trackID, resp
}
