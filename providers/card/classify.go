package card

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/providers/card/internal/wire"
)

// classify is the one table that decides what a failed card platform call
// means. status is the HTTP status; errorCodes are the gateway errorCodes
// and appCodes the VisionPLUS codes of every entry of the error array, in
// the order they came (each empty when the answer had none). It returns the
// class and the code to report: CodeTokenExpired for a dead token, else the
// code of the row that decided, else the first VisionPLUS code, else the
// first errorCode.
//
// Each row asks whether ANY entry carries the code, so an entry never hides
// behind another; the first matching row wins, which is the precedence
// between entries:
//
//	240002, 240003, 240004, 240101, or HTTP 401     Retryable  TOKEN_EXPIRED (the Client drops the token)
//	V5BS0010SF, V5BS4001EA, V5BS4001SC, V5BS4002SA,
//	V5BS0125SV, V5BS0127SV                          Permanent  (bad input or no such account)
//	V5BS0125SC, V5BS0127SC                          Permanent  (an existing code of higher or equal priority was kept)
//	V5BS0011SF record add pending                   Retryable  (the account is still being boarded)
//	250001 internal error                           Unknown    (verify the state first)
//	240001, 240005–240011, 340001, 240401, 240501,
//	241501–241504, 440001, 440401, 442201           Permanent
//	250301 service unavailable                      Retryable
//	HTTP 429                                        Retryable
//	anything else (HTTP 408, 504 and any other 5xx;
//	a 4xx or other status without a listed code)    Unknown
//
// So a dead token wins over everything (the call was refused at the door,
// before the platform looked at it). A VisionPLUS refusal is the
// platform's own verdict on the call: one that sending again cannot cure
// wins over a kept code (for which the Adapter consults Details) and over
// "add pending" (which would only be tried again to meet the same
// refusal). Among gateway codes, an internal error wins over a refusal and
// over "unavailable": entries that contradict each other are an answer the
// documents do not explain, and one entry saying the call may have been
// applied is enough to make its outcome unknown. A VisionPLUS code the
// seed does not list decides nothing; the rows below it decide, and it is
// still the code reported.
func classify(status int, errorCodes, appCodes []string) (providers.Class, string) {
	anyCode := func(codes []string, want ...string) (string, bool) {
		for _, c := range codes {
			if slices.Contains(want, c) {
				return c, true
			}
		}
		return "", false
	}
	code := ""
	switch {
	case len(appCodes) > 0:
		code = appCodes[0]
	case len(errorCodes) > 0:
		code = errorCodes[0]
	}
	if _, ok := anyCode(errorCodes, wire.CodeAuthHeaderMissing, wire.CodeBearerMissing, wire.CodeBearerInvalid, wire.CodeUnauthorized); ok ||
		status == http.StatusUnauthorized {
		// ASSUMPTION (card/doc.go, "Error codes"): every bearer refusal,
		// like the documented 401 240101 "The token is expired", is
		// answered before the call is applied; a new token may succeed.
		return providers.Retryable, CodeTokenExpired
	}
	if c, ok := anyCode(appCodes, wire.AppRecordNotFound, wire.AppInvalidBU, wire.AppBUPurged, wire.AppInvalidAccount,
		wire.AppInvalidBlockCode1, wire.AppInvalidBlockCode2); ok {
		return providers.Permanent, c
	}
	if c, ok := anyCode(appCodes, wire.AppBlockCode1Kept, wire.AppBlockCode2Kept); ok {
		return providers.Permanent, c
	}
	if c, ok := anyCode(appCodes, wire.AppRecordAddPending); ok {
		return providers.Retryable, c
	}
	if c, ok := anyCode(errorCodes, wire.CodeInternalError); ok {
		return providers.Unknown, orCode(appCodes, c)
	}
	for _, c := range errorCodes {
		if isPermanentErrorCode(c) {
			return providers.Permanent, orCode(appCodes, c)
		}
	}
	if c, ok := anyCode(errorCodes, wire.CodeServiceUnavailable); ok {
		return providers.Retryable, orCode(appCodes, c)
	}
	// ASSUMPTION (card/doc.go, "Error codes"): a rate limit refuses the call
	// before it is applied; the platform documents no rate limit.
	if status == http.StatusTooManyRequests {
		return providers.Retryable, code
	}
	// A timeout or server error after the request was sent may have been
	// applied (card/doc.go, "Unknown outcomes": read the state), and so may
	// a call answered by anything the documents do not list: a 4xx without
	// a listed code (a proxy's page, a code nobody documented) proves no
	// refusal (card/doc.go, "Error codes").
	return providers.Unknown, code
}

// orCode is the first VisionPLUS code when there is one, else errorCode:
// the code reported when a gateway errorCode decided the class.
func orCode(appCodes []string, errorCode string) string {
	if len(appCodes) > 0 {
		return appCodes[0]
	}
	return errorCode
}

