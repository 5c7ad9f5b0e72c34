package arhivaar

import (
	"strings"
	"testing"

	"github.com/blockd/blockd/providers"
)

func TestClassify(t *testing.T) {
	const success = -1 // wantClass of an answer that is no error
	tests := []struct {
		name      string
		status    int
		body      string
		wantClass providers.Class
		wantCode  string
	}{
		// Success.
		{"200 OK", 200, `{"response":"OK"}`, success, ""},
		{"200 OK with spaces and other fields", 200, "{ \"response\" : \"OK\", \"x\": 1 }\n", success, ""},
		{"201 OK", 201, `{"response":"OK"}`, success, ""},

		// The documented codes, and ours, with HTTP 200 as Arhivaar sends them.
		{"INVALID_ID", 200, `{"response":"ERROR","responseDescription":"INVALID_ID"}`, providers.Permanent, CodeInvalidID},
		{"INVALID_BLOCK", 200, `{"response":"ERROR","responseDescription":"INVALID_BLOCK"}`, providers.Permanent, CodeInvalidBlock},
		{"INVALID_NOTE", 200, `{"response":"ERROR","responseDescription":"INVALID_NOTE"}`, providers.Permanent, CodeInvalidNote},
		{"INVALID_SIGNATURE", 200, `{"response":"ERROR","responseDescription":"INVALID_SIGNATURE"}`, providers.Permanent, CodeInvalidSignature},
		{"documented code on 400", 400, `{"response":"ERROR","responseDescription":"INVALID_NOTE"}`, providers.Permanent, CodeInvalidNote},
		{"documented code on 500", 500, `{"response":"ERROR","responseDescription":"INVALID_ID"}`, providers.Permanent, CodeInvalidID},

		// The documented codes in an object description.
		{"INVALID_NOTE in an object", 200, `{"response":"ERROR","responseDescription":{"code":"INVALID_NOTE"}}`, providers.Permanent, CodeInvalidNote},
		{"INVALID_ID in a name field", 200, `{"response":"ERROR","responseDescription":{"name":"INVALID_ID","message":"bad id"}}`, providers.Permanent, CodeInvalidID},

		// Error replies the page does not list: nothing is proven.
		{"unknown code", 200, `{"response":"ERROR","responseDescription":"ACCOUNT_CLOSED"}`, providers.Unknown, "ACCOUNT_CLOSED"},
		{"unknown code on 415", 415, `{"response":"ERROR","responseDescription":"UNSUPPORTED_MEDIA_TYPE"}`, providers.Unknown, "UNSUPPORTED_MEDIA_TYPE"},
		{"error without code", 200, `{"response":"ERROR"}`, providers.Unknown, ""},
		{"error with a null code", 200, `{"response":"ERROR","responseDescription":null}`, providers.Unknown, ""},
		{"error with an object without a code", 200, `{"response":"ERROR","responseDescription":{"text":"went wrong"}}`, providers.Unknown, ""},

		// A 2xx that is not Arhivaar's reply.
		{"non-JSON 200", 200, "<html><body>Partner API</body></html>", providers.Unknown, CodeUnreadableResponse},
		{"empty 200", 200, "", providers.Unknown, CodeUnreadableResponse},
		{"200 empty object", 200, `{}`, providers.Unknown, CodeUnreadableResponse},
		{"200 other response", 200, `{"response":"PENDING"}`, providers.Unknown, CodeUnreadableResponse},
		{"200 lowercase ok", 200, `{"response":"ok"}`, providers.Unknown, CodeUnreadableResponse},
		{"200 JSON array", 200, `[{"response":"OK"}]`, providers.Unknown, CodeUnreadableResponse},

		// HTTP status alone.
		{"429", 429, "", providers.Retryable, ""},
		{"429 with an error reply", 429, `{"response":"ERROR","responseDescription":"TOO_MANY_REQUESTS"}`, providers.Retryable, "TOO_MANY_REQUESTS"},
		{"502", 502, "<html>Bad Gateway</html>", providers.Unknown, ""},
		{"503", 503, "", providers.Retryable, ""},
		{"503 from the sandbox", 503, `{"response":"ERROR","responseDescription":"SERVICE_UNAVAILABLE"}`, providers.Retryable, "SERVICE_UNAVAILABLE"},
		{"408", 408, "", providers.Unknown, ""},
		{"500", 500, "", providers.Unknown, ""},
		{"500 saying OK", 500, `{"response":"OK"}`, providers.Unknown, ""},
		{"504 from the sandbox", 504, `{"response":"ERROR","responseDescription":"GATEWAY_TIMEOUT"}`, providers.Unknown, "GATEWAY_TIMEOUT"},
		{"other 5xx", 599, "", providers.Unknown, ""},
		{"400 without body", 400, "", providers.Unknown, ""},
		{"401", 401, "", providers.Unknown, ""},
		{"403", 403, "", providers.Unknown, ""},
		{"404 page", 404, "404 page not found\n", providers.Unknown, ""},
		{"405", 405, "Method Not Allowed\n", providers.Unknown, ""},
		{"302", 302, "", providers.Unknown, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pe := classify(tc.status, []byte(tc.body))
			if tc.wantClass == success {
				if pe != nil {
					t.Fatalf("classify(%d, %s) = %v, want success", tc.status, tc.body, pe)
				}
				return
			}
			if pe == nil {
				t.Fatalf("classify(%d, %s) = success, want %s %q", tc.status, tc.body, tc.wantClass, tc.wantCode)
			}
			if pe.Class != tc.wantClass || pe.Code != tc.wantCode {
				t.Errorf("classify(%d, %s) = %s %q, want %s %q", tc.status, tc.body, pe.Class, pe.Code, tc.wantClass, tc.wantCode)
			}
			if pe.Provider != provider || pe.HTTPStatus != tc.status {
				t.Errorf("got provider %q HTTP %d, want %q HTTP %d", pe.Provider, pe.HTTPStatus, provider, tc.status)
			}
			if pe.Message == "" {
				t.Error("got an empty Message, want one")
			}
			if tc.wantCode == CodeUnreadableResponse && !strings.Contains(pe.Message, "unreadable") {
				t.Errorf("got Message %q, want it to say unreadable", pe.Message)
			}
		})
	}
}

func TestClassifyNeverQuotesTheBody(t *testing.T) {
	// An answer could echo the request, signature included.
	const echo = "id=ab&block=true&note=x&acc_key=k&sig=SECRETSIG%3D"
	for _, status := range []int{200, 400, 404, 429, 500, 502, 503} {
		pe := classify(status, []byte(echo))
		if pe == nil {
			t.Fatalf("classify(%d, echo) = success, want an error", status)
		}
		if strings.Contains(pe.Error(), "SECRETSIG") {
			t.Errorf("classify(%d, echo) error %q quotes the body", status, pe)
		}
	}
}
