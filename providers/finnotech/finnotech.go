package finnotech

import (
	"context"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/schemas"
)

// provider names Finnotech in every *providers.Error of this package.
const provider = schemas.ProviderFinnotech

// Codes this package puts in providers.Error.Code in place of, or where
// there is no, Finnotech error code.
const (
	// CodeTokenExpired (providers.CodeTokenExpired): Finnotech refused the
	// token (HTTP 401, code UNAUTHORIZED, or VALIDATION_ERROR "invalid
	// token"; a 403 without one of these is a refusal of the call, not of
	// the token). The call was not applied; the token was invalidated, and
	// a retry with a new trackId gets a new one.
	CodeTokenExpired = providers.CodeTokenExpired
	// CodeDuplicateTrackID: the trackId was already used by an earlier call.
	// This call was not applied; what the earlier call did is asked with
	// CallStatus.
	CodeDuplicateTrackID = "DUPLICATE_TRACK_ID"
	// CodeUnsupported: the adapter does not carry out this command kind.
	CodeUnsupported = "UNSUPPORTED"
	// CodeMissingBlock: an unblock request came without its stored block.
	CodeMissingBlock = "MISSING_BLOCK"
	// CodeMissingHold: a transfer request came without the hold it draws on,
	// or the hold has no successful unblock.
	CodeMissingHold = "MISSING_HOLD"
	// CodeMissingTransfer: a transfer inquiry came without the trackId and
	// clientId of the transfer call it asks about.
	CodeMissingTransfer = "MISSING_TRANSFER"
	// CodeInsufficientBalance: Finnotech refused a call for insufficient
	// balance ("موجودی حساب کافی نیست"); Permanent. For an unblock-transfer
	// the documented remedy (finnotech/doc.go, "Unblock-transfer") is a new
	// transfer, with a new trackId, of 1000 rial less; whether to send it is
	// the caller's decision (finnotech/doc.go, "Rules checked before
	// sending").
	CodeInsufficientBalance = "INSUFFICIENT_BALANCE"
	// CodeNoToken: no token could be had; nothing was sent. Retryable when
	// getting one may work later (store or token endpoint unavailable),
	// Permanent when it cannot (no token stored for the clientId, or a dead
	// token without a usable refresh token: the customer must consent again).
	CodeNoToken = "NO_TOKEN"
	// CodeBadRequest: the request could not be built; nothing was sent.
	CodeBadRequest = "BAD_REQUEST"
	// CodeUnreadableResponse: an answer came but could not be read or
	// understood, so whether the call was applied is not known.
	CodeUnreadableResponse = "UNREADABLE_RESPONSE"
)

// TokenSource hands out the Bearer tokens: the authorization-code token of
// a clientId (the customer's consent, for the oak calls and the
// unblock-transfer inquiry) and the application's client-credential tokens
// by scope set (the facility inquiry and the wages call status). The
// Client calls Invalidate or InvalidateClientCredential when Finnotech says
// that token is dead, so that the next call gets a fresh one; a refused
// client-credential token never invalidates a customer's token, and the
// Client never falls back from one kind to the other.
type TokenSource interface {
	Token(ctx context.Context, clientID string) (string, error)
	Invalidate(clientID string)
	ClientCredentialSource
}

// ClientCredentialSource hands out client-credential tokens by scope set
// (Tokens does, and so does finnotechfake.StaticToken).
type ClientCredentialSource interface {
	ClientCredential(ctx context.Context, scopes ...string) (string, error)
	InvalidateClientCredential(scopes ...string)
}

// ScopeFacilityInquiry is the scope of the facility inquiry
// (finnotech/doc.go, "Facility inquiry").
const ScopeFacilityInquiry = "credit:facility-inquiry:get"

// ScopeWages is the scope of the wages service, the documented call status
// (finnotech/doc.go, "Wages"). It is asked with a client-credential token.
const ScopeWages = "boomrang:wages:get"

// CallStatus is the last status Finnotech holds for a call, by its trackId
// (finnotech/doc.go, "Wages"). The unblock-transfer inquiry answers with the same
// DONE, FAILED and PENDING.
type CallStatus string

