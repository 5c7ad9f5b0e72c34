package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/blockd/blockd/schemas"
)

// TokenSealer encrypts the provider tokens the store keeps, so that neither
// the provider_tokens table nor a backup of it holds one in clear
// (seal.Keyring is one). The store gives Seal and Open additional data
// naming the value's place (provider, client id, column): a sealed value
// copied to another row or column does not open.
type TokenSealer interface {
	// KeyID is the id of the key Seal uses now.
	KeyID() string
	// Seal encrypts plaintext and returns the id of the key it used.
	Seal(plaintext, additionalData []byte) (keyID string, sealed []byte, err error)
	// Open decrypts what Seal returned. Its error says why a value does not
	// open (a key it does not hold, an altered or moved value) and never
	// holds the value.
	Open(keyID string, sealed, additionalData []byte) ([]byte, error)
}

// SealTokens gives the store the sealer of its provider tokens. Without one
// the token methods refuse to work (ErrNoTokenSealer): the store never
// writes a token in clear.
func SealTokens(s TokenSealer) Option { return func(o *options) { o.sealer = s } }

// tokenRow is a provider_tokens row. A row whose Value is not empty is
// plaintext (from before tokens were sealed, or written by an older
// version of blockd during an upgrade) and is the newest content of the
// row; otherwise KeyID, SealedValue and SealedRefresh hold the token.
type tokenRow struct {
	Provider      string         `db:"provider"`
	ClientID      string         `db:"client_id"`
	Value         string         `db:"value"`
	Refresh       string         `db:"refresh_token"`
	KeyID         sql.NullString `db:"key_id"`
	SealedValue   []byte         `db:"sealed_value"`
	SealedRefresh []byte         `db:"sealed_refresh"`
	Bank          string         `db:"bank"`
	Scopes        pq.StringArray `db:"scopes"`
	Expires       sql.NullTime   `db:"expires_at"`
	Issued        sql.NullTime   `db:"issued_at"`
}

const tokenColumns = `provider, client_id, value, refresh_token, key_id, sealed_value, sealed_refresh, bank, scopes, expires_at, issued_at`

// sealedToken is a token's two secrets, sealed.
type sealedToken struct {
	keyID          string
	value, refresh []byte
}

// tokenPlace is the additional data that binds a sealed column of a row to
// that row and column. PostgreSQL text holds no NUL, so the parts cannot
// run into one another.
func tokenPlace(provider, clientID, column string) []byte {
	return []byte("blockd provider_tokens\x00" + provider + "\x00" + clientID + "\x00" + column)
}

// seal seals a token's access and refresh token for its row.
func (s *Store) seal(provider, clientID, value, refresh string) (sealedToken, error) {
	if s.sealer == nil {
		return sealedToken{}, ErrNoTokenSealer
	}
	keyID, v, err := s.sealer.Seal([]byte(value), tokenPlace(provider, clientID, "value"))
	if err != nil {
		return sealedToken{}, fmt.Errorf("sealing %s token of client %q: %w", provider, clientID, err)
	}
	refreshKeyID, r, err := s.sealer.Seal([]byte(refresh), tokenPlace(provider, clientID, "refresh_token"))
	if err != nil {
		return sealedToken{}, fmt.Errorf("sealing %s refresh token of client %q: %w", provider, clientID, err)
	}
	if refreshKeyID != keyID {
		return sealedToken{}, fmt.Errorf("sealing %s token of client %q: the key changed between its two values", provider, clientID)
	}
	return sealedToken{keyID: keyID, value: v, refresh: r}, nil
}

