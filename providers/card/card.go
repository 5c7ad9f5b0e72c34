// Package card is the card platform's (Fiserv FirstVision / VisionPLUS)
// account blockUnblock client and adapter.
//
// The Client speaks the platform's JSON API: a client-credentials Bearer
// token from POST /v1/api/oauth/token, cached by a TokenSource and fetched
// again shortly before it expires or after the platform refused it;
// PUT /v1/accounts/{accountId}/blockUnblock to put a block code letter into
// one of the account's two slots (blockCode1, blockCode2) or, with a single
// space, to remove it; and GET /v1/accounts/{accountId}/details, the state
// inquiry that resolves a call of unknown outcome. Failures come as a JSON
// array of errors whose "invalid-params" entries start with the VisionPLUS
// code ("V5BS0010SF: Update Request - Record not found"). Every failure is
// a *providers.Error whose Class says whether the call may have been
// applied (see classify.go).
//
// The body of a blockUnblock call names only the slot being changed: a
// space in the other slot would remove that slot's code. A new block code
// goes into the slot asked when it is free, else into the other slot when
// that one is free (the page's "unused entry"), else, both in use, into the
// slot asked only when its priority is strictly greater than the code
// already there; otherwise the platform keeps the old code and says so
// (V5BS0125SC / V5BS0127SC), or answers 200 with the old code, which the
// Client reports as CodeBlockCodeNotApplied. A block is therefore taken
// when either slot holds its code, and the Result says which slot
// (Result.CodeSlot). A kept code also answers the replay of a block that
// already succeeded, so the Adapter checks Details before it lets such an
// answer stand as a refusal.
//
// The blockUnblock call has no idempotency key and the Client never
// retries: a Retryable failure may be sent again, an Unknown one is resolved
// by Details, never by sending it again blindly. Details proves a block
// applied when a slot holds its code; an account state that does not show
// the call's effect proves it not applied only once the call can no longer
// land (providers.Request.CannotLandAfter; package doc, Unknown outcomes).
//
// The Adapter maps a providers.Request onto the Client. Package cardfake,
// beside this one, simulates the platform for tests and development; the
// paths, bodies, error entry and codes the two share are written once, in
// internal/wire.
//
// The blockUnblock call and its codes are documented
// (card-account-block-unblock.seed.txt); the rest follows the platform's
// public documentation as NOTES.md section 6 records it, and what neither
// states is blockd's assumption, shared by the client and the sandbox and
// marked "ASSUMPTION (DECISIONS.md)" where it is used.
package card

import (
	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/schemas"
)

// provider names the card platform in every *providers.Error of this
// package.
const provider = schemas.ProviderCard

// Codes this package puts in providers.Error.Code in place of, or where
// there is no, platform code.
const (
	// CodeTokenExpired: the platform refused the Bearer token (errorCode
	// 240002, 240003, 240004 or 240101, or HTTP 401). The call was not
	// applied; the token was dropped, and the next call fetches a new one.
	CodeTokenExpired = providers.CodeTokenExpired
	// CodeBlockCodeNotApplied: the platform answered 200 but neither slot
	// holds the code sent; an existing code of higher or equal priority was
	// kept.
	CodeBlockCodeNotApplied = "BLOCK_CODE_NOT_APPLIED"
	// CodeUnexpectedState: the platform answered 200 but the account does
	// not show what the call asked in a way the documents do not explain (a
	// removal that left a code in its slot). Whether the call was applied
	// is not known.
	CodeUnexpectedState = "UNEXPECTED_STATE"
	// CodeUnsupported: the adapter does not carry out this command kind.
	CodeUnsupported = "UNSUPPORTED"
	// CodeNoToken: no token could be had; nothing was sent.
	CodeNoToken = "NO_TOKEN"
	// CodeBadRequest: the request could not be built; nothing was sent.
	CodeBadRequest = "BAD_REQUEST"
	// CodeUnreadableResponse: an answer came but could not be read, so
	// whether the call was applied is not known.
	CodeUnreadableResponse = "UNREADABLE_RESPONSE"
)

// Account is the block code state of one card platform account, as the
// blockUnblock and details calls answer it.
type Account struct {
	// AccountID is the 19-character, zero-padded account id.
	AccountID string `json:"accountId"`
	// BlockCode1 and BlockCode2 are the codes in the two slots: a letter
	// A–Z, or "" when the slot is empty (the platform sends a space).
	BlockCode1 string `json:"blockCode1"`
	// BlockCode1Date is the date slot 1 last changed, as the platform
	// formats it (DD/MM/YYYY or MM/DD/YYYY, per its configuration); "" when
	// it never did.
	BlockCode1Date string `json:"blockCode1Date"`
	BlockCode2     string `json:"blockCode2"`
	BlockCode2Date string `json:"blockCode2Date"`
	// BusinessUnit is the organisation the account belongs to, 1–998.
	BusinessUnit int `json:"businessUnit"`
}

// BlockCode returns the code in slot (1 or 2), "" when the slot is empty
// or there is no such slot.
func (a Account) BlockCode(slot int) string {
	switch slot {
	case 1:
		return a.BlockCode1
	case 2:
		return a.BlockCode2
	default:
		return ""
	}
}

// BlockCodeDate returns the date slot (1 or 2) last changed.
func (a Account) BlockCodeDate(slot int) string {
	switch slot {
	case 1:
		return a.BlockCode1Date
	case 2:
		return a.BlockCode2Date
	default:
		return ""
	}
}
