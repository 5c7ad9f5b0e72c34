package finnotech

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/providers/finnotech/internal/wire"
)

// Token is an authorization-code (oak) token of one Finnotech clientId, as
// a TokenStore keeps it. Its String and GoString hide the secrets, so a
// Token printed by mistake shows none.
type Token struct {
	Value        string
	RefreshToken string
	// Bank is the bank code the token was obtained at ("062"); a refresh
	// sends it.
	Bank string
	// ExpiresAt is when Finnotech stops accepting Value; zero means not
	// known, and the token is used until Finnotech refuses it.
	ExpiresAt time.Time
	Scopes    []string
	// IssuedAt is when the token was obtained; zero means not known (see
	// TokensConfig.Margin).
	IssuedAt time.Time
}

// String describes t without its secrets.
func (t Token) String() string {
	return fmt.Sprintf("finnotech.Token{bank %q, expires %s, %d scopes}", t.Bank, t.ExpiresAt.Format(time.RFC3339), len(t.Scopes))
}

// GoString describes t without its secrets.
func (t Token) GoString() string { return t.String() }

// TokenStore keeps the authorization-code token of each Finnotech clientId.
// A customer's consent produces the first one (Tokens.Exchange, or an
// operator); Tokens saves every renewal. Implementations must be safe for
// concurrent use.
type TokenStore interface {
	// Load returns the token of clientID; false when there is none.
	Load(ctx context.Context, clientID string) (Token, bool, error)
	// Save replaces the token of clientID.
	Save(ctx context.Context, clientID string, t Token) error
}

// MemoryTokenStore is a TokenStore in memory, for tests and local runs.
type MemoryTokenStore struct {
	mu     sync.Mutex
	tokens map[string]Token
}

// NewMemoryTokenStore returns a MemoryTokenStore holding a copy of seed
// (which may be nil).
func NewMemoryTokenStore(seed map[string]Token) *MemoryTokenStore {
	m := &MemoryTokenStore{tokens: make(map[string]Token, len(seed))}
	for id, t := range seed {
		t.Scopes = slices.Clone(t.Scopes)
		m.tokens[id] = t
	}
	return m
}

// Load returns the token of clientID.
func (m *MemoryTokenStore) Load(_ context.Context, clientID string) (Token, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tokens[clientID]
	t.Scopes = slices.Clone(t.Scopes)
	return t, ok, nil
}

// Save replaces the token of clientID.
func (m *MemoryTokenStore) Save(_ context.Context, clientID string, t Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t.Scopes = slices.Clone(t.Scopes)
	m.tokens[clientID] = t
	return nil
}

// Defaults of TokensConfig.
const (
	// maxMargin caps the default renewal margin, and is the margin of a
	// token whose lifetime is not known.
	maxMargin = time.Hour
	// tokenRequestTimeout bounds one request to the token endpoint.
	tokenRequestTimeout = 30 * time.Second
)

// TokensConfig configures Tokens.
type TokensConfig struct {
	// ClientID and ClientSecret authenticate blockd's Finnotech application
	// at the token endpoint (HTTP Basic). Required.
	//
	// ASSUMPTION (finnotech/doc.go, "Tokens"): one application serves every
	// clientId a command names; the clientId only picks the stored token.
	ClientID     string
	ClientSecret string
	// NID is the 10-digit national code of the person with access to the
	// application, sent with client_credentials requests. Required for
	// ClientCredential.
	NID string
	// Margin renews a token this long before it expires. Default: a tenth
	// of the token's lifetime, at most 1h (1h when the lifetime is not
	// known).
	Margin time.Duration
	// Store keeps the authorization-code tokens. Default: an empty
	// MemoryTokenStore.
	Store TokenStore
	// Now is the clock that decides expiry. Default time.Now.
	Now func() time.Time
}

// Validate reports a config Tokens cannot work with.
func (c TokensConfig) Validate() error {
	var errs []error
	if c.ClientID == "" {
		errs = append(errs, errors.New("finnotech tokens: ClientID is required"))
	}
	if c.ClientSecret == "" {
		errs = append(errs, errors.New("finnotech tokens: ClientSecret is required"))
	}
	if c.NID != "" && (len(c.NID) != 10 || strings.Trim(c.NID, "0123456789") != "") {
		errs = append(errs, errors.New("finnotech tokens: NID must be 10 digits"))
	}
	if c.Margin < 0 {
		errs = append(errs, errors.New("finnotech tokens: Margin must not be negative"))
	}
	return errors.Join(errs...)
}