// open returns the access and refresh token of r. An error wraps
// ErrTokenUnreadable and the sealer's reason.
func (s *Store) open(r tokenRow) (value, refresh string, err error) {
	if r.Value != "" {
		return r.Value, r.Refresh, nil
	}
	if !r.KeyID.Valid {
		return "", "", fmt.Errorf("%s token of client %q: %w: the row holds no token", r.Provider, r.ClientID, ErrTokenUnreadable)
	}
	v, err := s.sealer.Open(r.KeyID.String, r.SealedValue, tokenPlace(r.Provider, r.ClientID, "value"))
	if err != nil {
		return "", "", fmt.Errorf("%s token of client %q: %w: %w", r.Provider, r.ClientID, ErrTokenUnreadable, err)
	}
	rt, err := s.sealer.Open(r.KeyID.String, r.SealedRefresh, tokenPlace(r.Provider, r.ClientID, "refresh_token"))
	if err != nil {
		return "", "", fmt.Errorf("%s refresh token of client %q: %w: %w", r.Provider, r.ClientID, ErrTokenUnreadable, err)
	}
	return string(v), string(rt), nil
}

// needsReseal reports whether r is plaintext or sealed with a key other
// than the current one.
func (s *Store) needsReseal(r tokenRow) bool {
	return r.Value != "" || r.KeyID.String != s.sealer.KeyID()
}

// reseal seals r's token (value, refresh: what open returned) under the
// current key, unless the row changed since r was read: then whoever
// changed it sealed it.
func (s *Store) reseal(ctx context.Context, r tokenRow, value, refresh string) error {
	st, err := s.seal(r.Provider, r.ClientID, value, refresh)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `
		UPDATE provider_tokens SET key_id = $3, sealed_value = $4, sealed_refresh = $5, value = '', refresh_token = ''
		WHERE provider = $1 AND client_id = $2
		  AND value = $6 AND key_id IS NOT DISTINCT FROM $7 AND sealed_value IS NOT DISTINCT FROM $8`,
		r.Provider, r.ClientID, st.keyID, st.value, st.refresh, r.Value, r.KeyID, r.SealedValue)
	if err != nil {
		return fmt.Errorf("re-sealing %s token of client %q: %w", r.Provider, r.ClientID, err)
	}
	return nil
}

// LoadToken returns the stored token of a provider's client. A token that
// is plaintext or sealed with an old key is sealed again under the current
// key on the way. A token that cannot be opened (its key is not
// configured, or the row was altered or copied from another row) is an
// error wrapping ErrTokenUnreadable.
func (s *Store) LoadToken(ctx context.Context, provider, clientID string) (schemas.StoredToken, bool, error) {
	if s.sealer == nil {
		return schemas.StoredToken{}, false, ErrNoTokenSealer
	}
	var r tokenRow
	err := s.db.GetContext(ctx, &r, `SELECT `+tokenColumns+` FROM provider_tokens WHERE provider = $1 AND client_id = $2`, provider, clientID)
	if errors.Is(err, sql.ErrNoRows) {
		return schemas.StoredToken{}, false, nil
	}
	if err != nil {
		return schemas.StoredToken{}, false, fmt.Errorf("loading %s token: %w", provider, err)
	}
	value, refresh, err := s.open(r)
	if err != nil {
		return schemas.StoredToken{}, false, fmt.Errorf("loading %w", err)
	}
	if s.needsReseal(r) {
		if err := s.reseal(ctx, r, value, refresh); err != nil {
			return schemas.StoredToken{}, false, err
		}
	}
	return schemas.StoredToken{Value: value, RefreshToken: refresh, Bank: r.Bank, Scopes: r.Scopes,
		ExpiresAt: r.Expires.Time, IssuedAt: r.Issued.Time}, true, nil
}

// SaveToken stores a provider client's token (after a refresh), sealed
// under the current key.
func (s *Store) SaveToken(ctx context.Context, provider, clientID string, t schemas.StoredToken) error {
	st, err := s.seal(provider, clientID, t.Value, t.RefreshToken)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `
		INSERT INTO provider_tokens (provider, client_id, value, refresh_token, key_id, sealed_value, sealed_refresh, bank, scopes, expires_at, issued_at)
		VALUES ($1, $2, '', '', $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (provider, client_id) DO UPDATE SET value = '', refresh_token = '', key_id = $3, sealed_value = $4,
		       sealed_refresh = $5, bank = $6, scopes = $7, expires_at = $8, issued_at = $9, updated_at = now()`,
		provider, clientID, st.keyID, st.value, st.refresh, t.Bank, scopesArray(t.Scopes), nullTime(t.ExpiresAt), nullTime(t.IssuedAt))
	if err != nil {
		return fmt.Errorf("saving %s token: %w", provider, err)
	}
	return nil
}

