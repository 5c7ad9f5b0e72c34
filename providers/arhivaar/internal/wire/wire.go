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
	"net/url"
	"strconv"
	"strings"
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
	ResponseDescription string `json:"responseDescription,omitempty"`
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
