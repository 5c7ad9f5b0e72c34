package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rs/zerolog"

	"github.com/blockd/blockd/providers/finnotech"
	"github.com/blockd/blockd/schemas"
	"github.com/blockd/blockd/store"
	"github.com/blockd/blockd/store/seal"
)

// finnotechTokenStore keeps Finnotech authorization-code tokens in
// PostgreSQL, sealed, so every instance shares one refreshed token per
// client.
type finnotechTokenStore struct{ st *store.Store }

func (f finnotechTokenStore) Load(ctx context.Context, clientID string) (finnotech.Token, bool, error) {
	t, ok, err := f.st.LoadToken(ctx, string(schemas.ProviderFinnotech), clientID)
	return finnotech.Token{Value: t.Value, RefreshToken: t.RefreshToken, Bank: t.Bank, Scopes: t.Scopes,
		ExpiresAt: t.ExpiresAt, IssuedAt: t.IssuedAt}, ok, err
}

func (f finnotechTokenStore) Save(ctx context.Context, clientID string, t finnotech.Token) error {
	return f.st.SaveToken(ctx, string(schemas.ProviderFinnotech), clientID, schemas.StoredToken{Value: t.Value,
		RefreshToken: t.RefreshToken, Bank: t.Bank, Scopes: t.Scopes, ExpiresAt: t.ExpiresAt, IssuedAt: t.IssuedAt})
}

// devTokenKeyFile is where a development run keeps its token key, in
// BLOCKD_DATA_DIR.
const devTokenKeyFile = "token-dev.key"

// tokenKeyring is the keyring provider tokens are sealed with: the
// configured key and old keys or, when no key is configured in blockd dev,
// a development key kept in BLOCKD_DATA_DIR, created on first use so that
// tokens stay readable from one run to the next. blockd serve without a key
// (it serves no Finnotech: the configuration requires one with it) keeps
// no token at all: nil, and the store refuses to keep any.
func tokenKeyring(cfg config, log zerolog.Logger) (*seal.Keyring, error) {
	current := cfg.TokenKey
	if current.IsZero() && cfg.Mode == modeServe {
		return nil, nil
	}
	if current.IsZero() {
		path := filepath.Join(cfg.DataDir, devTokenKeyFile)
		k, err := devTokenKey(path)
		if err != nil {
			return nil, &configError{"BLOCKD_DATA_DIR", err}
		}
		current = k
		log.Warn().Str("keyFile", path).Str("keyId", k.ID()).
			Msg("provider tokens are encrypted at rest with a DEVELOPMENT key - for development only, NOT for production; set BLOCKD_TOKEN_KEY_FILE")
	}
	ring, err := seal.NewKeyring(current, cfg.TokenOldKeys...)
	if err != nil {
		return nil, &configError{"BLOCKD_TOKEN_KEY_FILE", err}
	}
	return ring, nil
}

// devTokenKey returns the development key at path, creating it first when
// there is none. Instances starting together agree on one: the key is
// written aside and linked into place, which fails when another was first.
func devTokenKey(path string) (seal.Key, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return seal.Key{}, fmt.Errorf("creating development token key: %w", err)
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := createKeyFile(dir, path); err != nil {
			return seal.Key{}, err
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return seal.Key{}, fmt.Errorf("reading development token key: %w", err)
	}
	k, err := seal.ParseKey(b)
	if err != nil {
		return seal.Key{}, fmt.Errorf("development token key %s: %w", path, err)
	}
	return k, nil
}

// createKeyFile writes a new key to path unless a file is there already.
func createKeyFile(dir, path string) error {
	text, err := seal.NewKeyText()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, devTokenKeyFile+".*")
	if err != nil {
		return fmt.Errorf("creating development token key: %w", err)
	}
	// The temporary name goes once linked (or on failure); a failure to
	// remove it leaves a stray file, not a wrong key.
	defer func() { _ = os.Remove(tmp.Name()) }()
	_, err = tmp.Write(text)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing development token key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("creating development token key: %w", err)
	}
	return nil
}

// checkStoredTokens seals every stored token not yet sealed with the
// current key (plaintext rows from before tokens were sealed, rows sealed
// with an old key), and refuses to start when one does not open: that
// token's key is missing from the configuration, or its row was altered.
func checkStoredTokens(ctx context.Context, st *store.Store, keyID string, log zerolog.Logger) error {
	n, err := st.ResealTokens(ctx)
	if err != nil {
		return fmt.Errorf("checking stored provider tokens: %w (add the key that sealed them to BLOCKD_TOKEN_OLD_KEY_FILES; "+
			"or, if that key is lost, delete their provider_tokens rows: README.md, \"Tokens at rest\")", err)
	}
	if n > 0 {
		log.Info().Int("tokens", n).Str("keyId", keyID).Msg("stored provider tokens sealed with the current key")
	}
	return nil
}
