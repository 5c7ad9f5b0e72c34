package arhivaar_test

import (
	"crypto/rand"
	"encoding/hex"
	"net/http/httptest"
	"testing"

	"github.com/blockd/blockd/providers"
	. "github.com/blockd/blockd/providers/arhivaar"
	"github.com/blockd/blockd/providers/arhivaar/arhivaarfake"
	"github.com/blockd/blockd/providers/providertest"
	"github.com/blockd/blockd/schemas"
)

// fixture is a Client talking to an arhivaarfake.Sandbox over real HTTP.
type fixture struct {
	sandbox *arhivaarfake.Sandbox
	server  *httptest.Server
	client  *Client
}

// newFixture starts a sandbox configured by cfg and a client with the
// sandbox's acc_key and secret.
func newFixture(tb testing.TB, cfg arhivaarfake.Config) *fixture {
	tb.Helper()
	sb := arhivaarfake.New(cfg)
	srv := httptest.NewServer(sb)
	tb.Cleanup(srv.Close)
	accKey, secret := cfg.AccKey, cfg.Secret
	if accKey == "" {
		accKey = arhivaarfake.DefaultAccKey
	}
	if secret == "" {
		secret = arhivaarfake.DefaultSecret
	}
	return &fixture{sandbox: sb, server: srv, client: NewClient(ClientConfig{BaseURL: srv.URL, AccKey: accKey, Secret: secret, HTTPClient: srv.Client()})}
}

// newAccountID returns a fresh encoded account id: 24 lowercase hex digits,
// like the seed's.
func newAccountID(tb testing.TB) string {
	tb.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		tb.Fatalf("reading random bytes: %v", err)
	}
	return hex.EncodeToString(b)
}

// wantError checks that err is this provider's error with the class, code
// and HTTP status given.
func wantError(tb testing.TB, err error, class providers.Class, code string, httpStatus int) *providers.Error {
	tb.Helper()
	return providertest.WantError(tb, err, schemas.ProviderArhivaar, class, code, httpStatus)
}
