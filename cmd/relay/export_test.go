package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/url"
	"testing"
	"time"

	"relay/events"
	"relay/events/natstest"
	"relay/events/usagelog"
)

// The usage export (usagelog.Export, behind GET /api/v2/usage/export)
// writes exactly what `relay replay` writes for the same window and
// filters, in CSV and NDJSON; the CSV parses with encoding/csv.
func TestExportRowsEqualRelayReplay(t *testing.T) {
	ns := natstest.Start(t)
	_, js := ns.Connect(t)
	evs := replayPublish(t, js, 40)
	env := map[string]string{"NATS_URL": ns.ClientURL()}
	at := func(i int) string { return evs[i].at.Format(time.RFC3339Nano) }
	cases := []struct {
		name  string
		flags []string
		query url.Values
	}{
		{"everything", nil, url.Values{}},
		{"window, keys and model", []string{"--since", at(5), "--until", at(33), "--key", "key1,key2", "--model", "claude-opus-4-6"},
			url.Values{"from": {at(5)}, "to": {at(33)}, "keyId": {"key1,key2"}, "model": {"claude-opus-4-6"}}},
		{"account, platform and outcome", []string{"--account", "acct", "--platform", events.PlatformClaudeConsole, "--outcome", "refused"},
			url.Values{"accountId": {"acct"}, "platform": {events.PlatformClaudeConsole}, "outcome": {"refused"}}},
		{"repeated filters", []string{"--key", "key0", "--key", "key2", "--until", at(20)},
			url.Values{"keyId": {"key0", "key2"}, "to": {at(20)}}},
	}
	for _, tc := range cases {
		for _, format := range []string{"csv", "ndjson"} {
			t.Run(tc.name+"/"+format, func(t *testing.T) {
				code, want, errs := runRelay(env, append([]string{"replay", "--format", format}, tc.flags...)...)
				if code != 0 {
					t.Fatalf("relay replay: exit %d, %s", code, errs)
				}
				q := url.Values{"format": {format}}
				for k, v := range tc.query {
					q[k] = v
				}
				r, err := usagelog.ParseExportRequest(q, time.Now(), time.UTC)
				if err != nil {
					t.Fatal(err)
				}
				var got bytes.Buffer
				if _, err := usagelog.Export(context.Background(), js, r, &got); err != nil {
					t.Fatal(err)
				}
				if got.String() != want {
					t.Fatalf("export:\n%s\nrelay replay:\n%s", got.String(), want)
				}
				if format == "csv" {
					rows, err := csv.NewReader(&got).ReadAll()
					if err != nil || len(rows) < 2 || len(rows[0]) != len(usagelog.CSVColumns) {
						t.Fatalf("CSV: %v, %d rows", err, len(rows))
					}
				} else if want == "" {
					t.Fatal("nothing exported: the case tests nothing")
				}
			})
		}
	}
}
