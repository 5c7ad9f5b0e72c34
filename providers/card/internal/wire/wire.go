// Package wire is the card platform's API as blockd speaks it: the paths,
// the token and blockUnblock bodies, the account answer, the error entry,
// the gateway errorCodes and the VisionPLUS codes. The client (package card)
// and its fake (package cardfake) both use it, so that the two cannot drift
// apart; being internal, nothing else can import it. The contract, with the
// source of each fact, is the card package doc (card/doc.go).
package wire

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/blockd/blockd/providers"
)

// The paths of the platform's services, below the base URL.
const (
	// TokenPath is the platform's public token call (card/doc.go, "Token");
	// the seed names none. A JSON client_credentials body is answered with
	// access_token, token_type and expires_in seconds.
	TokenPath = "/v1/api/oauth/token"
	// BlockUnblockPath is documented (card/doc.go, "Block and unblock").
	BlockUnblockPath = "/v1/accounts/%s/blockUnblock"
	// DetailsPath is the public spec's account inquiry, which answers the
	// block codes among the account's details; using it to settle an
	// unknown outcome is blockd's choice (card/doc.go, "State inquiry").
	DetailsPath = "/v1/accounts/%s/details"
)

// Fixed values of the calls.
const (
	GrantType = "client_credentials"
	// TokenScope is the scope the account calls need (card/doc.go, "Token").
	TokenScope = "accounts"
	// RemoveCode in a slot removes that slot's code (the seed).
	RemoveCode = " "
	// ASSUMPTION (card/doc.go, "Block and unblock"): the optional
	// x-client-correlation-id header of the public spec, at most 40
	// characters, carries the provider trackId for tracing.
	MaxCorrelationID = 40
	// AccountIDLen is the length of every account id (the seed).
	AccountIDLen = 19
)

// TokenRequest is the JSON body of a token request.
type TokenRequest struct {
	GrantType    string `json:"grant_type"`
	Scope        string `json:"scope"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// TokenResponse is the answer of a token request; expires_in is seconds.
type TokenResponse struct {
	AccessToken string            `json:"access_token"`
	TokenType   string            `json:"token_type"`
	ExpiresIn   providers.FlexInt `json:"expires_in"`
}

// BlockUnblockBody is the body of a blockUnblock call. The pointers with
// omitempty keep a slot that is not being changed out of the body: a space
// in it would remove its code.
type BlockUnblockBody struct {
	BlockCode1 *string `json:"blockCode1,omitempty"`
	BlockCode2 *string `json:"blockCode2,omitempty"`
}

// AccountBody is a blockUnblock or details answer. An empty slot is a
// space.
type AccountBody struct {
	AccountID      string            `json:"accountId"`
	BlockCode1     string            `json:"blockCode1"`
	BlockCode1Date string            `json:"blockCode1Date"`
	BlockCode2     string            `json:"blockCode2"`
	BlockCode2Date string            `json:"blockCode2Date"`
	BusinessUnit   providers.FlexInt `json:"businessUnit"`
}

// APIError is one entry of the platform's error array (the seed).
type APIError struct {
	Detail        string     `json:"detail,omitempty"`
	ErrorCode     FlexString `json:"errorCode"`
	Instance      string     `json:"instance,omitempty"`
	InvalidParams []string   `json:"invalid-params,omitempty"`
	Source        string     `json:"source,omitempty"`
	Status        int        `json:"status"`
	Title         string     `json:"title,omitempty"`
}

// ErrorEntry is what the Client reads of an error entry.
type ErrorEntry struct {
	Detail        string     `json:"detail"`
	ErrorCode     FlexString `json:"errorCode"`
	InvalidParams []string   `json:"invalid-params"`
	Title         string     `json:"title"`
}

// FlexString is a string sent as a JSON string or as a number (errorCode
// 440401 or "440401").
type FlexString string

func (s *FlexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		return nil
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return fmt.Errorf("decoding string: %w", err)
		}
		*s = FlexString(v)
	default:
		var v json.Number
		if err := json.Unmarshal(b, &v); err != nil {
			return fmt.Errorf("decoding code %s: %w", b, err)
		}
		*s = FlexString(v)
	}
	return nil
}
