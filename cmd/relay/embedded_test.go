package main

import (
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
)

// relay reaches its embedded NATS over loopback TCP when the server listens,
// on whatever address NATS_LISTEN names, and in-process when it does not.
func TestEmbeddedNATSLoopbackURL(t *testing.T) {
	for _, tc := range []struct{ listen, prefix string }{
		{"127.0.0.1:-1", "nats://127.0.0.1:"},
		{"0.0.0.0:-1", "nats://127.0.0.1:"},
		{"off", ""},
	} {
		t.Run(tc.listen, func(t *testing.T) {
			dir := t.TempDir()
			users, relayPass, err := embeddedNATSUsers(dir)
			if err != nil {
				t.Fatal(err)
			}
			emb, err := startEmbeddedNATS(dir, tc.listen, 0, users)
			if err != nil {
				t.Fatal(err)
			}
			defer emb.stop()
			u := emb.loopbackURL()
			if tc.prefix == "" {
				if u != "" {
					t.Fatalf("NATS_LISTEN=off: loopback URL %q", u)
				}
				return
			}
			if !strings.HasPrefix(u, tc.prefix) {
				t.Fatalf("loopback URL %q, want %s<port>", u, tc.prefix)
			}
			nc, err := nats.Connect(u, nats.UserInfo(natsRelayUser, relayPass))
			if err != nil {
				t.Fatalf("connect %s: %v", u, err)
			}
			nc.Close()
		})
	}
}
