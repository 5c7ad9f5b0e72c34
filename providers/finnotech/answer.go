package finnotech

import (
	"bytes"
	"encoding/json"

	"github.com/blockd/blockd/providers/finnotech/internal/wire"
)

// answer is a Finnotech answer read field by field, so that one field of an
// unexpected type (a result that is a string, a trackId that is a number)
// does not hide the others: the error code and message of a failure are
// kept whatever the rest holds.
//
// Finnotech answers a failure in two envelopes (finnotech/doc.go, "Envelope"):
// {"status":"FAILED","error":{...}} and the nested
// {"result":{"response":null,"status":"FAILED","error":{...}},"status":...}.
// answer keeps the outer status and error and, when result is an object,
// its status and error too.
type answer struct {
	// object: the body is a JSON object; nothing else of answer is set
	// when it is not.
	object  bool
	status  string
	trackID string
	err     *wire.APIError
	// result is the raw result; nil when the answer has none.
	result json.RawMessage
	// innerStatus and innerErr are result.status and result.error, when
	// result is an object holding them.
	innerStatus string
	innerErr    *wire.APIError
}

// readAnswer reads body as leniently as it can.
func readAnswer(body []byte) answer {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil || top == nil {
		return answer{}
	}
	a := answer{object: true, status: text(top["status"]), trackID: text(top["trackId"]), err: apiError(top["error"])}
	if r := top["result"]; len(r) > 0 && !bytes.Equal(bytes.TrimSpace(r), []byte("null")) {
		a.result = r
		var inner map[string]json.RawMessage
		if json.Unmarshal(r, &inner) == nil {
			a.innerStatus, a.innerErr = text(inner["status"]), apiError(inner["error"])
		}
	}
	return a
}

// deadTokenError returns the error of a that is a dead-token signal, or
// nil.
func (a answer) deadTokenError(status int) *wire.APIError {
	for _, e := range []*wire.APIError{a.innerErr, a.err} {
		if e != nil && isDeadToken(status, e.Code, e.Message) {
			return e
		}
	}
	return nil
}

// failure returns the error that explains a failed answer: a dead-token
// signal wherever it is, else the nested error (the bank's, the more
// precise) when it says anything, else the outer one. It is never nil.
func (a answer) failure(status int) wire.APIError {
	if e := a.deadTokenError(status); e != nil {
		return *e
	}
	if e := a.innerErr; e != nil && (e.Code != "" || e.Message != "") {
		return *e
	}
	if a.err != nil {
		return *a.err
	}
	return wire.APIError{}
}

// text reads a JSON string or number as text; anything else is "".
func text(raw json.RawMessage) string {
	var s wire.LenientString
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return string(s)
}

// apiError reads an error object leniently: nil when there is none (absent
// or null), its code and message as text when they are strings or numbers,
// and a bare string as the message.
func apiError(raw json.RawMessage) *wire.APIError {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) == nil {
		return &wire.APIError{Code: text(fields["code"]), Message: text(fields["message"])}
	}
	return &wire.APIError{Message: text(raw)}
}
