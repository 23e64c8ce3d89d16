package clientreq

import (
	"encoding/json"
	"testing"
)

func BenchmarkParseClaude(b *testing.B) {
	body := claudeCodeBody(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseClaude(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnmarshalFields is the baseline ParseClaude replaces: encoding/json
// into a struct of just the fields relay reads.
func BenchmarkUnmarshalFields(b *testing.B) {
	body := claudeCodeBody(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var v struct {
			Model    string                  `json:"model"`
			Stream   bool                    `json:"stream"`
			Metadata struct{ UserID string } `json:"metadata"`
			System   json.RawMessage         `json:"system"`
			Messages []json.RawMessage       `json:"messages"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRewriteModel(b *testing.B) {
	body := claudeCodeBody(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := RewriteModel(body, "claude-opus-4-5-20251101"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSessionHash(b *testing.B) {
	req := mustParseClaude(b, claudeCodeBody(b))
	h := claudeCodeHeaders()
	b.ReportAllocs()
	for b.Loop() {
		SessionHash("key-1", h, req)
	}
}
