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

// LoadToken returns the stored token of a provider's client.
func (s *Store) LoadToken(ctx context.Context, provider, clientID string) (schemas.StoredToken, bool, error) {
	var row struct {
		Value, Refresh, Bank string
		Scopes               pq.StringArray
		Expires, Issued      sql.NullTime
	}
	err := s.db.QueryRowContext(ctx, `
		SELECT value, refresh_token, bank, scopes, expires_at, issued_at FROM provider_tokens WHERE provider = $1 AND client_id = $2`,
		provider, clientID).Scan(&row.Value, &row.Refresh, &row.Bank, &row.Scopes, &row.Expires, &row.Issued)
	if errors.Is(err, sql.ErrNoRows) {
		return schemas.StoredToken{}, false, nil
	}
	if err != nil {
		return schemas.StoredToken{}, false, fmt.Errorf("loading %s token: %w", provider, err)
	}
	return schemas.StoredToken{Value: row.Value, RefreshToken: row.Refresh, Bank: row.Bank, Scopes: row.Scopes,
		ExpiresAt: row.Expires.Time, IssuedAt: row.Issued.Time}, true, nil
}

// SaveToken stores a provider client's token (after a refresh).
func (s *Store) SaveToken(ctx context.Context, provider, clientID string, t schemas.StoredToken) error {
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO provider_tokens (provider, client_id, value, refresh_token, bank, scopes, expires_at, issued_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (provider, client_id) DO UPDATE SET value = $3, refresh_token = $4, bank = $5, scopes = $6,
		       expires_at = $7, issued_at = $8, updated_at = now()`,
		provider, clientID, t.Value, t.RefreshToken, t.Bank, scopesArray(t.Scopes), nullTime(t.ExpiresAt), nullTime(t.IssuedAt))
	if err != nil {
		return fmt.Errorf("saving %s token: %w", provider, err)
	}
	return nil
}

// SeedToken stores a token supplied by configuration, unless the row was
// already seeded from that same token (it may have been refreshed since).
func (s *Store) SeedToken(ctx context.Context, provider, clientID string, t schemas.StoredToken) error {
	seed := sha256.Sum256([]byte(t.Value + "\x00" + t.RefreshToken))
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO provider_tokens (provider, client_id, value, refresh_token, bank, scopes, expires_at, issued_at, seeded_from)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (provider, client_id) DO UPDATE SET value = $3, refresh_token = $4, bank = $5, scopes = $6,
		       expires_at = $7, issued_at = $8, seeded_from = $9, updated_at = now()
		WHERE provider_tokens.seeded_from IS DISTINCT FROM $9`,
		provider, clientID, t.Value, t.RefreshToken, t.Bank, scopesArray(t.Scopes), nullTime(t.ExpiresAt), nullTime(t.IssuedAt), seed[:])
	if err != nil {
		return fmt.Errorf("seeding %s token: %w", provider, err)
	}
	return nil
}

func nullTime(t time.Time) sql.NullTime { return sql.NullTime{Time: t, Valid: !t.IsZero()} }

// scopesArray never stores NULL: no scopes is the empty array.
func scopesArray(s []string) pq.StringArray {
	if s == nil {
		return pq.StringArray{}
	}
	return pq.StringArray(s)
}
