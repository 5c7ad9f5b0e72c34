package arhivaar_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blockd/blockd/providers"
	. "github.com/blockd/blockd/providers/arhivaar"
	"github.com/blockd/blockd/providers/arhivaar/arhivaarfake"
	"github.com/blockd/blockd/providers/arhivaar/internal/wire"
)

// The seed's sample requests (arhivaar/doc.go, "Request").
const (
	seedID     = "6475736574794c4e2f594d3d"
	seedAccKey = "ynatubqr9fmlxu618kwc"
)

func TestBodyMatchesSeedSamples(t *testing.T) {
	// The seed's secret is not given, so its sig cannot be recomputed; the
	// body up to the sig, and the sig's escaping, can be checked.
	tests := []struct {
		name          string
		block         bool
		note          string
		seedSig       string // as sent, percent-encoded
		seedSigBase64 string // decoded
		want          string
		wantLen       int // the seed's Content-Length
	}{
		{"block", true, "Maksmata arve.", "HNY3%2BvTgPCYLiQFIfKLC1RfY4EU%3D", "HNY3+vTgPCYLiQFIfKLC1RfY4EU=",
			"id=6475736574794c4e2f594d3d&block=true&note=Maksmata+arve.&acc_key=ynatubqr9fmlxu618kwc&sig=HNY3%2BvTgPCYLiQFIfKLC1RfY4EU%3D", 124},
		{"activate", false, "Arve makstud.", "5tudUaJj3tUDhaXiMUWbYp8bTxA%3D", "5tudUaJj3tUDhaXiMUWbYp8bTxA=",
			"id=6475736574794c4e2f594d3d&block=false&note=Arve+makstud.&acc_key=ynatubqr9fmlxu618kwc&sig=5tudUaJj3tUDhaXiMUWbYp8bTxA%3D", 122},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			unsigned := wire.UnsignedBody(seedID, tc.block, tc.note, seedAccKey)
			if got, want := unsigned+"&sig="+tc.seedSig, tc.want; got != want {
				t.Errorf("got body\n%s\nwant\n%s", got, want)
			}
			if got := len(tc.want); got != tc.wantLen {
				t.Errorf("got seed body length %d, want %d", got, tc.wantLen)
			}
			// The seed's sig is form-encoded base64, as escapeSig encodes it.
			if got := escapeSig(tc.seedSigBase64); got != tc.seedSig {
				t.Errorf("got escaped sig %q, want %q", got, tc.seedSig)
			}
		})
	}
}

// escapeSig percent-encodes the three base64 characters that form
// encoding escapes, independently of url.QueryEscape.
func escapeSig(sig string) string {
	return strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(sig)
}

