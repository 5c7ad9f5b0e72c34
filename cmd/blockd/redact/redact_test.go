package redact_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/blockd/blockd/cmd/blockd/redact"
)

func TestStringMasksWhatMustNotBeShown(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		secret []string // none of these may survive
		want   string   // "" to check only secret
	}{
		{name: "Iranian IBAN", in: "deposit IR820540102680020817909002 refused",
			secret: []string{"IR820540102680020817909002", "0540102680020817909"}, want: "deposit IR********************9002 refused"},
		{name: "IBAN in groups of four", in: "to IR82 0540 1026 8002 0817 9090 02.",
			secret: []string{"0540 1026 8002 0817"}},
		{name: "national id", in: "national code 0012345678 is not the owner",
			secret: []string{"0012345678"}, want: "national code ********78 is not the owner"},
		{name: "deposit number", in: "deposit 0201972359308 has no balance", secret: []string{"0201972359308", "02019723593"}},
		{name: "card number in groups", in: "card 6037 9911 2345 6789 blocked", secret: []string{"6037 9911 2345"}, want: "card **** **** **** 6789 blocked"},
		{name: "account with dashes", in: "account 123-456-7890123-1", secret: []string{"7890123", "123-456-7890"}},
		{name: "number in a URL path", in: `Get "https://api/credit/v2/clients/c/users/0012345678/facilityInquiry": EOF`, secret: []string{"0012345678"}},
		{name: "bearer token", in: "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-nature", secret: []string{"eyJhbGciOiJIUzI1NiJ9", "sig-nature"}},
		{name: "basic credentials", in: "header Basic YmxvY2tkOnNlY3JldA==", secret: []string{"YmxvY2tkOnNlY3JldA"}},
		{name: "bare JWT", in: "token was eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", secret: []string{"eyJzdWIiOiIxIn0", "c2lnbmF0dXJl"}},
		{name: "token in a query", in: "GET /x?access_token=abc.DEF-123&page=2", secret: []string{"abc.DEF-123"}, want: "GET /x?access_token=[REDACTED]&page=2"},
		{name: "secret as JSON", in: `{"client_secret":"hunter2","refresh_token":"r-1"}`, secret: []string{"hunter2", "r-1"}},
		{name: "a trackId quoted inside a text is not a field", in: `reason {\"trackId\":\"0012345678\"}`, secret: []string{"0012345678"}},
		{name: "signature field", in: "sig=9f86d081884c7d65 rejected", secret: []string{"9f86d081884c7d65"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := redact.String(tt.in)
			for _, s := range tt.secret {
				if strings.Contains(got, s) {
					t.Errorf("redact.String(%q) = %q, still shows %q", tt.in, got, s)
				}
			}
			if tt.want != "" && got != tt.want {
				t.Errorf("redact.String(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestStringKeepsWhatIsNeeded(t *testing.T) {
	tests := []struct{ name, in string }{
		{"trackId and provider trackId (UUIDs)", "call 550e8400-e29b-41d4-a716-446655440000 for blk-2f1c9a7e-0001"},
		{"RFC 3339 times", "at 2026-11-23T10:51:37.120223895Z and 2026-11-23 10:51:37+03:30"},
		{"addresses", "dial tcp 192.168.100.200:9092: connection refused"},
		{"small numbers", "attempt 3 of 4 after 1500ms, HTTP 503, code V5BS0010SF"},
		{"amounts as JSON numbers", `{"amount":1500000000,"offset":123456789012,"attempts":1}`},
		{"plain words", "token refreshed; the secret is kept in a file"},
		{"trackIds in JSON fields", `{"trackId":"order-20261123000001","blockTrackId":"b-12345678901","eventId":"e-99999999"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redact.String(tt.in); got != tt.in {
				t.Errorf("redact.String(%q) = %q, want it unchanged", tt.in, got)
			}
		})
	}
}

// A JSON document stays valid JSON, and a number quoted inside a string
// (provider JSON echoed in an error text) is masked although a bare JSON
// number value is kept.
func TestBytesKeepsJSONValid(t *testing.T) {
	doc := map[string]any{
		"reason":   `provider said {"nid":9876543210,"iban":"IR820540102680020817909002"} \ "quoted"` + "\x01",
		"attempts": 2,
		"amount":   123456789012,
		"trackId":  "blk-1",
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	out := redact.Bytes(raw)
	var back map[string]any
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatalf("redacted JSON %s does not parse: %v", out, err)
	}
	for _, s := range []string{"9876543210", "0540102680020817909"} {
		if bytes.Contains(out, []byte(s)) {
			t.Errorf("redacted JSON %s still shows %s", out, s)
		}
	}
	if back["amount"] != float64(123456789012) || back["attempts"] != float64(2) || back["trackId"] != "blk-1" {
		t.Errorf("got %v, want amount, attempts and trackId unchanged", back)
	}
}

func TestWriterRedactsEachWrite(t *testing.T) {
	var buf bytes.Buffer
	w := redact.Writer(&buf)
	line := []byte(`{"level":"warn","error":"deposit IR820540102680020817909002 unknown"}` + "\n")
	n, err := w.Write(line)
	if err != nil || n != len(line) {
		t.Fatalf("Write: got %d, %v; want %d, nil", n, err, len(line))
	}
	if strings.Contains(buf.String(), "0540102680020817909") || !strings.Contains(buf.String(), "9002 unknown") {
		t.Fatalf("got %q, want the IBAN masked and the rest kept", buf.String())
	}
}
