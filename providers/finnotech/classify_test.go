package finnotech

import (
	"errors"
	"fmt"
	"testing"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/providers/finnotech/internal/wire"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		code, msg string
		wantClass providers.Class
		wantCode  string
	}{
		// Dead token.
		{"403 unauthorized", 403, "UNAUTHORIZED", wire.MsgBadToken, providers.Retryable, CodeTokenExpired},
		{"401 without body", 401, "", "", providers.Retryable, CodeTokenExpired},
		{"403 without body is a refusal", 403, "", "", providers.Permanent, ""},
		{"403 with another code is a refusal", 403, "FORBIDDEN", "token does not give access to this service", providers.Permanent, "FORBIDDEN"},
		{"403 invalid token", 403, "VALIDATION_ERROR", "invalid token", providers.Retryable, CodeTokenExpired},
		{"unauthorized code on 400", 400, "UNAUTHORIZED", "x", providers.Retryable, CodeTokenExpired},
		{"validation error invalid token", 400, "VALIDATION_ERROR", "invalid token", providers.Retryable, CodeTokenExpired},
		{"validation error Invalid Token.", 400, "VALIDATION_ERROR", "Invalid Token.", providers.Retryable, CodeTokenExpired},

		// Validation.
		{"validation error", 400, "VALIDATION_ERROR", "invalid days", providers.Permanent, "VALIDATION_ERROR"},
		{"same accounts", 400, "VALIDATION_ERROR", "Source And destination accounts are the same!", providers.Permanent, "VALIDATION_ERROR"},
		{"invalid token text under another code", 400, "SERVICE_CALL_ERROR", "invalid token", providers.Permanent, "SERVICE_CALL_ERROR"},

		// Business texts.
		{"duplicate tracking number", 400, "VALIDATION_ERROR", wire.MsgDuplicateTrackID, providers.Permanent, CodeDuplicateTrackID},
		{"duplicate inside a longer text", 400, "VALIDATION_ERROR", "خطا: " + wire.MsgDuplicateTrackID + ".", providers.Permanent, CodeDuplicateTrackID},
		{"duplicate with arabic yeh", 400, "VALIDATION_ERROR", "شماره پيگيري تكراري است", providers.Permanent, CodeDuplicateTrackID},
		{"provider not responding", 400, "SERVICE_CALL_ERROR", wire.MsgProviderNotResponding, providers.Unknown, "SERVICE_CALL_ERROR"},
		{"provider not responding with zwnj", 400, "SERVICE_CALL_ERROR", "سرویس\u200cدهنده جوابگو نیست", providers.Unknown, "SERVICE_CALL_ERROR"},
		{"provider not responding on 503", 503, "SERVICE_CALL_ERROR", wire.MsgProviderNotResponding, providers.Unknown, "SERVICE_CALL_ERROR"},
		{"provider not responding on 200", 200, "SERVICE_CALL_ERROR", wire.MsgProviderNotResponding, providers.Unknown, "SERVICE_CALL_ERROR"},
		{"user blocked", 400, "VALIDATION_ERROR", wire.MsgUserBlocked, providers.Permanent, "VALIDATION_ERROR"},
		{"user inactive", 400, "VALIDATION_ERROR", wire.MsgUserInactive, providers.Permanent, "VALIDATION_ERROR"},
		{"invalid account", 400, "VALIDATION_ERROR", wire.MsgInvalidAccount, providers.Permanent, "VALIDATION_ERROR"},
		{"invalid amount", 400, "VALIDATION_ERROR", wire.MsgInvalidAmount, providers.Permanent, "VALIDATION_ERROR"},
		{"insufficient balance", 400, "SERVICE_CALL_ERROR", wire.MsgInsufficientBalance, providers.Permanent, CodeInsufficientBalance},
		{"insufficient balance as validation error", 400, "VALIDATION_ERROR", wire.MsgInsufficientBalance, providers.Permanent, CodeInsufficientBalance},
		{"insufficient balance with arabic yeh", 400, "SERVICE_CALL_ERROR", "موجودي حساب كافي نيست", providers.Permanent, CodeInsufficientBalance},
		{"insufficient balance inside a longer text", 400, "SERVICE_CALL_ERROR", "خطا: " + wire.MsgInsufficientBalance, providers.Permanent, CodeInsufficientBalance},
		{"amount over limit", 400, "VALIDATION_ERROR", wire.MsgAmountOverLimit, providers.Permanent, "VALIDATION_ERROR"},
		{"transaction not found", 400, "VALIDATION_ERROR", wire.MsgTransactionNotFound, providers.Permanent, "VALIDATION_ERROR"},
		{"invalid tracking number", 400, "VALIDATION_ERROR", wire.MsgInvalidTrackID, providers.Permanent, "VALIDATION_ERROR"},
		{"not in whitelist", 400, "VALIDATION_ERROR", wire.MsgNotInWhitelist, providers.Permanent, "VALIDATION_ERROR"},
		{"insufficient balance on 500", 500, "SERVICE_CALL_ERROR", wire.MsgInsufficientBalance, providers.Permanent, CodeInsufficientBalance},
		{"business refusal on 500", 500, "SERVICE_CALL_ERROR", wire.MsgInvalidAmount, providers.Permanent, "SERVICE_CALL_ERROR"},
		{"already transferred (sandbox)", 400, "VALIDATION_ERROR", wire.MsgAlreadyTransferred, providers.Permanent, "VALIDATION_ERROR"},
		{"token of another kind (sandbox)", 403, wire.CodeForbidden, wire.MsgTokenNotForService, providers.Permanent, wire.CodeForbidden},

		// HTTP status alone.
		{"429", 429, "", "", providers.Retryable, ""},
		{"408", 408, "", "", providers.Unknown, ""},
		{"500", 500, "", "", providers.Unknown, ""},
		{"502", 502, "", "", providers.Unknown, ""},
		{"503", 503, "SERVICE_UNAVAILABLE", "service unavailable", providers.Unknown, "SERVICE_UNAVAILABLE"},
		{"504", 504, "", "", providers.Unknown, ""},
		{"other 5xx", 599, "", "", providers.Unknown, ""},
		{"404", 404, "", "", providers.Permanent, ""},
		{"422", 422, "X", "y", providers.Permanent, "X"},
		{"200 with FAILED wire.Envelope", 200, "SERVICE_CALL_ERROR", "Minimum amount is 10000 Rials.", providers.Permanent, "SERVICE_CALL_ERROR"},
		{"200 FAILED without code or message", 200, "", "", providers.Unknown, ""},
		{"408 with a FAILED envelope", 408, "REQUEST_TIMEOUT", "request timeout", providers.Unknown, "REQUEST_TIMEOUT"},
		{"302", 302, "", "", providers.Unknown, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			class, code := classify(tc.status, tc.code, tc.msg)
			if class != tc.wantClass || code != tc.wantCode {
				t.Errorf("classify(%d, %q, %q) = %s %q, want %s %q", tc.status, tc.code, tc.msg, class, code, tc.wantClass, tc.wantCode)
			}
		})
	}
}

func TestIsInsufficientBalance(t *testing.T) {
	low := &providers.Error{Provider: provider, Class: providers.Permanent, Code: CodeInsufficientBalance}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"insufficient balance", low, true},
		{"wrapped", fmt.Errorf("sending unblock-transfer: %w", low), true},
		{"other code", &providers.Error{Provider: provider, Code: "VALIDATION_ERROR"}, false},
		{"other provider", &providers.Error{Provider: "card", Code: CodeInsufficientBalance}, false},
		{"nil", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsInsufficientBalance(tc.err); got != tc.want {
				t.Errorf("IsInsufficientBalance(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestIsTokenExpired(t *testing.T) {
	expired := &providers.Error{Provider: provider, Class: providers.Retryable, Code: CodeTokenExpired}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"token expired", expired, true},
		{"wrapped", fmt.Errorf("sending block: %w", expired), true},
		{"other code", &providers.Error{Provider: provider, Code: "VALIDATION_ERROR"}, false},
		{"other provider", &providers.Error{Provider: "card", Code: CodeTokenExpired}, false},
		{"plain error", errors.New(CodeTokenExpired), false},
		{"nil", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsTokenExpired(tc.err); got != tc.want {
				t.Errorf("IsTokenExpired(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