// hmacSHA1Base64 is the assumed signature, computed here independently of
// sign.
func hmacSHA1Base64(secret, msg string) string {
	m := hmac.New(sha1.New, []byte(secret))
	io.WriteString(m, msg)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// captured is one request a test server received.
type captured struct {
	method, path, contentType, contentLength, body string
}

// captureServer answers every request with status and body and records
// what it received.
func captureServer(tb testing.TB, status int, body string) (*httptest.Server, func() []captured) {
	tb.Helper()
	var (
		mu  sync.Mutex
		got []captured
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, captured{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Content-Length"), string(b)})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	tb.Cleanup(srv.Close)
	return srv, func() []captured {
		mu.Lock()
		defer mu.Unlock()
		return append([]captured(nil), got...)
	}
}

func TestClientSendsTheSeedShape(t *testing.T) {
	// "partner-secret-2" gives a sig with one '+' and the '=' pad, like the
	// seed's, so the body has the seed's escapes and length.
	const secret = "partner-secret-2"
	tests := []struct {
		name     string
		block    bool
		note     string
		unsigned string
	}{
		{"block", true, "Maksmata arve.", "id=6475736574794c4e2f594d3d&block=true&note=Maksmata+arve.&acc_key=ynatubqr9fmlxu618kwc"},
		{"activate", false, "Arve makstud.", "id=6475736574794c4e2f594d3d&block=false&note=Arve+makstud.&acc_key=ynatubqr9fmlxu618kwc"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, requests := captureServer(t, http.StatusOK, `{"response":"OK"}`)
			c := NewClient(ClientConfig{BaseURL: srv.URL + "/", AccKey: seedAccKey, Secret: secret, HTTPClient: srv.Client()})
			if err := c.SetBlocked(context.Background(), seedID, tc.block, tc.note); err != nil {
				t.Fatalf("SetBlocked: %v", err)
			}
			got := requests()
			if len(got) != 1 {
				t.Fatalf("got %d requests, want 1", len(got))
			}
			r := got[0]
			sig := hmacSHA1Base64(secret, tc.unsigned)
			want := tc.unsigned + "&sig=" + escapeSig(sig)
			if r.body != want {
				t.Errorf("got body\n%s\nwant\n%s", r.body, want)
			}
			if r.method != http.MethodPost || r.path != "/partner-api/account/block.html" {
				t.Errorf("got %s %s, want POST /partner-api/account/block.html", r.method, r.path)
			}
			if r.contentType != "application/x-www-form-urlencoded; charset=UTF-8" {
				t.Errorf("got Content-Type %q, want the seed's", r.contentType)
			}
			if r.contentLength != strconv.Itoa(len(want)) {
				t.Errorf("got Content-Length %s, want %d", r.contentLength, len(want))
			}
			if tc.block {
				if !strings.Contains(r.body, "%2B") || !strings.HasSuffix(r.body, "%3D") {
					t.Errorf("got body %s, want the seed's %%2B and %%3D escapes", r.body)
				}
				if len(r.body) != 124 {
					t.Errorf("got body length %d, want the seed's 124", len(r.body))
				}
			}
		})
	}
}

func TestBodyEncoding(t *testing.T) {
	tests := []struct {
		name, id, note, accKey string
		want                   string
	}{
		{"spaces are plus", "ab", "a b  c", "k", "id=ab&block=true&note=a+b++c&acc_key=k"},
		{"reserved characters", "ab", "a&b=c+d/e%f?", "k", "id=ab&block=true&note=a%26b%3Dc%2Bd%2Fe%25f%3F&acc_key=k"},
		{"non-ASCII as UTF-8", "ab", "Põhjus: võlg", "k", "id=ab&block=true&note=P%C3%B5hjus%3A+v%C3%B5lg&acc_key=k"},
		{"unreserved kept", "ab", "a-b_c.d~e", "k", "id=ab&block=true&note=a-b_c.d~e&acc_key=k"},
		{"id and key escaped too", "a&b", "n", "k=1", "id=a%26b&block=true&note=n&acc_key=k%3D1"},
		{"sig separator inside a value", "ab", "x&sig=y", "k", "id=ab&block=true&note=x%26sig%3Dy&acc_key=k"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := wire.UnsignedBody(tc.id, true, tc.note, tc.accKey); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestSetBlocked(t *testing.T) {
	f := newFixture(t, arhivaarfake.Config{})
	ctx := context.Background()
	id := newAccountID(t)

	if err := f.client.SetBlocked(ctx, id, true, "Maksmata arve."); err != nil {
		t.Fatalf("SetBlocked(true): %v", err)
	}
	if got, _ := f.sandbox.Account(id); got != (arhivaarfake.Account{Blocked: true, Note: "Maksmata arve.", Changes: 1, Calls: 1}) {
		t.Errorf("got account %+v after block, want blocked once", got)
	}
	if err := f.client.SetBlocked(ctx, id, false, "Arve makstud & kõik korras"); err != nil {
		t.Fatalf("SetBlocked(false): %v", err)
	}
	if got, _ := f.sandbox.Account(id); got != (arhivaarfake.Account{Blocked: false, Note: "Arve makstud & kõik korras", Changes: 2, Calls: 2}) {
		t.Errorf("got account %+v after activate, want active, 2 changes", got)
	}
}

func TestSetBlockedRefused(t *testing.T) {
	f := newFixture(t, arhivaarfake.Config{})
	tests := []struct {
		name     string
		id, note string
		wantCode string
	}{
		{"empty id", "", "n", CodeInvalidID},
		{"odd-length id", "abc", "n", CodeInvalidID},
		{"uppercase id", "ABCD", "n", CodeInvalidID},
		{"base64 id", "dusetyLN/YM=", "n", CodeInvalidID},
		{"empty note", "abcd", "", CodeInvalidNote},
		{"blank note", "abcd", " \t\n", CodeInvalidNote},
		{"note of 1001 characters", "abcd", strings.Repeat("õ", 1001), CodeInvalidNote},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := f.client.SetBlocked(context.Background(), tc.id, true, tc.note)
			wantError(t, err, providers.Permanent, tc.wantCode, http.StatusOK)
		})
	}
	if n := f.sandbox.Applied(); n != 0 {
		t.Errorf("got %d applied calls, want 0", n)
	}
	if got, want := f.sandbox.Requests(), len(tests); got != want {
		t.Errorf("got %d requests, want %d (the client sends what it is given)", got, want)
	}
}

func TestWrongCredentials(t *testing.T) {
	tests := []struct {
		name, accKey, secret string
	}{
		{"wrong secret", arhivaarfake.DefaultAccKey, "not-the-sandbox-secret"},
		{"wrong acc_key", "not-the-acc-key", arhivaarfake.DefaultSecret},
		{"no secret", arhivaarfake.DefaultAccKey, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, arhivaarfake.Config{})
			c := NewClient(ClientConfig{BaseURL: f.server.URL, AccKey: tc.accKey, Secret: tc.secret, HTTPClient: f.server.Client()})
			id := newAccountID(t)
			err := c.SetBlocked(context.Background(), id, true, "Maksmata arve.")
			wantError(t, err, providers.Permanent, CodeInvalidSignature, http.StatusOK)
			if _, ok := f.sandbox.Account(id); ok || f.sandbox.Applied() != 0 {
				t.Error("a call with a bad signature changed the ledger")
			}
			sig := wire.Sign(tc.secret, wire.UnsignedBody(id, true, "Maksmata arve.", tc.accKey))
			for _, secret := range []string{tc.secret, sig, escapeSig(sig), id} {
				if secret != "" && strings.Contains(err.Error(), secret) {
					t.Errorf("error %q holds %q", err, secret)
				}
			}
		})
	}
}

func TestSetBlockedAnswers(t *testing.T) {
	// The Client reads the body whatever the status, and never quotes it.
	tests := []struct {
		name       string
		status     int
		body       string
		wantClass  providers.Class
		wantCode   string
		wantStatus int
	}{
		{"error with 200", 200, `{"response":"ERROR","responseDescription":"INVALID_NOTE"}`, providers.Permanent, CodeInvalidNote, 200},
		{"unknown code", 200, `{"response":"ERROR","responseDescription":"ACCOUNT_CLOSED"}`, providers.Permanent, "ACCOUNT_CLOSED", 200},
		{"HTML page with 200", 200, "<html>sig=abc</html>", providers.Unknown, CodeUnreadableResponse, 200},
		{"too long an answer", 200, `{"response":"OK"}` + strings.Repeat(" ", MaxBody), providers.Unknown, CodeUnreadableResponse, 200},
		{"503", 503, "", providers.Retryable, "", 503},
		{"504", 504, "", providers.Unknown, "", 504},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := captureServer(t, tc.status, tc.body)
			c := NewClient(ClientConfig{BaseURL: srv.URL, AccKey: "k", Secret: "s", HTTPClient: srv.Client()})
			err := c.SetBlocked(context.Background(), "abcd", true, "n")
			wantError(t, err, tc.wantClass, tc.wantCode, tc.wantStatus)
			if !strings.HasPrefix(err.Error(), "blocking account: ") {
				t.Errorf("got error %q, want it to start with %q", err, "blocking account: ")
			}
			if strings.Contains(err.Error(), "sig=") {
				t.Errorf("error %q quotes the answer", err)
			}
		})
	}
}

