package clientreq

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

func TestRewriteModel(t *testing.T) {
	tests := []struct {
		name, body, upstream, want string
	}{
		{"simple", `{"model":"a","x":1}`, "b", `{"model":"b","x":1}`},
		{"last member", `{"x":1,"model":"a"}`, "bb", `{"x":1,"model":"bb"}`},
		{"whitespace kept", "{ \"model\" :\n\t\"a\"  ,\"x\" : [ 1 , 2 ] }\n", "b", "{ \"model\" :\n\t\"b\"  ,\"x\" : [ 1 , 2 ] }\n"},
		{"leading whitespace", "\r\n {\"model\":\"a\"}", "b", "\r\n {\"model\":\"b\"}"},
		{"escaped old value", `{"model":"a\"b\\c\u00e9","x":"model"}`, "b", `{"model":"b","x":"model"}`},
		{"escaped key", `{"mod\u0065l":"a"}`, "b", `{"mod\u0065l":"b"}`},
		{"nested model untouched", `{"tools":[{"input_schema":{"properties":{"model":{"type":"string"}}}}],"metadata":{"model":"a"},"model":"a"}`, "b",
			`{"tools":[{"input_schema":{"properties":{"model":{"type":"string"}}}}],"metadata":{"model":"a"},"model":"b"}`},
		{"key text inside strings", `{"s":"\"model\":\"a\"","model":"a"}`, "b", `{"s":"\"model\":\"a\"","model":"b"}`},
		{"case variants untouched", `{"Model":"a","model":"a","MODEL":"a"}`, "b", `{"Model":"a","model":"b","MODEL":"a"}`},
		{"upstream needs escaping", `{"model":"a"}`, `we"ird\name`, `{"model":"we\"ird\\name"}`},
		{"upstream unicode", `{"model":"a"}`, "modèle", `{"model":"modèle"}`},
		{"upstream html chars", `{"model":"a"}`, "a<b>&c", `{"model":"a\u003cb\u003e\u0026c"}`},
		{"shorter to longer", `{"model":"claude-opus-5-5","stream":true}`, "anthropic/claude-opus-4-5-20251101", `{"model":"anthropic/claude-opus-4-5-20251101","stream":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.body)
			orig := bytes.Clone(in)
			got, err := RewriteModel(in, tt.upstream)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
			if !bytes.Equal(in, orig) {
				t.Fatal("input modified")
			}
			if req := mustParseClaude(t, got); req.Model != tt.upstream {
				t.Fatalf("model after rewrite = %q", req.Model)
			}
		})
	}
}

func TestRewriteModelClaudeCodeBody(t *testing.T) {
	body := claudeCodeBody(t)
	got, err := RewriteModel(body, "claude-opus-4-5-20251101")
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Replace(body, []byte(`"model":"claude-opus-5-5"`), []byte(`"model":"claude-opus-4-5-20251101"`), 1)
	if !bytes.Equal(got, want) {
		t.Fatal("rewrite changed more than the model")
	}
	var a, b map[string]json.RawMessage
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got, &b); err != nil {
		t.Fatal(err)
	}
	for k, v := range a {
		if k != "model" && !bytes.Equal(v, b[k]) {
			t.Fatalf("member %q changed", k)
		}
	}
}

func TestRewriteModelErrors(t *testing.T) {
	tests := []struct {
		name, body string
		kind       error
	}{
		{"invalid", `{"model":"a"`, ErrSyntax},
		{"not object", `["model","a"]`, ErrNotObject},
		{"missing", `{"x":{"model":"a"}}`, ErrModel},
		{"not a string", `{"model":["a"]}`, ErrModel},
		{"duplicate", `{"model":"a","model":"b"}`, ErrDuplicateKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := RewriteModel([]byte(tt.body), "b")
			requireKind(t, err, tt.kind)
		})
	}
	for _, bad := range []string{"", "a\nb", "\xff"} {
		_, err := RewriteModel([]byte(`{"model":"a"}`), bad)
		var e *Error
		if err == nil || errors.As(err, &e) {
			t.Errorf("upstream %q: err = %v, want a plain configuration error", bad, err)
		}
	}
}
