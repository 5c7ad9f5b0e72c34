package redact_test

import (
	"strings"
	"testing"

	"github.com/blockd/blockd/cmd/blockd/redact"
)

// Review (issue 11): texts that reach logs and operator answers and still
// show what redact promises to mask.
//
// Finnotech answers in Persian, and a Persian text writes its numbers in
// Persian (U+06F0..U+06F9) or Arabic-Indic (U+0660..U+0669) digits: the
// digit rule sees only ASCII. And a secret's key is matched only in
// snake_case or as a whole word: Finnotech's own token answer names its
// refresh token "refreshToken", JSON APIs say "accessToken" and
// "clientSecret", and blockd's own variable is BLOCKD_KAFKA_SASL_PASSWORD.
func TestReviewStringMasksNonASCIIDigitsAndCamelCaseSecrets(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		secret string
	}{
		{"deposit number in Persian digits", "سپرده ۰۲۰۱۹۷۲۳۵۹۳۰۸ موجودی کافی ندارد", "۰۲۰۱۹۷۲۳۵۹۳۰۸"},
		{"national id in Arabic-Indic digits", "کد ملی ٠٠١٢٣٤٥٦٧٨ با صاحب حساب یکی نیست", "٠٠١٢٣٤٥٦٧٨"},
		{"Finnotech's refreshToken field", `{"result":{"value":"x","refreshToken":"r-6f1c2a9e-live"}}`, "r-6f1c2a9e-live"},
		{"accessToken field", `{"accessToken":"a-9b8c7d6e-live"}`, "a-9b8c7d6e-live"},
		{"clientSecret field", `{"clientId":"app","clientSecret":"hunter2-live"}`, "hunter2-live"},
		{"BLOCKD_KAFKA_SASL_PASSWORD as set", "BLOCKD_KAFKA_SASL_PASSWORD=hunter2-live", "hunter2-live"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redact.String(tt.in); strings.Contains(got, tt.secret) {
				t.Errorf("redact.String(%q) = %q, still shows %q", tt.in, got, tt.secret)
			}
		})
	}
}
