package card

import (
	"errors"
	"fmt"
	"testing"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/providers/card/internal/wire"
)

// TestClassify covers every code of card/doc.go, "Error codes".
func TestClassify(t *testing.T) {
	const tokenExpired = CodeTokenExpired
	tests := []struct {
		name               string
		status             int
		errorCode, appCode string
		wantClass          providers.Class
		wantCode           string
	}{
		// Dead token: the Client drops it; a new one may succeed.
		{"240002 authorization header missing", 401, "240002", "", providers.Retryable, tokenExpired},
		{"240002 on 400", 400, "240002", "", providers.Retryable, tokenExpired},
		{"240003 bearer missing", 400, "240003", "", providers.Retryable, tokenExpired},
		{"240004 bearer invalid", 400, "240004", "", providers.Retryable, tokenExpired},
		{"240101 token expired", 401, "240101", "", providers.Retryable, tokenExpired},
		{"401 without a code", 401, "", "", providers.Retryable, tokenExpired},

		// Gateway refusals.
		{"240001 auth system record not initialized", 500, "240001", "", providers.Permanent, "240001"},
		{"240005 payload not valid", 400, "240005", "", providers.Permanent, "240005"},
		{"240006 payload empty", 400, "240006", "", providers.Permanent, "240006"},
		{"240007 message not readable", 400, "240007", "", providers.Permanent, "240007"},
		{"240008 method arguments not valid", 400, "240008", "", providers.Permanent, "240008"},
		{"240009 required fields missing", 400, "240009", "", providers.Permanent, "240009"},
		{"240010 constraints violated", 400, "240010", "", providers.Permanent, "240010"},
		{"240011 required headers missing", 400, "240011", "", providers.Permanent, "240011"},
		{"340001 bad request", 400, "340001", "", providers.Permanent, "340001"},
		{"240401 no API for this instance", 404, "240401", "", providers.Permanent, "240401"},
		{"240501 method not allowed", 405, "240501", "", providers.Permanent, "240501"},
		{"241501 unsupported media type", 415, "241501", "", providers.Permanent, "241501"},
		{"241502 content type not provided", 415, "241502", "", providers.Permanent, "241502"},
		{"241503 json only", 415, "241503", "", providers.Permanent, "241503"},
		{"241504 octet-stream only", 415, "241504", "", providers.Permanent, "241504"},
		{"440001 VPL bad request", 400, "440001", "", providers.Permanent, "440001"},
		{"440401 record not found", 404, "440401", "", providers.Permanent, "440401"},
		{"442201 business rule", 422, "442201", "", providers.Permanent, "442201"},
		{"250001 internal error: verify state first", 500, "250001", "", providers.Unknown, "250001"},
		{"250301 service unavailable", 503, "250301", "", providers.Retryable, "250301"},
		{"504 gateway timeout", 504, "", "", providers.Unknown, ""},

		// VisionPLUS codes of blockUnblock.
		{"V5BS0010SF record not found", 404, "440401", "V5BS0010SF", providers.Permanent, "V5BS0010SF"},
		{"V5BS0011SF record add pending", 422, "442201", "V5BS0011SF", providers.Retryable, "V5BS0011SF"},
		{"V5BS4001EA invalid business unit", 400, "440001", "V5BS4001EA", providers.Permanent, "V5BS4001EA"},
		{"V5BS4001SC business unit purged", 422, "442201", "V5BS4001SC", providers.Permanent, "V5BS4001SC"},
		{"V5BS4002SA invalid account number", 400, "440001", "V5BS4002SA", providers.Permanent, "V5BS4002SA"},
		{"V5BS0125SV invalid block code 1", 400, "440001", "V5BS0125SV", providers.Permanent, "V5BS0125SV"},
		{"V5BS0127SV invalid block code 2", 400, "440001", "V5BS0127SV", providers.Permanent, "V5BS0127SV"},
		{"V5BS0125SC block code 1 kept", 422, "442201", "V5BS0125SC", providers.Permanent, "V5BS0125SC"},
		{"V5BS0127SC block code 2 kept", 422, "442201", "V5BS0127SC", providers.Permanent, "V5BS0127SC"},
		{"VPL code wins over a 500", 500, "250001", "V5BS0010SF", providers.Permanent, "V5BS0010SF"},
		{"dead token wins over a VPL code", 401, "240101", "V5BS0010SF", providers.Retryable, tokenExpired},

		// Unknown codes: the HTTP status decides.
		{"unknown VPL code on 422", 422, "442201", "V5XX0001ZZ", providers.Permanent, "V5XX0001ZZ"},
		{"unknown VPL code on 500", 500, "", "V5XX0001ZZ", providers.Unknown, "V5XX0001ZZ"},
		{"unknown errorCode on 400", 400, "999999", "", providers.Permanent, "999999"},
		{"unknown errorCode on 503", 503, "999999", "", providers.Unknown, "999999"},
		{"403 without a code", 403, "", "", providers.Permanent, ""},
		{"404 without a code", 404, "", "", providers.Permanent, ""},
		{"429", 429, "", "", providers.Retryable, ""},
		{"408", 408, "", "", providers.Unknown, ""},
		{"500 without a code", 500, "", "", providers.Unknown, ""},
		{"502", 502, "", "", providers.Unknown, ""},
		{"503 without a code", 503, "", "", providers.Unknown, ""},
		{"302", 302, "", "", providers.Unknown, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			class, code := classify(tc.status, tc.errorCode, tc.appCode)
			if class != tc.wantClass || code != tc.wantCode {
				t.Errorf("classify(%d, %q, %q) = %s %q, want %s %q",
					tc.status, tc.errorCode, tc.appCode, class, code, tc.wantClass, tc.wantCode)
			}
		})
	}
}

