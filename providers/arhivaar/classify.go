package arhivaar

import (
	"encoding/json"
	"net/http"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/providers/arhivaar/internal/wire"
)

// documented returns what a code Arhivaar may answer with means, or ""
// for a code it does not document. The first three are the seed's;
// INVALID_SIGNATURE is blockd's assumption (see CodeInvalidSignature).
func documented(code string) string {
	switch code {
	case CodeInvalidID:
		return "id is invalid or missing"
	case CodeInvalidBlock:
		return "block is invalid or missing"
	case CodeInvalidNote:
		return "note is invalid or missing"
	case CodeInvalidSignature:
		return "acc_key or sig is invalid"
	default:
		return ""
	}
}

// classify is the one table that decides what an Arhivaar answer means.
// status is the HTTP status and body the answer as read (nil when it was
// too long to read). It returns nil for {"response":"OK"} with a 2xx
// status, and otherwise the error to report.
//
// The body is always parsed first, since Arhivaar answers errors with HTTP
// 200. The first matching row wins:
//
//	ERROR with a documented code, any status              Permanent  the code
//	2xx and OK                                            success
//	429 too many requests                                 Retryable
//	502 bad gateway, 503 service unavailable              Retryable  (see below)
//	408, 500, 504 and any other 5xx                       Unknown (may have been applied)
//	ERROR with another code or none, 2xx/3xx/4xx          Permanent  the code
//	2xx that is not Arhivaar's JSON reply                 Permanent  UNREADABLE_RESPONSE
//	any other 4xx                                         Permanent
//	anything else (1xx, 3xx)                              Unknown
//
// A 502 or 503 is Retryable although the call may have reached Arhivaar, and
// it is so only because setting a state is idempotent: the seed's call sets
// blocked or active, and re-sending the same state changes nothing more
// (arhivaar/doc.go, "Idempotency"; the Sandbox behaves so). Were a re-send
// ever to do more, these rows would have to become Unknown, like 500 and 504,
// which say that the server failed or timed out while it may have been
// working on the call.
func classify(status int, body []byte) *providers.Error {
	var r wire.Reply
	readable := json.Unmarshal(body, &r) == nil &&
		(r.Response == wire.ResponseOK || r.Response == wire.ResponseError)
	isError := readable && r.Response == wire.ResponseError
	code := ""
	if isError {
		code = r.ResponseDescription
	}
	fail := func(class providers.Class, code, msg string) *providers.Error {
		if msg == "" {
			msg = http.StatusText(status)
		}
		if msg == "" {
			msg = "unexpected HTTP status"
		}
		return &providers.Error{Provider: provider, Class: class, Code: code, Message: msg, HTTPStatus: status}
	}
	ok := status >= 200 && status < 300

	switch {
	case isError && documented(code) != "":
		return fail(providers.Permanent, code, documented(code))

	case ok && readable && r.Response == wire.ResponseOK:
		return nil

	// ASSUMPTION (arhivaar/doc.go, "Error codes"): Arhivaar refuses a call
	// it throttles without applying it.
	case status == http.StatusTooManyRequests:
		return fail(providers.Retryable, code, "")

	// ASSUMPTION (arhivaar/doc.go, "Idempotency"): setting a state is
	// idempotent (the seed does not say so), so a 502 or 503 is Retryable
	// even if the call got through; see above.
	case status == http.StatusBadGateway || status == http.StatusServiceUnavailable:
		return fail(providers.Retryable, code, "")

	case status == http.StatusRequestTimeout || status >= 500:
		return fail(providers.Unknown, code, "")

	// DEVIATION (arhivaar/doc.go, "Where the code does not follow this
	// yet"): the contract takes an answer the seed does not list as
	// unknown; this row and "any other 4xx" below refuse it Permanent.
	case isError && status < 500:
		if code == "" {
			return fail(providers.Permanent, "", "error reply without responseDescription")
		}
		return fail(providers.Permanent, code, "undocumented error code")

	// A 2xx that is not Arhivaar's JSON reply proves nothing either way: the
	// call may have been applied. It is of unknown outcome, which blockd
	// settles by re-sending (the state-setting call is idempotent) and never
	// reports as a refusal. The body is not quoted: it could echo the request.
	case ok:
		return fail(providers.Unknown, CodeUnreadableResponse, "unreadable answer: not an Arhivaar JSON reply")

	case status >= 400:
		return fail(providers.Permanent, "", "")

	default:
		return fail(providers.Unknown, "", "")
	}
}
