package finnotech

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/blockd/blockd/providers"
)

// The paths of the Finnotech services, below the base URL.
const (
	// blockPath is documented (finnotech-oak-block.seed.txt).
	blockPath = "/oak/v2/clients/%s/block"
	// ASSUMPTION (DECISIONS.md): unblock is POST .../unblock, like block.
	unblockPath = "/oak/v2/clients/%s/unblock"
	// ASSUMPTION (DECISIONS.md): unblock-transfer is POST .../unblockTransfer.
	transferPath = "/oak/v2/clients/%s/unblockTransfer"
	// ASSUMPTION (DECISIONS.md): the unblock-transfer inquiry is
	// GET .../unblockTransferInquiry?trackId=<new>&inquiryTrackId=<transfer's>.
	transferInquiryPath = "/oak/v2/clients/%s/unblockTransferInquiry"
	// wagesPath is documented (NOTES.md 1.4): the last status of a call.
	wagesPath = "/dev/v2/clients/%s/wages"
	// facilityPath is documented (finnotech-credit-facility-inquiry.seed.txt);
	// its two verbs are the clientId and the national id.
	facilityPath = "/credit/v2/clients/%s/users/%s/facilityInquiry"
	// tokenPath is documented (NOTES.md 1.2).
	tokenPath = "/dev/v2/oauth2/token"
)

// Envelope statuses.
const (
	statusDone   = "DONE"
	statusFailed = "FAILED"
)

// envelope is every Finnotech answer: result on success, error on failure.
type envelope[T any] struct {
	Result  T         `json:"result,omitempty"`
	Status  string    `json:"status"`
	TrackID string    `json:"trackId"`
	Error   *apiError `json:"error,omitempty"`
}

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// blockBody is the documented block body; days is a string in the seed.
type blockBody struct {
	Amount      int64  `json:"amount"`
	Description string `json:"description"`
	Days        string `json:"days"`
}

type blockResult struct {
	Amount      providers.FlexInt `json:"amount"`
	Description string            `json:"description"`
	Deposit     string            `json:"deposit"`
	BlockDate   string            `json:"blockDate"`
	Days        providers.FlexInt `json:"days"`
}

// unblockBody is the unblock body.
// ASSUMPTION (DECISIONS.md): the fields and their names; amount equals the
// block's, blockTrackId is the trackId the block call was sent with.
type unblockBody struct {
	Amount       int64  `json:"amount"`
	BlockTrackID string `json:"blockTrackId"`
	Deposit      string `json:"deposit"`
	BlockDate    string `json:"blockDate"`
	Description  string `json:"description"`
}

// unblockResult is the unblock result.
// ASSUMPTION (DECISIONS.md): {"amount","deposit","unblockDate"}, the date
// Jalali YYMMDD like blockDate.
type unblockResult struct {
	Amount      providers.FlexInt `json:"amount"`
	Deposit     string            `json:"deposit"`
	UnblockDate string            `json:"unblockDate"`
}

// transferBody is the unblock-transfer body.
// ASSUMPTION (DECISIONS.md): the fields and their names; unblockTrackId is
// the trackId the successful unblock call was sent with.
type transferBody struct {
	Amount         int64  `json:"amount"`
	UnblockTrackID string `json:"unblockTrackId"`
	Destination    string `json:"destination"`
	Description    string `json:"description"`
}

// transferResult is the unblock-transfer result.
// ASSUMPTION (DECISIONS.md): {"amount","source","destination","transferDate"},
// the date Jalali YYMMDD like blockDate.
type transferResult struct {
	Amount       providers.FlexInt `json:"amount"`
	Source       string            `json:"source"`
	Destination  string            `json:"destination"`
	TransferDate string            `json:"transferDate"`
}

// transferInquiryResult is the unblock-transfer inquiry result.
// ASSUMPTION (DECISIONS.md): {"status":"DONE"|"FAILED"|"PENDING","amount",
// "source","destination","transferDate"}; all but status may be missing or
// empty when the transfer did not succeed.
type transferInquiryResult struct {
	Status       string     `json:"status"`
	Amount       lenientInt `json:"amount"`
	Source       string     `json:"source"`
	Destination  string     `json:"destination"`
	TransferDate string     `json:"transferDate"`
}

// wagesResult is the wages answer for one trackId.
// ASSUMPTION (DECISIONS.md): {"trackId","status","service"}; the documented
// page lists more fields (transactionAmount, scopeName, date, amount) that
// blockd does not need. ASSUMPTION (DECISIONS.md, extended): "response"
// holds the call's result object when the call is DONE.
type wagesResult struct {
	TrackID  string          `json:"trackId"`
	Status   string          `json:"status"`
	Service  string          `json:"service,omitempty"`
	Response json.RawMessage `json:"response,omitempty"`
}

// tokenBody is the token endpoint's body for every grant (NOTES.md 1.2);
// the fields a grant does not use are left out.
type tokenBody struct {
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
	grantClientCredentials = "client_credentials"
	grantAuthorizationCode = "authorization_code"
	grantRefreshToken      = "refresh_token"
	tokenTypeCode          = "CODE"
	tokenTypeCC            = "CLIENT-CREDENTIAL"
)

// tokenResult is the token endpoint's result (NOTES.md 1.2). lifeTime is in
// milliseconds; creationDate is Jalali YYYYMMDDHHmmss.
type tokenResult struct {
	Value        string            `json:"value"`
	RefreshToken string            `json:"refreshToken"`
	LifeTime     providers.FlexInt `json:"lifeTime"`
	CreationDate string            `json:"creationDate"`
	Scopes       []string          `json:"scopes"`
	Bank         string            `json:"bank,omitempty"`
	Type         string            `json:"type,omitempty"`
}

// lenientInt is a whole number sent as a JSON number or a numeric string,
// where a missing value may also come as null or "" (Set false, V 0).
// Fractions and other text are refused: money is whole rials and is never
// held in a float.
// ASSUMPTION (NOTES.md 1.6, 4): the facility amounts are strings in the
// seed and numbers in the official SDK; both are read.
type lenientInt struct {
	V   int64
	Set bool
}

func (n *lenientInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*n = lenientInt{}
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("decoding integer: %w", err)
		}
		if strings.TrimSpace(s) == "" {
			*n = lenientInt{}
			return nil
		}
	}
	var v providers.FlexInt
	if err := v.UnmarshalJSON(b); err != nil {
		return err
	}
	*n = lenientInt{V: int64(v), Set: true}
	return nil
}

// lenientString is a code or text sent as a JSON string or number: a number
// is kept as written ("branchCode": 91182 reads "91182"; leading zeros a
// sender dropped cannot come back). null reads "".
type lenientString string

func (s *lenientString) UnmarshalJSON(b []byte) error {
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
		*s = lenientString(strings.TrimSpace(v))
		return nil
	}
	var num json.Number
	if err := json.Unmarshal(b, &num); err != nil {
		return fmt.Errorf("decoding text %s: want a string or a number", b)
	}
	*s = lenientString(num.String())
	return nil
}
