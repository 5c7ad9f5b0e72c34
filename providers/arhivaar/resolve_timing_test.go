package arhivaar_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/blockd/blockd/providers"
	. "github.com/blockd/blockd/providers/arhivaar"
	"github.com/blockd/blockd/providers/arhivaar/arhivaarfake"
	"github.com/blockd/blockd/schemas"
)

// resolveEnv is an adapter on a sandbox, or on a canned server when body
// is not "".
func resolveEnv(t *testing.T, status int, body string) (*Adapter, func() int) {
	t.Helper()
	if body != "" {
		srv, requests := captureServer(t, status, body)
		return NewAdapter(NewClient(ClientConfig{BaseURL: srv.URL, AccKey: "k", Secret: "s", HTTPClient: srv.Client()})),
			func() int { return len(requests()) }
	}
	f := newFixture(t, arhivaarfake.Config{})
	return NewAdapter(f.client), f.sandbox.Requests
}

// TestResolveResendsOnlyAfterTheCallCannotLand: the re-send that settles
// an unknown outcome goes out only once the original call can no longer
// land; a documented refusal proves "not applied", an undocumented answer
// proves nothing.
func TestResolveResendsOnlyAfterTheCallCannotLand(t *testing.T) {
	past, future := time.Now().Add(-time.Second), time.Now().Add(time.Hour)
	tests := []struct {
		name            string
		status          int
		body            string // "" for the sandbox
		note            string
		cannotLandAfter time.Time
		want            providers.Verdict
		wantErr         bool
		wantSent        int
	}{
		{"no CannotLandAfter", 0, "", "n", time.Time{}, providers.Unproven, false, 0},
		{"too early", 0, "", "n", future, providers.Unproven, false, 0},
		{"OK after it can no longer land", 0, "", "n", past, providers.Applied, false, 1},
		{"documented refusal", 0, "", "   ", past, providers.NotApplied, false, 1},
		{"INVALID_SIGNATURE (assumed documented)", 200, `{"response":"ERROR","responseDescription":"INVALID_SIGNATURE"}`, "n", past, providers.NotApplied, false, 1},
		{"undocumented ERROR", 200, `{"response":"ERROR","responseDescription":"ACCOUNT_CLOSED"}`, "n", past, providers.Unproven, true, 1},
		{"unreadable answer", 200, `<html></html>`, "n", past, providers.Unproven, true, 1},
		{"503", 503, `{"response":"ERROR","responseDescription":"SERVICE_UNAVAILABLE"}`, "n", past, providers.Unproven, true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, sent := resolveEnv(t, tc.status, tc.body)
			req := providers.Request{Command: schemas.Command{Kind: schemas.KindBlock, Provider: schemas.ProviderArhivaar,
				AccountID: newAccountID(t), Note: tc.note}, CannotLandAfter: tc.cannotLandAfter}
			res, err := a.Resolve(context.Background(), req)
			if (err != nil) != tc.wantErr {
				t.Fatalf("got error %v, want one: %v", err, tc.wantErr)
			}
			if res.Verdict != tc.want {
				t.Fatalf("got %s (%s), want %s", res.Verdict, res.Evidence, tc.want)
			}
			if err == nil && res.Evidence == "" {
				t.Error("got no evidence")
			}
			if got := sent(); got != tc.wantSent {
				t.Errorf("Resolve sent %d calls, want %d", got, tc.wantSent)
			}
			if tc.want == providers.Applied {
				var r map[string]any
				if err := json.Unmarshal(res.Result, &r); err != nil || r["blocked"] != true || r["stateFrom"] != "resend" {
					t.Errorf("got result %s, want blocked, from the re-send", res.Result)
				}
			}
		})
	}
}

// TestResolveDoesNotSendWithoutCannotLandAfter guards the sandbox path
// above with a server that fails the test on any request.
func TestResolveDoesNotSendWithoutCannotLandAfter(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("Resolve sent %s %s before the call could no longer land", r.Method, r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	a := NewAdapter(NewClient(ClientConfig{BaseURL: srv.URL, AccKey: "k", Secret: "s", HTTPClient: srv.Client()}))
	req := providers.Request{Command: schemas.Command{Kind: schemas.KindUnblock, Provider: schemas.ProviderArhivaar,
		AccountID: "abcd", Note: "n"}, CannotLandAfter: time.Now().Add(time.Minute)}
	if res, err := a.Resolve(context.Background(), req); err != nil || res.Verdict != providers.Unproven {
		t.Fatalf("got %+v, %v; want unproven", res, err)
	}
}
