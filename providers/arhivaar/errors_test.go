package arhivaar_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/blockd/blockd/providers"
	. "github.com/blockd/blockd/providers/arhivaar"
)

// TestDescriptionAsAnObject: the page types responseDescription "Error";
// an object there keeps its code, and a documented refusal stays one.
func TestDescriptionAsAnObject(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantClass providers.Class
		wantCode  string
	}{
		{"code field", `{"response":"ERROR","responseDescription":{"code":"INVALID_NOTE"}}`, providers.Permanent, CodeInvalidNote},
		{"name field", `{"response":"ERROR","responseDescription":{"name":"INVALID_ID","description":"Parameetrile id on omistatud vigane väärtus"}}`, providers.Permanent, CodeInvalidID},
		{"value field", `{"response":"ERROR","responseDescription":{"value":"INVALID_BLOCK"}}`, providers.Permanent, CodeInvalidBlock},
		{"unlisted code in an object", `{"response":"ERROR","responseDescription":{"code":"ACCOUNT_CLOSED"}}`, providers.Unknown, "ACCOUNT_CLOSED"},
		{"object without a code", `{"response":"ERROR","responseDescription":{"text":"something went wrong"}}`, providers.Unknown, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := captureServer(t, http.StatusOK, tc.body)
			c := NewClient(ClientConfig{BaseURL: srv.URL, AccKey: "k", Secret: "s", HTTPClient: srv.Client()})
			err := c.SetBlocked(context.Background(), "abcd", true, "n")
			wantError(t, err, tc.wantClass, tc.wantCode, http.StatusOK)
		})
	}
}

// TestUndocumentedAnswersAreUnknown: an answer the page does not list says
// nothing about whether the call was applied.
func TestUndocumentedAnswersAreUnknown(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		wantCode string
	}{
		{"ERROR with an unlisted code", 200, `{"response":"ERROR","responseDescription":"ACCOUNT_CLOSED"}`, "ACCOUNT_CLOSED"},
		{"ERROR without a code", 200, `{"response":"ERROR"}`, ""},
		{"other response", 200, `{"response":"PENDING"}`, CodeUnreadableResponse},
		{"non-JSON", 200, `<html>Partner API</html>`, CodeUnreadableResponse},
		{"empty", 200, ``, CodeUnreadableResponse},
		{"415 with an unlisted code", 415, `{"response":"ERROR","responseDescription":"UNSUPPORTED_MEDIA_TYPE"}`, "UNSUPPORTED_MEDIA_TYPE"},
		{"404 page", 404, "404 page not found\n", ""},
		{"502", 502, "<html>Bad Gateway</html>", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := captureServer(t, tc.status, tc.body)
			c := NewClient(ClientConfig{BaseURL: srv.URL, AccKey: "k", Secret: "s", HTTPClient: srv.Client()})
			err := c.SetBlocked(context.Background(), "abcd", true, "n")
			wantError(t, err, providers.Unknown, tc.wantCode, tc.status)
		})
	}
}
