package card_test

import (
	"bytes"
	"crypto/rand"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blockd/blockd/providers"
	. "github.com/blockd/blockd/providers/card"
	"github.com/blockd/blockd/providers/card/cardfake"
	"github.com/blockd/blockd/providers/card/internal/wire"
	"github.com/blockd/blockd/providers/providertest"
	"github.com/blockd/blockd/schemas"
)

// sandboxDay is the sandbox clock of the tests: the seed's 19/08/2021.
func sandboxDay() time.Time {
	return time.Date(2021, 8, 19, 10, 30, 0, 0, time.UTC)
}

// recorded is one request the recorder saw.
type recorded struct {
	method, path, query string
	header              http.Header
	body                []byte
}

// recorder is an http.Handler that remembers every request before passing
// it on.
type recorder struct {
	next http.Handler

	mu   sync.Mutex
	reqs []recorded
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, recorded{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, header: r.Header.Clone(), body: body})
	rec.mu.Unlock()
	rec.next.ServeHTTP(w, r)
}

// last returns the last request to a path ending in suffix.
func (rec *recorder) last(tb testing.TB, suffix string) recorded {
	tb.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for i := len(rec.reqs) - 1; i >= 0; i-- {
		if strings.HasSuffix(rec.reqs[i].path, suffix) {
			return rec.reqs[i]
		}
	}
	tb.Fatalf("no request to a path ending in %s", suffix)
	return recorded{}
}

// fixture is a Client talking to a Sandbox over real HTTP, through a
// recorder.
type fixture struct {
	sandbox *cardfake.Sandbox
	server  *httptest.Server
	rec     *recorder
	client  *Client
}

// newFixture starts a sandbox configured by cfg (its clock defaulting to
// sandboxDay) and a client with the sandbox's default credentials.
func newFixture(tb testing.TB, cfg cardfake.Config) *fixture {
	tb.Helper()
	if cfg.Now == nil {
		cfg.Now = sandboxDay
	}
	sb := cardfake.New(cfg)
	rec := &recorder{next: sb}
	srv := httptest.NewServer(rec)
	tb.Cleanup(srv.Close)
	c := NewClient(ClientConfig{BaseURL: srv.URL, ClientID: cardfake.DefaultClientID, ClientSecret: cardfake.DefaultClientSecret,
		HTTPClient: srv.Client(), Now: cfg.Now})
	return &fixture{sandbox: sb, server: srv, rec: rec, client: c}
}

// newAccountID returns a fresh 19-digit account id the sandbox creates on
// first use.
func newAccountID(tb testing.TB) string {
	tb.Helper()
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000_000_000_000))
	if err != nil {
		tb.Fatalf("drawing an account id: %v", err)
	}
	id := "0001" + leftPad(n.String(), 15)
	if len(id) != wire.AccountIDLen {
		tb.Fatalf("account id %q has %d characters, want %d", id, len(id), wire.AccountIDLen)
	}
	return id
}

func leftPad(s string, n int) string {
	return strings.Repeat("0", max(n-len(s), 0)) + s
}

// providerError returns the *providers.Error in err, failing the test when
// there is none.
func providerError(tb testing.TB, err error) *providers.Error {
	tb.Helper()
	return providertest.ProviderError(tb, err)
}

// wantError checks that err is this provider's error with the class, code
// and HTTP status given.
func wantError(tb testing.TB, err error, class providers.Class, code string, httpStatus int) *providers.Error {
	tb.Helper()
	return providertest.WantError(tb, err, schemas.ProviderCard, class, code, httpStatus)
}

// cannedServer serves the token endpoint with a fixed token and answers
// every other request with a canned status and body.
type cannedServer struct {
	*httptest.Server
	rec *recorder
}

const cannedToken = "canned-token-value"

func newCannedServer(tb testing.TB, status int, body string) *cannedServer {
	tb.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == wire.TokenPath {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"access_token":"`+cannedToken+`","token_type":"Bearer","expires_in":7199}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	})
	rec := &recorder{next: h}
	srv := httptest.NewServer(rec)
	tb.Cleanup(srv.Close)
	return &cannedServer{Server: srv, rec: rec}
}

// tokenFetches counts the token requests the recorder saw.
func (rec *recorder) tokenFetches() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	n := 0
	for _, r := range rec.reqs {
		if r.path == wire.TokenPath {
			n++
		}
	}
	return n
}
