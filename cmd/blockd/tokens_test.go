package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/rs/zerolog"

	"github.com/blockd/blockd/consumer/processor"
	"github.com/blockd/blockd/schemas"
	"github.com/blockd/blockd/store"
	"github.com/blockd/blockd/store/seal"
	"github.com/blockd/blockd/store/storetest"
)

// TestServeKeepsFinnotechTokensSealed runs blockd against a Finnotech with
// a configured token, has it use the token, and reads provider_tokens with
// plain SQL: the token is not there in clear.
func TestServeKeepsFinnotechTokensSealed(t *testing.T) {
	if testing.Short() {
		t.Skip("a block through Kafka: integration run; run without -short")
	}
	h := newHarness(t, processor.Hooks{})
	h.publish(h.cfg.TopicBlock, "acct-1", blockJSON("blk-sealed", 1000))
	if rs := h.awaitResults("blk-sealed", 1); rs[0].Status != schemas.StatusDone {
		t.Fatalf("got %+v, want the block DONE with the stored token", rs[0])
	}

	db, err := sqlx.Open("postgres", h.cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows []string
	if err := db.Select(&rows, `SELECT t::text FROM provider_tokens t`); err != nil {
		t.Fatalf("reading provider_tokens: %v", err)
	}
	text := strings.Join(rows, "\n")
	if !strings.Contains(text, sandboxFinnotechClient) {
		t.Fatalf("provider_tokens holds %q, want the row of %s", text, sandboxFinnotechClient)
	}
	for _, secret := range []string{sandboxToken, "refresh-" + sandboxToken} {
		if strings.Contains(text, secret) || strings.Contains(strings.ToLower(text), hex.EncodeToString([]byte(secret))) {
			t.Errorf("provider_tokens holds the token %q in clear: %s", secret, text)
		}
	}
}

func TestDevelopmentRunSealsWithAKeptDevelopmentKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blockd-data")
	cfg := config{DataDir: dir}
	var logs bytes.Buffer
	first, err := tokenKeyring(cfg, zerolog.New(&logs))
	if err != nil {
		t.Fatalf("tokenKeyring: %v", err)
	}
	path := filepath.Join(dir, devTokenKeyFile)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("no development key file: %v", err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("development key file mode: got %v, want 0600", info.Mode().Perm())
	}
	key, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "DEVELOPMENT key") || !strings.Contains(logs.String(), first.KeyID()) {
		t.Errorf("log %q does not say the tokens are sealed with the development key %s", logs.String(), first.KeyID())
	}
	if strings.Contains(logs.String(), strings.TrimSpace(string(key))) {
		t.Errorf("log %q holds the key", logs.String())
	}
	again, err := tokenKeyring(cfg, zerolog.Nop())
	if err != nil {
		t.Fatalf("tokenKeyring again: %v", err)
	}
	if again.KeyID() != first.KeyID() {
		t.Fatalf("second run: got key %s, want the kept key %s", again.KeyID(), first.KeyID())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("data dir holds %d files, want only the key (no temporary file left)", len(entries))
	}

	configured, err := seal.ParseKey(key)
	if err != nil {
		t.Fatal(err)
	}
	other := config{DataDir: filepath.Join(t.TempDir(), "unused"), TokenKey: mustNewKey(t), TokenOldKeys: []seal.Key{configured}}
	ring, err := tokenKeyring(other, zerolog.Nop())
	if err != nil || ring.KeyID() != other.TokenKey.ID() {
		t.Fatalf("with a configured key: got %v, %v; want the configured key %s", ring, err, other.TokenKey.ID())
	}
	if _, err := os.Stat(other.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("with a configured key a development key was written to %s", other.DataDir)
	}
}

func mustNewKey(t *testing.T) seal.Key {
	t.Helper()
	text, err := seal.NewKeyText()
	if err != nil {
		t.Fatal(err)
	}
	k, err := seal.ParseKey(text)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestStartRefusesATokenNoConfiguredKeyOpens(t *testing.T) {
	ctx := context.Background()
	url := storetest.NewSchema(t)
	lost := mustNewKey(t)
	open := func(current seal.Key, old ...seal.Key) *store.Store {
		ring, err := seal.NewKeyring(current, old...)
		if err != nil {
			t.Fatal(err)
		}
		st, err := store.Open(ctx, url, store.SealTokens(ring))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	if err := open(lost).SaveToken(ctx, "finnotech", "app-1", schemas.StoredToken{Value: "access-token-value", RefreshToken: "refresh-token-value"}); err != nil {
		t.Fatal(err)
	}
	current := mustNewKey(t)
	err := checkStoredTokens(ctx, open(current), current.ID(), zerolog.Nop())
	if !errors.Is(err, store.ErrTokenUnreadable) || !errors.Is(err, seal.ErrUnknownKey) {
		t.Fatalf("got %v, want ErrTokenUnreadable of an unknown key", err)
	}
	for _, want := range []string{"app-1", lost.ID(), "BLOCKD_TOKEN_OLD_KEY_FILES", "Tokens at rest"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "token-value") {
		t.Errorf("error %q holds the token", err)
	}
	// With the lost key found and given as an old key, the start goes on.
	if err := checkStoredTokens(ctx, open(current, lost), current.ID(), zerolog.Nop()); err != nil {
		t.Fatalf("with the old key configured: %v", err)
	}
}
