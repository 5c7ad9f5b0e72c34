// Package wire is Finnotech's API as blockd speaks it: the paths, the
// envelope, the request and result bodies, the token endpoint's bodies, the
// error codes and Finnotech's texts. The client (package finnotech) and its
// fake (package finnotechfake) both use it, so that the two cannot drift
// apart; being internal, nothing else can import it.
//
// The contract, with the source of each fact, is the finnotech package doc
// (finnotech/doc.go). A shape it says blockd assumed is marked ASSUMPTION
// where it is defined here, and one the code does not follow yet DEVIATION.
package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/blockd/blockd/providers"
)

// The paths of the Finnotech services, below the base URL.
const (
	// BlockPath is documented (finnotech/doc.go, "Block").
	BlockPath = "/oak/v2/clients/%s/block"
	// ASSUMPTION (finnotech/doc.go, "Unblock"): POST .../unblock, like block.
	UnblockPath = "/oak/v2/clients/%s/unblock"
	// ASSUMPTION (finnotech/doc.go, "Unblock-transfer"): POST
	// .../unblockTransfer.
	TransferPath = "/oak/v2/clients/%s/unblockTransfer"
	// ASSUMPTION (finnotech/doc.go, "Unblock-transfer inquiry"): it is
	// GET .../unblockTransferInquiry?trackId=<new>&inquiryTrackId=<transfer's>.
	TransferInquiryPath = "/oak/v2/clients/%s/unblockTransferInquiry"
	// WagesPath is documented (finnotech/doc.go, "Wages"): the last status of a
	// call, asked with a client-credential token of scope
	// boomrang:wages:get.
	WagesPath = "/dev/v2/clients/%s/wages"
	// FacilityPath is documented (finnotech/doc.go, "Facility inquiry");
	// its two verbs are the clientId and the national id.
	FacilityPath = "/credit/v2/clients/%s/users/%s/facilityInquiry"
	// TokenPath is documented (finnotech/doc.go, "Tokens").
	TokenPath = "/dev/v2/oauth2/token"
)

// Envelope statuses.
const (
	StatusDone   = "DONE"
	StatusFailed = "FAILED"
)

// Envelope is every Finnotech answer: result on success, error on failure.
type Envelope[T any] struct {
	Result  T         `json:"result,omitempty"`
	Status  string    `json:"status"`
	TrackID string    `json:"trackId"`
	Error   *APIError `json:"error,omitempty"`
}

// APIError is the error of a failed answer, outer or nested.
type APIError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// NestedFailure is the nested failure envelope the pages show (package
// doc, envelope): HTTP 200, {"result":{"response":null,"status":"FAILED",
// "error":{...}},"status":...}. The fake writes it as the result.
type NestedFailure struct {
	Response any       `json:"response"`
	Status   string    `json:"status"`
	Error    *APIError `json:"error"`
}

// required is a field a DONE answer must hold.
type required struct {
	lacking bool
	name    string
}

// missing returns the names of the required fields that are lacking.
func missing(fields ...required) []string {
	var out []string
	for _, f := range fields {
		if f.lacking {
			out = append(out, f.name)
		}
	}
	return out
}

// BlockBody is the documented block body; days is a string in the seed.
type BlockBody struct {
	Amount      int64  `json:"amount"`
	Description string `json:"description"`
	Days        string `json:"days"`
}

// BlockResult is the result of a block call; days is a string in the seed.
// Amount, Deposit and BlockDate are what a DONE answer must hold (Missing).
type BlockResult struct {
	Amount      LenientInt    `json:"amount"`
	Description string        `json:"description"`
	Deposit     string        `json:"deposit"`
	BlockDate   string        `json:"blockDate"`
	Days        NumericString `json:"days"`
}

// Missing names the fields a DONE block answer must hold and r lacks: the
// amount blocked, and the deposit and date only Finnotech knows.
func (r BlockResult) Missing() []string {
	return missing(required{!r.Amount.Set, "amount"}, required{r.Deposit == "", "deposit"}, required{r.BlockDate == "", "blockDate"})
}

