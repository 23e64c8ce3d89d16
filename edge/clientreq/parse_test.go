package clientreq

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseClaudeCodeBody(t *testing.T) {
	body := claudeCodeBody(t)
	if n := len(body); n < 25_000 || n > 40_000 {
		t.Fatalf("fixture is %d bytes, want about 30 KB", n)
	}
	req := mustParseClaude(t, body)
	if req.API != Claude || req.Model != "claude-opus-5-5" || !req.Stream {
		t.Fatalf("got API %v model %q stream %v", req.API, req.Model, req.Stream)
	}
	if req.UserID != jsonUserID {
		t.Fatalf("UserID = %q", req.UserID)
	}
	if !req.BillingHeader || req.System != agentSDKLine {
		t.Fatalf("BillingHeader %v, System %q", req.BillingHeader, req.System)
	}
	if !strings.HasPrefix(string(req.FirstMessage), `{"content":[{"type":"text","text":"\u003csystem-reminder\u003e`) ||
		!strings.HasSuffix(string(req.FirstMessage), `"role":"user"}`) {
		t.Fatalf("FirstMessage = %s", req.FirstMessage)
	}
}

func TestParseClaude(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Request
	}{
		{"minimal", `{"model":"m"}`, Request{API: Claude, Model: "m"}},
		{"whitespace everywhere", " \n{ \"model\" :\t\"m\" , \"stream\" : true }\r\n", Request{API: Claude, Model: "m", Stream: true}},
		{"stream false", `{"model":"m","stream":false}`, Request{API: Claude, Model: "m"}},
		{"stream null", `{"model":"m","stream":null}`, Request{API: Claude, Model: "m"}},
		{"escaped model", `{"model":"claude-\u006fpus\/x"}`, Request{API: Claude, Model: "claude-opus/x"}},
		{"escaped key", `{"mod\u0065l":"m"}`, Request{API: Claude, Model: "m"}},
		{"system string", `{"model":"m","system":"be brief"}`, Request{API: Claude, Model: "m", System: "be brief"}},
		{"system blocks", `{"model":"m","system":[{"type":"text","text":"first"},{"type":"text","text":"second"}]}`,
			Request{API: Claude, Model: "m", System: "first"}},
		{"system skips non-text", `{"model":"m","system":[{"type":"image"},{"text":"no type"},{"type":"text","text":"t"}]}`,
			Request{API: Claude, Model: "m", System: "t"}},
		{"billing header skipped", `{"model":"m","system":[{"type":"text","text":"` + billingBlock + `"},{"type":"text","text":"You are Claude Code, Anthropic's official CLI for Claude."}]}`,
			Request{API: Claude, Model: "m", System: "You are Claude Code, Anthropic's official CLI for Claude.", BillingHeader: true}},
		{"billing header only counts first", `{"model":"m","system":[{"type":"text","text":"a"},{"type":"text","text":"` + billingBlock + `"}]}`,
			Request{API: Claude, Model: "m", System: "a"}},
		{"system of wrong type ignored", `{"model":"m","system":42}`, Request{API: Claude, Model: "m"}},
		{"metadata legacy", `{"model":"m","metadata":{"user_id":"` + legacyUserID + `"}}`, Request{API: Claude, Model: "m", UserID: legacyUserID}},
		{"metadata user_id not string", `{"model":"m","metadata":{"user_id":7}}`, Request{API: Claude, Model: "m"}},
		{"metadata not object", `{"model":"m","metadata":"x"}`, Request{API: Claude, Model: "m"}},
		{"first message", `{"model":"m","messages":[ {"role":"user","content":"hi"} , {"role":"assistant"}]}`,
			Request{API: Claude, Model: "m", FirstMessage: []byte(`{"role":"user","content":"hi"}`)}},
		{"empty messages", `{"model":"m","messages":[]}`, Request{API: Claude, Model: "m"}},
		{"nested model ignored", `{"tools":[{"input_schema":{"model":"x"}}],"model":"m","x":{"model":1}}`, Request{API: Claude, Model: "m"}},
		{"case variant is another key", `{"MODEL":"x","model":"m","Model":"y"}`, Request{API: Claude, Model: "m"}},
		{"strings with brackets and quotes", `{"a":"}]\"{[\\","model":"m","b":["\\\"",{"c":"\\"}]}`, Request{API: Claude, Model: "m"}},
		{"unknown members skipped", `{"n":-1.5e3,"t":true,"f":false,"z":null,"model":"m"}`, Request{API: Claude, Model: "m"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustParseClaude(t, []byte(tt.body))
			if string(got.FirstMessage) != string(tt.want.FirstMessage) {
				t.Fatalf("FirstMessage = %s, want %s", got.FirstMessage, tt.want.FirstMessage)
			}
			got.FirstMessage, tt.want.FirstMessage = nil, nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	deep := strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)
	tests := []struct {
		name string
		body string
		kind error
	}{
		{"empty", ``, ErrEmpty},
		{"blank", " \n\t", ErrEmpty},
		{"not json", `model=m`, ErrSyntax},
		{"truncated", `{"model":"m"`, ErrSyntax},
		{"trailing garbage", `{"model":"m"} x`, ErrSyntax},
		{"two values", `{"model":"m"}{}`, ErrSyntax},
		{"invalid escape", `{"model":"\q"}`, ErrSyntax},
		{"array", `[{"model":"m"}]`, ErrNotObject},
		{"string", `"m"`, ErrNotObject},
		{"missing model", `{"messages":[]}`, ErrModel},
		{"empty model", `{"model":""}`, ErrModel},
		{"number model", `{"model":5}`, ErrModel},
		{"null model", `{"model":null}`, ErrModel},
		{"object model", `{"model":{"id":"m"}}`, ErrModel},
		{"control char model", `{"model":"a\u0000b"}`, ErrModel},
		{"long model", `{"model":"` + strings.Repeat("m", maxModelLen+1) + `"}`, ErrModel},
		{"nested model only", `{"x":{"model":"m"}}`, ErrModel},
		{"duplicate model", `{"model":"a","model":"b"}`, ErrDuplicateKey},
		{"duplicate escaped model", `{"model":"a","m\u006fdel":"b"}`, ErrDuplicateKey},
		{"duplicate stream", `{"model":"a","stream":true,"stream":false}`, ErrDuplicateKey},
		{"string stream", `{"model":"m","stream":"true"}`, ErrStream},
		{"numeric stream", `{"model":"m","stream":1}`, ErrStream},
		{"too deep", `{"model":"m","x":` + deep + `}`, ErrTooDeep},
		{"too deep and invalid", strings.Repeat("[", 100_000), ErrTooDeep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseClaude([]byte(tt.body))
			requireKind(t, err, tt.kind)
			_, err = ParseOpenAI([]byte(tt.body))
			requireKind(t, err, tt.kind)
		})
	}
}

