package card

import (
	"errors"
	"net/http"

	"github.com/blockd/blockd/providers"
)

// Gateway errorCode values: the platform's common error codes, to which the
// seed refers (NOTES.md 6.2).
//
// ASSUMPTION (DECISIONS.md): the retry class of each code is blockd's
// reading of NOTES.md 6.2; the platform states none.
const (
	codeAuthNotInitialized  = "240001"
	codeAuthHeaderMissing   = "240002"
	codeBearerMissing       = "240003"
	codeBearerInvalid       = "240004"
	codePayloadInvalid      = "240005"
	codePayloadEmpty        = "240006"
	codeNotReadable         = "240007"
	codeArgsInvalid         = "240008"
	codeFieldMissing        = "240009"
	codeConstraintViolated  = "240010"
	codeHeaderMissing       = "240011"
	codeUnauthorized        = "240101" // token expired, or bad client credentials
	codeNoSuchAPI           = "240401"
	codeMethodNotAllowed    = "240501"
	codeUnsupportedMedia    = "241501"
	codeNoContentType       = "241502"
	codeJSONOnly            = "241503"
	codeOctetStreamOnly     = "241504"
	codeInternalError       = "250001"
	codeServiceUnavailable  = "250301"
	codeBadRequest          = "340001"
	codeRecordNotFound      = "440401"
	codeBusinessRuleRefusal = "442201"
	// ASSUMPTION (DECISIONS.md): a VisionPLUS validation refusal (HTTP 400,
	// source VPL) carries errorCode 440001, by the pattern
	// <layer><HTTP status><sequence> of 440401 and 442201.
	codeVPLBadRequest = "440001"
)

// VisionPLUS codes of the blockUnblock call (the seed), the prefix of an
// invalid-params entry.
const (
	appRecordNotFound    = "V5BS0010SF" // Update Request - Record not found
	appRecordAddPending  = "V5BS0011SF" // Update Request - Record add pending
	appInvalidBU         = "V5BS4001EA" // Invalid business unit
	appBUPurged          = "V5BS4001SC" // Business unit is in purged status
	appInvalidAccount    = "V5BS4002SA" // Invalid account number
	appInvalidBlockCode1 = "V5BS0125SV" // Account - Invalid block code 1
	appInvalidBlockCode2 = "V5BS0127SV" // Account - Invalid block code 2
	appBlockCode1Kept    = "V5BS0125SC" // Block Code 1 cannot be replaced with one of the lower priority
	appBlockCode2Kept    = "V5BS0127SC" // Block Code 2 cannot be replaced with one of the lower priority
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
	// ASSUMPTION (DECISIONS.md): every bearer refusal, like the documented
	// 401 240101 "The token is expired", is answered before the call is
	// applied; a new token may succeed.
	case errorCode == codeAuthHeaderMissing || errorCode == codeBearerMissing ||
		errorCode == codeBearerInvalid || errorCode == codeUnauthorized ||
		status == http.StatusUnauthorized:
		return providers.Retryable, CodeTokenExpired

	case appCode == appRecordAddPending:
		return providers.Retryable, code
	case appCode == appRecordNotFound, appCode == appInvalidBU, appCode == appBUPurged,
		appCode == appInvalidAccount, appCode == appInvalidBlockCode1, appCode == appInvalidBlockCode2,
		appCode == appBlockCode1Kept, appCode == appBlockCode2Kept:
		return providers.Permanent, code

	case errorCode == codeServiceUnavailable:
		return providers.Retryable, code
	case errorCode == codeInternalError:
		return providers.Unknown, code
	case isPermanentErrorCode(errorCode):
		return providers.Permanent, code

	// ASSUMPTION (DECISIONS.md): a rate limit refuses the call before it is
	// applied (NOTES.md 7 lists rate limits as an open question).
	case status == http.StatusTooManyRequests:
		return providers.Retryable, code
	// A timeout or server error after the request was sent: the call may
	// have been applied (NOTES.md 6.2: verify the state, then retry).
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
	case codeAuthNotInitialized,
		codePayloadInvalid, codePayloadEmpty, codeNotReadable, codeArgsInvalid,
		codeFieldMissing, codeConstraintViolated, codeHeaderMissing, codeBadRequest,
		codeNoSuchAPI, codeMethodNotAllowed,
		codeUnsupportedMedia, codeNoContentType, codeJSONOnly, codeOctetStreamOnly,
		codeVPLBadRequest, codeRecordNotFound, codeBusinessRuleRefusal:
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
	case appBlockCode1Kept, appBlockCode2Kept, CodeBlockCodeNotApplied:
		return true
	}
	return false
}
