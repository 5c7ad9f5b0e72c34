package finnotech

import (
	"errors"
	"net/http"
	"strings"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/providers/finnotech/internal/wire"
)

// classify is the one table that decides what a failed Finnotech call
// means. status is the HTTP status, code and msg the error of the answer
// (the outer one or the nested one, see Client; empty when the answer had
// none). It returns the class and the code to report: the provider's own,
// or one of ours where ours says more.
//
// The first matching row wins:
//
//	dead token: 401, UNAUTHORIZED, VALIDATION_ERROR "invalid token"    Retryable  TOKEN_EXPIRED
//	"duplicate tracking number"                                       Permanent  DUPLICATE_TRACK_ID
//	"provider not responding"                                         Unknown (the bank's outcome is not known)
//	"insufficient balance"                                            Permanent  INSUFFICIENT_BALANCE
//	the other business texts (finnotech/doc.go, "Error codes")        Permanent
//	429 too many requests                                             Retryable
//	408, 500, 502, 503, 504 and any other 5xx                         Unknown (may have been applied)
//	any other 4xx: 403 without a dead-token signal, VALIDATION_ERROR  Permanent
//	2xx whose envelope (outer or nested) says FAILED, with an error   Permanent
//	2xx FAILED without any error code or message                      Unknown (not explained)
//	anything else                                                     Unknown
//
// A 403 alone is not a dead token: the pages name the dead token by its
// code and message (UNAUTHORIZED, or VALIDATION_ERROR "invalid token"),
// and a 403 without them is a refusal of this call (finnotech/doc.go,
// "Tokens").
func classify(status int, code, msg string) (providers.Class, string) {
	text := normalize(msg)
	switch {
	case isDeadToken(status, code, msg):
		return providers.Retryable, CodeTokenExpired

	case strings.Contains(text, normalize(wire.MsgDuplicateTrackID)):
		return providers.Permanent, CodeDuplicateTrackID

	// The bank behind Finnotech did not answer Finnotech: whether it applied
	// the call is not known, and the money pages say never to repeat such a
	// call but to check it (finnotech/doc.go, "Unknown outcomes").
	case strings.Contains(text, normalize(wire.MsgProviderNotResponding)):
		return providers.Unknown, code

	// A transfer refused for insufficient balance may be sent again for
	// 1000 rial less (finnotech/doc.go, "Unblock-transfer"); the caller needs to
	// tell it from other refusals.
	case strings.Contains(text, normalize(wire.MsgInsufficientBalance)):
		return providers.Permanent, CodeInsufficientBalance

	case containsAny(text, wire.MsgUserBlocked, wire.MsgUserInactive, wire.MsgInvalidAccount,
		wire.MsgInvalidAmount, wire.MsgAmountOverLimit,
		wire.MsgTransactionNotFound, wire.MsgInvalidTrackID, wire.MsgNotInWhitelist):
		return providers.Permanent, code

	case status == http.StatusTooManyRequests:
		return providers.Retryable, code

	// A timeout or server error after the request was sent: the call may
	// have been applied (finnotech/doc.go, "Unknown outcomes": never repeat,
	// ask wages).
	case status == http.StatusRequestTimeout || status >= 500:
		return providers.Unknown, code

	case status >= 400:
		return providers.Permanent, code

	case status >= 200 && status < 300 && (code != "" || text != ""):
		return providers.Permanent, code

	default:
		return providers.Unknown, code
	}
}

// isDeadToken reports whether an answer is Finnotech's dead-token signal:
// HTTP 401, code UNAUTHORIZED, or VALIDATION_ERROR "invalid token" (the
// official SDK's signal). ASSUMPTION (finnotech/doc.go, "Tokens"): the
// three mean the same; the call was refused before it was applied.
func isDeadToken(status int, code, msg string) bool {
	return status == http.StatusUnauthorized || code == wire.CodeUnauthorized ||
		code == wire.CodeValidation && strings.Contains(strings.ToLower(normalize(msg)), wire.MsgInvalidToken)
}

// IsTokenExpired reports whether err is Finnotech's dead-token signal. The
// call was not applied and the token was invalidated; retry with a new
// trackId.
func IsTokenExpired(err error) bool {
	var pe *providers.Error
	return errors.As(err, &pe) && pe.Provider == provider && pe.Code == CodeTokenExpired
}

// IsInsufficientBalance reports whether err is Finnotech's insufficient
// balance refusal (Code CodeInsufficientBalance). The call was not applied.
func IsInsufficientBalance(err error) bool {
	var pe *providers.Error
	return errors.As(err, &pe) && pe.Provider == provider && pe.Code == CodeInsufficientBalance
}

func containsAny(text string, msgs ...string) bool {
	for _, m := range msgs {
		if strings.Contains(text, normalize(m)) {
			return true
		}
	}
	return false
}

// normalize makes Persian texts comparable: Arabic yeh and kaf become
// Persian ones, zero-width non-joiners and runs of spaces become one space.
func normalize(s string) string {
	s = strings.NewReplacer(
		"\u064A", "\u06CC", // Arabic yeh -> Persian yeh
		"\u0649", "\u06CC", // alef maksura -> Persian yeh
		"\u0643", "\u06A9", // Arabic kaf -> keheh
		"\u200C", " ", // zero-width non-joiner
	).Replace(s)
	return strings.Join(strings.Fields(s), " ")
}