// Tokens is the TokenSource (and ClientCredentialSource) of a Client
// talking to the real Finnotech. It is safe for concurrent use.
//
// Token hands out the stored authorization-code token of a clientId while
// it is fresh. Within the margin of its expiry, or once Invalidate says
// Finnotech refused it, Token renews it with its refresh token
// (grant_type refresh_token) and saves the new one; while it has not
// expired a failed renewal keeps the old one in use. A dead token without a
// refresh token, or whose refresh Finnotech refuses, gives a Permanent
// CodeNoToken error: the customer must consent again.
//
// ClientCredential hands out a client-credential token per scope set,
// requested (grant_type client_credentials) when there is none fresh.
//
// Concurrent callers that need the same renewal share one request, which
// runs to its end even when the caller that started it goes away, so that
// a refresh token Finnotech consumed is never lost. No error holds a token,
// a refresh token or the secret.
type Tokens struct {
	baseURL string
	http    *http.Client
	cfg     TokensConfig
	store   TokenStore
	now     func() time.Time
	group   singleflight.Group

	mu sync.Mutex
	ac map[string]acEntry // by clientId
	cc map[string]ccEntry // by scopeKey
}

// acEntry is what Tokens holds of a clientId's authorization-code token.
type acEntry struct {
	tok Token
	// stale: Finnotech refused tok (Invalidate). An empty tok.Value means
	// the refused token is not known, so whatever the store holds is taken
	// as refused.
	stale bool
	// unsaved: tok came from a refresh the store has not taken yet; it is
	// saved before anything else is done for the clientId.
	unsaved bool
}

// ccEntry is a client-credential token.
type ccEntry struct {
	value           string
	expires, issued time.Time
}

// NewTokens returns Tokens that get tokens from the Finnotech API at
// baseURL. httpClient nil means http.DefaultClient.
func NewTokens(baseURL string, httpClient *http.Client, cfg TokensConfig) *Tokens {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	t := &Tokens{
		baseURL: strings.TrimRight(baseURL, "/"),
		http:    httpClient,
		cfg:     cfg,
		store:   cfg.Store,
		now:     cfg.Now,
		ac:      make(map[string]acEntry),
		cc:      make(map[string]ccEntry),
	}
	if t.store == nil {
		t.store = NewMemoryTokenStore(nil)
	}
	if t.now == nil {
		t.now = time.Now
	}
	return t
}

// Token returns the authorization-code token of clientID, renewing it
// first when it is within the margin of its expiry or was invalidated.
func (t *Tokens) Token(ctx context.Context, clientID string) (string, error) {
	t.mu.Lock()
	e, ok := t.ac[clientID]
	if ok && !e.stale && !e.unsaved && t.fresh(e.tok.ExpiresAt, e.tok.IssuedAt) {
		t.mu.Unlock()
		return e.tok.Value, nil
	}
	t.mu.Unlock()
	return t.flight(ctx, "code\x00"+clientID, func(ctx context.Context) (string, error) {
		return t.renew(ctx, clientID)
	})
}

// Invalidate marks the token of clientID as refused by Finnotech; the next
// Token call renews it.
func (t *Tokens) Invalidate(clientID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.ac[clientID]
	e.stale = true
	t.ac[clientID] = e
}

// renew is the single flight of Token for clientID.
func (t *Tokens) renew(ctx context.Context, clientID string) (string, error) {
	t.mu.Lock()
	e, had := t.ac[clientID]
	t.mu.Unlock()
	if had && !e.stale && !e.unsaved && t.fresh(e.tok.ExpiresAt, e.tok.IssuedAt) {
		// An earlier flight renewed it.
		return e.tok.Value, nil
	}

	var cur Token
	var refused bool
	if had && e.unsaved {
		if err := t.store.Save(ctx, clientID, e.tok); err != nil {
			return "", fmt.Errorf("saving refreshed token: %w", err)
		}
		e.unsaved = false
		t.putAC(clientID, e)
		cur, refused = e.tok, e.stale
		if !refused && t.fresh(cur.ExpiresAt, cur.IssuedAt) {
			return cur.Value, nil
		}
	} else {
		stored, found, err := t.store.Load(ctx, clientID)
		if err != nil {
			return "", fmt.Errorf("loading token: %w", err)
		}
		if !found {
			return "", noToken("no token is stored for the client")
		}
		// A token other than the refused one was saved meanwhile (by
		// another process) and is taken as good.
		refused = had && e.stale && (e.tok.Value == "" || e.tok.Value == stored.Value)
		cur = stored
		if !refused && t.fresh(cur.ExpiresAt, cur.IssuedAt) {
			t.putAC(clientID, acEntry{tok: cur})
			return cur.Value, nil
		}
	}

	usable := !refused && t.alive(cur.ExpiresAt)
	if cur.RefreshToken == "" {
		if usable {
			t.putAC(clientID, acEntry{tok: cur})
			return cur.Value, nil
		}
		return "", noToken("the token is dead and has no refresh token")
	}
	next, err := t.refresh(ctx, cur)
	if err != nil {
		if usable {
			// Not expired yet: keep using it, and try again next time.
			t.putAC(clientID, acEntry{tok: cur})
			return cur.Value, nil
		}
		return "", err
	}
	if err := t.store.Save(ctx, clientID, next); err != nil {
		// Keep the new token, whose refresh token may be the only valid
		// one now, and save it before anything else next time.
		t.putAC(clientID, acEntry{tok: next, unsaved: true})
		return "", fmt.Errorf("saving refreshed token: %w", err)
	}
	t.putAC(clientID, acEntry{tok: next})
	return next.Value, nil
}

