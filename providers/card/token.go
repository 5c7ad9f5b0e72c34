package card

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/providers/card/internal/wire"
)

const (
	// ASSUMPTION (card/doc.go, "Token"): the platform says only that a token
	// lives expires_in seconds (7199) and has no refresh token. refreshMargin
	// is how long before its expiry a cached token is replaced, so that a
	// call never starts with a token about to die. A token living less than
	// twice as long is replaced at half its life.
	refreshMargin = 60 * time.Second
	// tokenFetchTimeout bounds one token fetch. The fetch is shared by every
	// caller waiting for it, so it does not end when one of them leaves.
	tokenFetchTimeout = 30 * time.Second
)

// TokenSource hands out the platform's client-credentials Bearer token. It
// caches the token and fetches a new one shortly before the cached one
// expires, or after Invalidate; concurrent callers share one fetch. It is
// safe for concurrent use. The platform issues no refresh token
// (card/doc.go, "Token"): a new token is simply requested.
type TokenSource struct {
	url          string
	clientID     string
	clientSecret string
	http         *http.Client
	now          func() time.Time
	group        singleflight.Group

	mu        sync.Mutex
	token     string
	refreshAt time.Time
}

// NewTokenSource returns a TokenSource that asks the platform cfg names
// for tokens with cfg's client credentials. It does not check cfg; call
// Validate first.
func NewTokenSource(cfg ClientConfig) *TokenSource {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &TokenSource{
		url:          strings.TrimRight(cfg.BaseURL, "/") + wire.TokenPath,
		clientID:     cfg.ClientID,
		clientSecret: cfg.ClientSecret,
		http:         cfg.HTTPClient,
		now:          cfg.Now,
	}
}

// Token returns a token that is not about to expire, fetching one when the
// cached one is missing, dropped or near its end. It returns when ctx ends
// even while a fetch it waits for goes on for other callers.
func (ts *TokenSource) Token(ctx context.Context) (string, error) {
	if tok, ok := ts.cached(); ok {
		return tok, nil
	}
	ch := ts.group.DoChan("token", func() (any, error) {
		// A caller that missed the cache just before another fetch stored
		// its token starts a new flight; it finds the token here.
		if tok, ok := ts.cached(); ok {
			return tok, nil
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tokenFetchTimeout)
		defer cancel()
		return ts.fetch(fctx)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return "", r.Err
		}
		return r.Val.(string), nil
	case <-ctx.Done():
		return "", fmt.Errorf("waiting for token: %w", ctx.Err())
	}
}

// Invalidate drops the cached token; the next Token call fetches a new one.
func (ts *TokenSource) Invalidate() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.token = ""
}

// invalidate drops the cached token if it is still tok: a token another
// caller has fetched since tok was handed out is kept.
func (ts *TokenSource) invalidate(tok string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.token == tok {
		ts.token = ""
	}
}

func (ts *TokenSource) cached() (string, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.token == "" || !ts.now().Before(ts.refreshAt) {
		return "", false
	}
	return ts.token, true
}

// fetch asks the platform for a new token and caches it. Its errors never
// hold the client secret or a token.
func (ts *TokenSource) fetch(ctx context.Context) (string, error) {
	body, err := json.Marshal(wire.TokenRequest{
		GrantType:    wire.GrantType,
		Scope:        wire.TokenScope,
		ClientID:     ts.clientID,
		ClientSecret: ts.clientSecret,
	})
	if err != nil {
		return "", fmt.Errorf("encoding token request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.url, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("building token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")

	start := ts.now()
	resp, err := ts.http.Do(req)
	if err != nil {
		// A *url.Error names the method and URL only; the secret is in the
		// body.
		return "", fmt.Errorf("requesting token: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err == nil && len(data) > maxBody {
		err = fmt.Errorf("answer longer than %d bytes", maxBody)
	}
	if err != nil {
		return "", fmt.Errorf("reading token answer (HTTP %d): %w", resp.StatusCode, err)
	}

	if resp.StatusCode != http.StatusOK {
		// Bad credentials: 401 errorCode 240101 (card/doc.go, "Token").
		es, _ := parseErrors(data)
		errorCode, appCode, msg := describe(es)
		code := appCode
		if code == "" {
			code = errorCode
		}
		if msg == "" {
			msg = http.StatusText(resp.StatusCode)
		}
		return "", fmt.Errorf("requesting token: %w", &providers.Error{
			Provider: provider, Class: providers.Retryable, Code: code, Message: msg, HTTPStatus: resp.StatusCode,
		})
	}

	var tr wire.TokenResponse
	if err := json.Unmarshal(data, &tr); err != nil {
		return "", fmt.Errorf("decoding token answer: %w", err)
	}
	if tr.AccessToken == "" {
		return "", fmt.Errorf("decoding token answer: no access_token")
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "Bearer") {
		return "", fmt.Errorf("decoding token answer: token_type %q, want Bearer", tr.TokenType)
	}

	// A token without a positive lifetime is used by the callers of this
	// fetch only, and not cached.
	life := time.Duration(tr.ExpiresIn) * time.Second
	ts.mu.Lock()
	ts.token = tr.AccessToken
	ts.refreshAt = start.Add(life - min(refreshMargin, life/2))
	ts.mu.Unlock()
	return tr.AccessToken, nil
}
