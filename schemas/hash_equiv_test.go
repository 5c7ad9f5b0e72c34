package schemas

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// canonicalHashBefore is CanonicalHash as it was before issue 10: the kind,
// a newline and json.Marshal of the command, hashed. CanonicalHash must
// give the same bytes for every command.
func canonicalHashBefore(c Command) []byte {
	body, err := json.Marshal(c)
	if err != nil {
		panic(err)
	}
	h := sha256.New()
	h.Write([]byte(c.Kind))
	h.Write([]byte{'\n'})
	h.Write(body)
	return h.Sum(nil)
}

// sameCanonicalForm fails t unless c's plain form, when there is one, is
// json.Marshal's byte for byte and its hash is the one before issue 10.
func sameCanonicalForm(t *testing.T, c Command) {
	t.Helper()
	want, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if got, plain := c.appendPlainJSON(nil); plain && !bytes.Equal(got, want) {
		t.Fatalf("plain form of %+v:\n got %s\nwant %s", c, got, want)
	}
	if got, want := c.CanonicalHash(), canonicalHashBefore(c); !bytes.Equal(got, want) {
		t.Fatalf("CanonicalHash of %+v = %x, before %x", c, got, want)
	}
}

// randomCommand sets each field of a Command to a random value: empty or
// zero often, plain ASCII mostly, now and then a character encoding/json
// escapes.
func randomCommand(r *rand.Rand) Command {
	const plain = "abcXYZ019 -_.:/+=~!#$%'()*,;?@[]^`{|}"
	special := []string{"\"", "\\", "<", ">", "&", "\x00", "\x1f", "\n", "\t", "\x7f", "é", "\u2028", "\u2029", "\xff", "\xed\xa0\x80", "😀"}
	ints := []int64{0, 1, -1, 90, 998, 9007199254740991, math.MaxInt64, math.MinInt64}
	var c Command
	v := reflect.ValueOf(&c).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			if r.IntN(3) == 0 {
				continue
			}
			b := make([]byte, 0, 16)
			for range r.IntN(12) + 1 {
				if r.IntN(20) == 0 {
					b = append(b, special[r.IntN(len(special))]...)
				} else {
					b = append(b, plain[r.IntN(len(plain))])
				}
			}
			f.SetString(string(b))
		case reflect.Int, reflect.Int64:
			if r.IntN(2) == 0 {
				f.SetInt(ints[r.IntN(len(ints))])
			} else {
				f.SetInt(r.Int64N(2000) - 1000)
			}
		default:
			panic("randomCommand: teach it about " + f.Type().String())
		}
	}
	return c
}

func TestCanonicalHashIsMarshalsForRandomCommands(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 10))
	plainSeen := 0
	for range 20000 {
		c := randomCommand(r)
		if _, plain := c.appendPlainJSON(nil); plain {
			plainSeen++
		}
		sameCanonicalForm(t, c)
	}
	if plainSeen < 1000 {
		t.Fatalf("only %d of the random commands were plain: the quick form is hardly tested", plainSeen)
	}
	for _, c := range pinnedHashCommands() {
		sameCanonicalForm(t, c.cmd)
	}
}

func TestIsPlainJSON(t *testing.T) {
	var inputs []string
	for b := range 256 {
		inputs = append(inputs, string([]byte{byte(b)}))
	}
	inputs = append(inputs, "é", "هیچ تسهیلات", "😀", "\uFFFD", "\u2027", "\u2028", "\u2029", "\u202a", "\xc3", "\xc3(",
		"\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf0\x9f\x98", "a\xffb", "\U0010FFFF")
	for _, s := range inputs {
		quoted, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		verbatim := string(quoted) == `"`+s+`"`
		if isPlainJSON(s) && !verbatim {
			t.Errorf("isPlainJSON(%q) but json.Marshal writes %s", s, quoted)
		}
	}
	for _, s := range []string{"", "court order 1403-77", "é", "هیچ تسهیلات", "😀", "\uFFFD"} {
		if !isPlainJSON(s) {
			t.Errorf("isPlainJSON(%q) = false: the quick form is not used for it", s)
		}
	}
}

// FuzzCanonicalHash holds CanonicalHash to json.Marshal's canonical form.
func FuzzCanonicalHash(f *testing.F) {
	f.Add("block", "t-1", "finnotech", "c", int64(10), "d <&> \"x\"", 5, "a\u2028", 2, "X", 100)
	f.Fuzz(func(t *testing.T, kind, trackID, provider, clientID string, amount int64, description string, days int,
		note string, slot int, blockCode string, unit int) {
		sameCanonicalForm(t, Command{Kind: Kind(kind), TrackID: trackID, Provider: Provider(provider), ClientID: clientID,
			Amount: amount, Description: description, Days: days, BlockTrackID: trackID, UnblockTrackID: clientID,
			Destination: description, Inquiry: note, TransferTrackID: blockCode, NationalID: provider, AccountID: note,
			Note: note, BlockCodeSlot: slot, BlockCode: blockCode, BusinessUnit: unit})
	})
}
