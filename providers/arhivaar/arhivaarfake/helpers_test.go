package arhivaarfake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/providers/arhivaar"
	"github.com/blockd/blockd/providers/arhivaar/internal/wire"
	"github.com/blockd/blockd/providers/providertest"
	"github.com/blockd/blockd/schemas"
)

// fixture is an arhivaar.Client talking to a Sandbox over real HTTP.
type fixture struct {
	sandbox *Sandbox
	server  *httptest.Server
	client  *arhivaar.Client
}

// newFixture starts a sandbox configured by cfg and a client with the
// sandbox's default acc_key and secret.
func newFixture(tb testing.TB, cfg Config) *fixture {
	tb.Helper()
	sb := New(cfg)
	srv := httptest.NewServer(sb)
	tb.Cleanup(srv.Close)
	return &fixture{sandbox: sb, server: srv, client: arhivaar.NewClient(arhivaar.ClientConfig{BaseURL: srv.URL, AccKey: DefaultAccKey, Secret: DefaultSecret, HTTPClient: srv.Client()})}
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

// formBody joins key, value pairs in the order given, form-encoding the
// values, and signs the result with secret; secret "" leaves it unsigned.
func formBody(secret string, kv ...string) string {
	parts := make([]string, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, kv[i]+"="+url.QueryEscape(kv[i+1]))
	}
	body := strings.Join(parts, "&")
	if secret == "" {
		return body
	}
	return body + "&sig=" + url.QueryEscape(wire.Sign(secret, body))
}

// rawAnswer is what the sandbox answered to a raw request.
type rawAnswer struct {
	status int
	header http.Header
	reply  wire.Reply
}

// rawCall sends one request to the fixture's sandbox and decodes its reply.
func (f *fixture) rawCall(tb testing.TB, method, path, contentType, body string) rawAnswer {
	tb.Helper()
	req, err := http.NewRequest(method, f.server.URL+path, strings.NewReader(body))
	if err != nil {
		tb.Fatalf("building request: %v", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := f.server.Client().Do(req)
	if err != nil {
		tb.Fatalf("sending %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("reading answer: %v", err)
	}
	a := rawAnswer{status: resp.StatusCode, header: resp.Header}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &a.reply); err != nil {
			tb.Fatalf("decoding answer %s: %v", b, err)
		}
	}
	return a
}

// providerError returns the *providers.Error in err, failing the test when
// there is none.
func providerError(tb testing.TB, err error) *providers.Error {
	tb.Helper()
	return providertest.ProviderError(tb, err)
}

// wantError checks that err is Arhivaar's error with the class, code and
// HTTP status given.
func wantError(tb testing.TB, err error, class providers.Class, code string, httpStatus int) *providers.Error {
	tb.Helper()
	return providertest.WantError(tb, err, schemas.ProviderArhivaar, class, code, httpStatus)
}
