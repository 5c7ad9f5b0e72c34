// Package redact masks what blockd must never show — account, deposit and
// card numbers, IBANs, national ids, bearer tokens, secrets and signatures —
// in free text: provider error messages, in-doubt reasons, log lines and the
// operator endpoints' answers. It is the one redaction blockd applies, so a
// text an operator reads and the log line that carried it are masked alike.
//
// It works on the text, not on known values, so it also catches a number a
// provider echoes in an error message. The rules, in the order they are
// tried at each position:
//
//   - kept as they are: JSON escapes (\" \\ \uXXXX); the value of a JSON
//     field named trackId, <something>TrackId or eventId, or the same as
//     key=value in a console log line (identifiers that are there to be
//     shown, whatever digits they hold); a bare JSON number
//     that is a field's value (an amount, an offset: never an account, which
//     is a string in every blockd message); UUIDs; RFC 3339 times; IPv4
//     addresses;
//   - a secret-looking key's value, in any case and spelling
//     (access_token=…, "refreshToken":"…", "clientSecret":"…",
//     BLOCKD_KAFKA_SASL_PASSWORD=…, sig=…), becomes [REDACTED];
//   - "Bearer …" and "Basic …" credentials, and JWTs, become [REDACTED];
//   - an IBAN keeps its country code and last four characters;
//   - a run of 8 or more digits of any script (Persian and Arabic-Indic
//     digits too; single '-', '.' or ' ' between digits
//     allowed: 6037 9911 2345 6789, 123-456-7890123-1) keeps its last four
//     digits when it has 12 or more, its last two otherwise.
//
// It errs on the side of masking: a long number that is neither (a
// fraction with many digits) is masked too.
package redact

import (
	"io"
	"regexp"
	"strings"
	"unicode"
)

// Redacted replaces a secret value.
const Redacted = "[REDACTED]"

var pattern = regexp.MustCompile(strings.Join([]string{
	// Kept: JSON escapes, so an escaped quote is never mistaken for the
	// end of a string and \u00XX is never read as digits.
	`(?P<keep>\\u[0-9a-fA-F]{4}|\\["\\/bfnrt]` +
		// a JSON field holding an identifier blockd shows: trackIds and
		// eventIds are chosen to be shown, and may hold long numbers
		`|"(?:trackId|[a-z]+TrackId|eventId)":"[^"\\]*"` +
		// the same as key=value (zerolog's console format)
		// (with the colour escape it puts after the "=")
		`|(?:trackId|[a-z]+TrackId|eventId)=(?:\x1b\[[0-9;]*m)?[^\s"\x1b]*` +
		// a JSON number that is a field's value
		`|":-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?` +
		// UUIDs
		`|\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b` +
		// RFC 3339 times (and PostgreSQL's space-separated form)
		`|\b[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?` +
		// IPv4 addresses
		`|\b[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\b)`,
	// key=value, key: value, "key":"value", with the quotes escaped or not
	// Keys in any case and spelling: snake_case, camelCase, or with a
	// prefix (refreshToken, clientSecret, BLOCKD_KAFKA_SASL_PASSWORD).
	`(?P<key>(?i:(?:\b[A-Za-z0-9_]*?(?:access_?token|refresh_?token|id_?token|client_?secret|secret|password|passwd|api_?key|token|signature)|\bsig)(?:\\?["'])?\s*[:=]\s*(?:\\?["'])?))(?P<value>[^\s"'&,;}\\]+)`,
	`(?P<scheme>(?i:\b(?:bearer|basic)\s+))(?P<credential>[A-Za-z0-9._~+/=-]+)`,
	`(?P<jwt>\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*)?)`,
	`(?P<iban>\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b)`,
	// Digits of any script: Finnotech writes Persian (U+06F0–U+06F9) and
	// Arabic-Indic (U+0660–U+0669) digits in its texts.
	`(?P<digits>\p{Nd}(?:[-. ]?\p{Nd})*)`,
}, "|"))

var (
	groupKey        = pattern.SubexpIndex("key")
	groupCredential = pattern.SubexpIndex("credential")
	groupScheme     = pattern.SubexpIndex("scheme")
	groupJWT        = pattern.SubexpIndex("jwt")
	groupIBAN       = pattern.SubexpIndex("iban")
	groupDigits     = pattern.SubexpIndex("digits")
)

// String returns s with everything the rules above name masked.
func String(s string) string {
	matches := pattern.FindAllStringSubmatchIndex(s, -1)
	if matches == nil {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, m := range matches {
		b.WriteString(s[last:m[0]])
		last = m[1]
		group := func(i int) (string, bool) {
			if m[2*i] < 0 {
				return "", false
			}
			return s[m[2*i]:m[2*i+1]], true
		}
		if key, ok := group(groupKey); ok {
			b.WriteString(key + Redacted)
			continue
		}
		if scheme, ok := group(groupScheme); ok {
			if _, ok := group(groupCredential); ok {
				b.WriteString(scheme + Redacted)
				continue
			}
		}
		if _, ok := group(groupJWT); ok {
			b.WriteString(Redacted)
			continue
		}
		if iban, ok := group(groupIBAN); ok {
			b.WriteString(iban[:2] + maskKeeping(iban[2:], 4, isAlnum))
			continue
		}
		if digits, ok := group(groupDigits); ok {
			b.WriteString(maskDigits(digits))
			continue
		}
		b.WriteString(s[m[0]:m[1]]) // kept
	}
	b.WriteString(s[last:])
	return b.String()
}

// Bytes is String for a byte slice, e.g. a JSON document or a log line; a
// JSON document stays valid JSON.
func Bytes(b []byte) []byte { return []byte(String(string(b))) }

// Writer returns a writer that redacts each Write before passing it on.
// zerolog writes one event per Write, so each log line is redacted whole.
func Writer(w io.Writer) io.Writer { return writer{w} }

type writer struct{ w io.Writer }

func (r writer) Write(p []byte) (int, error) {
	if _, err := r.w.Write(Bytes(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// maskDigits masks a run of digits (of any script, with separators) of 8
// or more digits, keeping the last four when it has 12 or more and the last
// two otherwise.
func maskDigits(run string) string {
	n := 0
	for _, r := range run {
		if unicode.IsDigit(r) {
			n++
		}
	}
	switch {
	case n < 8:
		return run
	case n < 12:
		return maskRunes(run, 2)
	default:
		return maskRunes(run, 4)
	}
}

// maskRunes stars every digit of s except the last keep; separators stay.
func maskRunes(s string, keep int) string {
	out := []rune(s)
	for i := len(out) - 1; i >= 0; i-- {
		if !unicode.IsDigit(out[i]) {
			continue
		}
		if keep > 0 {
			keep--
			continue
		}
		out[i] = '*'
	}
	return string(out)
}

// maskKeeping stars every character of s that counts, except the last keep
// of them; the others (separators) stay.
func maskKeeping(s string, keep int, counts func(byte) bool) string {
	out := []byte(s)
	for i := len(out) - 1; i >= 0; i-- {
		if !counts(out[i]) {
			continue
		}
		if keep > 0 {
			keep--
			continue
		}
		out[i] = '*'
	}
	return string(out)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlnum(c byte) bool { return isDigit(c) || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' }
