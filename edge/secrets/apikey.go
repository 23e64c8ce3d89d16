package secrets

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
)

// APIKeyPrefix starts every relay API key.
const APIKeyPrefix = "cr_"

// NewAPIKey returns a fresh user API key: "cr_" and 64 lowercase hex digits
// (256 bits from crypto/rand). It is shown to the user once; only HashKey of
// it is kept.
func NewAPIKey() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return APIKeyPrefix + hex.EncodeToString(b[:]), nil
}

// IsAPIKey reports whether s has the shape of a relay API key, so a request
// with a foreign credential can be refused without hashing or a lookup.
func IsAPIKey(s string) bool {
	rest, ok := strings.CutPrefix(s, APIKeyPrefix)
	if !ok || len(rest) != 64 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// HashKey returns the lowercase hex SHA-256 of an API key, the form in which
// keys are stored and looked up. A fast unsalted hash is enough: the key
// carries 256 random bits, so there is nothing to guess.
func HashKey(plaintext string) string {
	sum := sha256.Sum256([]byte(plaintext))
	return hex.EncodeToString(sum[:])
}

// Equal compares two secrets in time independent of where they differ. Only
// their lengths can leak, so compare values of fixed length, such as two
// HashKey results.
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
