package store_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/blockd/blockd/schemas"
	"github.com/blockd/blockd/store"
	"github.com/blockd/blockd/store/seal"
	"github.com/blockd/blockd/store/storetest"
)

// newKey returns a fresh random key.
func newKey(t *testing.T) seal.Key {
	t.Helper()
	b := make([]byte, seal.KeySize)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	k, err := seal.ParseKey([]byte(hex.EncodeToString(b)))
	if err != nil {
		t.Fatalf("ParseKey: %v", err)
	}
	return k
}

// openTokenStore opens the store at url whose tokens are sealed with
// current and opened with current or old.
func openTokenStore(t *testing.T, url string, current seal.Key, old ...seal.Key) *store.Store {
	t.Helper()
	ring, err := seal.NewKeyring(current, old...)
	if err != nil {
		t.Fatalf("NewKeyring: %v", err)
	}
	s, err := store.Open(context.Background(), url, store.SealTokens(ring))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// tableText is every row of provider_tokens as PostgreSQL prints it, bytea
// columns in hex, read with plain SQL as someone with a copy of the
// database would.
func tableText(t *testing.T, s *store.Store) string {
	t.Helper()
	var rows []string
	if err := s.DB().Select(&rows, `SELECT t::text FROM provider_tokens t ORDER BY client_id`); err != nil {
		t.Fatalf("reading provider_tokens: %v", err)
	}
	return strings.Join(rows, "\n")
}

// findInClear returns a piece of secret of at least 8 bytes that text
// holds, as it is or in hex, or the secret when text holds it in base64;
// "" if there is none.
func findInClear(text, secret string) string {
	lower := strings.ToLower(text)
	for i := 0; i+8 <= len(secret); i++ {
		piece := secret[i : i+8]
		if strings.Contains(text, piece) || strings.Contains(lower, hex.EncodeToString([]byte(piece))) {
			return piece
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding} {
		if b := enc.EncodeToString([]byte(secret)); len(b) >= 8 && strings.Contains(text, b[:len(b)-4]) {
			return secret
		}
	}
	return ""
}

// assertNoTokenInClear fails t when provider_tokens holds a piece of any
// of secrets.
func assertNoTokenInClear(t *testing.T, s *store.Store, secrets ...string) {
	t.Helper()
	text := tableText(t, s)
	for _, secret := range secrets {
		if piece := findInClear(text, secret); piece != "" {
			t.Errorf("provider_tokens holds %q of a token in clear", piece)
		}
	}
}

// assertToken fails t unless s loads want for clientID.
func assertToken(t *testing.T, s *store.Store, clientID string, want schemas.StoredToken) {
	t.Helper()
	got, ok, err := s.LoadToken(context.Background(), "finnotech", clientID)
	if err != nil || !ok {
		t.Fatalf("LoadToken %s: got found %v, %v; want the token", clientID, ok, err)
	}
	if got.Value != want.Value || got.RefreshToken != want.RefreshToken || got.Bank != want.Bank ||
		!got.ExpiresAt.Equal(want.ExpiresAt) || strings.Join(got.Scopes, ",") != strings.Join(want.Scopes, ",") {
		t.Fatalf("LoadToken %s: got a different token (%v), want %v", clientID, got, want)
	}
}

// token is a token named name. Its secrets do not hold the name (a client
// id in clear must not look like a token in clear) nor any run of hex
// digits (bytea columns print in hex).
func token(name string) schemas.StoredToken {
	secret := func(prefix string) string {
		sum := sha256.Sum256([]byte(prefix + name))
		b := []byte(prefix)
		for _, c := range sum[:24] {
			b = append(b, 'g'+c%20)
		}
		return string(b)
	}
	return schemas.StoredToken{Value: secret("eyJhbGciOiJSUzI1NiJ9."), RefreshToken: secret("refresh."),
		Bank: "062", Scopes: []string{"oak:block:post"}, ExpiresAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// tokenKeyIDs returns the key_id of each row, by client id ("" for none).
func tokenKeyIDs(t *testing.T, s *store.Store) map[string]string {
	t.Helper()
	var rows []struct {
		ClientID string `db:"client_id"`
		KeyID    string `db:"key_id"`
	}
	if err := s.DB().Select(&rows, `SELECT client_id, coalesce(key_id, '') AS key_id FROM provider_tokens`); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rows {
		out[r.ClientID] = r.KeyID
	}
	return out
}

func TestStoredTokensAreNotInClear(t *testing.T) {
	t.Parallel()
	s := openTokenStore(t, storetest.NewSchema(t), newKey(t))
	ctx := context.Background()
	saved, seeded := token("saved"), token("seeded")
	if err := s.SaveToken(ctx, "finnotech", "app-1", saved); err != nil {
		t.Fatalf("SaveToken: %v", err)
	}
	if err := s.SeedToken(ctx, "finnotech", "app-2", seeded); err != nil {
		t.Fatalf("SeedToken: %v", err)
	}
	if text := tableText(t, s); !strings.Contains(text, "app-1") || !strings.Contains(text, "app-2") {
		t.Fatalf("provider_tokens holds %q, want the rows of app-1 and app-2", text)
	}
	assertNoTokenInClear(t, s, saved.Value, saved.RefreshToken, seeded.Value, seeded.RefreshToken)
	assertToken(t, s, "app-1", saved)
	assertToken(t, s, "app-2", seeded)
}

func TestTokenKeyRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := newKey(t), newKey(t)
	url := storetest.NewSchema(t)
	underA := openTokenStore(t, url, a)
	for _, client := range []string{"read", "saved", "resealed"} {
		if err := underA.SaveToken(ctx, "finnotech", client, token(client)); err != nil {
			t.Fatalf("SaveToken under A: %v", err)
		}
	}
	rotating := openTokenStore(t, url, b, a)
	onlyB := openTokenStore(t, url, b)
	if _, _, err := onlyB.LoadToken(ctx, "finnotech", "saved"); !errors.Is(err, store.ErrTokenUnreadable) {
		t.Fatalf("LoadToken of A's token under B alone: got %v, want ErrTokenUnreadable", err)
	}

	// Read during the rotation: opened with the old key, sealed again with the new.
	assertToken(t, rotating, "read", token("read"))
	// Saved during the rotation: sealed with the new key.
	next := token("saved-again")
	if err := rotating.SaveToken(ctx, "finnotech", "saved", next); err != nil {
		t.Fatalf("SaveToken under B with old A: %v", err)
	}
	// Neither read nor saved: ResealTokens (at start) seals it with the new key.
	n, err := rotating.ResealTokens(ctx)
	if err != nil || n != 1 {
		t.Fatalf("ResealTokens: got %d, %v; want 1 (the row neither read nor saved)", n, err)
	}
	for client, id := range tokenKeyIDs(t, onlyB) {
		if id != b.ID() {
			t.Errorf("row %s: got key id %q, want the new key %s", client, id, b.ID())
		}
	}
	assertToken(t, onlyB, "read", token("read"))
	assertToken(t, onlyB, "saved", next)
	assertToken(t, onlyB, "resealed", token("resealed"))
	if n, err := onlyB.ResealTokens(ctx); err != nil || n != 0 {
		t.Fatalf("ResealTokens after the rotation: got %d, %v; want 0", n, err)
	}
	assertNoTokenInClear(t, onlyB, token("read").Value, token("read").RefreshToken, next.Value, next.RefreshToken,
		token("resealed").Value, token("resealed").RefreshToken)
}

func TestTokenThatDoesNotOpenIsAnErrorThatNamesWhy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := newKey(t)
	url := storetest.NewSchema(t)
	s := openTokenStore(t, url, a)
	for _, client := range []string{"app-1", "app-2", "app-3", "app-4"} {
		if err := s.SaveToken(ctx, "finnotech", client, token(client)); err != nil {
			t.Fatalf("SaveToken: %v", err)
		}
	}
	alter := []string{
		// app-2 gets app-1's sealed token: copied to another row.
		`UPDATE provider_tokens t SET sealed_value = o.sealed_value, sealed_refresh = o.sealed_refresh
		 FROM provider_tokens o WHERE t.client_id = 'app-2' AND o.client_id = 'app-1'`,
		// app-3's access and refresh token change places.
		`UPDATE provider_tokens SET sealed_value = sealed_refresh, sealed_refresh = sealed_value WHERE client_id = 'app-3'`,
		// app-4's access token loses a byte.
		`UPDATE provider_tokens SET sealed_value = substring(sealed_value FROM 2) WHERE client_id = 'app-4'`,
	}
	for _, q := range alter {
		if _, err := s.DB().Exec(q); err != nil {
			t.Fatalf("altering the table: %v", err)
		}
	}
	tests := []struct {
		name   string
		store  *store.Store
		client string
		want   error
	}{
		{"a key that is not configured", openTokenStore(t, url, newKey(t)), "app-1", seal.ErrUnknownKey},
		{"copied from another row", s, "app-2", seal.ErrNotOpened},
		{"access and refresh token swapped", s, "app-3", seal.ErrNotOpened},
		{"altered", s, "app-4", seal.ErrNotOpened},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := tt.store.LoadToken(ctx, "finnotech", tt.client)
			if !errors.Is(err, store.ErrTokenUnreadable) || !errors.Is(err, tt.want) {
				t.Fatalf("LoadToken: got %v, %v, %v; want ErrTokenUnreadable and %v", got, ok, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.client) {
				t.Errorf("error %q does not name the client %s", err, tt.client)
			}
			for _, secret := range []string{token("app-1").Value, token("app-1").RefreshToken, token(tt.client).Value, token(tt.client).RefreshToken} {
				if piece := findInClear(err.Error(), secret); piece != "" {
					t.Errorf("error %q holds %q of a token", err, piece)
				}
			}
		})
	}

	// At start: every unreadable row is named, and the rest is sealed.
	_, err := s.ResealTokens(ctx)
	if !errors.Is(err, store.ErrTokenUnreadable) {
		t.Fatalf("ResealTokens: got %v, want ErrTokenUnreadable", err)
	}
	for _, client := range []string{"app-2", "app-3", "app-4"} {
		if !strings.Contains(err.Error(), client) {
			t.Errorf("ResealTokens error %q does not name %s", err, client)
		}
	}
	if strings.Contains(err.Error(), `"app-1"`) {
		t.Errorf("ResealTokens error %q names app-1, which opens", err)
	}
}

func TestPlaintextTokensAreSealed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	key := newKey(t)
	s := openTokenStore(t, storetest.NewSchema(t), key)
	if err := s.SaveToken(ctx, "finnotech", "upgraded", token("sealed-before")); err != nil {
		t.Fatal(err)
	}
	// Rows as an older blockd wrote them: a row from before tokens were
	// sealed, and a plaintext token written over a sealed row during an
	// upgrade (its sealed columns are stale; the plaintext is newer).
	plain := []struct{ client, name string }{{"before", "plain-before"}, {"read", "plain-read"}, {"upgraded", "plain-upgraded"}}
	for _, p := range plain {
		tok := token(p.name)
		if _, err := s.DB().Exec(`
			INSERT INTO provider_tokens (provider, client_id, value, refresh_token, bank, scopes, expires_at)
			VALUES ('finnotech', $1, $2, $3, $4, $5, $6)
			ON CONFLICT (provider, client_id) DO UPDATE SET value = $2, refresh_token = $3`,
			p.client, tok.Value, tok.RefreshToken, tok.Bank, "{"+tok.Scopes[0]+"}", tok.ExpiresAt); err != nil {
			t.Fatalf("writing a plaintext row: %v", err)
		}
	}

	// A read returns the plaintext, the newest, and seals it.
	assertToken(t, s, "read", token("plain-read"))
	assertToken(t, s, "upgraded", token("plain-upgraded"))
	if ids := tokenKeyIDs(t, s); ids["read"] != key.ID() || ids["upgraded"] != key.ID() || ids["before"] != "" {
		t.Fatalf("got key ids %v, want the rows read sealed with %s, the other still plaintext", ids, key.ID())
	}
	// Start seals the rest.
	if n, err := s.ResealTokens(ctx); err != nil || n != 1 {
		t.Fatalf("ResealTokens: got %d, %v; want 1", n, err)
	}
	var secrets []string
	for _, p := range plain {
		secrets = append(secrets, token(p.name).Value, token(p.name).RefreshToken)
		assertToken(t, s, p.client, token(p.name))
	}
	assertNoTokenInClear(t, s, secrets...)
}

func TestSeedTokenKeepsARefreshedToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTokenStore(t, storetest.NewSchema(t), newKey(t))
	seed, refreshed, newSeed := token("seed"), token("refreshed"), token("new-seed")
	steps := []struct {
		name string
		do   func() error
		want schemas.StoredToken
	}{
		{"seeded", func() error { return s.SeedToken(ctx, "finnotech", "app", seed) }, seed},
		{"refreshed", func() error { return s.SaveToken(ctx, "finnotech", "app", refreshed) }, refreshed},
		{"seeded again from the same token", func() error { return s.SeedToken(ctx, "finnotech", "app", seed) }, refreshed},
		{"seeded from another token", func() error { return s.SeedToken(ctx, "finnotech", "app", newSeed) }, newSeed},
	}
	for _, step := range steps {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		t.Run(step.name, func(t *testing.T) { assertToken(t, s, "app", step.want) })
	}
}

func TestTokenMethodsNeedASealer(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	ctx := context.Background()
	calls := []struct {
		name string
		call func() error
	}{
		{"SaveToken", func() error { return s.SaveToken(ctx, "finnotech", "app", token("x")) }},
		{"SeedToken", func() error { return s.SeedToken(ctx, "finnotech", "app", token("x")) }},
		{"LoadToken", func() error { _, _, err := s.LoadToken(ctx, "finnotech", "app"); return err }},
		{"ResealTokens", func() error { _, err := s.ResealTokens(ctx); return err }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); !errors.Is(err, store.ErrNoTokenSealer) {
				t.Fatalf("got %v, want ErrNoTokenSealer", err)
			}
		})
	}
	if text := tableText(t, s); text != "" {
		t.Fatalf("provider_tokens holds %q, want nothing", text)
	}
}
