package secrets

import (
	"regexp"
	"strings"
	"testing"
)

func TestNewAPIKey(t *testing.T) {
	format := regexp.MustCompile(`^cr_[0-9a-f]{64}$`)
	seen := map[string]bool{}
	for range 100 {
		k, err := NewAPIKey()
		if err != nil {
			t.Fatal(err)
		}
		if !format.MatchString(k) || !IsAPIKey(k) {
			t.Fatalf("key %q has the wrong format", k)
		}
		if seen[k] {
			t.Fatal("key repeated")
		}
		seen[k] = true
	}
}

func TestIsAPIKey(t *testing.T) {
	good := "cr_" + strings.Repeat("0a", 32)
	for _, s := range []string{"", "cr_", "sk-ant-xyz", good[:len(good)-1], good + "0", strings.ToUpper(good), "CR_" + good[3:], "cr_" + strings.Repeat("g", 64)} {
		if IsAPIKey(s) {
			t.Errorf("IsAPIKey(%q) = true", s)
		}
	}
	if !IsAPIKey(good) {
		t.Error("valid key refused")
	}
}

func TestHashKey(t *testing.T) {
	// SHA-256("abc"), FIPS 180-2 appendix B.1.
	if got := HashKey("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("HashKey = %s", got)
	}
	if HashKey("cr_a") == HashKey("cr_b") {
		t.Fatal("different keys hash alike")
	}
}

func TestEqual(t *testing.T) {
	h := HashKey("cr_a")
	if !Equal(h, HashKey("cr_a")) || Equal(h, HashKey("cr_b")) || Equal(h, h[:10]) || !Equal("", "") {
		t.Fatal("Equal is wrong")
	}
}