// isPermanentErrorCode reports whether a gateway errorCode refuses the call
// for good: configuration, payload, path, method, media type, record not
// found, business rule.
func isPermanentErrorCode(errorCode string) bool {
	switch errorCode {
	case wire.CodeAuthNotInitialized,
		wire.CodePayloadInvalid, wire.CodePayloadEmpty, wire.CodeNotReadable, wire.CodeArgsInvalid,
		wire.CodeFieldMissing, wire.CodeConstraintViolated, wire.CodeHeaderMissing, wire.CodeBadRequest,
		wire.CodeNoSuchAPI, wire.CodeMethodNotAllowed,
		wire.CodeUnsupportedMedia, wire.CodeNoContentType, wire.CodeJSONOnly, wire.CodeOctetStreamOnly,
		wire.CodeVPLBadRequest, wire.CodeRecordNotFound, wire.CodeBusinessRuleRefusal:
		return true
	}
	return false
}

// IsTokenExpired reports whether err is the platform's dead-token signal.
// The call was not applied and the token was dropped; the next call fetches
// a new one.
func IsTokenExpired(err error) bool {
	var pe *providers.Error
	return errors.As(err, &pe) && pe.Provider == provider && pe.Code == CodeTokenExpired
}

// IsCodeKept reports whether err says the slot kept an existing code of
// higher or equal priority (V5BS0125SC, V5BS0127SC, or a 200 whose slot
// does not hold the code sent). A replay of a block that already succeeded
// is answered so too: ask Details before treating it as a refusal.
func IsCodeKept(err error) bool {
	var pe *providers.Error
	if !errors.As(err, &pe) || pe.Provider != provider {
		return false
	}
	switch pe.Code {
	case wire.AppBlockCode1Kept, wire.AppBlockCode2Kept, CodeBlockCodeNotApplied:
		return true
	}
	return false
}

// parseErrors reads an error answer: the documented array, or a single
// entry not wrapped in one. An entry that is not an object is skipped; it
// is an error only when no entry can be read.
func parseErrors(data []byte) ([]wire.ErrorEntry, error) {
	data = bytes.TrimSpace(data)
	var raws []json.RawMessage
	if len(data) > 0 && data[0] == '{' {
		raws = []json.RawMessage{data}
	} else if err := json.Unmarshal(data, &raws); err != nil {
		return nil, fmt.Errorf("decoding error array: %w", err)
	}
	var es []wire.ErrorEntry
	for _, raw := range raws {
		if e, ok := parseEntry(raw); ok {
			es = append(es, e)
		}
	}
	if len(es) == 0 && len(raws) > 0 {
		return nil, errors.New("decoding error array: no entry is an object")
	}
	return es, nil
}

// parseEntry reads one error entry. A field of an unexpected type does not
// lose the others: they are then read one by one.
func parseEntry(raw json.RawMessage) (wire.ErrorEntry, bool) {
	var e wire.ErrorEntry
	if err := json.Unmarshal(raw, &e); err == nil {
		return e, true
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return wire.ErrorEntry{}, false
	}
	e = wire.ErrorEntry{}
	// Each field that does not decode stays empty.
	_ = json.Unmarshal(fields["errorCode"], &e.ErrorCode)
	_ = json.Unmarshal(fields["title"], &e.Title)
	_ = json.Unmarshal(fields["detail"], &e.Detail)
	if err := json.Unmarshal(fields["invalid-params"], &e.InvalidParams); err != nil && fields["invalid-params"] != nil {
		// Not an array: read it as one entry.
		e.InvalidParams = []json.RawMessage{fields["invalid-params"]}
	}
	return e, true
}

// errorAnswer is what the Client reads of an error answer.
type errorAnswer struct {
	// errorCodes are the gateway errorCodes of every entry, in order.
	errorCodes []string
	// appCodes are the VisionPLUS codes of every invalid-params entry of
	// every entry, in order, and appTexts their texts.
	appCodes, appTexts []string
	// text is the message when no VisionPLUS code decides: the first
	// invalid-params entry's text, else the first entry's title and detail.
	text string
}

// describe reads every entry of an error answer.
func describe(es []wire.ErrorEntry) errorAnswer {
	var a errorAnswer
	for _, e := range es {
		if c := strings.TrimSpace(string(e.ErrorCode)); c != "" {
			a.errorCodes = append(a.errorCodes, c)
		}
		for _, raw := range e.InvalidParams {
			code, text := readInvalidParam(raw)
			if code != "" {
				a.appCodes = append(a.appCodes, code)
				a.appTexts = append(a.appTexts, text)
			} else if a.text == "" {
				a.text = text
			}
		}
	}
	if a.text == "" {
		for _, e := range es {
			if t := titleDetail(e); t != "" {
				a.text = t
				break
			}
		}
	}
	return a
}

// message is the message of the error whose code is code: that code's text
// when it is a VisionPLUS code with one, else the entry text that describes
// the answer, else, for a gateway code, the title and detail of the entry
// that carries it.
func (a errorAnswer) message(code string, es []wire.ErrorEntry) string {
	if i := slices.Index(a.appCodes, code); i >= 0 && a.appTexts[i] != "" {
		return a.appTexts[i]
	}
	if len(a.appCodes) == 0 {
		for _, e := range es {
			if strings.TrimSpace(string(e.ErrorCode)) == code && len(e.InvalidParams) == 0 {
				if t := titleDetail(e); t != "" {
					return t
				}
			}
		}
	}
	return a.text
}

