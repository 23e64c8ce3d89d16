package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of an encryption key: AES-256.
const KeySize = 32

// sealedPrefix versions the sealed format, so that a later scheme (another
// cipher, a rotated key id) can be told apart from this one.
const sealedPrefix = "v1:"

// additionalData binds a ciphertext to this format: a v1 payload cannot be
// replayed as the payload of some later version that reuses the key.
var additionalData = []byte("relay/secrets/v1")

var (
	// ErrMalformed: the sealed string is not one Seal produced.
	ErrMalformed = errors.New("secrets: malformed sealed value")
	// ErrDecrypt: the key is wrong or the sealed value was altered.
	ErrDecrypt = errors.New("secrets: cannot decrypt (wrong key or tampered value)")
)

// Box seals and opens secrets with one key. It is safe for concurrent use.
type Box struct {
	aead cipher.AEAD
}

// NewBox returns a Box for a KeySize-byte key.
func NewBox(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secrets: key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block) // 12-byte nonce, 16-byte tag
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// ParseKey decodes ENCRYPTION_KEY: 64 hex digits, or the standard or URL
// base64 (padded or not) of 32 bytes. The error never quotes the input.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*KeySize {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == KeySize {
			return k, nil
		}
	}
	// Claude Relay Service's .env keeps ENCRYPTION_KEY as exactly 32
	// characters; relay takes them as the key's 32 bytes (DESIGN.md section
	// 3), so a seed user's settings work unchanged. No 32-character string
	// is also 64 hex digits or base64 of 32 bytes, so the forms never clash.
	if len(s) == KeySize {
		return []byte(s), nil
	}
	return nil, fmt.Errorf("secrets: encryption key must be 64 hex digits, base64 of %d bytes or exactly %d characters (got %d characters)", KeySize, KeySize, len(s))
}

// Seal encrypts plaintext under a fresh random nonce, so sealing the same
// secret twice gives different strings, and returns "v1:" followed by the
// standard base64 of nonce|ciphertext|tag.
func (b *Box) Seal(plaintext string) (string, error) {
	ns := b.aead.NonceSize()
	buf := make([]byte, ns, ns+len(plaintext)+b.aead.Overhead())
	// Random 96-bit nonces stay safe for far more secrets than relay will
	// ever seal under one key (NIST SP 800-38D allows 2^32).
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	buf = b.aead.Seal(buf, buf[:ns], []byte(plaintext), additionalData)
	return sealedPrefix + base64.StdEncoding.EncodeToString(buf), nil
}

// Open decrypts a string from Seal. It fails with ErrMalformed if sealed is
// not in Seal's format and ErrDecrypt if the key is wrong or any byte was
// altered (GCM authenticates the whole value).
func (b *Box) Open(sealed string) (string, error) {
	payload, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		return "", ErrMalformed
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(payload)
	if err != nil || len(raw) < b.aead.NonceSize()+b.aead.Overhead() {
		return "", ErrMalformed
	}
	ns := b.aead.NonceSize()
	plain, err := b.aead.Open(nil, raw[:ns], raw[ns:], additionalData)
	if err != nil {
		return "", ErrDecrypt
	}
	return string(plain), nil
}
