package arhivaar

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
)

// blockPath is the documented path of the block / activate call, below the
// base URL (arhivaar-account-block.seed.txt).
const blockPath = "/partner-api/account/block.html"

// formContentType is the documented request content type.
const formContentType = "application/x-www-form-urlencoded; charset=UTF-8"

// The form fields, in the order they are sent.
const (
	fieldID     = "id"
	fieldBlock  = "block"
	fieldNote   = "note"
	fieldAccKey = "acc_key"
	fieldSig    = "sig"
)

// sigSeparator starts the signature, the last field of the body. Every
// value is form-encoded, so '&' appears in the body only between fields.
const sigSeparator = "&" + fieldSig + "="

// The values of the response field.
const (
	responseOK    = "OK"
	responseError = "ERROR"
)

// reply is every Arhivaar answer.
type reply struct {
	Response string `json:"response"`
	// ResponseDescription holds the error code; only when Response is ERROR.
	ResponseDescription string `json:"responseDescription,omitempty"`
}

// unsignedBody is the form body without its signature, the fields in the
// seed's order: id, block, note, acc_key. It is built by hand because
// url.Values.Encode sorts the fields. Values are encoded like
// url.QueryEscape (a space is '+'), as in the seed's "note=Maksmata+arve.".
func unsignedBody(id string, block bool, note, accKey string) string {
	var b strings.Builder
	b.WriteString(fieldID + "=" + url.QueryEscape(id))
	b.WriteString("&" + fieldBlock + "=" + strconv.FormatBool(block))
	b.WriteString("&" + fieldNote + "=" + url.QueryEscape(note))
	b.WriteString("&" + fieldAccKey + "=" + url.QueryEscape(accKey))
	return b.String()
}

// signedBody is unsigned followed by its signature: the whole body as sent.
func signedBody(unsigned, secret string) string {
	return unsigned + sigSeparator + url.QueryEscape(sign(secret, unsigned))
}

// sign returns the signature of an unsigned body.
//
// ASSUMPTION (DECISIONS.md): sig is the standard base64 (with padding) of
// HMAC-SHA1 keyed with the partner secret over the body without "&sig=...",
// exactly as sent. The seed's sigs are 28 base64 characters, a 20-byte
// digest, which fits SHA-1; its secret is not given, so the samples cannot
// be checked.
func sign(secret, unsigned string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(unsigned))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
