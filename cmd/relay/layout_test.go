package main

import (
	"os/exec"
	"strings"
	"testing"
)

// allowedImports is the dependency direction of relay: for each package (the
// longest matching prefix wins), the packages of ours it may import. events
// imports nothing of ours; projections only events; store only events and
// projections; edge and workers compose them and never import each other;
// cmd/relay and the edge test harness wire everything.
var allowedImports = map[string][]string{
	"relay/events":              {},
	"relay/events/streams":      {"relay/events"},
	"relay/events/natstest":     {"relay/events", "relay/events/streams"},
	"relay/events/notify":       {"relay/events"},
	"relay/events/usagelog":     {"relay/events"},
	"relay/projections":         {"relay/events", "relay/projections/"},
	"relay/projections/pricing": {"relay/events"},
	"relay/store":               {"relay/events", "relay/projections", "relay/projections/"},
	"relay/store/redistest":     {},
	"relay/workers":             {"relay/events", "relay/events/streams", "relay/events/notify", "relay/projections", "relay/projections/", "relay/store", "relay/workers/"},
	// edge builds the Echo server: routes, middleware, health, shutdown.
	"relay/edge": {"relay/events", "relay/events/usagelog", "relay/projections", "relay/projections/", "relay/store",
		"relay/edge/fault", "relay/edge/httpx", "relay/edge/catalog", "relay/edge/relay", "relay/edge/admin", "relay/edge/adminapi",
		"relay/edge/secrets", "relay/edge/console", "relay/edge/consoleadmin"},
	// The vocabulary: errors without a transport, then their HTTP form.
	"relay/edge/fault":   {},
	"relay/edge/httpx":   {"relay/edge/fault"},
	"relay/edge/catalog": {"relay/events", "relay/events/streams", "relay/projections"},
	// The hot path never imports admin code.
	"relay/edge/relay": {"relay/events", "relay/events/streams", "relay/projections", "relay/projections/", "relay/store",
		"relay/edge/fault", "relay/edge/httpx", "relay/edge/catalog",
		"relay/edge/usage", "relay/edge/clientreq", "relay/edge/upstreams", "relay/edge/secrets"},
	// The admin actions: no HTTP.
	"relay/edge/admin": {"relay/events", "relay/events/streams", "relay/events/notify", "relay/events/usagelog", "relay/projections", "relay/projections/", "relay/store",
		"relay/edge/fault", "relay/edge/catalog", "relay/edge/secrets"},
	// The REST handlers.
	"relay/edge/adminapi": {"relay/events", "relay/events/streams", "relay/events/notify", "relay/events/usagelog", "relay/projections", "relay/projections/", "relay/store",
		"relay/edge/fault", "relay/edge/httpx", "relay/edge/catalog", "relay/edge/secrets", "relay/edge/admin"},
	"relay/edge/usage":     {"relay/events"},
	"relay/edge/clientreq": {"relay/events"},
	"relay/edge/upstreams": {},
	"relay/edge/secrets":   {},
	// The web console calls the admin actions through its Backend interface.
	"relay/edge/console":             {"relay/events", "relay/events/usagelog", "relay/projections", "relay/projections/", "relay/edge/fault", "relay/edge/httpx", "relay/edge/admin", "relay/edge/secrets"},
	"relay/edge/upstreamtest":        {"relay/events", "relay/edge/usage"},
	"relay/edge/console/consoletest": {},
	// The console's Backend over the admin actions.
	"relay/edge/consoleadmin": {"relay/events", "relay/projections", "relay/projections/", "relay/edge/fault", "relay/edge/admin", "relay/edge/console"},
	// Test support and the binary compose everything.
	"relay/edge/edgetest": {"relay/"},
	"relay/cmd/relay":     {"relay/"},
	// The multi-process cluster test (tests only, build tag cluster).
	"relay/cmd/relay/clustertest": {"relay/"},
	"relay/cmd/relaybench":        {"relay/"},
}

// forbiddenImports are outside packages a package of ours must not import:
// the admin actions are transport-free, so the console and the REST API
// can share them; the vocabulary of errors is too.
var forbiddenImports = map[string][]string{
	"relay/edge/admin": {"net/http", "github.com/labstack/echo/v4", "relay/edge/httpx"},
	"relay/edge/fault": {"net/http", "github.com/labstack/echo/v4"},
}

// TestTransportFreePackages: edge/admin and edge/fault import no HTTP
// (directly or through a dependency of ours), and no package imports the
// binary.
func TestTransportFreePackages(t *testing.T) {
	// The check is on our own code: the package and every package of ours
	// it depends on import none of the forbidden ones (libraries such as
	// nats.go may use net/http inside; that is not a transport of ours).
	for pkg, forbidden := range forbiddenImports {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list: %v\n%s", err, out)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			fields := strings.Fields(line)
			if fields[0] != "relay" && !strings.HasPrefix(fields[0], "relay/") {
				continue
			}
			for _, imp := range fields[1:] {
				for _, f := range forbidden {
					if imp == f {
						t.Errorf("%s (a dependency of %s) imports %s: %s must stay free of HTTP", fields[0], pkg, f, pkg)
					}
				}
			}
		}
	}
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", "relay/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		for _, imp := range fields[1:] {
			if imp == "relay/cmd" || strings.HasPrefix(imp, "relay/cmd/") {
				t.Errorf("%s imports %s: nothing imports the binaries", fields[0], imp)
			}
		}
	}
}

func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", "relay/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, imports := fields[0], fields[1:]
		rule, ok := longestRule(pkg, allowedImports)
		if !ok {
			t.Errorf("%s has no entry in allowedImports: add one saying what it may import", pkg)
			continue
		}
		for _, imp := range imports {
			if imp != "relay" && !strings.HasPrefix(imp, "relay/") {
				continue
			}
			if !matchesAny(imp, rule) {
				t.Errorf("%s imports %s, which the dependency direction forbids", pkg, imp)
			}
		}
	}
}

// longestRule returns the rule of the longest key that is pkg or a parent of
// it.
func longestRule(pkg string, rules map[string][]string) ([]string, bool) {
	best, found := "", false
	for k := range rules {
		if (pkg == k || strings.HasPrefix(pkg, k+"/")) && len(k) >= len(best) {
			best, found = k, true
		}
	}
	return rules[best], found
}

// matchesAny reports whether imp is one of the allowed packages, or under an
// allowed prefix ending in "/".
func matchesAny(imp string, allowed []string) bool {
	for _, a := range allowed {
		if imp == a || (strings.HasSuffix(a, "/") && strings.HasPrefix(imp, a)) {
			return true
		}
	}
	return false
}
