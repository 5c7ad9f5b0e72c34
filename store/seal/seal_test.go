package seal_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/blockd/blockd/store/seal"
)

func randomKey(t testing.TB) []byte {
	t.Helper()
	b := make([]byte, seal.KeySize)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	b[0] |= 0x80 // ParseKey refuses 32 printable bytes; a test key must never be one
	return b
}

func mustKey(t testing.TB, data []byte) seal.Key {
	t.Helper()
	k, err := seal.ParseKey(data)
	if err != nil {
		t.Fatalf("ParseKey: %v", err)
	}
	return k
}

func TestParseKeyTakesEachFormOfTheSameKey(t *testing.T) {
	raw := randomKey(t)
	want := mustKey(t, raw).ID()
	tests := []struct {
		name string
		data []byte
	}{
		{"raw", raw},
		{"hex", []byte(hex.EncodeToString(raw))},
		{"hex with newline", []byte(hex.EncodeToString(raw) + "\n")},
		{"upper-case hex", []byte(strings.ToUpper(hex.EncodeToString(raw)))},
		{"base64 as openssl rand -base64 32 writes it", []byte(base64.StdEncoding.EncodeToString(raw) + "\n")},
		{"base64 with spaces around", []byte("  " + base64.StdEncoding.EncodeToString(raw) + "\r\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := seal.ParseKey(tt.data)
			if err != nil {
				t.Fatalf("ParseKey: %v", err)
			}
			if k.ID() != want {
				t.Fatalf("got key id %s, want %s (the same key)", k.ID(), want)
			}
		})
	}
	if other := mustKey(t, randomKey(t)); other.ID() == want {
		t.Fatalf("two random keys have the same id %s", want)
	}
}

func TestParseKeyRefusesWhatIsNotAKey(t *testing.T) {
	raw := randomKey(t)
	passphrase := "correct horse battery staple 123" // 32 printable bytes
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"16 bytes", raw[:16]},
		{"raw key with a newline", append(append([]byte{}, raw...), '\n')},
		{"32-character passphrase", []byte(passphrase)},
		{"32 hex digits (a 16-byte key)", []byte(hex.EncodeToString(raw[:16]))},
		{"64 characters, not hex", []byte(strings.Repeat("zz", 32))},
		{"base64 of 24 bytes", []byte(base64.StdEncoding.EncodeToString(raw[:24]) + "\n")},
		{"44 characters, not base64", []byte(strings.Repeat("*", 44))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := seal.ParseKey(tt.data)
			if err == nil {
				t.Fatalf("got key %v, want an error", k)
			}
			if len(tt.data) >= 8 && strings.Contains(err.Error(), string(tt.data[:8])) {
				t.Fatalf("error %q echoes the file's content", err)
			}
		})
	}
}

func TestKeyPrintsOnlyItsID(t *testing.T) {
	raw := randomKey(t)
	k := mustKey(t, raw)
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		got := fmt.Sprintf(format, k)
		if !strings.Contains(got, k.ID()) || strings.Contains(got, hex.EncodeToString(raw)[:16]) || strings.Contains(got, string(raw[:8])) {
			t.Errorf("Sprintf(%q) = %q, want the id and nothing of the key", format, got)
		}
	}
}

func TestKeyringRotation(t *testing.T) {
	a, b := mustKey(t, randomKey(t)), mustKey(t, randomKey(t))
	underA, err := seal.NewKeyring(a)
	if err != nil {
		t.Fatal(err)
	}
	ad := []byte("finnotech\x00app-1\x00value")
	id, sealed, err := underA.Seal([]byte("access-token"), ad)
	if err != nil || id != a.ID() {
		t.Fatalf("Seal under A: got key id %s, %v; want %s", id, err, a.ID())
	}
	rotating, err := seal.NewKeyring(b, a)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rotating.Open(id, sealed, ad); err != nil || string(got) != "access-token" {
		t.Fatalf("Open under B with old A: got %q, %v; want the plaintext", got, err)
	}
	id2, resealed, err := rotating.Seal([]byte("access-token"), ad)
	if err != nil || id2 != b.ID() || rotating.KeyID() != b.ID() {
		t.Fatalf("Seal during rotation: got key id %s, %v; want the current key %s", id2, err, b.ID())
	}
	onlyB, err := seal.NewKeyring(b)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := onlyB.Open(id2, resealed, ad); err != nil || string(got) != "access-token" {
		t.Fatalf("Open under B alone: got %q, %v; want the plaintext", got, err)
	}
	if _, err := onlyB.Open(id, sealed, ad); !errors.Is(err, seal.ErrUnknownKey) {
		t.Fatalf("Open of A's value under B alone: got %v, want ErrUnknownKey", err)
	}
}

func TestKeyringOpenRefusesWhatWasNotSealedThere(t *testing.T) {
	r, err := seal.NewKeyring(mustKey(t, randomKey(t)))
	if err != nil {
		t.Fatal(err)
	}
	ad := []byte("finnotech\x00app-1\x00value")
	id, sealed, err := r.Seal([]byte("access-token"), ad)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1
	tests := []struct {
		name   string
		keyID  string
		sealed []byte
		ad     []byte
		want   error
	}{
		{"another place", id, sealed, []byte("finnotech\x00app-2\x00value"), seal.ErrNotOpened},
		{"one bit changed", id, flipped, ad, seal.ErrNotOpened},
		{"cut short", id, sealed[:10], ad, seal.ErrNotOpened},
		{"unknown key id", "0123456789abcdef", sealed, ad, seal.ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Open(tt.keyID, tt.sealed, tt.ad)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %q, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestSealDrawsAFreshNonceEachTime(t *testing.T) {
	r, err := seal.NewKeyring(mustKey(t, randomKey(t)))
	if err != nil {
		t.Fatal(err)
	}
	_, first, _ := r.Seal([]byte("same"), nil)
	_, second, _ := r.Seal([]byte("same"), nil)
	if bytes.Equal(first, second) {
		t.Fatalf("the same plaintext sealed twice gave the same bytes: the nonce is not fresh")
	}
	if bytes.Contains(first, []byte("same")) {
		t.Fatalf("the sealed value holds the plaintext")
	}
}

func TestNewKeyTextIsAKey(t *testing.T) {
	text, err := seal.NewKeyText()
	if err != nil {
		t.Fatal(err)
	}
	first := mustKey(t, text)
	again, err := seal.NewKeyText()
	if err != nil {
		t.Fatal(err)
	}
	if mustKey(t, again).ID() == first.ID() {
		t.Fatalf("two new keys are the same")
	}
}

func TestNewKeyringNeedsACurrentKey(t *testing.T) {
	if _, err := seal.NewKeyring(seal.Key{}); err == nil {
		t.Fatal("got a Keyring without a key, want an error")
	}
	if _, err := seal.NewKeyring(mustKey(t, randomKey(t)), seal.Key{}); err == nil {
		t.Fatal("got a Keyring with an empty old key, want an error")
	}
}