// SeedToken stores a token supplied by configuration, sealed, unless the
// row was already seeded from that same token (it may have been refreshed
// since).
func (s *Store) SeedToken(ctx context.Context, provider, clientID string, t schemas.StoredToken) error {
	st, err := s.seal(provider, clientID, t.Value, t.RefreshToken)
	if err != nil {
		return err
	}
	seed := sha256.Sum256([]byte(t.Value + "\x00" + t.RefreshToken))
	_, err = s.db.ExecContext(ctx, `
		INSERT INTO provider_tokens (provider, client_id, value, refresh_token, key_id, sealed_value, sealed_refresh, bank, scopes, expires_at, issued_at, seeded_from)
		VALUES ($1, $2, '', '', $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (provider, client_id) DO UPDATE SET value = '', refresh_token = '', key_id = $3, sealed_value = $4,
		       sealed_refresh = $5, bank = $6, scopes = $7, expires_at = $8, issued_at = $9, seeded_from = $10, updated_at = now()
		WHERE provider_tokens.seeded_from IS DISTINCT FROM $10`,
		provider, clientID, st.keyID, st.value, st.refresh, t.Bank, scopesArray(t.Scopes), nullTime(t.ExpiresAt), nullTime(t.IssuedAt), seed[:])
	if err != nil {
		return fmt.Errorf("seeding %s token: %w", provider, err)
	}
	return nil
}

// ResealTokens opens every stored token and seals under the current key
// each one that is not sealed with it yet: plaintext rows (from before
// tokens were sealed, or written by an older version during an upgrade)
// and rows sealed with an old key. Run at start, it ends a key rotation
// (afterwards no row needs the old keys) and finds every row that does not
// open. It returns how many rows it sealed. Rows that do not open are left
// as they are and reported together, after the others are done, as one
// error wrapping ErrTokenUnreadable.
func (s *Store) ResealTokens(ctx context.Context) (int, error) {
	if s.sealer == nil {
		return 0, ErrNoTokenSealer
	}
	var rows []tokenRow
	if err := s.db.SelectContext(ctx, &rows, `SELECT `+tokenColumns+` FROM provider_tokens ORDER BY provider, client_id`); err != nil {
		return 0, fmt.Errorf("reading tokens to re-seal: %w", err)
	}
	var unreadable []error
	n := 0
	for _, r := range rows {
		value, refresh, err := s.open(r)
		if err != nil {
			unreadable = append(unreadable, err)
			continue
		}
		if !s.needsReseal(r) {
			continue
		}
		if err := s.reseal(ctx, r, value, refresh); err != nil {
			return n, err
		}
		n++
	}
	if len(unreadable) > 0 {
		return n, fmt.Errorf("re-sealing stored tokens: %w", errors.Join(unreadable...))
	}
	return n, nil
}

func nullTime(t time.Time) sql.NullTime { return sql.NullTime{Time: t, Valid: !t.IsZero()} }

// scopesArray never stores NULL: no scopes is the empty array.
func scopesArray(s []string) pq.StringArray {
	if s == nil {
		return pq.StringArray{}
	}
	return pq.StringArray(s)
}

// CountTokens is how many provider tokens the table holds, sealed or not.
// A deployment that keeps none (blockd serve without Finnotech has no token
// key) refuses to start while some are left, rather than leave them as they
// are (in clear, from before tokens were sealed).
func (s *Store) CountTokens(ctx context.Context) (int, error) {
	var n int
	if err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM provider_tokens`); err != nil {
		return 0, fmt.Errorf("counting provider tokens: %w", err)
	}
	return n, nil
}
