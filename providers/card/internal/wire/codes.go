package wire

// Gateway errorCode values: the platform's common error codes, to which the
// seed refers (card/doc.go, "Error codes").
//
// ASSUMPTION (card/doc.go, "Error codes"): the retry class of each code is
// blockd's reading; the platform states none.
const (
	CodeAuthNotInitialized  = "240001"
	CodeAuthHeaderMissing   = "240002"
	CodeBearerMissing       = "240003"
	CodeBearerInvalid       = "240004"
	CodePayloadInvalid      = "240005"
	CodePayloadEmpty        = "240006"
	CodeNotReadable         = "240007"
	CodeArgsInvalid         = "240008"
	CodeFieldMissing        = "240009"
	CodeConstraintViolated  = "240010"
	CodeHeaderMissing       = "240011"
	CodeUnauthorized        = "240101" // token expired, or bad client credentials
	CodeNoSuchAPI           = "240401"
	CodeMethodNotAllowed    = "240501"
	CodeUnsupportedMedia    = "241501"
	CodeNoContentType       = "241502"
	CodeJSONOnly            = "241503"
	CodeOctetStreamOnly     = "241504"
	CodeInternalError       = "250001"
	CodeServiceUnavailable  = "250301"
	CodeBadRequest          = "340001"
	CodeRecordNotFound      = "440401"
	CodeBusinessRuleRefusal = "442201"
	// ASSUMPTION (card/doc.go, "Error codes"): a VisionPLUS validation
	// refusal (HTTP 400, source VPL) carries errorCode 440001, by the pattern
	// <layer><HTTP status><sequence> of 440401 and 442201.
	CodeVPLBadRequest = "440001"
)

// VisionPLUS codes of the blockUnblock call (the seed), the prefix of an
// invalid-params entry.
const (
	AppRecordNotFound    = "V5BS0010SF" // Update Request - Record not found
	AppRecordAddPending  = "V5BS0011SF" // Update Request - Record add pending
	AppInvalidBU         = "V5BS4001EA" // Invalid business unit
	AppBUPurged          = "V5BS4001SC" // Business unit is in purged status
	AppInvalidAccount    = "V5BS4002SA" // Invalid account number
	AppInvalidBlockCode1 = "V5BS0125SV" // Account - Invalid block code 1
	AppInvalidBlockCode2 = "V5BS0127SV" // Account - Invalid block code 2
	AppBlockCode1Kept    = "V5BS0125SC" // Block Code 1 cannot be replaced with one of the lower priority
	AppBlockCode2Kept    = "V5BS0127SC" // Block Code 2 cannot be replaced with one of the lower priority
)
