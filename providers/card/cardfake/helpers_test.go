package cardfake

import (
	"crypto/rand"
	"math/big"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/providers/card"
	"github.com/blockd/blockd/providers/card/internal/wire"
	"github.com/blockd/blockd/providers/providertest"
	"github.com/blockd/blockd/schemas"
)

// sandboxDay is the sandbox clock of the tests: the seed's 19/08/2021.
func sandboxDay() time.Time {
	return time.Date(2021, 8, 19, 10, 30, 0, 0, time.UTC)
}

// fixture is a card.Client talking to a Sandbox over real HTTP.
type fixture struct {
	sandbox *Sandbox
	server  *httptest.Server
	client  *card.Client
}

// newFixture starts a sandbox configured by cfg (its clock defaulting to
// sandboxDay) and a client with the sandbox's default credentials, on the
// same clock.
func newFixture(tb testing.TB, cfg Config) *fixture {
	tb.Helper()
	if cfg.Now == nil {
		cfg.Now = sandboxDay
	}
	sb := New(cfg)
	srv := httptest.NewServer(sb)
	tb.Cleanup(srv.Close)
	c := card.NewClient(card.ClientConfig{BaseURL: srv.URL, ClientID: DefaultClientID, ClientSecret: DefaultClientSecret,
		HTTPClient: srv.Client(), Now: cfg.Now})
	return &fixture{sandbox: sb, server: srv, client: c}
}

// newAccountID returns a fresh 19-digit account id the sandbox creates on
// first use.
func newAccountID(tb testing.TB) string {
	tb.Helper()
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000_000_000_000))
	if err != nil {
		tb.Fatalf("drawing an account id: %v", err)
	}
	id := "0001" + strings.Repeat("0", max(15-len(n.String()), 0)) + n.String()
	if len(id) != wire.AccountIDLen {
		tb.Fatalf("account id %q has %d characters, want %d", id, len(id), wire.AccountIDLen)
	}
	return id
}

// wantError checks that err is the card platform's error with the class,
// code and HTTP status given.
func wantError(tb testing.TB, err error, class providers.Class, code string, httpStatus int) *providers.Error {
	tb.Helper()
	return providertest.WantError(tb, err, schemas.ProviderCard, class, code, httpStatus)
}
