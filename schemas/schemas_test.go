package schemas

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func newValidator(t testing.TB) *Validator {
	t.Helper()
	v, err := NewValidator()
	if err != nil {
		t.Fatalf("NewValidator: %v", err)
	}
	return v
}

// sameJSON reports whether a and b hold the same JSON value.
func sameJSON(t testing.TB, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("unmarshal a: %v", err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("unmarshal b: %v", err)
	}
	return reflect.DeepEqual(x, y)
}

func TestExamplesValidateAndRoundTrip(t *testing.T) {
	v := newValidator(t)
	files, err := filepath.Glob("examples/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 5 {
		t.Fatalf("found %d examples, want at least 5", len(files))
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(strings.TrimSuffix(name, ".json"), ".")
			if len(parts) != 2 {
				t.Fatalf("example name %q is not <kind>.<provider>.json", name)
			}
			if parts[0] == "result" {
				if err := v.ValidateResult(raw); err != nil {
					t.Fatalf("ValidateResult: %v", err)
				}
				var r Result
				if err := json.Unmarshal(raw, &r); err != nil {
					t.Fatalf("decoding result: %v", err)
				}
				again, err := json.Marshal(r)
				if err != nil {
					t.Fatal(err)
				}
				if !sameJSON(t, raw, again) {
					t.Fatalf("round trip changed the result:\n got %s\nwant %s", again, raw)
				}
				if err := v.ValidateResult(again); err != nil {
					t.Fatalf("re-encoded result invalid: %v", err)
				}
				return
			}
			kind := Kind(parts[0])
			cmd, err := v.DecodeCommand(kind, raw)
			if err != nil {
				t.Fatalf("DecodeCommand(%s): %v", kind, err)
			}
			if !strings.HasPrefix(parts[1], string(cmd.Provider)) {
				t.Fatalf("example %s decodes to provider %q", name, cmd.Provider)
			}
			again, err := json.Marshal(cmd)
			if err != nil {
				t.Fatal(err)
			}
			if !sameJSON(t, raw, again) {
				t.Fatalf("round trip changed the command:\n got %s\nwant %s", again, raw)
			}
			if _, err := v.DecodeCommand(kind, again); err != nil {
				t.Fatalf("re-encoded command invalid: %v", err)
			}
		})
	}
}

func TestDecodeCommandRejects(t *testing.T) {
	v := newValidator(t)
	const validBlock = `{"trackId":"t1","provider":"finnotech","clientId":"c","amount":10,"description":"d","days":5}`
	tests := []struct {
		name        string
		kind        Kind
		raw         string
		wantCode    string
		wantTrackID string
		wantInMsg   string
	}{
		{"not json", KindBlock, `{"trackId":"t1",`, CodeMalformed, "", "not JSON"},
		{"not an object", KindBlock, `[1,2]`, CodeMalformed, "", "not a JSON object"},
		{"invalid utf8", KindBlock, "{\"trackId\":\"\xff\"}", CodeMalformed, "", "UTF-8"},
		{"days 91", KindBlock, `{"trackId":"t2","provider":"finnotech","clientId":"c","amount":10,"description":"d","days":91}`, CodeSchemaInvalid, "t2", "days must be"},
		{"days 0", KindBlock, `{"trackId":"t2","provider":"finnotech","clientId":"c","amount":10,"description":"d","days":0}`, CodeSchemaInvalid, "t2", "days must be"},
		{"amount 0", KindBlock, `{"trackId":"t3","provider":"finnotech","clientId":"c","amount":0,"description":"d","days":5}`, CodeSchemaInvalid, "t3", "amount must be"},
		{"amount fraction", KindBlock, `{"trackId":"t3","provider":"finnotech","clientId":"c","amount":10.5,"description":"d","days":5}`, CodeSchemaInvalid, "t3", "amount must be"},
		{"amount string", KindBlock, `{"trackId":"t3","provider":"finnotech","clientId":"c","amount":"10","description":"d","days":5}`, CodeSchemaInvalid, "t3", "amount must be"},
		{"trackId 41 chars", KindBlock, `{"trackId":"` + strings.Repeat("a", 41) + `","provider":"finnotech","clientId":"c","amount":10,"description":"d","days":5}`, CodeSchemaInvalid, strings.Repeat("a", 41), "trackId must be"},
		{"trackId bad char", KindBlock, `{"trackId":"a b","provider":"finnotech","clientId":"c","amount":10,"description":"d","days":5}`, CodeSchemaInvalid, "a b", "trackId must be"},
		{"trackId missing", KindBlock, `{"provider":"finnotech","clientId":"c","amount":10,"description":"d","days":5}`, CodeSchemaInvalid, "", "trackId"},
		{"trackId not string", KindBlock, `{"trackId":12,"provider":"finnotech","clientId":"c","amount":10,"description":"d","days":5}`, CodeSchemaInvalid, "", "trackId must be"},
		{"unknown provider", KindBlock, `{"trackId":"t4","provider":"acme","clientId":"c","amount":10,"description":"d","days":5}`, CodeSchemaInvalid, "t4", "provider must be"},
		{"unknown field", KindBlock, `{"trackId":"t5","provider":"finnotech","clientId":"c","amount":10,"description":"d","days":5,"extra":1}`, CodeSchemaInvalid, "t5", "extra"},
		{"field of another provider", KindBlock, `{"trackId":"t5","provider":"finnotech","clientId":"c","amount":10,"description":"d","days":5,"note":"x"}`, CodeSchemaInvalid, "t5", "note"},
		{"unblock without blockTrackId", KindUnblock, `{"trackId":"t6","provider":"finnotech"}`, CodeSchemaInvalid, "t6", "blockTrackId"},
		{"block body on unblock topic", KindUnblock, validBlock, CodeSchemaInvalid, "t1", "blockTrackId is required"},
		{"unknown kind", Kind("refund"), validBlock, CodeSchemaInvalid, "", "no schema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.DecodeCommand(tt.kind, []byte(tt.raw))
			var ie *InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("got error %v, want *InvalidError", err)
			}
			if ie.Code != tt.wantCode {
				t.Errorf("code: got %s, want %s (%s)", ie.Code, tt.wantCode, ie.Message)
			}
			if ie.TrackID != tt.wantTrackID {
				t.Errorf("trackId: got %q, want %q", ie.TrackID, tt.wantTrackID)
			}
			if !strings.Contains(ie.Message, tt.wantInMsg) {
				t.Errorf("message %q does not mention %q", ie.Message, tt.wantInMsg)
			}
		})
	}
}

