package arhivaar_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/blockd/blockd/providers"
	. "github.com/blockd/blockd/providers/arhivaar"
	"github.com/blockd/blockd/schemas"
)

// TestResolveWaitsUntilTheCallCannotLand: Resolve sends nothing, ever; it
// says Unproven while the original call may still land (or when that time
// is not known), and SafeToRepeat after.
func TestResolveWaitsUntilTheCallCannotLand(t *testing.T) {
	past, future := time.Now().Add(-time.Second), time.Now().Add(time.Hour)
	tests := []struct {
		name            string
		cannotLandAfter time.Time
		want            providers.Verdict
	}{
		{"no CannotLandAfter", time.Time{}, providers.Unproven},
		{"too early", future, providers.Unproven},
		{"after it can no longer land", past, providers.SafeToRepeat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				t.Errorf("Resolve sent %s %s", r.Method, r.URL.Path)
			}))
			t.Cleanup(srv.Close)
			a := NewAdapter(NewClient(ClientConfig{BaseURL: srv.URL, AccKey: "k", Secret: "s", HTTPClient: srv.Client()}))
			req := providers.Request{Command: schemas.Command{Kind: schemas.KindBlock, Provider: schemas.ProviderArhivaar,
				AccountID: "abcd", Note: "n"}, CannotLandAfter: tc.cannotLandAfter}
			res, err := a.Resolve(context.Background(), req)
			if err != nil || res.Verdict != tc.want || res.Evidence == "" {
				t.Fatalf("got %+v, %v; want %s with evidence", res, err, tc.want)
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
