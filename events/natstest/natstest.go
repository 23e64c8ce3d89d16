package natstest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"relay/events/streams"
)

// Server is a running embedded nats-server.
type Server struct {
	*server.Server
	StoreDir string
	Port     int
}

// Start runs a JetStream server on a random port with the streams
// provisioned, storing under a fresh temporary directory.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartAt(t, t.TempDir(), -1)
}

// StartAt runs a JetStream server storing under dir on port (-1: random), so a
// test can stop a server and start it again on the same store and port.
func StartAt(t testing.TB, dir string, port int) *Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host:       "127.0.0.1",
		Port:       port,
		JetStream:  true,
		StoreDir:   dir,
		NoLog:      true,
		NoSigs:     true,
		SyncAlways: true,
	})
	if err != nil {
		t.Fatalf("natstest: new server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatalf("natstest: server not ready")
	}
	srv := &Server{Server: s, StoreDir: dir, Port: s.Addr().(*net.TCPAddr).Port}
	t.Cleanup(srv.Stop)
	nc, js := srv.Connect(t)
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := streams.Provision(ctx, js, streams.Defaults()); err != nil {
		t.Fatalf("natstest: provision: %v", err)
	}
	return srv
}

// Stop shuts the server down and waits for it; safe to call twice.
func (s *Server) Stop() {
	if s.Server.Running() {
		s.Shutdown()
	}
	s.WaitForShutdown()
}

// Connect opens a client connection closed by t.Cleanup.
func (s *Server) Connect(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatalf("natstest: connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("natstest: jetstream: %v", err)
	}
	return nc, js
}
