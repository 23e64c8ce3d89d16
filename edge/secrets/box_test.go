package secrets

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
)

func testKey(fill byte) []byte { return bytes.Repeat([]byte{fill}, KeySize) }

func newTestBox(t *testing.T, fill byte) *Box {
	t.Helper()
	b, err := NewBox(testKey(fill))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSealOpenRoundTrip(t *testing.T) {
	b := newTestBox(t, 1)
	for _, s := range []string{"", "sk-ant-api03-" + strings.Repeat("x", 90), "pässwörd ✓", strings.Repeat("\x00", 1000)} {
		sealed, err := b.Seal(s)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(sealed, "v1:") {
			t.Fatalf("sealed %q lacks the version", sealed)
		}
		if len(s) > 3 && strings.Contains(sealed, s) {
			t.Fatal("plaintext visible in sealed value")
		}
		got, err := b.Open(sealed)
		if err != nil || got != s {
			t.Fatalf("Open = %q, %v; want %q", got, err, s)
		}
	}
}

func TestSealNonceFresh(t *testing.T) {
	b := newTestBox(t, 1)
	seen := map[string]bool{}
	for range 100 {
		sealed, err := b.Seal("same secret")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(sealed, "v1:"))
		nonce := string(raw[:12])
		if seen[sealed] || seen[nonce] {
			t.Fatal("nonce or sealed value repeated")
		}
		seen[sealed], seen[nonce] = true, true
	}
}

func TestOpenTampered(t *testing.T) {
	b := newTestBox(t, 1)
	sealed, err := b.Seal("sk-secret-value")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(sealed, "v1:"))
	for i := range raw { // every byte: nonce, ciphertext and tag
		flipped := bytes.Clone(raw)
		flipped[i] ^= 0x01
		_, err := b.Open("v1:" + base64.StdEncoding.EncodeToString(flipped))
		if !errors.Is(err, ErrDecrypt) {
			t.Fatalf("byte %d flipped: err = %v, want ErrDecrypt", i, err)
		}
	}
	truncated := "v1:" + base64.StdEncoding.EncodeToString(raw[:len(raw)-1])
	if _, err := b.Open(truncated); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("truncated: err = %v", err)
	}
}

func TestOpenWrongKey(t *testing.T) {
	sealed, err := newTestBox(t, 1).Seal("sk-secret-value")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newTestBox(t, 2).Open(sealed); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("err = %v, want ErrDecrypt", err)
	}
}

func TestOpenMalformed(t *testing.T) {
	b := newTestBox(t, 1)
	short := base64.StdEncoding.EncodeToString(make([]byte, 27)) // less than nonce + tag
	for _, s := range []string{"", "sk-plain", "v2:AAAA", "v1:", "v1:not base64!", "v1:" + short, " v1:AAAA"} {
		if _, err := b.Open(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("Open(%q): err = %v, want ErrMalformed", s, err)
		}
	}
}

func TestNewBoxKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33} {
		if _, err := NewBox(make([]byte, n)); err == nil {
			t.Errorf("%d-byte key accepted", n)
		}
	}
}

func TestParseKey(t *testing.T) {
	key := make([]byte, KeySize)
	for i := range key {
		key[i] = byte(i * 7) // includes bytes that differ between std and URL base64
	}
	for name, s := range map[string]string{
		"hex":            hex.EncodeToString(key),
		"HEX":            strings.ToUpper(hex.EncodeToString(key)),
		"hex with space": " " + hex.EncodeToString(key) + "\n",
		"base64":         base64.StdEncoding.EncodeToString(key),
		"raw base64":     base64.RawStdEncoding.EncodeToString(key),
		"url base64":     base64.URLEncoding.EncodeToString(key),
		"raw url base64": base64.RawURLEncoding.EncodeToString(key),
	} {
		got, err := ParseKey(s)
		if err != nil || !bytes.Equal(got, key) {
			t.Errorf("%s: %x, %v", name, got, err)
		}
	}
	// Claude Relay Service's .env form: exactly 32 characters, taken as the
	// key's bytes.
	seed := "0123456789abcdefghijklmnopqrstuv"
	if got, err := ParseKey(" " + seed + "\n"); err != nil || string(got) != seed {
		t.Errorf("32 characters: %q, %v", got, err)
	}
	secret := "not-a-key-but-secret"
	for _, s := range []string{
		"", secret, hex.EncodeToString(key[:31]), hex.EncodeToString(key) + "00",
		strings.Repeat("g", 64), base64.StdEncoding.EncodeToString(key[:16]),
		strings.Repeat("k", 31), strings.Repeat("k", 33),
	} {
		_, err := ParseKey(s)
		if err == nil {
			t.Errorf("ParseKey(%q) accepted", s)
			continue
		}
		if !strings.Contains(err.Error(), "64 hex digits, base64 of 32 bytes or exactly 32 characters") || (s != "" && strings.Contains(err.Error(), s)) {
			t.Errorf("ParseKey(%q): unclear or leaking error %v", s, err)
		}
	}
}

func TestBoxConcurrent(t *testing.T) {
	b := newTestBox(t, 3)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				s, err := b.Seal("x")
				if err != nil {
					t.Error(err)
					return
				}
				if p, err := b.Open(s); err != nil || p != "x" {
					t.Error(p, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
