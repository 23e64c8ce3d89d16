package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The edge's usage export (GET /api/v2/usage/export) and live feed (GET
// /api/v2/usage/live) read USAGE through a connection of their own, as the
// analyst role (natsauth.go): whatever a bug or a crafted request made
// them do, that connection cannot publish an event, touch a stream or
// read CONFIG. Where its credentials come from:
//
//   - relay serve (embedded NATS): the analyst password it generated under
//     DATA_DIR/secrets/nats_analyst_password;
//   - relay edge against NATS_URL: NATS_ANALYST_CREDS (a .creds file), or
//     NATS_ANALYST_USER and NATS_ANALYST_PASSWORD (compose passes
//     nats.conf's analyst user). Unset: the export and the live feed are off.
//
// Credentials that turn out able to publish (relay's, given by mistake)
// refuse the start: the export must never hold a writer's rights.

// validateAnalyst checks the NATS_ANALYST_* variables: a .creds file, or
// a user and a password, never both.
func (c config) validateAnalyst() error {
	userSet := c.NATSAnalystUser != "" || c.NATSAnalystPassword != ""
	switch {
	case c.NATSAnalystCreds != "" && userSet:
		return errors.New("NATS analyst credentials: set NATS_ANALYST_CREDS or NATS_ANALYST_USER/NATS_ANALYST_PASSWORD, not both")
	case userSet && (c.NATSAnalystUser == "" || c.NATSAnalystPassword == ""):
		return errors.New("NATS analyst credentials: NATS_ANALYST_USER and NATS_ANALYST_PASSWORD go together")
	case c.NATSAnalystCreds != "":
		if _, err := os.Stat(c.NATSAnalystCreds); err != nil {
			return fmt.Errorf("NATS_ANALYST_CREDS: %w", err)
		}
	}
	return nil
}

// analystAuth returns the analyst's credentials for this configuration,
// or nil when there are none (an edge against NATS_URL without
// NATS_ANALYST_*).
func analystAuth(cfg config) (nats.Option, error) {
	switch {
	case cfg.NATSURL == "":
		pass, err := secretFromDataDir(cfg.DataDir, secretNATSAnalyst)
		if err != nil {
			return nil, fmt.Errorf("analyst NATS password: %w", err)
		}
		return nats.UserInfo(natsAnalystUser, pass), nil
	case cfg.NATSAnalystCreds != "":
		return nats.UserCredentials(cfg.NATSAnalystCreds), nil
	case cfg.NATSAnalystUser != "":
		return nats.UserInfo(cfg.NATSAnalystUser, cfg.NATSAnalystPassword), nil
	}
	return nil, nil
}

// connectAnalyst opens the analyst connection the usage export and live
// feed read with: to the embedded server emb when there is one (over its
// loopback listener, else in-process), else to NATS_URL. It returns nil,
// nil, nil when no analyst credentials are configured. opts are the
// caller's (name, reconnect policy, handlers); the analyst's reply prefix
// is added. The connection is checked to be read-only before it is
// returned.
func connectAnalyst(cfg config, emb *embeddedNATS, opts ...nats.Option) (*nats.Conn, jetstream.JetStream, error) {
	auth, err := analystAuth(cfg)
	if auth == nil || err != nil {
		return nil, nil, err
	}
	opts = append(opts, auth, nats.CustomInboxPrefix(analystInbox))
	var nc *nats.Conn
	switch {
	case emb == nil:
		nc, err = nats.Connect(cfg.NATSURL, opts...)
	case emb.loopbackURL() != "":
		nc, err = nats.Connect(emb.loopbackURL(), opts...)
	default:
		nc, err = nats.Connect("", append(opts, nats.InProcessServer(emb))...)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("connect NATS as the analyst (usage export and live feed): %w", err)
	}
	if err := requireReadOnly(nc); err != nil {
		nc.Close()
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// readOnlyProbe is the subject requireReadOnly tries to publish on: under
// relay.>, which the analyst may not publish to, and which nothing reads.
const readOnlyProbe = "relay.control.analyst-probe"

// requireReadOnly checks that the server refuses nc a publish on relay.>:
// the credentials are a reader's, not relay's. A server without
// authorization accepts it, and so fails the check too.
func requireReadOnly(nc *nats.Conn) error {
	if err := nc.Publish(readOnlyProbe, nil); err != nil {
		return fmt.Errorf("analyst NATS connection: %w", err)
	}
	// The server answers a refused publish with an -ERR before the PONG
	// of the flush; the client records it as the connection's last error
	// before the flush returns.
	if err := nc.FlushTimeout(5 * time.Second); err != nil {
		return fmt.Errorf("analyst NATS connection: %w", err)
	}
	if !errors.Is(nc.LastError(), nats.ErrPermissionViolation) {
		return errors.New("the analyst NATS credentials may publish on relay.>: the usage export must read with nats.conf's analyst role (NATS_ANALYST_USER=analyst), never relay's")
	}
	return nil
}
