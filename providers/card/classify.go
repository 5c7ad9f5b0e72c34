package card

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/providers/card/internal/wire"
)

// classify is the one table that decides what a failed card platform call
// means. status is the HTTP status, errorCode the gateway errorCode and
// appCode the VisionPLUS code of the first invalid-params entry (each ""
// when the answer had none). It returns the class and the code to report:
// CodeTokenExpired for a dead token, else appCode when there is one, else
// errorCode.
//
// The first matching row wins:
//
//	240002, 240003, 240004, 240101, or HTTP 401     Retryable  TOKEN_EXPIRED (the Client drops the token)
//	V5BS0011SF record add pending                   Retryable  (the account is still being boarded)
//	V5BS0010SF, V5BS4001EA, V5BS4001SC, V5BS4002SA,
//	V5BS0125SV, V5BS0127SV                          Permanent
//	V5BS0125SC, V5BS0127SC                          Permanent  (an existing code of higher or equal priority was kept)
//	250301 service unavailable                      Retryable
//	250001 internal error                           Unknown    (verify the state first)
//	240001, 240005–240011, 340001, 240401, 240501,
//	241501–241504, 440001, 440401, 442201           Permanent
//	HTTP 429                                        Retryable
//	HTTP 408, 504 and any other 5xx                 Unknown
//	any other 4xx                                   Permanent
//	anything else                                   Unknown
func classify(status int, errorCode, appCode string) (providers.Class, string) {
	code := appCode
	if code == "" {
		code = errorCode
	}
	switch {
	// ASSUMPTION (card/doc.go, "Error codes"): every bearer refusal, like the
	// documented 401 240101 "The token is expired", is answered before the
	// call is applied; a new token may succeed.
	case errorCode == wire.CodeAuthHeaderMissing || errorCode == wire.CodeBearerMissing ||
		errorCode == wire.CodeBearerInvalid || errorCode == wire.CodeUnauthorized ||
		status == http.StatusUnauthorized:
		return providers.Retryable, CodeTokenExpired

	case appCode == wire.AppRecordAddPending:
		return providers.Retryable, code
	case appCode == wire.AppRecordNotFound, appCode == wire.AppInvalidBU, appCode == wire.AppBUPurged,
		appCode == wire.AppInvalidAccount, appCode == wire.AppInvalidBlockCode1, appCode == wire.AppInvalidBlockCode2,
		appCode == wire.AppBlockCode1Kept, appCode == wire.AppBlockCode2Kept:
		return providers.Permanent, code

	case errorCode == wire.CodeServiceUnavailable:
		return providers.Retryable, code
	case errorCode == wire.CodeInternalError:
		return providers.Unknown, code
	case isPermanentErrorCode(errorCode):
		return providers.Permanent, code

	// ASSUMPTION (card/doc.go, "Error codes"): a rate limit refuses the call
	// before it is applied; the platform documents no rate limit.
	case status == http.StatusTooManyRequests:
		return providers.Retryable, code
	// A timeout or server error after the request was sent: the call may
	// have been applied (card/doc.go, "Unknown outcomes": read the state).
	// DEVIATION (card/doc.go, "Where the code does not follow this yet"):
	// the contract takes any other unlisted answer as unknown too; the
	// "any other 4xx" row below refuses it Permanent.
	case status == http.StatusRequestTimeout || status >= 500:
		return providers.Unknown, code
	case status >= 400:
		return providers.Permanent, code
	default:
		return providers.Unknown, code
	}
}