func TestParseDepthLimitIsInclusive(t *testing.T) {
	// The top-level object is level 1.
	inner := strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1)
	mustParseClaude(t, []byte(`{"model":"m","x":`+inner+`}`))
}

func TestParseErrorDoesNotEchoBody(t *testing.T) {
	_, err := ParseClaude([]byte(`{"model":"secret-prompt-text" "x"}`))
	requireKind(t, err, ErrSyntax)
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("message echoes the body: %v", err)
	}
}

func TestParseOpenAI(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Request
	}{
		{"codex", string(codexBody()), Request{API: OpenAI, Model: "gpt-6.1-sol", Stream: true, PromptCacheKey: testSessionID,
			FirstMessage: []byte(`{"type":"message","role":"user","content":[{"type":"input_text","text":"say hi"}]}`)}},
		{"instructions", `{"model":"m","instructions":"be brief","input":"hello"}`,
			Request{API: OpenAI, Model: "m", System: "be brief", FirstMessage: []byte(`"hello"`)}},
		{"instructions null", `{"model":"m","instructions":null,"prompt_cache_key":null}`, Request{API: OpenAI, Model: "m"}},
		{"input empty", `{"model":"m","input":[]}`, Request{API: OpenAI, Model: "m"}},
		{"metadata ignored", `{"model":"m","metadata":{"user_id":"u"}}`, Request{API: OpenAI, Model: "m"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOpenAI([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if string(got.FirstMessage) != string(tt.want.FirstMessage) {
				t.Fatalf("FirstMessage = %s, want %s", got.FirstMessage, tt.want.FirstMessage)
			}
			got.FirstMessage, tt.want.FirstMessage = nil, nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
	if _, err := ParseOpenAI([]byte(`{"model":"m","input":1,"input":2}`)); err == nil {
		t.Fatal("duplicate input accepted")
	}
}

func TestStringEnd(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{`""`, 2},
		{`"a"x`, 3},
		{`"\""`, 4},
		{`"\\"`, 4},
		{`"\\\""`, 6},
		{`"\\\\"x`, 6},
		{`"a\"b"`, 6},
		{`"abc`, -1},
		{`"\"`, -1},
	}
	for _, tt := range tests {
		if got := stringEnd([]byte(tt.in), 0); got != tt.want {
			t.Errorf("stringEnd(%s) = %d, want %d", tt.in, got, tt.want)
		}
	}
}
