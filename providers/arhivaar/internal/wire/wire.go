// Package wire is Arhivaar's partner API as blockd speaks it: the path, the
// form fields and their order, the signature, the replies and the codes.
// The client (package arhivaar) and its fake (package arhivaarfake) both use
// it, so that the two cannot drift apart; being internal, nothing else can
// import it. The contract, with the source of each fact, is the arhivaar
// package doc (arhivaar/doc.go).
package wire

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode"
)

// BlockPath is the documented path of the block / activate call, below the
// base URL (arhivaar/doc.go, "Request").
const BlockPath = "/partner-api/account/block.html"

// FormContentType is the documented request content type.
const FormContentType = "application/x-www-form-urlencoded; charset=UTF-8"

// The form fields, in the order they are sent.
const (
	FieldID     = "id"
	FieldBlock  = "block"
	FieldNote   = "note"
	FieldAccKey = "acc_key"
	FieldSig    = "sig"
)

// SigSeparator starts the signature, the last field of the body. Every
// value is form-encoded, so '&' appears in the body only between fields.
const SigSeparator = "&" + FieldSig + "="

// The values of the response field.
const (
	ResponseOK    = "OK"
	ResponseError = "ERROR"
)

// Reply is every Arhivaar answer.
type Reply struct {
	Response string `json:"response"`
	// ResponseDescription holds the error code; only when Response is ERROR.
	ResponseDescription Description `json:"responseDescription,omitempty"`
}

// Description is the error code of a reply. The page types
// responseDescription "Error" and shows no example of one, so it is read
// leniently: a JSON string is the code; an object gives the code of its
// first field, in the order of descriptionFields, that holds one word
// (nested objects are read the same way); a number is its digits; null or
// an object without such a field is "". It is sent as a string.
type Description string

// descriptionFields are the fields of an object description that may hold
// the code, in the order they are looked at.
var descriptionFields = []string{"code", "name", "value", "errorCode", "error", "type", "id"}

// UnmarshalJSON reads a description of any shape; it fails only on
// malformed JSON.
func (d *Description) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("decoding responseDescription: %w", err)
	}
	*d = Description(codeOf(v, 0))
	return nil
}

// codeOf finds the code in a decoded description (see Description).
func codeOf(v any, depth int) string {
	switch v := v.(type) {
	case string:
		return strings.TrimSpace(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case map[string]any:
		if depth > 3 {
			return ""
		}
		for _, k := range descriptionFields {
			switch x := v[k].(type) {
			case string:
				if s := strings.TrimSpace(x); s != "" && !strings.ContainsFunc(s, unicode.IsSpace) {
					return s
				}
			case float64, map[string]any:
				if c := codeOf(x, depth+1); c != "" {
					return c
				}
			}
		}
		return ""
	case []any:
		if len(v) > 0 {
			return codeOf(v[0], depth+1)
		}
		return ""
	default:
		return ""
	}
}

// UnsignedBody is the form body without its signature, the fields in the
// seed's order: id, block, note, acc_key. It is built by hand because
// url.Values.Encode sorts the fields. Values are encoded like
// url.QueryEscape (a space is '+'), as in the seed's "note=Maksmata+arve.".
func UnsignedBody(id string, block bool, note, accKey string) string {
	var b strings.Builder
	b.WriteString(FieldID + "=" + url.QueryEscape(id))
	b.WriteString("&" + FieldBlock + "=" + strconv.FormatBool(block))
	b.WriteString("&" + FieldNote + "=" + url.QueryEscape(note))
	b.WriteString("&" + FieldAccKey + "=" + url.QueryEscape(accKey))
	return b.String()
}

// SignedBody is unsigned followed by its signature: the whole body as sent.
func SignedBody(unsigned, secret string) string {
	return unsigned + SigSeparator + url.QueryEscape(Sign(secret, unsigned))
}

// Sign returns the signature of an unsigned body.
//
// ASSUMPTION (arhivaar/doc.go, "Signature"): sig is the standard base64 (with
// padding) of HMAC-SHA1 keyed with the partner secret over the body without
// "&sig=...", exactly as sent. The seed's sigs are 28 base64 characters, a
// 20-byte digest, which fits SHA-1; its secret is not given, so the samples
// cannot be checked.
func Sign(secret, unsigned string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(unsigned))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