func TestCanonicalHash(t *testing.T) {
	v := newValidator(t)
	a, err := v.DecodeCommand(KindBlock, []byte(`{"trackId":"t1","provider":"finnotech","clientId":"c","amount":10,"description":"d","days":5}`))
	if err != nil {
		t.Fatal(err)
	}
	// Same fields in another order and spacing: the same command.
	b, err := v.DecodeCommand(KindBlock, []byte(`{ "days":5, "amount":10, "provider":"finnotech", "trackId":"t1", "description":"d", "clientId":"c" }`))
	if err != nil {
		t.Fatal(err)
	}
	c := a
	c.Amount = 11
	d := a
	d.Kind = KindUnblock
	if string(a.CanonicalHash()) != string(b.CanonicalHash()) {
		t.Error("reordered fields changed the hash")
	}
	if string(a.CanonicalHash()) == string(c.CanonicalHash()) {
		t.Error("a different amount kept the hash")
	}
	if string(a.CanonicalHash()) == string(d.CanonicalHash()) {
		t.Error("a different kind kept the hash")
	}
}

// finnotechDone is a DONE Finnotech result event of type kind holding
// result.
func finnotechDone(kind, result string) string {
	return `{"eventId":"0b0e6f4e-8d2c-4a53-9f3e-6a1f2c3d4e5f","trackId":"t","type":"` + kind + `","provider":"finnotech","status":"DONE",` +
		`"result":` + result + `,"attempts":1,"receivedAt":"2024-01-01T00:00:00Z","completedAt":"2024-01-01T00:00:00Z"}`
}

