//go:build cluster

package clustertest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsConf is the repository's nats.conf, the one compose.yaml mounts.
const natsConf = "../../../nats.conf"

// The passwords of nats.conf's users, as compose passes them from .env.
const (
	relayNATSPassword   = "clustertest-relay-nats-password"
	analystNATSPassword = "clustertest-analyst-nats-password"
)

// natsNode is one node of the test's NATS cluster.
type natsNode struct {
	name string
	opts *server.Options
	srv  *server.Server
	url  string // nats://127.0.0.1:port
	http string // monitoring base URL
}

// natsCluster is three JetStream nodes routed to each other on loopback.
type natsCluster struct {
	nodes []*natsNode
}

// startNATSCluster starts n nodes configured from nats.conf, each with
// NODE_NAME set as compose sets it, then moved to loopback ports and a
// store of the test's own, and waits until JetStream has a meta leader.
func startNATSCluster(t *testing.T, n int) *natsCluster {
	t.Helper()
	ports := freePorts(t, 3*n) // client, cluster, monitoring per node
	var routes []*url.URL
	for i := range n {
		routes = append(routes, &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", ports[3*i+1])})
	}
	c := &natsCluster{}
	for i := range n {
		name := fmt.Sprintf("nats-%d", i+1)
		opts := loadNATSConf(t, name)
		opts.Host, opts.Port = "127.0.0.1", ports[3*i]
		opts.HTTPHost, opts.HTTPPort = "127.0.0.1", ports[3*i+2]
		opts.Cluster.Host, opts.Cluster.Port = "127.0.0.1", ports[3*i+1]
		opts.Routes = routes
		opts.StoreDir = filepath.Join(t.TempDir(), name)
		opts.NoSigs, opts.NoLog = true, true
		// A test machine has no room for 50 GB; the limits are not what
		// is under test.
		opts.JetStreamMaxStore = 1 << 30
		node := &natsNode{name: name, opts: opts, http: fmt.Sprintf("http://127.0.0.1:%d", opts.HTTPPort)}
		node.start(t)
		c.nodes = append(c.nodes, node)
		t.Cleanup(node.stop)
	}
	for _, nd := range c.nodes {
		if !nd.srv.ReadyForConnections(20 * time.Second) {
			t.Fatalf("%s not ready for connections", nd.name)
		}
	}
	// relay provisions its streams at start and exits if it cannot: wait
	// until the cluster can create one.
	start := time.Now()
	waitFor(t, 60*time.Second, "a JetStream meta leader", func() bool {
		for _, nd := range c.nodes {
			if nd.srv.JetStreamIsLeader() {
				return true
			}
		}
		return false
	})
	t.Logf("NATS cluster of %d nodes from nats.conf: meta leader elected %v after the nodes were up", n, time.Since(start).Round(time.Millisecond))
	return c
}

// start runs the node on its options (again, after stop: same ports, same
// store) without waiting for it.
func (nd *natsNode) start(t *testing.T) {
	t.Helper()
	s, err := server.NewServer(nd.opts)
	if err != nil {
		t.Fatalf("%s: %v", nd.name, err)
	}
	go s.Start()
	nd.srv, nd.url = s, s.ClientURL()
}

// stop shuts the node down and waits for it; safe to call twice.
func (nd *natsNode) stop() {
	nd.srv.Shutdown()
	nd.srv.WaitForShutdown()
}

// loadNATSConf parses nats.conf with NODE_NAME set and checks what compose
// relies on.
func loadNATSConf(t *testing.T, name string) *server.Options {
	t.Helper()
	t.Setenv("NODE_NAME", name)
	t.Setenv("RELAY_NATS_PASSWORD", relayNATSPassword)
	t.Setenv("ANALYST_NATS_PASSWORD", analystNATSPassword)
	opts, err := server.ProcessConfigFile(natsConf)
	if err != nil {
		t.Fatalf("nats.conf: %v", err)
	}
	var routes []string
	for _, r := range opts.Routes {
		routes = append(routes, r.Host)
	}
	switch {
	case opts.ServerName != name:
		t.Fatalf("nats.conf: server_name = %q with NODE_NAME=%s", opts.ServerName, name)
	case !opts.JetStream || opts.StoreDir != "/data/jetstream":
		t.Fatalf("nats.conf: jetstream %v, store_dir %q; want enabled under the /data volume", opts.JetStream, opts.StoreDir)
	case opts.Cluster.Name != "relay" || opts.Cluster.Port != 6222:
		t.Fatalf("nats.conf: cluster %q on port %d", opts.Cluster.Name, opts.Cluster.Port)
	case strings.Join(routes, ",") != "nats-1:6222,nats-2:6222,nats-3:6222":
		t.Fatalf("nats.conf: routes %v; want the three compose services", routes)
	case opts.Port != 4222 || opts.HTTPPort != 8222:
		t.Fatalf("nats.conf: client port %d, monitoring port %d", opts.Port, opts.HTTPPort)
	case len(opts.Users) != 2:
		t.Fatalf("nats.conf: %d users; want relay and analyst (clients authenticate)", len(opts.Users))
	}
	return opts
}

// urls is every node's client URL, comma-separated: NATS_URL.
func (c *natsCluster) urls() string {
	var u []string
	for _, nd := range c.nodes {
		u = append(u, nd.url)
	}
	return strings.Join(u, ",")
}

// node returns the node named name.
func (c *natsCluster) node(t *testing.T, name string) *natsNode {
	t.Helper()
	for _, nd := range c.nodes {
		if nd.name == name {
			return nd
		}
	}
	t.Fatalf("no NATS node %q", name)
	return nil
}

// connect opens a client with relay's credentials on every node's URL,
// closed when t ends.
func (c *natsCluster) connect(t *testing.T) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(c.urls(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond), nats.UserInfo("relay", relayNATSPassword))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// healthz calls a node's monitoring health check as compose's does.
func (nd *natsNode) healthz() (int, error) {
	resp, err := http.Get(nd.http + "/healthz?js-enabled-only=true")
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// streamInfo returns a stream's info, retrying while the cluster elects a
// leader for it.
func streamInfo(t *testing.T, js jetstream.JetStream, name string) *jetstream.StreamInfo {
	t.Helper()
	var info *jetstream.StreamInfo
	var last error
	held := poll(30*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s, err := js.Stream(ctx, name)
		if err == nil {
			info, err = s.Info(ctx)
		}
		last = err
		return err == nil && info.Cluster != nil && info.Cluster.Leader != ""
	})
	if !held {
		t.Fatalf("stream %s: no leader within 30s (last error: %v)", name, last)
	}
	return info
}

// freePorts reserves n distinct loopback ports. Another process may take
// one before it is used; the servers then fail to start and say so.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}