// titleDetail is "title: detail", or whichever of the two there is.
func titleDetail(e wire.ErrorEntry) string {
	switch {
	case e.Title != "" && e.Detail != "":
		return e.Title + ": " + e.Detail
	default:
		return e.Title + e.Detail
	}
}

// readInvalidParam reads one invalid-params entry and returns its
// VisionPLUS code ("" when it has none) and its text. The seed's entry is a
// string, "V5BS0010SF: Update Request - Record not found". An object is read
// leniently, so that no shape loses the code: its fields are looked at in
// the order of codeFields, then textFields, then the rest by name, and the
// first that is "CODE: text", or that is one word by itself in a field
// named for a code ("code", "errorCode", …), gives the code; the text is
// the rest of that field, else the object's first text field. Nested
// objects and arrays are read the same way.
func readInvalidParam(raw json.RawMessage) (code, text string) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", strings.TrimSpace(string(raw))
	}
	code, text, _ = codeIn(v, "", 0)
	if code == "" && text == "" {
		text = strings.TrimSpace(string(raw))
	}
	return code, text
}

// codeFields are the object fields that may name a code by themselves, in
// the order they are looked at; textFields are those that hold the text.
var (
	codeFields = []string{"code", "errorCode", "appCode", "error"}
	textFields = []string{"reason", "message", "detail", "description", "text", "title", "value", "name"}
)

// fieldRank orders an object's fields for codeIn: the code fields first,
// then the text fields, then the rest.
func fieldRank(k string) int {
	if i := slices.Index(codeFields, k); i >= 0 {
		return i
	}
	if i := slices.Index(textFields, k); i >= 0 {
		return len(codeFields) + i
	}
	return len(codeFields) + len(textFields)
}

// codeIn finds a VisionPLUS code in a decoded JSON value (see
// readInvalidParam). field is the name of the field v came from. ok
// reports a code was found; text is its text, or, without a code, the
// value's text.
func codeIn(v any, field string, depth int) (code, text string, ok bool) {
	switch v := v.(type) {
	case string:
		if c, t, ok := parseInvalidParam(v); ok {
			return c, t, true
		}
		s := strings.TrimSpace(v)
		if slices.Contains(codeFields, field) && isToken(s) {
			return s, "", true
		}
		return "", s, false
	case float64:
		if slices.Contains(codeFields, field) {
			return strconv.FormatFloat(v, 'f', -1, 64), "", true
		}
		return "", "", false
	case []any:
		if depth > 3 {
			return "", "", false
		}
		first := ""
		for _, x := range v {
			c, t, ok := codeIn(x, field, depth+1)
			if ok {
				return c, t, true
			}
			if first == "" {
				first = t
			}
		}
		return "", first, false
	case map[string]any:
		if depth > 3 {
			return "", "", false
		}
		// The text of the object: its first text field that is not a
		// "CODE: text" itself.
		objText := ""
		for _, k := range textFields {
			if s, isString := v[k].(string); isString && objText == "" {
				if _, t, ok := parseInvalidParam(s); ok {
					objText = t
				} else {
					objText = strings.TrimSpace(s)
				}
			}
		}
		keys := slices.Collect(maps.Keys(v))
		slices.SortFunc(keys, func(a, b string) int {
			return cmp.Or(cmp.Compare(fieldRank(a), fieldRank(b)), strings.Compare(a, b))
		})
		for _, k := range keys {
			if c, t, ok := codeIn(v[k], k, depth+1); ok {
				if t == "" {
					t = objText
				}
				return c, t, true
			}
		}
		return "", objText, false
	default:
		return "", "", false
	}
}

// parseInvalidParam splits an invalid-params entry into its VisionPLUS code
// and text, as ^([A-Z0-9]{10})\s*:\s*(.*)$ would: "V5BS0010SF: Record not
// found" and "V7RS4003EQ : text" both have one, "businessUnit: The maximum
// value for this field is 999" does not.
func parseInvalidParam(p string) (code, text string, ok bool) {
	p = strings.TrimSpace(p)
	if len(p) < 11 || !isCode(p[:10]) {
		return "", "", false
	}
	rest := strings.TrimLeft(p[10:], " \t\r\n\f\v")
	if !strings.HasPrefix(rest, ":") {
		return "", "", false
	}
	return p[:10], strings.TrimSpace(rest[1:]), true
}

// isToken reports whether s may be a code of any shape: 1–40 characters
// without white space.
func isToken(s string) bool {
	return s != "" && len(s) <= 40 && !strings.ContainsFunc(s, unicode.IsSpace)
}

// isCode reports whether s has the shape of a VisionPLUS code: ten
// characters A–Z or 0–9.
func isCode(s string) bool {
	if len(s) != 10 {
		return false
	}
	for i := range 10 {
		c := s[i]
		upperOrDigit := c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !upperOrDigit {
			return false
		}
	}
	return true
}