// TestFinnotechResults: the result schema holds the Finnotech results,
// their inquiry object included.
func TestFinnotechResults(t *testing.T) {
	v := newValidator(t)
	const block = `"amount":4000,"description":"d","deposit":"0201698541000","blockDate":"030105","days":30,"providerTrackId":"c"`
	tests := []struct {
		name, kind, result string
		valid              bool
	}{
		{"block", "block", `{` + block + `}`, true},
		{"block resolved by wages", "block", `{` + block + `,"inquiry":{"service":"wages","status":"DONE","fields":["deposit","blockDate"]}}`, true},
		{"unblock resolved by wages", "unblock", `{"amount":4000,"deposit":"0201698541000","unblockDate":"030105","blockTrackId":"b","providerTrackId":"c",` +
			`"inquiry":{"service":"wages","status":"DONE","fields":["unblockDate"]}}`, true},
		{"transfer resolved by the transfer inquiry", "transfer", `{"amount":4000,"source":"s","destination":"d","transferDate":"030105","unblockTrackId":"u",` +
			`"providerTrackId":"c","inquiry":{"service":"unblockTransferInquiry","status":"DONE","fields":["transferDate"]}}`, true},
		{"block without deposit", "block", `{"amount":4000,"description":"d","blockDate":"030105","days":30,"providerTrackId":"c"}`, false},
		{"block of zero rials", "block", `{"amount":0,"description":"d","deposit":"x","blockDate":"030105","days":30,"providerTrackId":"c"}`, false},
		{"inquiry of another service", "block", `{` + block + `,"inquiry":{"service":"balance","status":"DONE","fields":[]}}`, false},
		{"inquiry not DONE", "block", `{` + block + `,"inquiry":{"service":"wages","status":"PENDING","fields":[]}}`, false},
		{"inquiry without fields", "block", `{` + block + `,"inquiry":{"service":"wages","status":"DONE"}}`, false},
		{"inquiry with more", "block", `{` + block + `,"inquiry":{"service":"wages","status":"DONE","fields":[],"raw":{}}}`, false},
		{"unblock without unblockDate", "unblock", `{"amount":4000,"deposit":"x","blockTrackId":"b","providerTrackId":"c"}`, false},
		{"transfer without transferDate", "transfer", `{"amount":4000,"source":"s","destination":"d","unblockTrackId":"u","providerTrackId":"c"}`, false},
		{"no facility", "inquiry", `{"nationalId":"0071331960","noFacility":true,"message":"هیچ تسهیلات و تعهدی یافت نشد","totalAmount":0,"debtTotalAmount":0,` +
			`"pastExpiredTotalAmount":0,"deferredTotalAmount":0,"suspiciousTotalAmount":0,"facilities":[]}`, true},
		{"facility with both families", "inquiry", `{"nationalId":"0071331951","noFacility":false,"totalAmount":1,"debtTotalAmount":1,` +
			`"pastExpiredTotalAmount":0,"deferredTotalAmount":0,"suspiciousTotalAmount":0,"facilities":[{"summary":{"bankCode":"14",` +
			`"amountOriginal":1,"benefitAmount":0,"debtorTotalAmount":1,"pastExpiredAmount":0,"deferredAmount":0,"suspiciousAmount":0},` +
			`"contract":{"bankCode":"14","requestNo":"1","amountOriginal":2,"benefitAmount":0,"debtorTotalAmount":2,"pastExpiredAmount":0,` +
			`"deferredAmount":0,"suspiciousAmount":0,"obligationAmount":0,"setDate":"13970430","setDateGregorian":"2018-07-21"}}]}`, true},
		{"facility of one flat loan", "inquiry", `{"nationalId":"0071331951","noFacility":false,"totalAmount":1,"debtTotalAmount":1,` +
			`"pastExpiredTotalAmount":0,"deferredTotalAmount":0,"suspiciousTotalAmount":0,"facilities":[{"bankCode":"14","amountOriginal":1}]}`, false},
		{"transfer inquiry", "inquiry", `{"transferTrackId":"x","status":"PENDING","providerTrackId":"c"}`, true},
		{"inquiry of neither kind", "inquiry", `{"status":"DONE"}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := v.ValidateResult([]byte(finnotechDone(tc.kind, tc.result)))
			if (err == nil) != tc.valid {
				t.Errorf("ValidateResult = %v, want valid: %v", err, tc.valid)
			}
		})
	}
}

func TestValidateResultRejects(t *testing.T) {
	v := newValidator(t)
	tests := map[string]string{
		"DONE without result":   `{"eventId":"0b0e6f4e-8d2c-4a53-9f3e-6a1f2c3d4e5f","trackId":"t","type":"block","status":"DONE","attempts":1,"receivedAt":"2024-01-01T00:00:00Z","completedAt":"2024-01-01T00:00:00Z"}`,
		"FAILED without error":  `{"eventId":"0b0e6f4e-8d2c-4a53-9f3e-6a1f2c3d4e5f","trackId":"t","type":"block","status":"FAILED","attempts":1,"receivedAt":"2024-01-01T00:00:00Z","completedAt":"2024-01-01T00:00:00Z"}`,
		"unknown status":        `{"eventId":"0b0e6f4e-8d2c-4a53-9f3e-6a1f2c3d4e5f","trackId":"t","type":"block","status":"OK","result":{},"attempts":1,"receivedAt":"2024-01-01T00:00:00Z","completedAt":"2024-01-01T00:00:00Z"}`,
		"eventId not a uuid":    `{"eventId":"x","trackId":"t","type":"block","status":"DONE","result":{},"attempts":1,"receivedAt":"2024-01-01T00:00:00Z","completedAt":"2024-01-01T00:00:00Z"}`,
		"error code lowercase":  `{"eventId":"0b0e6f4e-8d2c-4a53-9f3e-6a1f2c3d4e5f","trackId":"t","type":"block","status":"REJECTED","error":{"code":"bad","message":"m","retryable":false},"attempts":0,"receivedAt":"2024-01-01T00:00:00Z","completedAt":"2024-01-01T00:00:00Z"}`,
		"DONE with both fields": `{"eventId":"0b0e6f4e-8d2c-4a53-9f3e-6a1f2c3d4e5f","trackId":"t","type":"block","status":"DONE","result":{},"error":{"code":"X","message":"m","retryable":false},"attempts":1,"receivedAt":"2024-01-01T00:00:00Z","completedAt":"2024-01-01T00:00:00Z"}`,
	}
	for name, raw := range tests {
		t.Run(name, func(t *testing.T) {
			if err := v.ValidateResult([]byte(raw)); err == nil {
				t.Fatal("got nil error, want a validation error")
			}
		})
	}
}
