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
// 200; responseDescription may be a string or an object (see
// wire.Description). The first matching row wins:
//
//	ERROR with a documented code, any status              Permanent  the code
//	2xx and OK                                            success
//	429 too many requests                                 Retryable
//	503 service unavailable                               Retryable
//	ERROR with another code or none                       Unknown    the code
//	2xx that is not Arhivaar's JSON reply                 Unknown    UNREADABLE_RESPONSE
//	anything else (408, 500, 502, 504, other 5xx, other
//	4xx, 3xx, OK with a non-2xx status)                   Unknown
//
// The page documents only OK and ERROR with INVALID_ID, INVALID_BLOCK or
// INVALID_NOTE (and blockd assumes INVALID_SIGNATURE for a bad signature).
// Any other answer says nothing about whether the call was applied, so it
// is Unknown, never a refusal (arhivaar/doc.go, "Error codes"): a 404 page
// or an unlisted code may come from a proxy in front of a server that went
// on with the call.
//
// ASSUMPTION (arhivaar/doc.go, "Error codes"): 429 and 503 are the two
// exceptions, by their HTTP meaning: the server did not handle the request
// (too many requests; unable to handle it now), so the call was not applied
// and a later attempt may succeed. A 502 is not among them: a gateway says
// it then got no good answer from the server behind it, which may have
// carried the call out, and that call could still land after the
// account's next command (arhivaar/doc.go, "Unknown outcomes").
func classify(status int, body []byte) *providers.Error {
	var r wire.Reply
	readable := json.Unmarshal(body, &r) == nil &&
		(r.Response == wire.ResponseOK || r.Response == wire.ResponseError)
	isError := readable && r.Response == wire.ResponseError
	code := ""
	if isError {
		code = string(r.ResponseDescription)
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

	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		return fail(providers.Retryable, code, "")

	case isError && code != "":
		return fail(providers.Unknown, code, "undocumented error code")
	case isError:
		return fail(providers.Unknown, "", "error reply without a code")

	// A 2xx that is not Arhivaar's JSON reply proves nothing either way. The
	// body is not quoted: it could echo the request.
	case ok:
		return fail(providers.Unknown, CodeUnreadableResponse, "unreadable answer: not an Arhivaar JSON reply")

	default:
		return fail(providers.Unknown, "", "")
	}
}
