package wire

// Error codes and business texts Finnotech sends (finnotech/doc.go, "Error
// codes").
const (
	CodeValidation   = "VALIDATION_ERROR"
	CodeUnauthorized = "UNAUTHORIZED"
	// MsgInvalidToken is the official SDK's dead-token signal, sent with
	// VALIDATION_ERROR.
	MsgInvalidToken = "invalid token"

	MsgDuplicateTrackID      = "شماره پیگیری تکراری است"                               // duplicate tracking number
	MsgUserBlocked           = "نام کاربر مسدود است"                                   // user blocked
	MsgUserInactive          = "کاربر غیر فعال است"                                    // user inactive
	MsgInvalidAccount        = "حساب نامعتبر است"                                      // invalid account
	MsgInvalidAmount         = "مبلغ نامعتبر است"                                      // invalid amount
	MsgInsufficientBalance   = "موجودی حساب کافی نیست"                                 // insufficient balance
	MsgAmountOverLimit       = "مبلغ بیشتر از حد مجاز است"                             // amount over limit
	MsgTransactionNotFound   = "تراکنش یافت نشد"                                       // transaction not found
	MsgInvalidTrackID        = "شماره پیگیری نامعتبر است"                              // invalid tracking number
	MsgProviderNotResponding = "سرویس دهنده جوابگو نیست"                               // provider not responding
	MsgNotInWhitelist        = "شماره حساب ارسالی با شماره حساب وایت لیست تطابق ندارد" // account not in whitelist
)

// Sandbox answers. The Persian texts are Finnotech's (finnotech/doc.go,
// "Error codes"); the others are the sandbox's own (finnotech/doc.go, "The
// sandbox").
const (
	MsgBadToken       = "خطای دریافتی از سرور احراز هویت: توکن ارسالی نامعتبر است" // auth server: the token sent is invalid
	MsgBadTrackID     = "invalid trackId"
	MsgBadContentType = "content type must be application/json"
	MsgBadBody        = "invalid json body"
	MsgBadAmount      = "invalid amount"
	MsgBadDays        = "invalid days"
	MsgNoDescription  = "description is required"
	MsgNoBlockTrackID = "blockTrackId is required"
	// The unblock's and unblock-transfer's refusal of days or a
	// description that are not the block's, worded like the seed's rule
	// for the amount. ASSUMPTION (finnotech/doc.go, "Unblock"): their texts.
	MsgDaysMismatch        = "days must equal the blocked days"
	MsgDescriptionMismatch = "description must equal the block's description"
	// The unblock-transfer's refusals. ASSUMPTION (finnotech/doc.go,
	// "Unblock-transfer"): their texts, the seed states only the rules;
	// MsgSameAccounts is transferTo's documented text [FDOC 148].
	MsgNoUnblockTrackID   = "unblockTrackId is required"
	MsgNoDestination      = "destination is required"
	MsgAlreadyTransferred = "a successful unblock-transfer was already made for this unblock"
	MsgSameAccounts       = "Source And destination accounts are the same!"
	// CodeTooManyRequests and MsgTooManyRequests are the sandbox's "try
	// again later" refusal (HTTP 429). ASSUMPTION (finnotech/doc.go,
	// "Error codes").
	CodeTooManyRequests = "TOO_MANY_REQUESTS"
	MsgTooManyRequests  = "too many requests, try again later"
	// CodeRequestTimeout and MsgRequestTimeout are the sandbox's HTTP 408
	// answer. ASSUMPTION (finnotech/doc.go, "Error codes"): the pages name
	// the 408 of a money call, not its code or text.
	CodeRequestTimeout = "REQUEST_TIMEOUT"
	MsgRequestTimeout  = "request timeout"
	// MsgMinimumAmount is the SERVICE_CALL_ERROR text the pages show in
	// the nested failure envelope [FDOC, per finnotech/doc.go, "Error
	// codes"].
	MsgMinimumAmount = "Minimum amount is 10000 Rials."
	// CodeServiceCall is Finnotech's code for an error of the bank behind
	// it (finnotech/doc.go, "Error codes").
	CodeServiceCall = "SERVICE_CALL_ERROR"
	// The refusals of the inquiries and the token endpoint, in the
	// sandbox's own words.
	MsgNoInquiryTrackID   = "inquiryTrackId is required"
	MsgBadNationalID      = "national id must be 10 or 11 digits"
	MsgTokenNotForService = "token does not give access to this service"
	// CodeForbidden is the sandbox's code for a token that is alive but
	// not of the kind or scope the service needs. ASSUMPTION (finnotech/doc.go,
	// "Tokens"): Finnotech's own code for it is not documented.
	CodeForbidden      = "FORBIDDEN"
	MsgBadClient       = "invalid client credentials"
	MsgBadGrant        = "invalid grant_type"
	MsgBadCode         = "invalid code"
	MsgNoBank          = "bank is required"
	MsgBadRefreshToken = "invalid refresh token"
	MsgBadNID          = "nid must be 10 digits"
	MsgNoScopes        = "scopes is required"
	MsgBadTokenType    = "invalid token_type"
	// MsgNoFacility is the seed's "no facility" text.
	MsgNoFacility = "هیچ تسهیلات و تعهدی یافت نشد" // no facility or obligation found
)
