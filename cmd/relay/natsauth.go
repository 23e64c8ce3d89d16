package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"relay/events"
	"relay/store"
	"relay/workers"
)

// NATS roles (DESIGN.md section 10). nats.conf defines the same two users
// with the same permissions for a cluster; keep them in step.
const (
	// natsRelayUser is relay's own processes: publish and consume relay's
	// subjects, manage relay's streams and consumers.
	natsRelayUser = "relay"
	// natsAnalystUser is `relay replay`: reads USAGE through consumers of
	// its own, nothing else.
	natsAnalystUser = "analyst"
	// analystInbox is the reply prefix of the analyst's connections. The
	// analyst may subscribe only under it, so it never receives what the
	// server sends to relay's inboxes (pulled CONFIG events, acks).
	analystInbox = "_INBOX.analyst"
)

// Names of the generated NATS passwords under DATA_DIR/secrets.
const (
	secretNATSRelay   = "nats_relay_password"
	secretNATSAnalyst = "nats_analyst_password"
)

// usageDurables are relay's durable consumers on USAGE: the analyst may not
// create (or update) a consumer of that name, nor pull from it. A test
// checks that every durable consumer relay creates on USAGE is listed.
var usageDurables = []string{"proj_" + store.ProjectionUsage, workers.NotifyUsageDurable}

// relayPermissions lets relay's processes do what they do: publish events
// and control messages on relay.>, use the JetStream API (streams,
// consumers, direct gets), acknowledge messages, and receive replies.
func relayPermissions() *server.Permissions {
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: []string{"relay.>", "$JS.API.>", "$JS.ACK.>", "$JS.FC.>"}},
		Subscribe: &server.SubjectPermission{Allow: []string{"relay.>", "_INBOX.>"}},
	}
}

// analystPermissions let `relay replay` read USAGE: its info, direct and
// stored-message gets, and consumers of its own (ordered consumers are
// ephemeral pull consumers with a generated name, which they delete when
// they reset). Nothing is published on relay's subjects, no stream is
// created, updated, purged or deleted, and relay's durable consumers on
// USAGE can be neither redefined, pulled from nor deleted.
func analystPermissions() *server.Permissions {
	u := events.StreamUsage
	allow := []string{
		"$JS.API.INFO",
		"$JS.API.STREAM.INFO." + u,
		"$JS.API.STREAM.MSG.GET." + u,
		"$JS.API.DIRECT.GET." + u,
		"$JS.API.DIRECT.GET." + u + ".>",
		"$JS.API.CONSUMER.CREATE." + u + ".*",
		"$JS.API.CONSUMER.CREATE." + u + ".*.>",
		"$JS.API.CONSUMER.INFO." + u + ".*",
		"$JS.API.CONSUMER.MSG.NEXT." + u + ".*",
		// An ordered consumer deletes its previous consumer when it resets.
		"$JS.API.CONSUMER.DELETE." + u + ".*",
	}
	var deny []string
	for _, d := range usageDurables {
		deny = append(deny,
			"$JS.API.CONSUMER.CREATE."+u+"."+d,
			"$JS.API.CONSUMER.CREATE."+u+"."+d+".>",
			"$JS.API.CONSUMER.MSG.NEXT."+u+"."+d,
			"$JS.API.CONSUMER.DELETE."+u+"."+d,
		)
	}
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: allow, Deny: deny},
		Subscribe: &server.SubjectPermission{Allow: []string{analystInbox + ".>"}},
	}
}

// embeddedNATSUsers are the users of the embedded server, with the
// passwords `relay serve` generated at its first start.
func embeddedNATSUsers(dataDir string) ([]*server.User, string, error) {
	relayPass, err := secretFromDataDir(dataDir, secretNATSRelay)
	if err != nil {
		return nil, "", err
	}
	analystPass, err := secretFromDataDir(dataDir, secretNATSAnalyst)
	if err != nil {
		return nil, "", err
	}
	return []*server.User{
		{Username: natsRelayUser, Password: relayPass, Permissions: relayPermissions()},
		{Username: natsAnalystUser, Password: analystPass, Permissions: analystPermissions()},
	}, relayPass, nil
}

// natsAuthFromEnv returns the connection options for the credentials the
// environment names: NATS_CREDS (a .creds file), NATS_USER and
// NATS_PASSWORD, or NATS_TOKEN. None set: nil, nil.
func natsAuthFromEnv(getenv func(string) string) ([]nats.Option, error) {
	creds := strings.TrimSpace(getenv("NATS_CREDS"))
	user, pass := strings.TrimSpace(getenv("NATS_USER")), getenv("NATS_PASSWORD")
	token := getenv("NATS_TOKEN")
	n := 0
	for _, set := range []bool{creds != "", user != "" || pass != "", token != ""} {
		if set {
			n++
		}
	}
	switch {
	case n > 1:
		return nil, errors.New("NATS credentials: set one of NATS_CREDS, NATS_USER/NATS_PASSWORD or NATS_TOKEN")
	case creds != "":
		if _, err := os.Stat(creds); err != nil {
			return nil, fmt.Errorf("NATS_CREDS: %w", err)
		}
		return []nats.Option{nats.UserCredentials(creds)}, nil
	case user != "" || pass != "":
		if user == "" || pass == "" {
			return nil, errors.New("NATS credentials: NATS_USER and NATS_PASSWORD go together")
		}
		return []nats.Option{nats.UserInfo(user, pass)}, nil
	case token != "":
		return []nats.Option{nats.Token(token)}, nil
	}
	return nil, nil
}

// localNATSAuth returns the credentials of role (natsRelayUser or
// natsAnalystUser) that a running `relay serve` generated under
// DATA_DIR/secrets. It never generates them.
func localNATSAuth(dataDir, role string) (nats.Option, error) {
	name := secretNATSAnalyst
	if role == natsRelayUser {
		name = secretNATSRelay
	}
	path := filepath.Join(dataDir, "secrets", name)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("NATS credentials: %w (DATA_DIR must be the one of the running relay serve; or set NATS_USER/NATS_PASSWORD)", err)
	}
	pass := strings.TrimSpace(string(b))
	if pass == "" {
		return nil, fmt.Errorf("NATS credentials: %s is empty", path)
	}
	return nats.UserInfo(role, pass), nil
}