func TestTransportErrors(t *testing.T) {
	t.Run("connection refused is retryable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		err := NewClient(ClientConfig{BaseURL: url, AccKey: "k", Secret: "s"}).SetBlocked(context.Background(), "abcd", true, "n")
		wantError(t, err, providers.Retryable, "", 0)
	})
	t.Run("context done before sending is retryable", func(t *testing.T) {
		f := newFixture(t, arhivaarfake.Config{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := f.client.SetBlocked(ctx, newAccountID(t), true, "n")
		wantError(t, err, providers.Retryable, "", 0)
		if n := f.sandbox.Requests(); n != 0 {
			t.Errorf("got %d requests, want 0", n)
		}
	})
	t.Run("timeout is outcome unknown", func(t *testing.T) {
		f := newFixture(t, arhivaarfake.Config{TimeoutRate: 1})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		err := f.client.SetBlocked(ctx, newAccountID(t), true, "n")
		wantError(t, err, providers.Unknown, "", 0)
	})
	t.Run("client timeout is outcome unknown", func(t *testing.T) {
		f := newFixture(t, arhivaarfake.Config{TimeoutRate: 1})
		hc := f.server.Client()
		hc.Timeout = 100 * time.Millisecond
		c := NewClient(ClientConfig{BaseURL: f.server.URL, AccKey: arhivaarfake.DefaultAccKey, Secret: arhivaarfake.DefaultSecret, HTTPClient: hc})
		err := c.SetBlocked(context.Background(), newAccountID(t), true, "n")
		wantError(t, err, providers.Unknown, "", 0)
	})
	t.Run("answer lost after applying is outcome unknown", func(t *testing.T) {
		f := newFixture(t, arhivaarfake.Config{ApplyThenDropRate: 1})
		id := newAccountID(t)
		err := f.client.SetBlocked(context.Background(), id, true, "n")
		wantError(t, err, providers.Unknown, "", 0)
		if a, _ := f.sandbox.Account(id); !a.Blocked {
			t.Errorf("got account %+v, want it blocked before the drop", a)
		}
	})
	t.Run("bad base URL is permanent and not sent", func(t *testing.T) {
		err := NewClient(ClientConfig{BaseURL: "http://[::1", AccKey: "k", Secret: "s"}).SetBlocked(context.Background(), "abcd", true, "n")
		wantError(t, err, providers.Permanent, CodeBadRequest, 0)
	})
}

func TestClientConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     ClientConfig
		wantErr bool
	}{
		{"good", ClientConfig{BaseURL: "https://api.arhivaar.ee", AccKey: "k", Secret: "s"}, false},
		{"no base URL", ClientConfig{AccKey: "k", Secret: "s"}, true},
		{"no acc_key", ClientConfig{BaseURL: "http://x", Secret: "s"}, true},
		{"no secret", ClientConfig{BaseURL: "http://x", AccKey: "k"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); (err != nil) != tc.wantErr {
				t.Errorf("got Validate() = %v, want an error: %v", err, tc.wantErr)
			}
		})
	}
}
