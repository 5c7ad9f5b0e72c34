package schemas

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// decodeInvalid decodes raw as kind and returns the *InvalidError it must fail with.
func decodeInvalid(t *testing.T, v *Validator, kind Kind, raw string) *InvalidError {
	t.Helper()
	_, err := v.DecodeCommand(kind, []byte(raw))
	var ie *InvalidError
	if !errors.As(err, &ie) {
		t.Fatalf("DecodeCommand(%s): got %v, want *InvalidError", raw, err)
	}
	return ie
}

// TestSchemaReasonsNameTheFieldAndTheRule: every schema failure is answered
// with one readable sentence per failing field, saying its rule; a field
// that is valid is not listed, also when the rule sits under $ref and
// allOf/if-then (which once answered only "/amount: false schema" and
// listed every field of the branch).
func TestSchemaReasonsNameTheFieldAndTheRule(t *testing.T) {
	v := newValidator(t)
	finnotechBlock := func(amount, days string) string {
		return `{"trackId":"t1","provider":"finnotech","clientId":"c","amount":` + amount + `,"description":"d","days":` + days + `}`
	}
	const amountRule = "amount must be an integer from 1 to 9007199254740991"
	tests := []struct {
		name string
		kind Kind
		raw  string
		want string
	}{
		{"amount negative", KindBlock, finnotechBlock("-5", "5"), amountRule},
		{"amount zero", KindBlock, finnotechBlock("0", "5"), amountRule},
		{"amount fraction", KindBlock, finnotechBlock("1.5", "5"), amountRule},
		{"amount as a string", KindBlock, finnotechBlock(`"1000"`, "5"), amountRule},
		{"amount 2^53", KindBlock, finnotechBlock("9007199254740992", "5"), amountRule},
		{"days and amount", KindBlock, finnotechBlock("0", "91"), amountRule + "; days must be an integer from 1 to 90"},
		{"unblock amount", KindUnblock, `{"trackId":"t1","provider":"finnotech","blockTrackId":"b1","amount":-1}`, amountRule},
		{"transfer amount", KindTransfer, `{"trackId":"t1","provider":"finnotech","unblockTrackId":"u1","amount":0,"destination":"0201000000001","description":"d"}`, amountRule},
		{"card block code", KindBlock, `{"trackId":"t1","provider":"card","accountId":"0001000010000510481","blockCodeSlot":1,"blockCode":"<<<"}`,
			"blockCode must be a string of one capital letter A-Z"},
		{"card slot", KindBlock, `{"trackId":"t1","provider":"card","accountId":"0001000010000510481","blockCodeSlot":3,"blockCode":"B"}`,
			"blockCodeSlot must be one of 1, 2"},
		{"missing fields", KindBlock, `{"trackId":"t1","provider":"finnotech","clientId":"c","days":5}`, "amount is required; description is required"},
		{"unknown field", KindBlock, `{"trackId":"t1","provider":"finnotech","clientId":"c","amount":10,"description":"d","days":5,"extra":1}`,
			"extra is not a field of this command"},
		{"field of another provider", KindBlock, `{"trackId":"t1","provider":"card","accountId":"0001000010000510481","blockCodeSlot":1,"blockCode":"B","days":5}`,
			"days is not a field of this command"},
		{"unknown provider", KindBlock, `{"trackId":"t1","provider":"acme"}`, "provider must be one of finnotech, arhivaar, card"},
		{"trackId", KindBlock, `{"trackId":"a b","provider":"finnotech","clientId":"c","amount":10,"description":"d","days":5}`,
			"trackId must be a string of 1 to 40 letters, digits, '-' or '_'"},
		{"note of spaces", KindBlock, `{"trackId":"t1","provider":"arhivaar","accountId":"ab12","note":"   "}`,
			"note must be a string of 1 to 1000 characters, not only spaces"},
		{"inquiry of another provider", KindInquiry, `{"trackId":"t1","provider":"card","inquiry":"transfer","transferTrackId":"x1"}`,
			"provider must be finnotech"},
		{"not an object", KindBlock, `[]`, "message is not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ie := decodeInvalid(t, v, tt.kind, tt.raw)
			if ie.Message != tt.want {
				t.Errorf("reason:\n got %q\nwant %q", ie.Message, tt.want)
			}
		})
	}
}

