// Package seal encrypts the secrets blockd keeps at rest (the provider
// tokens in PostgreSQL) with AES-256-GCM, under a Keyring: one current key
// that seals, and older keys that still open what they sealed, so a key can
// be rotated without losing what is stored.
//
// A sealed value is a random 96-bit nonce followed by the GCM ciphertext and
// tag. The caller keeps, beside it, the id of the key that sealed it
// (Keyring.Seal returns it), and gives the same additional data to Open as
// to Seal: data that names the value's place, so a sealed value copied to
// another place does not open. No error of this package holds a key, a
// plaintext or a sealed value.
package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
)

// KeySize is the size of a key: AES-256.
const KeySize = 32

var (
	// ErrUnknownKey: the value was sealed with a key the Keyring does not
	// hold (not the current key, nor an old one).
	ErrUnknownKey = errors.New("sealed with a key that is not configured")
	// ErrNotOpened: the key is known, but the value does not open with it:
	// it was altered, or copied from another place (other additional data).
	ErrNotOpened = errors.New("does not open: altered, or moved from another place")
)

// Key is one AES-256 key and its id. Its String shows only the id.
type Key struct {
	id  string
	key [KeySize]byte
}

// ParseKey reads a key file: exactly 32 random bytes, or those bytes as 64
// hex digits or in standard base64 (44 characters), the text optionally
// surrounded by white space. 32 bytes that are all printable text are
// refused: that is a passphrase, not a random key.
func ParseKey(data []byte) (Key, error) {
	var raw []byte
	text := bytes.TrimSpace(data)
	switch {
	case len(data) == KeySize:
		if isPrintable(data) {
			return Key{}, errors.New("the file is 32 characters of text, not 32 random bytes: generate a key (e.g. head -c 32 /dev/urandom, or openssl rand -base64 32)")
		}
		raw = data
	case len(text) == 2*KeySize:
		b, err := hex.DecodeString(string(text))
		if err != nil {
			return Key{}, errors.New("64 characters that are not hex digits")
		}
		raw = b
	case len(text) == base64.StdEncoding.EncodedLen(KeySize):
		b, err := base64.StdEncoding.DecodeString(string(text))
		if err != nil || len(b) != KeySize {
			return Key{}, errors.New("44 characters that are not 32 bytes in base64")
		}
		raw = b
	default:
		return Key{}, fmt.Errorf("got %d bytes; want 32 random bytes, 64 hex digits or 44 base64 characters", len(data))
	}
	k := Key{}
	copy(k.key[:], raw)
	sum := sha256.Sum256(append([]byte("blockd seal key id\x00"), k.key[:]...))
	k.id = hex.EncodeToString(sum[:8])
	return k, nil
}

func isPrintable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// NewKeyText returns a fresh random key as base64 text, the form ParseKey
// reads, for a development key file.
func NewKeyText() ([]byte, error) {
	var k [KeySize]byte
	if _, err := rand.Read(k[:]); err != nil {
		return nil, fmt.Errorf("generating key: %w", err)
	}
	out := make([]byte, base64.StdEncoding.EncodedLen(KeySize), base64.StdEncoding.EncodedLen(KeySize)+1)
	base64.StdEncoding.Encode(out, k[:])
	return append(out, '\n'), nil
}

// ID is the key's id: the first 8 bytes of a SHA-256 of the key, in hex. It
// is what a sealed value is stored with, and what logs and errors name.
func (k Key) ID() string { return k.id }

// IsZero reports whether k is the zero Key (no key).
func (k Key) IsZero() bool { return k.id == "" }

// String shows the key's id, never the key.
func (k Key) String() string {
	if k.IsZero() {
		return "seal.Key{none}"
	}
	return "seal.Key{id " + k.id + "}"
}

// GoString shows the key's id, never the key.
func (k Key) GoString() string { return k.String() }

// Keyring seals with its current key and opens with any of its keys. It is
// safe for concurrent use.
type Keyring struct {
	current string
	aeads   map[string]cipher.AEAD // by key id
}

// NewKeyring returns a Keyring that seals with current and opens what
// current or any of old sealed.
func NewKeyring(current Key, old ...Key) (*Keyring, error) {
	if current.IsZero() {
		return nil, errors.New("seal: no current key")
	}
	r := &Keyring{current: current.id, aeads: make(map[string]cipher.AEAD, 1+len(old))}
	for _, k := range append([]Key{current}, old...) {
		if k.IsZero() {
			return nil, errors.New("seal: an old key is empty")
		}
		block, err := aes.NewCipher(k.key[:])
		if err != nil {
			return nil, fmt.Errorf("seal: creating cipher of key %s: %w", k.id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("seal: creating GCM of key %s: %w", k.id, err)
		}
		r.aeads[k.id] = aead
	}
	return r, nil
}

// KeyID is the id of the key Seal uses.
func (r *Keyring) KeyID() string { return r.current }

// Seal encrypts plaintext under the current key, bound to additionalData,
// and returns that key's id with the sealed value.
func (r *Keyring) Seal(plaintext, additionalData []byte) (keyID string, sealed []byte, err error) {
	aead := r.aeads[r.current]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", nil, fmt.Errorf("seal: drawing nonce: %w", err)
	}
	return r.current, aead.Seal(nonce, nonce, plaintext, additionalData), nil
}

// Open decrypts a value Seal returned, with the key named keyID and the
// same additionalData. A key it does not hold is ErrUnknownKey; a value
// that does not open is ErrNotOpened.
func (r *Keyring) Open(keyID string, sealed, additionalData []byte) ([]byte, error) {
	aead, ok := r.aeads[keyID]
	if !ok {
		return nil, fmt.Errorf("key %q: %w", keyID, ErrUnknownKey)
	}
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("key %s: %w", keyID, ErrNotOpened)
	}
	n := aead.NonceSize()
	plaintext, err := aead.Open(nil, sealed[:n], sealed[n:], additionalData)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", keyID, ErrNotOpened)
	}
	return plaintext, nil
}