func (t *Tokens) putAC(clientID string, e acEntry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ac[clientID] = e
}

// refresh renews cur with its refresh token.
func (t *Tokens) refresh(ctx context.Context, cur Token) (Token, error) {
	res, issued, err := t.request(ctx, wire.TokenBody{
		GrantType:    wire.GrantRefreshToken,
		TokenType:    wire.TokenTypeCode,
		Bank:         cur.Bank,
		RefreshToken: cur.RefreshToken,
	})
	if err != nil {
		return Token{}, fmt.Errorf("refreshing token: %w", err)
	}
	return tokenOf(res, issued, cur), nil
}

// Exchange trades the authorization code a customer's consent returned
// (finnotech/doc.go, "Tokens") for a token of clientID, and saves it in the
// store.
// redirectURI must be the one of the authorize step.
func (t *Tokens) Exchange(ctx context.Context, clientID, code, bank, redirectURI string) error {
	res, issued, err := t.request(ctx, wire.TokenBody{
		GrantType:   wire.GrantAuthorizationCode,
		Code:        code,
		Bank:        bank,
		RedirectURI: redirectURI,
	})
	if err != nil {
		return fmt.Errorf("exchanging authorization code: %w", err)
	}
	tok := tokenOf(res, issued, Token{Bank: bank})
	if err := t.store.Save(ctx, clientID, tok); err != nil {
		return fmt.Errorf("saving token: %w", err)
	}
	t.putAC(clientID, acEntry{tok: tok})
	return nil
}

// ClientCredential returns a client-credential token for scopes (in any
// order), requesting one when none is fresh.
func (t *Tokens) ClientCredential(ctx context.Context, scopes ...string) (string, error) {
	key := scopeKey(scopes)
	if key == "" {
		return "", noToken("no scope asked for a client-credential token")
	}
	t.mu.Lock()
	e, ok := t.cc[key]
	t.mu.Unlock()
	if ok && t.fresh(e.expires, e.issued) {
		return e.value, nil
	}
	return t.flight(ctx, "cc\x00"+key, func(ctx context.Context) (string, error) {
		t.mu.Lock()
		e, ok := t.cc[key]
		t.mu.Unlock()
		if ok && t.fresh(e.expires, e.issued) {
			return e.value, nil
		}
		res, issued, err := t.request(ctx, wire.TokenBody{GrantType: wire.GrantClientCredentials, NID: t.cfg.NID, Scopes: key})
		if err != nil {
			if ok && t.alive(e.expires) {
				return e.value, nil
			}
			return "", fmt.Errorf("getting client-credential token: %w", err)
		}
		tok := tokenOf(res, issued, Token{})
		t.mu.Lock()
		t.cc[key] = ccEntry{value: tok.Value, expires: tok.ExpiresAt, issued: tok.IssuedAt}
		t.mu.Unlock()
		return tok.Value, nil
	})
}

// InvalidateClientCredential drops the client-credential token of scopes
// (in any order); the next ClientCredential call requests a new one.
func (t *Tokens) InvalidateClientCredential(scopes ...string) {
	key := scopeKey(scopes)
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.cc, key)
}

// scopeKey is the scope set as the token endpoint takes it: sorted,
// without repeats or blanks, comma-separated.
func scopeKey(scopes []string) string {
	s := make([]string, 0, len(scopes))
	for _, sc := range scopes {
		if sc = strings.TrimSpace(sc); sc != "" {
			s = append(s, sc)
		}
	}
	slices.Sort(s)
	return strings.Join(slices.Compact(s), ",")
}

