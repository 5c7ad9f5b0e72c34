package schemas

import (
	"encoding/hex"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pinnedExampleHashes are the CanonicalHash of each command example, as
// blockd has stored them. The hash is kept in the database beside every
// command; a change here would make a redelivered command look like a
// different one (TRACK_ID_CONFLICT). Never update these values.
var pinnedExampleHashes = map[string]string{
	"block.arhivaar.json":             "27e7e2c1165f03d393f0965a7adb26238d42ecbbfa1b1fb9fd617b96aeabd393",
	"block.card.json":                 "a983207e18d36c9e45660f290a3522aebfb19170fed95eacc9ea0dede51748b6",
	"block.finnotech.json":            "d77b643b14ad0c9e40303b69e084a3b1a3cc1d126c2b20bc363bf2ac41c91cd8",
	"inquiry.finnotech-facility.json": "821b433b71b15a5764175915a7b26350e27ca1814462cccb8deee4226872d4cb",
	"inquiry.finnotech-transfer.json": "e8614ca7277fdd6d4edf53e24551e34d417e96a1fc4df62731bf3b7155b525d4",
	"transfer.finnotech.json":         "3c55158076a83be256971a007e8dbeaf37a1fe5f17186bd63153a69c40264b8c",
	"unblock.arhivaar.json":           "e436b9d81f8134af808f5c23abf0e013f1a6580a7d26b5ee0f24ccf5c30c90c9",
	"unblock.card.json":               "df2a9a15300105be9f19b6ccdbb24705ff33b5b7a2582e8ce617453032489fc5",
	"unblock.finnotech.json":          "811569edff9794f85dca89999a246dd62701afa89df42b6ef2ed3428cf28d8f8",
}

// pinnedHashCommands are commands that exercise every way a field can be
// written in the canonical form: each field set, zero values left out,
// characters that are escaped (HTML, U+2028, control characters, NUL,
// bytes that are not UTF-8), negative and extreme numbers, and kinds that
// are empty or unknown. Their hashes are pinned in pinnedCommandHashes.
func pinnedHashCommands() []struct {
	name string
	cmd  Command
} {
	return []struct {
		name string
		cmd  Command
	}{
		{"zero", Command{}},
		{"kind only", Command{Kind: KindBlock}},
		{"unknown kind", Command{Kind: Kind("refund\n"), TrackID: "t"}},
		{"every field", Command{Kind: KindBlock, TrackID: "t-1_x", Provider: ProviderFinnotech, ClientID: "client.id-1", Amount: 1500000,
			Description: "court order", Days: 30, BlockTrackID: "b", UnblockTrackID: "u", Destination: "IR820540102680020817909002",
			Inquiry: "facility", TransferTrackID: "x", NationalID: "0071331951", AccountID: "0001000010000510481", Note: "n",
			BlockCodeSlot: 2, BlockCode: "X", BusinessUnit: 998}},
		{"html characters", Command{Kind: KindTransfer, TrackID: "t", Description: `<a href="x">&amp;</a>`}},
		{"line and paragraph separators", Command{Kind: KindBlock, TrackID: "t", Note: "a\u2028b\u2029c"}},
		{"control characters", Command{Kind: KindBlock, TrackID: "t", Note: "\x00\x01\b\f\n\r\t\x1f\x7f \"\\/"}},
		{"not utf-8", Command{Kind: KindBlock, TrackID: "\xff\xfe", Note: "a\xc3(b\xed\xa0\x80"}},
		{"persian", Command{Kind: KindInquiry, TrackID: "t", Description: "هیچ تسهیلات و تعهدی یافت نشد", Note: "\U0001F600\uFFFD"}},
		{"negative numbers", Command{Kind: KindUnblock, TrackID: "t", Amount: -1, Days: -90, BlockCodeSlot: -2, BusinessUnit: -998}},
		{"extreme numbers", Command{Kind: KindUnblock, TrackID: "t", Amount: math.MinInt64, Days: math.MaxInt, BusinessUnit: math.MinInt}},
		{"largest amount", Command{Kind: KindBlock, TrackID: "t", Amount: math.MaxInt64}},
	}
}

// pinnedCommandHashes are the CanonicalHash of pinnedHashCommands. Never
// update these values.
var pinnedCommandHashes = map[string]string{
	"zero":                          "1aea508d5ac8a9a7ed01f5a2383e6192c06dead4686d55e7dd94bb4eca6e4039",
	"kind only":                     "55bcc9022bee9405ff4c7d5f1bdf954cf9d623dae837af5d36f2fd8ea0dcaae3",
	"unknown kind":                  "5720f2923ddad9e84ae73004977e5fe16a84330bdca58ae17057ba8eb24529d9",
	"every field":                   "80be6727620b3f1e67dc6372e5db0d02151aa2ebec1b59982509e7287afc0f78",
	"html characters":               "0562f0c44a0a5c1f79acc04aecbeccd6ddd702cfc871fedcc0fb7552772cde13",
	"line and paragraph separators": "3e11ce5bf4a0d6de3066681bc88c8ad803ab9af2e1ddae47c3453891ae640291",
	"control characters":            "68021e8168316981c18cb6005cb456808af4ff2676a8d22d238ddbf35d019ffb",
	"not utf-8":                     "35cad62a617a375898af5ff95ff63d3e49bb39a11ac7b0516431f9446dce8bd5",
	"persian":                       "8fd42626ad58919e3f503668de8cd918dd12c50be7815fd1071ddbe6c3ff16fc",
	"negative numbers":              "72ed35fa86ef495ecc51747aa50e938f7af5a8ef22f4f7fceeeaa96e51b5c289",
	"extreme numbers":               "e2fdfe8558fce8173be42929ef14278fc8aec18b0cddb65b52f8ff99472d5e9f",
	"largest amount":                "3f7b6c3a96e8815ad2db07a52534e8c4f564e74248dd37d77261274d32156c1e",
}

func TestCanonicalHashOfExamplesIsPinned(t *testing.T) {
	v := newValidator(t)
	files, err := filepath.Glob("examples/*.json")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, f := range files {
		name := filepath.Base(f)
		kind := Kind(strings.Split(name, ".")[0])
		if kind == "result" {
			continue
		}
		seen++
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cmd, err := v.DecodeCommand(kind, raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want, ok := pinnedExampleHashes[name]
		if !ok {
			t.Errorf("%s: no pinned hash; add its current CanonicalHash to pinnedExampleHashes", name)
			continue
		}
		if got := hex.EncodeToString(cmd.CanonicalHash()); got != want {
			t.Errorf("%s: CanonicalHash = %s, pinned %s", name, got, want)
		}
	}
	if seen != len(pinnedExampleHashes) {
		t.Errorf("%d command examples, %d pinned hashes", seen, len(pinnedExampleHashes))
	}
}

func TestCanonicalHashOfEdgeCasesIsPinned(t *testing.T) {
	cases := pinnedHashCommands()
	if len(cases) != len(pinnedCommandHashes) {
		t.Fatalf("%d commands, %d pinned hashes", len(cases), len(pinnedCommandHashes))
	}
	for _, c := range cases {
		want, ok := pinnedCommandHashes[c.name]
		if !ok {
			t.Errorf("%s: no pinned hash", c.name)
			continue
		}
		if got := hex.EncodeToString(c.cmd.CanonicalHash()); got != want {
			t.Errorf("%s: CanonicalHash = %s, pinned %s", c.name, got, want)
		}
	}
}
