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
	"relay/events/usagelog":     {"relay/events"},
	"relay/projections":         {"relay/events", "relay/projections/"},
	"relay/projections/pricing": {"relay/events"},
	"relay/store":               {"relay/events", "relay/projections", "relay/projections/"},
	"relay/store/redistest":     {},
	"relay/workers":             {"relay/events", "relay/events/streams", "relay/projections", "relay/projections/", "relay/store", "relay/workers/"},
	"relay/edge": {"relay/events", "relay/events/streams", "relay/events/usagelog", "relay/projections", "relay/projections/", "relay/store",
		"relay/edge/usage", "relay/edge/clientreq", "relay/edge/upstreams", "relay/edge/secrets"},
	"relay/edge/usage":        {"relay/events"},
	"relay/edge/clientreq":    {"relay/events"},
	"relay/edge/upstreams":    {},
	"relay/edge/secrets":      {},
	"relay/edge/upstreamtest": {"relay/events", "relay/edge/usage"},
	// Test support and the binary compose everything.
	"relay/edge/edgetest": {"relay/"},
	"relay/cmd/relay":     {"relay/"},
	// The multi-process cluster test (tests only, build tag cluster).
	"relay/cmd/relay/clustertest": {"relay/"},
	"relay/cmd/relaybench":        {"relay/"},
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
