package card

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/blockd/blockd/providers"
)

// The paths of the platform's services, below the base URL.
const (
	// ASSUMPTION (DECISIONS.md): the seed names no token call; blockd uses
	// the platform's public one (NOTES.md 6.1): a JSON client_credentials
	// body answered with access_token, token_type and expires_in seconds.
	tokenPath = "/v1/api/oauth/token"
	// blockUnblockPath is documented (card-account-block-unblock.seed.txt).
	blockUnblockPath = "/v1/accounts/%s/blockUnblock"
	// ASSUMPTION (DECISIONS.md): the state inquiry is GET .../details and
	// answers at least the fields of a blockUnblock answer.
	detailsPath = "/v1/accounts/%s/details"
)

// Fixed values of the calls.
const (
	grantType = "client_credentials"
	// tokenScope is the scope the account calls need (NOTES.md 6.1).
	tokenScope = "accounts"
	// removeCode in a slot removes that slot's code (the seed).
	removeCode = " "
	// ASSUMPTION (DECISIONS.md): the optional x-client-correlation-id header
	// of the public spec (NOTES.md 6.2), at most 40 characters, carries the
	// provider trackId for tracing.
	maxCorrelationID = 40
	// accountIDLen is the length of every account id (the seed).
	accountIDLen = 19
	// maxBody is the largest answer the Client reads; a longer one is
	// unreadable.
	maxBody = 1 << 20
)

// tokenRequest is the JSON body of a token request.
type tokenRequest struct {
	GrantType    string `json:"grant_type"`
	Scope        string `json:"scope"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// tokenResponse is the answer of a token request; expires_in is seconds.
type tokenResponse struct {
	AccessToken string            `json:"access_token"`
	TokenType   string            `json:"token_type"`
	ExpiresIn   providers.FlexInt `json:"expires_in"`
}

// blockUnblockBody is the body of a blockUnblock call. The pointers with
// omitempty keep a slot that is not being changed out of the body: a space
// in it would remove its code.
type blockUnblockBody struct {
	BlockCode1 *string `json:"blockCode1,omitempty"`
	BlockCode2 *string `json:"blockCode2,omitempty"`
}

// accountBody is a blockUnblock or details answer. An empty slot is a
// space.
type accountBody struct {
	AccountID      string            `json:"accountId"`
	BlockCode1     string            `json:"blockCode1"`
	BlockCode1Date string            `json:"blockCode1Date"`
	BlockCode2     string            `json:"blockCode2"`
	BlockCode2Date string            `json:"blockCode2Date"`
	BusinessUnit   providers.FlexInt `json:"businessUnit"`
}

func (b accountBody) account() Account {
	return Account{
		AccountID:      b.AccountID,
		BlockCode1:     strings.TrimSpace(b.BlockCode1),
		BlockCode1Date: strings.TrimSpace(b.BlockCode1Date),
		BlockCode2:     strings.TrimSpace(b.BlockCode2),
		BlockCode2Date: strings.TrimSpace(b.BlockCode2Date),
		BusinessUnit:   int(b.BusinessUnit),
	}
}

// wireAccount is a as the platform sends it: a space for an empty slot.
func wireAccount(a Account) accountBody {
	slot := func(code string) string {
		if code == "" {
			return removeCode
		}
		return code
	}
	return accountBody{
		AccountID:      a.AccountID,
		BlockCode1:     slot(a.BlockCode1),
		BlockCode1Date: a.BlockCode1Date,
		BlockCode2:     slot(a.BlockCode2),
		BlockCode2Date: a.BlockCode2Date,
		BusinessUnit:   providers.FlexInt(a.BusinessUnit),
	}
}

// apiError is one entry of the platform's error array (the seed).
type apiError struct {
	Detail        string     `json:"detail,omitempty"`
	ErrorCode     flexString `json:"errorCode"`
	Instance      string     `json:"instance,omitempty"`
	InvalidParams []string   `json:"invalid-params,omitempty"`
	Source        string     `json:"source,omitempty"`
	Status        int        `json:"status"`
	Title         string     `json:"title,omitempty"`
}

// errorEntry is what the Client reads of an error entry.
type errorEntry struct {
	Detail        string     `json:"detail"`
	ErrorCode     flexString `json:"errorCode"`
	InvalidParams []string   `json:"invalid-params"`
	Title         string     `json:"title"`
}

// parseErrors reads an error answer: the documented array, or a single
// entry not wrapped in one.
func parseErrors(data []byte) ([]errorEntry, error) {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '{' {
		var e errorEntry
		if err := json.Unmarshal(data, &e); err != nil {
			return nil, fmt.Errorf("decoding error entry: %w", err)
		}
		return []errorEntry{e}, nil
	}
	var es []errorEntry
	if err := json.Unmarshal(data, &es); err != nil {
		return nil, fmt.Errorf("decoding error array: %w", err)
	}
	return es, nil
}

// describe returns the gateway errorCode, the VisionPLUS code and the
// message of an error answer. The VisionPLUS code is the prefix of the
// first invalid-params entry that has one; the message is that entry's
// text, else the first invalid-params entry, the detail or the title.
func describe(es []errorEntry) (errorCode, appCode, msg string) {
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

// flexString is a string sent as a JSON string or as a number (errorCode
// 440401 or "440401").
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		return nil
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return fmt.Errorf("decoding string: %w", err)
		}
		*s = flexString(v)
	default:
		var v json.Number
		if err := json.Unmarshal(b, &v); err != nil {
			return fmt.Errorf("decoding code %s: %w", b, err)
		}
		*s = flexString(v)
	}
	return nil
}

// truncate cuts s to at most n characters.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// maskAccount shows only the first and last four characters of an account
// id, for errors that may be logged.
func maskAccount(id string) string {
	r := []rune(id)
	if len(r) <= 8 {
		return strings.Repeat("*", len(r))
	}
	return string(r[:4]) + strings.Repeat("*", len(r)-8) + string(r[len(r)-4:])
}
