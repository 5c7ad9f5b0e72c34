package schemas

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeCommand feeds hostile bytes to the decoder and validator. It
// must never panic, must answer every input with either a Command that
// survives a round trip or an *InvalidError with a known code, and must
// echo a trackId only when it is printable and short. Seeds live in
// testdata/fuzz/FuzzDecodeCommand.
func FuzzDecodeCommand(f *testing.F) {
	v, err := NewValidator()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		`{"trackId":"t1","provider":"finnotech","clientId":"c","amount":10,"description":"d","days":5}`,
		`{"trackId":"u1","provider":"finnotech","blockTrackId":"t1"}`,
		`{"trackId":"a1","provider":"arhivaar","accountId":"6475736574794c4e2f594d3d","note":"x"}`,
		`{"trackId":"c1","provider":"card","accountId":"0001000010000510481","blockCodeSlot":2,"blockCode":"X"}`,
		`{"trackId":"x1","provider":"finnotech","unblockTrackId":"u1","amount":5,"destination":"0201000000001","description":"d"}`,
		`{"trackId":"i1","provider":"finnotech","inquiry":"facility","clientId":"c","nationalId":"0071331951"}`,
		`{"trackId":1e400}`, `{"amount":-0}`, `{"trackId":"\u0000"}`, `[]`, `null`, `"x"`, `{`, ``,
		`{"trackId":"t","trackId":"u"}`, `{"__proto__":{}}`, strings.Repeat(`[`, 10000),
	} {
		for _, kind := range []string{"block", "unblock", "transfer", "inquiry"} {
			f.Add(kind, []byte(s))
		}
	}
	codes := map[string]bool{CodeMalformed: true, CodeSchemaInvalid: true, CodeEmptyMessage: true, CodeUnstorableCharacter: true}
	f.Fuzz(func(t *testing.T, kind string, raw []byte) {
		cmd, err := v.DecodeCommand(Kind(kind), raw)
		if err != nil {
			var ie *InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("got %T %v, want *InvalidError", err, err)
			}
			if !codes[ie.Code] {
				t.Fatalf("unknown code %q", ie.Code)
			}
			if ie.Message == "" || len(ie.Message) > MaxReasonBytes || !utf8.ValidString(ie.Message) || strings.ContainsRune(ie.Message, 0) {
				t.Fatalf("reason %q is empty, too long or not storable", ie.Message)
			}
			if ie.TrackID != "" && (len(ie.TrackID) > maxReportedTrackIDLen || !utf8.ValidString(ie.TrackID) || strings.ContainsAny(ie.TrackID, "\x00\n\r")) {
				t.Fatalf("echoed an unprintable or long trackId %q", ie.TrackID)
			}
			return
		}
		if cmd.Kind != Kind(kind) || cmd.TrackID == "" || len(cmd.TrackID) > 40 {
			t.Fatalf("accepted command has kind %q trackId %q", cmd.Kind, cmd.TrackID)
		}
		again, err := json.Marshal(cmd)
		if err != nil {
			t.Fatal(err)
		}
		cmd2, err := v.DecodeCommand(Kind(kind), again)
		if err != nil {
			t.Fatalf("re-encoded command %s is refused: %v", again, err)
		}
		if string(cmd.CanonicalHash()) != string(cmd2.CanonicalHash()) {
			t.Fatalf("round trip changed the command: %s", again)
		}
	})
}
