package main

import (
	"context"

	"github.com/blockd/blockd/providers/finnotech"
	"github.com/blockd/blockd/schemas"
	"github.com/blockd/blockd/store"
)

// finnotechTokenStore keeps Finnotech authorization-code tokens in
// PostgreSQL, so every instance shares one refreshed token per client.
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