// Call statuses: the four of the wages service, and CallAbsent, ours, for
// a wages answer without an entry for the trackId.
const (
	// CallDone: the call was applied.
	CallDone CallStatus = "DONE"
	// CallFailed: the call was not applied, and will not be.
	CallFailed CallStatus = "FAILED"
	// CallPending: the call is still being processed; ask again later.
	CallPending CallStatus = "PENDING"
	// CallUnknown: Finnotech does not know (yet) whether the call was
	// applied; ask again later. It is not "not applied" (the money pages:
	// never repeat such a call, check it).
	CallUnknown CallStatus = "UNKNOWN"
	// CallAbsent: wages holds no entry for the trackId: the call did not
	// reach Finnotech, or has not reached it yet. Not "not applied" either:
	// a call that is late may still arrive.
	CallAbsent CallStatus = "ABSENT"
)

// BlockRequest is the body of a block call.
type BlockRequest struct {
	// Amount in rials, > 0.
	Amount      int64
	Description string
	// Days the block lasts, 1–90; sent as a string, as in the seed.
	Days int
}

// BlockResponse is the result of a successful block call.
type BlockResponse struct {
	Amount      int64
	Description string
	// Deposit is the account the block was placed on.
	Deposit string
	// BlockDate is the Jalali date YYMMDD, as sent (see package jalali).
	BlockDate string
	Days      int
	// TrackID is the trackId of the envelope.
	TrackID string
}

// UnblockRequest is the body of an unblock call; every field comes from the
// stored block: the seed says the block's amount, description and days are
// needed again by the unblock (finnotech/doc.go, "Unblock").
type UnblockRequest struct {
	// Amount must equal the blocked amount.
	Amount int64
	// BlockTrackID is the trackId the successful block call was sent with.
	BlockTrackID string
	Deposit      string
	BlockDate    string
	Description  string
	// Days is the block's, 1–90; sent as a string, as in the block.
	Days int
}

// UnblockResponse is the result of a successful unblock call.
type UnblockResponse struct {
	Amount  int64
	Deposit string
	// UnblockDate is the Jalali date YYMMDD, as sent.
	UnblockDate string
	TrackID     string
}

// CallStatusResult is the wages answer about one call.
type CallStatusResult struct {
	// Status is the call's last status; CallAbsent when wages holds no
	// entry for it.
	Status CallStatus
	// Entry is the wages entry Status comes from; nil when CallAbsent.
	Entry *WagesEntry
}

// WagesEntry is one entry of the wages service (finnotech/doc.go,
// "Wages"): a call Finnotech received, its last status and what it charged
// for it.
type WagesEntry struct {
	TrackID string
	Status  CallStatus
	// Fee is the entry's "amount": the fee charged in rials, 0 when the call
	// is not DONE. It says nothing about whether the call was applied.
	Fee int64
	// TransactionAmount is the amount the call moved or held, in rials.
	TransactionAmount int64
	ServiceName       string
	ScopeName         string
	TariffName        string
	UID               string
	// Deposit is the account the call was made on.
	Deposit string
	// Date is when Finnotech recorded the call: Jalali YYYYMMDDHHMMSS, as
	// sent.
	Date string
}

// UnblockTransferRequest is the body of an unblock-transfer call: the
// transfer's amount and destination, and the block's description and days,
// which the seed says the unblock-transfer needs again (finnotech/doc.go,
// "Unblock-transfer").
type UnblockTransferRequest struct {
	// Amount in rials, at most the unblocked amount.
	Amount int64
	// UnblockTrackID is the trackId the successful unblock call was sent
	// with.
	UnblockTrackID string
	// Destination deposit number or IBAN.
	Destination string
	// Description and Days are the block's.
	Description string
	Days        int
}

// UnblockTransferResponse is the result of a successful unblock-transfer.
type UnblockTransferResponse struct {
	Amount int64
	// Source is the deposit the amount was taken from.
	Source      string
	Destination string
	// TransferDate is the Jalali date YYMMDD, as sent.
	TransferDate string
	TrackID      string
}

// TransferInquiryResponse is Finnotech's answer about an unblock-transfer.
type TransferInquiryResponse struct {
	// Status is CallDone, CallFailed or CallPending.
	Status       CallStatus
	Amount       int64
	Source       string
	Destination  string
	TransferDate string
	// TrackID is the trackId of the inquiry call.
	TrackID string
}

// FacilityResponse is the answer of a credit facility inquiry.
type FacilityResponse struct {
	// Result is the normalised answer; Result.NationalID is the national id
	// asked about (not Finnotech's echo, which the seed shows shortened).
	Result schemas.FinnotechFacilityResult
	// Message is Finnotech's text with a "no facility" answer.
	Message string
	TrackID string
}

// Resolution is what Adapter.Resolve found about a call whose outcome was
// unknown (an alias of providers.Resolution).
type Resolution = providers.Resolution
