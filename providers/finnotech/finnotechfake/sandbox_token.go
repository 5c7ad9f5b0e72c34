package finnotechfake

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/providers/finnotech/internal/wire"
	"github.com/blockd/blockd/providers/jalali"
)

// sandboxToken is a token the sandbox knows: configured or issued.
type sandboxToken struct {
	kind   string // wire.TokenTypeCode or wire.TokenTypeCC
	scopes []string
	bank   string    // "" for a configured token: any bank
	expiry time.Time // zero: never
	// refresh is the token's refresh token; "" once it was used.
	refresh string
}

// codeScopes are the scopes of an authorization-code token in the sandbox.
func codeScopes() []string {
	return []string{"oak:block:*", "oak:unblock:*", "oak:unblock-transfer:*",
		"oak:unblock-transfer-inquiry:get"}
}

// authorize checks the Bearer token of r, never recording it, for a
// service that needs a token of kind (wire.TokenTypeCode, wire.TokenTypeCC,
// or "" for either) with scope (or "" for any). It returns "" when the
// token may call the service, else the message of the refusal.
func (s *Sandbox) authorize(r *http.Request, kind, scope string) string {
	tok := bearerToken(r)
	if tok == "" {
		return wire.MsgBadToken
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.revoked[tok] {
		return wire.MsgBadToken
	}
	t, known := s.lookupToken(tok)
	switch {
	case !known && s.strictTokens:
		return wire.MsgBadToken
	case !known:
		// Accept-any mode: a token the sandbox never saw works for the
		// services of its kind (see ClientCredentialPrefix).
		unknownKind := wire.TokenTypeCode
		if strings.HasPrefix(tok, ClientCredentialPrefix) {
			unknownKind = wire.TokenTypeCC
		}
		if kind != "" && kind != unknownKind {
			return wire.MsgTokenNotForService
		}
		return ""
	case !t.expiry.IsZero() && !s.now().Before(t.expiry):
		return wire.MsgBadToken
	case kind != "" && t.kind != kind,
		scope != "" && !slices.Contains(t.scopes, scope):
		return wire.MsgTokenNotForService
	}
	return ""
}

// writeRefusedToken answers a call whose token authorize refused with msg:
// 403 UNAUTHORIZED for a dead token (Finnotech's documented signal), 403
// FORBIDDEN for a live token of the wrong kind or scope (finnotech/doc.go,
// "Tokens").
func writeRefusedToken(w http.ResponseWriter, trackID, msg string) {
	code := wire.CodeUnauthorized
	if msg == wire.MsgTokenNotForService {
		code = wire.CodeForbidden
	}
	writeFailure(w, http.StatusForbidden, trackID, code, msg)
}

// lookupToken finds a configured or issued token in constant time per
// entry, so that the sandbox does not leak tokens through timing. s.mu is
// held.
func (s *Sandbox) lookupToken(tok string) (*sandboxToken, bool) {
	var found *sandboxToken
	for v, t := range s.tokens {
		if subtle.ConstantTimeCompare([]byte(v), []byte(tok)) == 1 {
			found = t
		}
	}
	return found, found != nil
}

// revoke makes tok refused from now on; its refresh token still works.
func (s *Sandbox) revoke(tok string) {
	if tok == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked[tok] = true
}

// bearerToken returns the Bearer token of r, or "".
func bearerToken(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// token serves POST /dev/v2/oauth2/token: the client_credentials,
// authorization_code and refresh_token grants (finnotech/doc.go, "Tokens"),
// with HTTP Basic auth of the configured client.
//
// Sandbox choice (finnotech/doc.go, "The sandbox"): it accepts any
// authorization code starting with "code-"; a refresh token works once, and
// the token it replaces keeps working until it expires.
func (s *Sandbox) token(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests[OpToken]++
	s.mu.Unlock()
	s.faults.Delay()

	trackID := uuid.NewString()
	id, secret, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(id), []byte(s.clientID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(secret), []byte(s.clientSecret)) != 1 {
		writeFailure(w, http.StatusUnauthorized, trackID, wire.CodeUnauthorized, wire.MsgBadClient)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	var req wire.TokenBody
	if msg := decodeJSONBody(r.Header.Get("Content-Type"), body, err, &req); msg != "" {
		writeFailure(w, http.StatusBadRequest, trackID, wire.CodeValidation, msg)
		return
	}

	var issued *sandboxToken
	var msg string
	switch req.GrantType {
	case wire.GrantClientCredentials:
		issued, msg = s.clientCredentials(req)
	case wire.GrantAuthorizationCode:
		issued, msg = s.authorizationCode(req)
	case wire.GrantRefreshToken:
		issued, msg = s.refreshToken(req)
	default:
		msg = wire.MsgBadGrant
	}
	if msg != "" {
		writeFailure(w, http.StatusBadRequest, trackID, wire.CodeValidation, msg)
		return
	}

	now := s.now()
	value, refresh := "sbx-"+rand.Text(), "sbx-refresh-"+rand.Text()
	issued.refresh = refresh
	lifetime := s.acLifetime
	if issued.kind == wire.TokenTypeCC {
		lifetime = s.ccLifetime
	}
	issued.expiry = now.Add(lifetime)
	s.mu.Lock()
	s.tokens[value] = issued
	s.refreshes[refresh] = issued
	s.tokensIssued++
	s.applied[OpToken]++
	s.mu.Unlock()

	writeJSON(w, http.StatusOK, wire.Envelope[wire.TokenResult]{Status: wire.StatusDone, TrackID: trackID, Result: wire.TokenResult{
		Value:        value,
		RefreshToken: refresh,
		LifeTime:     providers.FlexInt(lifetime.Milliseconds()),
		CreationDate: jalaliDateTime(now),
		Scopes:       issued.scopes,
		Bank:         issued.bank,
		Type:         issued.kind,
	}})
}

func (s *Sandbox) clientCredentials(req wire.TokenBody) (*sandboxToken, string) {
	if !isDigits(req.NID, 10) {
		return nil, wire.MsgBadNID
	}
	var scopes []string
	for _, sc := range strings.Split(req.Scopes, ",") {
		if sc = strings.TrimSpace(sc); sc != "" {
			scopes = append(scopes, sc)
		}
	}
	if len(scopes) == 0 {
		return nil, wire.MsgNoScopes
	}
	return &sandboxToken{kind: wire.TokenTypeCC, scopes: scopes}, ""
}

func (s *Sandbox) authorizationCode(req wire.TokenBody) (*sandboxToken, string) {
	if !strings.HasPrefix(req.Code, "code-") {
		return nil, wire.MsgBadCode
	}
	if req.Bank == "" {
		return nil, wire.MsgNoBank
	}
	return &sandboxToken{kind: wire.TokenTypeCode, scopes: codeScopes(), bank: req.Bank}, ""
}

// refreshToken checks a refresh and uses up its refresh token.
func (s *Sandbox) refreshToken(req wire.TokenBody) (*sandboxToken, string) {
	if req.TokenType != wire.TokenTypeCode && req.TokenType != wire.TokenTypeCC {
		return nil, wire.MsgBadTokenType
	}
	if req.TokenType == wire.TokenTypeCode && req.Bank == "" {
		return nil, wire.MsgNoBank
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var owner *sandboxToken
	for v, t := range s.refreshes {
		if subtle.ConstantTimeCompare([]byte(v), []byte(req.RefreshToken)) == 1 {
			owner = t
		}
	}
	if owner == nil || owner.kind != req.TokenType ||
		req.TokenType == wire.TokenTypeCode && owner.bank != "" && owner.bank != req.Bank {
		return nil, wire.MsgBadRefreshToken
	}
	delete(s.refreshes, owner.refresh)
	owner.refresh = ""
	bank := owner.bank
	if bank == "" && owner.kind == wire.TokenTypeCode {
		bank = req.Bank
	}
	return &sandboxToken{kind: owner.kind, scopes: slices.Clone(owner.scopes), bank: bank}, ""
}

// jalaliDateTime formats t in Tehran as Jalali YYYYMMDDHHmmss, the form of
// the token's creationDate.
func jalaliDateTime(t time.Time) string {
	t = t.In(jalali.Tehran())
	y, m, d := jalali.FromGregorian(t)
	return fmt.Sprintf("%04d%02d%02d%02d%02d%02d", y, m, d, t.Hour(), t.Minute(), t.Second())
}

// isDigits reports whether s is n ASCII digits.
func isDigits(s string, n int) bool {
	return len(s) == n && strings.Trim(s, "0123456789") == ""
}
