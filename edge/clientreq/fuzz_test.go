package clientreq

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// The seed corpora live in testdata/fuzz/<FuzzName>. They hold small
// bodies on purpose: the 30 KB Claude Code body would slow every execution
// tenfold, and the unit tests already cover it.

func FuzzParseClaude(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParseClaude(body)
		checkParse(t, body, req, err)
		if err == nil && req.FirstMessage != nil && !json.Valid(req.FirstMessage) {
			t.Fatalf("FirstMessage is not valid JSON: %q", req.FirstMessage)
		}
	})
}

func FuzzParseOpenAI(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParseOpenAI(body)
		checkParse(t, body, req, err)
		if err == nil && req.FirstMessage != nil && !json.Valid(req.FirstMessage) {
			t.Fatalf("FirstMessage is not valid JSON: %q", req.FirstMessage)
		}
	})
}

// checkParse holds a parse result against encoding/json's reading of the
// same body: relay and the upstream must agree on model and stream.
func checkParse(t *testing.T, body []byte, req Request, err error) {
	t.Helper()
	if err != nil {
		var e *Error
		if !errors.As(err, &e) || e.Msg == "" {
			t.Fatalf("error %v (%T) is not an *Error", err, err)
		}
		if !json.Valid(body) && !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrEmpty) && !errors.Is(err, ErrTooDeep) {
			t.Fatalf("invalid JSON refused as %v", err)
		}
		return
	}
	var m map[string]json.RawMessage
	if uerr := json.Unmarshal(body, &m); uerr != nil {
		t.Fatalf("accepted a body encoding/json refuses: %v", uerr)
	}
	var model string
	if uerr := json.Unmarshal(m["model"], &model); uerr != nil || model != req.Model || model == "" {
		t.Fatalf("model %q, encoding/json reads %s", req.Model, m["model"])
	}
	var stream bool
	if s, ok := m["stream"]; ok {
		_ = json.Unmarshal(s, &stream)
	}
	if stream != req.Stream {
		t.Fatalf("stream %v, encoding/json reads %s", req.Stream, m["stream"])
	}
	out, rerr := RewriteModel(body, "fuzz-model")
	if rerr != nil {
		t.Fatalf("RewriteModel refused a parsed body: %v", rerr)
	}
	var m2 map[string]json.RawMessage
	if uerr := json.Unmarshal(out, &m2); uerr != nil || string(m2["model"]) != `"fuzz-model"` {
		t.Fatalf("rewritten body %q: %v", out, uerr)
	}
}

func FuzzRewriteModel(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte, upstream string) {
		orig := bytes.Clone(body)
		out, err := RewriteModel(body, upstream)
		if !bytes.Equal(body, orig) {
			t.Fatal("input modified")
		}
		if err != nil {
			return
		}
		if checkModelName(upstream) != "" {
			t.Fatalf("accepted upstream %q", upstream)
		}
		var before, after map[string]json.RawMessage
		if json.Unmarshal(body, &before) != nil {
			t.Fatal("rewrote a body encoding/json refuses")
		}
		if uerr := json.Unmarshal(out, &after); uerr != nil {
			t.Fatalf("output is not valid JSON: %v\n%q", uerr, out)
		}
		var model string
		if json.Unmarshal(after["model"], &model) != nil || model != upstream {
			t.Fatalf("model after rewrite is %s, want %q", after["model"], upstream)
		}
		if len(before) != len(after) {
			t.Fatalf("members: %d before, %d after", len(before), len(after))
		}
		for k, v := range before {
			if k != "model" && !bytes.Equal(v, after[k]) {
				t.Fatalf("member %q changed: %s -> %s", k, v, after[k])
			}
		}
	})
}
