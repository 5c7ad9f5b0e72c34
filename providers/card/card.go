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
	// CodeBlockCodeNotApplied: the platform answered 200 but the slot does
	// not hold the code sent; an existing code of higher or equal priority
	// was kept.
	CodeBlockCodeNotApplied = "BLOCK_CODE_NOT_APPLIED"
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