// UnblockBody is the unblock body.
// ASSUMPTION (finnotech/doc.go, "Unblock"): the fields and their names; amount,
// description and days are the block's (the seed: all three are needed
// again by unblock), blockTrackId is the trackId the block call was sent
// with, deposit and blockDate are what the block answered.
type UnblockBody struct {
	Amount       int64  `json:"amount"`
	Description  string `json:"description"`
	Days         string `json:"days"`
	BlockTrackID string `json:"blockTrackId"`
	Deposit      string `json:"deposit"`
	BlockDate    string `json:"blockDate"`
}

// UnblockResult is the unblock result.
// ASSUMPTION (finnotech/doc.go, "Unblock"): {"amount","deposit","unblockDate"},
// the date Jalali YYMMDD like blockDate.
type UnblockResult struct {
	Amount      LenientInt `json:"amount"`
	Deposit     string     `json:"deposit"`
	UnblockDate string     `json:"unblockDate"`
}

// Missing names the fields a DONE unblock answer must hold and r lacks:
// the amount released and its date (the deposit is the block's).
func (r UnblockResult) Missing() []string {
	return missing(required{!r.Amount.Set, "amount"}, required{r.UnblockDate == "", "unblockDate"})
}

// TransferBody is the unblock-transfer body.
// ASSUMPTION (finnotech/doc.go, "Unblock-transfer"): the fields and their names;
// amount is the transfer's (at most the unblocked amount), description and
// days the block's (the seed: needed again by unblock-transfer),
// unblockTrackId the trackId the successful unblock call was sent with.
type TransferBody struct {
	Amount         int64  `json:"amount"`
	Description    string `json:"description"`
	Days           string `json:"days"`
	UnblockTrackID string `json:"unblockTrackId"`
	Destination    string `json:"destination"`
}

// TransferResult is the unblock-transfer result.
// ASSUMPTION (finnotech/doc.go, "Unblock-transfer"): {"amount","source",
// "destination","transferDate"}, the date Jalali YYMMDD like blockDate.
type TransferResult struct {
	Amount       LenientInt `json:"amount"`
	Source       string     `json:"source"`
	Destination  string     `json:"destination"`
	TransferDate string     `json:"transferDate"`
}

// Missing names the fields a DONE transfer answer must hold and r lacks:
// the amount moved and its date (source and destination are known to the
// caller).
func (r TransferResult) Missing() []string {
	return missing(required{!r.Amount.Set, "amount"}, required{r.TransferDate == "", "transferDate"})
}

// TransferInquiryResult is the unblock-transfer inquiry result.
// ASSUMPTION (finnotech/doc.go, "Unblock-transfer inquiry"):
// {"status":"DONE"|"FAILED"|"PENDING","amount",
// "source","destination","transferDate"}; all but status may be missing or
// empty when the transfer did not succeed.
type TransferInquiryResult struct {
	Status       string     `json:"status"`
	Amount       LenientInt `json:"amount,omitzero"`
	Source       string     `json:"source,omitempty"`
	Destination  string     `json:"destination,omitempty"`
	TransferDate string     `json:"transferDate,omitempty"`
}

// Missing names the fields a DONE inquiry answer must hold and r lacks:
// the transfer's status.
func (r TransferInquiryResult) Missing() []string { return missing(required{r.Status == "", "status"}) }

// WagesResult is the documented wages answer (finnotech/doc.go, "Wages"):
// {"wages":[...],"total":n}, the entries filtered by the trackId asked
// about; the list is empty when Finnotech holds no entry for it (yet).
type WagesResult struct {
	// Wages is nil when the answer has no list at all (then it is
	// unreadable); the fake writes an empty one as [].
	Wages []WagesEntry `json:"wages"`
	Total LenientInt   `json:"total"`
}

// Missing names the list when the answer has none.
func (r WagesResult) Missing() []string { return missing(required{r.Wages == nil, "wages"}) }