// isPermanentErrorCode reports whether a gateway errorCode refuses the call
// for good: configuration, payload, path, method, media type, record not
// found, business rule.
func isPermanentErrorCode(errorCode string) bool {
	switch errorCode {
	case wire.CodeAuthNotInitialized,
		wire.CodePayloadInvalid, wire.CodePayloadEmpty, wire.CodeNotReadable, wire.CodeArgsInvalid,
		wire.CodeFieldMissing, wire.CodeConstraintViolated, wire.CodeHeaderMissing, wire.CodeBadRequest,
		wire.CodeNoSuchAPI, wire.CodeMethodNotAllowed,
		wire.CodeUnsupportedMedia, wire.CodeNoContentType, wire.CodeJSONOnly, wire.CodeOctetStreamOnly,
		wire.CodeVPLBadRequest, wire.CodeRecordNotFound, wire.CodeBusinessRuleRefusal:
		return true
	}
	return false
}

// IsTokenExpired reports whether err is the platform's dead-token signal.
// The call was not applied and the token was dropped; the next call fetches
// a new one.
func IsTokenExpired(err error) bool {
	var pe *providers.Error
	return errors.As(err, &pe) && pe.Provider == provider && pe.Code == CodeTokenExpired
}

// IsCodeKept reports whether err says the slot kept an existing code of
// higher or equal priority (V5BS0125SC, V5BS0127SC, or a 200 whose slot
// does not hold the code sent). A replay of a block that already succeeded
// is answered so too: ask Details before treating it as a refusal.
func IsCodeKept(err error) bool {
	var pe *providers.Error
	if !errors.As(err, &pe) || pe.Provider != provider {
		return false
	}
	switch pe.Code {
	case wire.AppBlockCode1Kept, wire.AppBlockCode2Kept, CodeBlockCodeNotApplied:
		return true
	}
	return false
}

// parseErrors reads an error answer: the documented array, or a single
// entry not wrapped in one.
func parseErrors(data []byte) ([]wire.ErrorEntry, error) {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '{' {
		var e wire.ErrorEntry
		if err := json.Unmarshal(data, &e); err != nil {
			return nil, fmt.Errorf("decoding error entry: %w", err)
		}
		return []wire.ErrorEntry{e}, nil
	}
	var es []wire.ErrorEntry
	if err := json.Unmarshal(data, &es); err != nil {
		return nil, fmt.Errorf("decoding error array: %w", err)
	}
	return es, nil
}

// describe returns the gateway errorCode, the VisionPLUS code and the
// message of an error answer. The VisionPLUS code is the prefix of the
// first invalid-params entry that has one; the message is that entry's
// text, else the first invalid-params entry, the detail or the title.
func describe(es []wire.ErrorEntry) (errorCode, appCode, msg string) {
	if len(es) == 0 {
		return "", "", ""
	}
	e := es[0]
	errorCode = strings.TrimSpace(string(e.ErrorCode))
	for _, p := range e.InvalidParams {
		if code, text, ok := parseInvalidParam(p); ok {
			return errorCode, code, text
		}
	}
	switch {
	case len(e.InvalidParams) > 0 && strings.TrimSpace(e.InvalidParams[0]) != "":
		msg = strings.TrimSpace(e.InvalidParams[0])
	case e.Detail != "" && e.Title != "":
		msg = e.Title + ": " + e.Detail
	default:
		msg = e.Title + e.Detail
	}
	return errorCode, "", msg
}

// parseInvalidParam splits an invalid-params entry into its VisionPLUS code
// and text, as ^([A-Z0-9]{10})\s*:\s*(.*)$ would: "V5BS0010SF: Record not
// found" and "V7RS4003EQ : text" both have one, "businessUnit: The maximum
// value for this field is 999" does not.
func parseInvalidParam(p string) (code, text string, ok bool) {
	p = strings.TrimSpace(p)
	if len(p) < 11 {
		return "", "", false
	}
	for i := range 10 {
		c := p[i]
		upperOrDigit := c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !upperOrDigit {
			return "", "", false
		}
	}
	rest := strings.TrimLeft(p[10:], " \t\r\n\f\v")
	if !strings.HasPrefix(rest, ":") {
		return "", "", false
	}
	return p[:10], strings.TrimSpace(rest[1:]), true
}
