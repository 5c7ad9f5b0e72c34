package card_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/blockd/blockd/providers"
	. "github.com/blockd/blockd/providers/card"
	"github.com/blockd/blockd/providers/card/internal/wire"
)

// TestErrorArrayEveryEntry: every entry of the error array is read, and
// invalid-params given as objects keep their code.
func TestErrorArrayEveryEntry(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		body      string
		wantClass providers.Class
		wantCode  string
		wantMsg   string
	}{
		{"dead token in the second entry", 400,
			`[{"errorCode":"440001","invalid-params":["V5BS4002SA: Invalid account number"],"status":400},{"errorCode":"240004","status":400,"title":"Bearer token is invalid"}]`,
			providers.Retryable, CodeTokenExpired, "240004 Bearer token is invalid"},
		{"application code in the second entry", 422,
			`[{"errorCode":"442201","status":422,"title":"Unprocessable Entity"},{"errorCode":"442201","invalid-params":["V5BS0125SC: Block Code 1 cannot be replaced with one of the lower priority"],"status":422}]`,
			providers.Permanent, wire.AppBlockCode1Kept, "Block Code 1 cannot be replaced with one of the lower priority"},
		{"application code in the second invalid-param", 422,
			`[{"errorCode":"442201","invalid-params":["blockCode1: refused","V5BS0011SF: Update Request - Record add pending"],"status":422}]`,
			providers.Retryable, wire.AppRecordAddPending, "Update Request - Record add pending"},
		{"a refusal wins over add pending", 422,
			`[{"errorCode":"442201","invalid-params":["V5BS0011SF: Update Request - Record add pending"]},{"errorCode":"440001","invalid-params":["V5BS4001EA: Invalid business unit"]}]`,
			providers.Permanent, wire.AppInvalidBU, "Invalid business unit"},
		{"object with name and reason", 404,
			`[{"errorCode":"440401","invalid-params":[{"name":"accountId","reason":"V5BS0010SF: Update Request - Record not found"}],"status":404}]`,
			providers.Permanent, wire.AppRecordNotFound, "Update Request - Record not found"},
		{"object with a code field", 422,
			`[{"errorCode":"442201","invalid-params":[{"code":"V5BS0127SC","message":"Block Code 2 cannot be replaced with one of the lower priority"}],"status":422}]`,
			providers.Permanent, wire.AppBlockCode2Kept, "Block Code 2 cannot be replaced with one of the lower priority"},
		{"object with a space before the colon", 400,
			`[{"errorCode":"440001","invalid-params":[{"name":"x","reason":"V7RS4003EQ : Some refusal"}],"status":400}]`,
			providers.Permanent, "V7RS4003EQ", "Some refusal"},
		{"internal error in one entry outweighs unavailable in another", 503,
			`[{"errorCode":"250301","status":503,"title":"Service Unavailable"},{"errorCode":"250001","status":500,"title":"Internal"}]`,
			providers.Unknown, wire.CodeInternalError, "Internal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newCannedServer(t, tc.status, tc.body)
			c := NewClient(ClientConfig{BaseURL: srv.URL, ClientID: "id", ClientSecret: "secret", HTTPClient: srv.Client()})
			_, err := c.SetBlockCode(context.Background(), "0001000010000510481", 2, "X", 0, "c")
			pe := wantError(t, err, tc.wantClass, tc.wantCode, tc.status)
			if pe.Message != tc.wantMsg {
				t.Errorf("got message %q, want %q", pe.Message, tc.wantMsg)
			}
		})
	}
}

// TestUnblockAnsweredWithTheCodeStillThereIsUnknown: the seed does no
// priority check on a removal and documents no 200 that leaves the code;
// such an answer proves nothing either way.
func TestUnblockAnsweredWithTheCodeStillThereIsUnknown(t *testing.T) {
	srv := newCannedServer(t, 200, `{"accountId":"0001000010000510481","blockCode1":"X","blockCode1Date":"19/08/2021","blockCode2":" ","blockCode2Date":"","businessUnit":100}`)
	c := NewClient(ClientConfig{BaseURL: srv.URL, ClientID: "id", ClientSecret: "secret", HTTPClient: srv.Client()})
	_, err := c.SetBlockCode(context.Background(), "0001000010000510481", 1, wire.RemoveCode, 0, "c")
	wantError(t, err, providers.Unknown, CodeUnexpectedState, http.StatusOK)
}

// TestUnlistedAnswersAreUnknown: a 4xx that carries no code the documents
// list says nothing about whether the call was applied.
func TestUnlistedAnswersAreUnknown(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		wantCode string
	}{
		{"403 without a body", 403, ``, ""},
		{"404 page", 404, `404 page not found`, ""},
		{"400 unreadable", 400, `not json`, ""},
		{"409 with unlisted codes", 409, `[{"errorCode":"440901","invalid-params":["V5XX9999ZZ: something new"],"status":409}]`, "V5XX9999ZZ"},
		{"400 with an unlisted errorCode", 400, `[{"errorCode":"999999","status":400,"title":"Bad Request"}]`, "999999"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newCannedServer(t, tc.status, tc.body)
			c := NewClient(ClientConfig{BaseURL: srv.URL, ClientID: "id", ClientSecret: "secret", HTTPClient: srv.Client()})
			_, err := c.SetBlockCode(context.Background(), "0001000010000510481", 2, "X", 0, "c")
			wantError(t, err, providers.Unknown, tc.wantCode, tc.status)
		})
	}
}
