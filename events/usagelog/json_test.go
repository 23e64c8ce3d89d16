package usagelog

import (
	"encoding/json"
	"testing"
	"time"

	"relay/events"
)

func TestPayload(t *testing.T) {
	cases := []struct {
		env  string
		want string // "" means not a usage event
	}{
		{`{"id":"1","type":"usage.recorded","time":"t","data":{"a":1}}`, `{"a":1}`},
		{` { "data" : {"a":[1,{"b":"}"}]} , "type" : "usage.recorded" } `, `{"a":[1,{"b":"}"}]}`},
		{`{"id":"1","type":"usage.recorded","data":{"s":"\"}\\"}}`, `{"s":"\"}\\"}`},
		{`{"type":"key.created","data":{}}`, ""},
		{`{"type":"usage.recorded"}`, ""},
		{`{"type":"usage.recorded","data":"x"}`, ""},
		{`{"type":"usage.recorded","data":{"a":1}`, ""},
		{`{"type":"usage.recorded","data":{"a":1},}`, ""},
		{`[]`, ""},
		{``, ""},
		{`{"type":"usage.recorded","data":{"a":"unterminated}}`, ""},
		{`{"id":"2","type":"usage.refusals_counted","data":{"count":3}}`, `{"count":3}`},
		{`{"type":"usage.refusals","data":{"count":3}}`, ""},
	}
	for _, tc := range cases {
		got, _, err := payload([]byte(tc.env))
		if (err != nil) != (tc.want == "") || string(got) != tc.want {
			t.Errorf("payload(%s) = %s, %v; want %s", tc.env, got, err, tc.want)
		}
	}
}

func TestNum(t *testing.T) {
	cases := map[string]int64{
		"0": 0, "42": 42, "-7": -7, "9223372036854775807": 9223372036854775807,
		"-9223372036854775808": -9223372036854775808, "99999999999999999999": 9223372036854775807,
		"1.5": 0, "1e3": 0, "null": 0, "": 0, "-": 0,
	}
	for in, want := range cases {
		if got := num([]byte(in)); got != want {
			t.Errorf("num(%q) = %d, want %d", in, got, want)
		}
	}
}

// parseUsage reads what encoding/json would from what relay writes.
func FuzzParseUsage(f *testing.F) {
	f.Add("req-1", "claude-sonnet-4-5", "ok", int64(1234), true)
	f.Add("é\"\\\n\u2028", "m\x00", "", int64(-1), false)
	f.Fuzz(func(t *testing.T, id, model, outcome string, n int64, b bool) {
		u := events.Usage{
			ID: id, Time: time.Unix(n%(1<<40), n%1e9).UTC(), KeyID: id + "k", AccountID: model, Platform: outcome,
			Model: model, UpstreamModel: model + id, SessionHash: outcome, Client: id, Stream: b, Status: int(n % 1000),
			Outcome: outcome, Reason: id + model, Attempts: int(n % 7), AttemptLog: []events.Attempt{{AccountID: id, Error: model}},
			Excluded: []events.Exclusion{{AccountID: "x", Reason: outcome}},
			Tokens:   events.Tokens{InputTokens: n, OutputTokens: -n, CacheCreateTokens: n / 2, CacheCreate1hTokens: n / 3, CacheReadTokens: n / 5, ReasoningTokens: n / 7},
			Cost:     1.5, CostNanos: n, Priced: !b, DurationMs: n / 11, TTFTMs: n / 13,
		}
		data, err := json.Marshal(u)
		if err != nil {
			t.Skip()
		}
		var back events.Usage
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatal(err)
		}
		got := parseUsage(data)
		want := Fields{
			ID: back.ID, Time: back.Time.Format(time.RFC3339Nano), KeyID: back.KeyID, AccountID: back.AccountID, Platform: back.Platform,
			Model: back.Model, UpstreamModel: back.UpstreamModel, SessionHash: back.SessionHash, Client: back.Client,
			Stream: back.Stream, Status: int64(back.Status), Outcome: back.Outcome, Reason: back.Reason, Attempts: int64(back.Attempts),
			Tokens: back.Tokens, CostNanos: back.CostNanos, Priced: back.Priced, DurationMs: back.DurationMs, TTFTMs: back.TTFTMs,
		}
		if got != want {
			t.Fatalf("parseUsage\n got %+v\nwant %+v", got, want)
		}
	})
}

// Arbitrary bytes never make the scanner panic.
func FuzzPayload(f *testing.F) {
	f.Add([]byte(`{"type":"usage.recorded","data":{"a":[1,"]"]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if data, _, err := payload(b); err == nil {
			parseUsage(data)
		}
	})
}

// On any valid JSON object, members sees what encoding/json sees: the same
// members with the same raw values (the last of a repeated key wins in
// both).
func FuzzMembersMatchEncodingJSON(f *testing.F) {
	f.Add([]byte(`{"a":1,"b":"x\"}","c":{"d":[1,"]",{"e":null}]},"a":true}`))
	f.Add([]byte(` { "k\\"ey" : "v\\\\" , "n" : -1.5e3 } `))
	f.Fuzz(func(t *testing.T, b []byte) {
		var want map[string]json.RawMessage
		if json.Unmarshal(b, &want) != nil || want == nil {
			return
		}
		got := map[string]json.RawMessage{}
		if !members(b, func(key, val []byte) bool {
			var k string // decoded as encoding/json decodes keys
			if err := json.Unmarshal(append(append([]byte{'"'}, key...), '"'), &k); err != nil {
				t.Fatalf("key %q: %v", key, err)
			}
			got[k] = val
			return true
		}) {
			t.Fatalf("members refused a valid object %q", b)
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %d members, encoding/json %d", b, len(got), len(want))
		}
		for k, v := range want {
			if string(got[k]) != string(v) {
				t.Fatalf("%q: member %q = %q, encoding/json %q", b, k, got[k], v)
			}
		}
	})
}