// fresh reports whether a token expiring at expires, issued at issued, is
// outside its renewal margin. A token of unknown expiry is always fresh.
func (t *Tokens) fresh(expires, issued time.Time) bool {
	if expires.IsZero() {
		return true
	}
	return t.now().Add(t.margin(expires, issued)).Before(expires)
}

// alive reports whether a token expiring at expires has not expired.
func (t *Tokens) alive(expires time.Time) bool {
	return expires.IsZero() || t.now().Before(expires)
}

func (t *Tokens) margin(expires, issued time.Time) time.Duration {
	if t.cfg.Margin > 0 {
		return t.cfg.Margin
	}
	if issued.IsZero() || !expires.After(issued) {
		return maxMargin
	}
	return min(expires.Sub(issued)/10, maxMargin)
}

// flight runs fn once for all concurrent callers with the same key. fn
// runs detached from the caller's cancellation, bounded by
// tokenRequestTimeout; each caller waits for it until its own ctx ends.
func (t *Tokens) flight(ctx context.Context, key string, fn func(context.Context) (string, error)) (string, error) {
	ch := t.group.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tokenRequestTimeout)
		defer cancel()
		return fn(fctx)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return "", res.Err
		}
		return res.Val.(string), nil
	case <-ctx.Done():
		return "", fmt.Errorf("waiting for token: %w", ctx.Err())
	}
}

// request sends one request to the token endpoint. It returns the result
// and the time the request was sent, which the lifetime counts from.
// Failures are *providers.Error with Code CodeNoToken: Permanent when
// Finnotech refused the request (a dead refresh token, a bad secret),
// Retryable otherwise.
func (t *Tokens) request(ctx context.Context, body wire.TokenBody) (wire.TokenResult, time.Time, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return wire.TokenResult{}, time.Time{}, fmt.Errorf("encoding token request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.baseURL+wire.TokenPath, bytes.NewReader(b))
	if err != nil {
		return wire.TokenResult{}, time.Time{}, &providers.Error{Provider: provider, Class: providers.Permanent, Code: CodeNoToken,
			Message: "building token request", Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(t.cfg.ClientID, t.cfg.ClientSecret)

	issued := t.now()
	resp, err := t.http.Do(req)
	if err != nil {
		// The URL the error quotes holds no secret.
		return wire.TokenResult{}, time.Time{}, &providers.Error{Provider: provider, Class: providers.Retryable, Code: CodeNoToken,
			Message: "requesting token", Err: err}
	}
	defer resp.Body.Close()
	var env wire.Envelope[wire.TokenResult]
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err == nil {
		err = json.Unmarshal(data, &env)
	}
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	switch {
	case ok && err == nil && env.Status == wire.StatusDone && env.Result.Value != "":
		return env.Result, issued, nil
	case ok:
		return wire.TokenResult{}, time.Time{}, &providers.Error{Provider: provider, Class: providers.Retryable, Code: CodeNoToken,
			Message: "token answer has no token", HTTPStatus: resp.StatusCode}
	}
	msg := http.StatusText(resp.StatusCode)
	if err == nil && env.Error != nil && env.Error.Message != "" {
		msg = env.Error.Message
	}
	class := providers.Permanent
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500 {
		class = providers.Retryable
	}
	return wire.TokenResult{}, time.Time{}, &providers.Error{Provider: provider, Class: class, Code: CodeNoToken,
		Message: "token endpoint refused: " + msg, HTTPStatus: resp.StatusCode}
}

// tokenOf turns a token answer into a Token; the refresh token and bank of
// prev stay when the answer has none.
func tokenOf(r wire.TokenResult, issued time.Time, prev Token) Token {
	t := Token{
		Value:        r.Value,
		RefreshToken: r.RefreshToken,
		Bank:         r.Bank,
		Scopes:       slices.Clone(r.Scopes),
		IssuedAt:     issued,
	}
	if t.RefreshToken == "" {
		t.RefreshToken = prev.RefreshToken
	}
	if t.Bank == "" {
		t.Bank = prev.Bank
	}
	if r.LifeTime > 0 {
		t.ExpiresAt = issued.Add(time.Duration(r.LifeTime) * time.Millisecond)
	}
	return t
}

// noToken is the Permanent error of a token that cannot be had.
func noToken(msg string) *providers.Error {
	return &providers.Error{Provider: provider, Class: providers.Permanent, Code: CodeNoToken, Message: msg}
}