// WagesEntry is one entry of the wages answer. Amount is the fee charged;
// date is Jalali YYYYMMDDHHMMSS. Text fields are read as strings or
// numbers.
type WagesEntry struct {
	TrackID           LenientString `json:"trackId"`
	Status            string        `json:"status"`
	Amount            LenientInt    `json:"amount"`
	TransactionAmount LenientInt    `json:"transactionAmount"`
	ServiceName       string        `json:"serviceName"`
	ScopeName         string        `json:"scopeName"`
	TariffName        string        `json:"tariffName"`
	UID               LenientString `json:"uid"`
	Deposit           LenientString `json:"deposit"`
	Date              LenientString `json:"date"`
}

// TokenBody is the token endpoint's body for every grant (finnotech/doc.go,
// "Tokens"); the fields a grant does not use are left out.
type TokenBody struct {
	GrantType    string `json:"grant_type"`
	NID          string `json:"nid,omitempty"`
	Scopes       string `json:"scopes,omitempty"`
	Code         string `json:"code,omitempty"`
	RedirectURI  string `json:"redirect_uri,omitempty"`
	TokenType    string `json:"token_type,omitempty"`
	Bank         string `json:"bank,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

// Grant types and token types of the token endpoint.
const (
	GrantClientCredentials = "client_credentials"
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	TokenTypeCode          = "CODE"
	TokenTypeCC            = "CLIENT-CREDENTIAL"
)

// TokenResult is the token endpoint's result (finnotech/doc.go, "Tokens").
// lifeTime is in milliseconds; creationDate is Jalali YYYYMMDDHHmmss.
type TokenResult struct {
	Value        string            `json:"value"`
	RefreshToken string            `json:"refreshToken"`
	LifeTime     providers.FlexInt `json:"lifeTime"`
	CreationDate string            `json:"creationDate"`
	Scopes       []string          `json:"scopes"`
	Bank         string            `json:"bank,omitempty"`
	Type         string            `json:"type,omitempty"`
}

// LenientInt is a whole number sent as a JSON number or a numeric string,
// where a missing value may also come as null or "" (Set false, V 0).
// Fractions and other text are refused: money is whole rials and is never
// held in a float.
// (finnotech/doc.go, "Platform"): the facility amounts are strings in the
// seed and numbers in the official SDK; both are read.
//
// It is written as a JSON number, or null when not Set; a field tagged
// omitzero leaves out one that is not Set.
type LenientInt struct {
	V   int64
	Set bool
}

// MarshalJSON writes V as a JSON number, or null when n is not Set.
func (n LenientInt) MarshalJSON() ([]byte, error) {
	if !n.Set {
		return []byte("null"), nil
	}
	return strconv.AppendInt(nil, n.V, 10), nil
}

func (n *LenientInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*n = LenientInt{}
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("decoding integer: %w", err)
		}
		if strings.TrimSpace(s) == "" {
			*n = LenientInt{}
			return nil
		}
	}
	var v providers.FlexInt
	if err := v.UnmarshalJSON(b); err != nil {
		return err
	}
	*n = LenientInt{V: int64(v), Set: true}
	return nil
}

// LenientString is a code or text sent as a JSON string or number: a number
// is kept as written ("branchCode": 91182 reads "91182"; leading zeros a
// sender dropped cannot come back). null reads "".
type LenientString string

func (s *LenientString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*s = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return fmt.Errorf("decoding text: %w", err)
		}
		*s = LenientString(strings.TrimSpace(v))
		return nil
	}
	var num json.Number
	if err := json.Unmarshal(b, &num); err != nil {
		return fmt.Errorf("decoding text %s: want a string or a number", b)
	}
	*s = LenientString(num.String())
	return nil
}

// NumericString is a whole number Finnotech sends as a numeric string
// ("days": "12" in the seed's block answer). It is read as
// providers.FlexInt is (a number or a numeric string) and written as a
// string.
type NumericString int64

// MarshalJSON writes n as a JSON string of its digits.
func (n NumericString) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, strconv.FormatInt(int64(n), 10)), nil
}

func (n *NumericString) UnmarshalJSON(b []byte) error {
	var v providers.FlexInt
	if err := v.UnmarshalJSON(b); err != nil {
		return err
	}
	*n = NumericString(v)
	return nil
}