func TestParseInvalidParam(t *testing.T) {
	tests := []struct {
		in       string
		wantCode string
		wantText string
		wantOK   bool
	}{
		{"V5BS0010SF: Update Request - Record not found", "V5BS0010SF", "Update Request - Record not found", true},
		{"V7RS4003EQ : text", "V7RS4003EQ", "text", true},
		{"V5BS0125SC:no space", "V5BS0125SC", "no space", true},
		{"  V5BS0125SC\t:  padded  ", "V5BS0125SC", "padded", true},
		{"V5BS0125SC:", "V5BS0125SC", "", true},
		{"businessUnit: The maximum value for this field is 999", "", "", false},
		{"v5bs0010sf: lower case", "", "", false},
		{"V5BS0010S: nine characters", "", "", false},
		{"V5BS0010SFX: eleven characters", "", "", false},
		{"V5BS0010SF no colon", "", "", false},
		{"", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			code, text, ok := parseInvalidParam(tc.in)
			if code != tc.wantCode || text != tc.wantText || ok != tc.wantOK {
				t.Errorf("parseInvalidParam(%q) = %q, %q, %v; want %q, %q, %v",
					tc.in, code, text, ok, tc.wantCode, tc.wantText, tc.wantOK)
			}
		})
	}
}

func TestIsTokenExpiredAndIsCodeKept(t *testing.T) {
	expired := &providers.Error{Provider: provider, Class: providers.Retryable, Code: CodeTokenExpired}
	kept := &providers.Error{Provider: provider, Class: providers.Permanent, Code: wire.AppBlockCode2Kept}
	notApplied := &providers.Error{Provider: provider, Class: providers.Permanent, Code: CodeBlockCodeNotApplied}
	tests := []struct {
		name        string
		err         error
		wantExpired bool
		wantKept    bool
	}{
		{"token expired", expired, true, false},
		{"wrapped token expired", fmt.Errorf("setting block code: %w", expired), true, false},
		{"V5BS0127SC", kept, false, true},
		{"V5BS0125SC wrapped", fmt.Errorf("x: %w", &providers.Error{Provider: provider, Code: wire.AppBlockCode1Kept}), false, true},
		{"not applied", notApplied, false, true},
		{"other code", &providers.Error{Provider: provider, Code: wire.AppRecordNotFound}, false, false},
		{"other provider", &providers.Error{Provider: "finnotech", Code: CodeTokenExpired}, false, false},
		{"plain error", errors.New(CodeTokenExpired), false, false},
		{"nil", nil, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsTokenExpired(tc.err); got != tc.wantExpired {
				t.Errorf("IsTokenExpired(%v) = %v, want %v", tc.err, got, tc.wantExpired)
			}
			if got := IsCodeKept(tc.err); got != tc.wantKept {
				t.Errorf("IsCodeKept(%v) = %v, want %v", tc.err, got, tc.wantKept)
			}
		})
	}
}