// TestSchemaReasonsNeverEchoValues: a national id, an IBAN, a card account
// and a deposit number in invalid commands (as values, and as the names of
// unknown fields) appear nowhere in the reason.
func TestSchemaReasonsNeverEchoValues(t *testing.T) {
	v := newValidator(t)
	const (
		nationalID = "0071331951"
		iban       = "IR062960000000100324200001"
		card       = "6037991234567890123"
		deposit    = "0201698541000"
	)
	tests := []struct {
		name string
		kind Kind
		raw  string
	}{
		{"national id of 12 digits", KindInquiry, `{"trackId":"t1","provider":"finnotech","inquiry":"facility","clientId":"c","nationalId":"` + nationalID + `99"}`},
		{"national id without clientId", KindInquiry, `{"trackId":"t1","provider":"finnotech","inquiry":"facility","nationalId":"` + nationalID + `"}`},
		{"national id as a number", KindInquiry, `{"trackId":"t1","provider":"finnotech","inquiry":"facility","clientId":"c","nationalId":` + nationalID + `}`},
		{"IBAN with a letter", KindTransfer, `{"trackId":"t1","provider":"finnotech","unblockTrackId":"u1","amount":5,"destination":"` + iban + `X","description":"d"}`},
		{"IBAN beside a bad amount", KindTransfer, `{"trackId":"t1","provider":"finnotech","unblockTrackId":"u1","amount":-5,"destination":"` + iban + `","description":"d"}`},
		{"deposit of letters", KindTransfer, `{"trackId":"t1","provider":"finnotech","unblockTrackId":"u1","amount":5,"destination":"` + deposit + `ABC","description":"d"}`},
		{"card account of 20 digits", KindBlock, `{"trackId":"t1","provider":"card","accountId":"` + card + `4","blockCodeSlot":1,"blockCode":"B"}`},
		{"card account as the blockCode", KindBlock, `{"trackId":"t1","provider":"card","accountId":"0001000010000510481","blockCodeSlot":1,"blockCode":"` + card + `"}`},
		{"values as unknown field names", KindBlock, `{"trackId":"t1","provider":"finnotech","clientId":"c","amount":10,"description":"d","days":5,"` +
			nationalID + `":1,"` + iban + `":2,"` + card + `":3,"` + deposit + `":4}`},
		{"description of a card account", KindBlock, `{"trackId":"t1","provider":"finnotech","clientId":"c","amount":10,"description":"` + card + strings.Repeat("x", 100) + `","days":5}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ie := decodeInvalid(t, v, tt.kind, tt.raw)
			for _, secret := range []string{nationalID, iban, card, deposit} {
				if strings.Contains(ie.Message, secret) {
					t.Errorf("reason %q echoes %s", ie.Message, secret)
				}
			}
			if ie.Message == "" || strings.Contains(ie.Message, "false schema") {
				t.Errorf("reason %q does not say which rule was broken", ie.Message)
			}
		})
	}
}

// TestDecodeCommandRefusesWhatCannotBeStored: a schema-valid command with
// the NUL character in a string cannot be kept (PostgreSQL's jsonb refuses
// \u0000): it is refused with a readable code before anything is written.
func TestDecodeCommandRefusesWhatCannotBeStored(t *testing.T) {
	v := newValidator(t)
	tests := []struct {
		name, raw, want string
		kind            Kind
	}{
		{"note", `{"trackId":"n1","provider":"arhivaar","accountId":"ab12","note":"court\u0000order"}`, "note must not contain the NUL character (U+0000)", KindBlock},
		{"description", `{"trackId":"n2","provider":"finnotech","clientId":"c","amount":10,"description":"\u0000d","days":5}`, "description must not contain the NUL character (U+0000)", KindBlock},
		{"unblock note", `{"trackId":"n3","provider":"arhivaar","accountId":"ab12","note":"x\u0000"}`, "note must not contain the NUL character (U+0000)", KindUnblock},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ie := decodeInvalid(t, v, tt.kind, tt.raw)
			if ie.Code != CodeUnstorableCharacter || ie.Message != tt.want || ie.TrackID == "" {
				t.Fatalf("got %s %q (trackId %q), want %s %q with the trackId", ie.Code, ie.Message, ie.TrackID, CodeUnstorableCharacter, tt.want)
			}
		})
	}
}

func TestBoundReason(t *testing.T) {
	long := strings.Repeat("é", MaxReasonBytes) // two bytes each
	tests := []struct {
		name, in string
		check    func(string) bool
	}{
		{"short kept", "amount is required", func(s string) bool { return s == "amount is required" }},
		{"long cut with a marker", long, func(s string) bool {
			return len(s) <= MaxReasonBytes && strings.HasSuffix(s, TruncatedMarker) && strings.HasPrefix(s, "éé")
		}},
		{"NUL and bad bytes replaced", "a\x00b\xffc", func(s string) bool { return s == "a\uFFFDb\uFFFDc" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := BoundReason(tt.in); !tt.check(got) {
				t.Fatalf("BoundReason: got %q (%d bytes)", got, len(got))
			}
		})
	}
}

// TestEveryPatternIsSaidInWords: a reason says a pattern's rule in words,
// so every pattern of the embedded schemas needs its words.
func TestEveryPatternIsSaidInWords(t *testing.T) {
	entries, err := schemaFiles.ReadDir("json")
	if err != nil {
		t.Fatal(err)
	}
	var walk func(v any, file string)
	walk = func(v any, file string) {
		switch v := v.(type) {
		case map[string]any:
			for k, sub := range v {
				if p, ok := sub.(string); ok && k == "pattern" {
					if _, ok := patternRules[p]; !ok {
						t.Errorf("%s: pattern %q has no words in patternRules", file, p)
					}
				}
				walk(sub, file)
			}
		case []any:
			for _, sub := range v {
				walk(sub, file)
			}
		}
	}
	for _, e := range entries {
		raw, err := schemaFiles.ReadFile("json/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		walk(doc, e.Name())
	}
}

// TestResultReasonsAreReadable: the result schema's failures are said the
// same way.
func TestResultReasonsAreReadable(t *testing.T) {
	v := newValidator(t)
	err := v.ValidateResult([]byte(`{"eventId":"x","trackId":"t","type":"block","status":"DONE","result":{},"attempts":-1,"receivedAt":"2024-01-01T00:00:00Z","completedAt":"2024-01-01T00:00:00Z","extra":1}`))
	want := "validating result: attempts must be an integer of at least 0; eventId must be a string of a UUID in lowercase hex; extra is not a field of the result"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}
