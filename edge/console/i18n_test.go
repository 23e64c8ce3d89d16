package console

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"relay/projections"
)

func TestCataloguesHaveTheSameKeys(t *testing.T) {
	locales, err := loadLocales(assetsFS)
	if err != nil {
		t.Fatal(err)
	}
	en := locales["en"]
	for _, tag := range languages {
		l := locales[tag]
		for k := range en.msgs {
			if !l.Has(k) {
				t.Errorf("%s lacks %q", tag, k)
			}
		}
		for k, v := range l.msgs {
			if !en.Has(k) {
				t.Errorf("%s has %q, which English lacks", tag, k)
			}
			if strings.TrimSpace(v) == "" {
				t.Errorf("%s: %q is empty", tag, k)
			}
			// The same verbs in the same order, or F prints %!d(string=...).
			if got, want := verbs(v), verbs(en.T(k)); !slices.Equal(got, want) {
				t.Errorf("%s: %q has verbs %v, English %v", tag, k, got, want)
			}
		}
	}
}

var verbRE = regexp.MustCompile(`%[sdv]`)

func verbs(s string) []string { return verbRE.FindAllString(s, -1) }

var (
	templateKeyRE = regexp.MustCompile(`\.(?:T|F) "([^"]+)"|\(a?field \. "[^"]+" \S+ "([^"]+)"`)
	// Catalogue keys written in Go code as literals ("login.bad").
	goKeyRE = regexp.MustCompile(`"((?:nav|theme|login|error|overview|period|metric|chart|state|time|settings|field|keys|list|accounts|platform|reason|audit|event|live|keyForm|secret|permission|unit|expiry|client|accountForm|accountType|proxy|limit|usage|stats)\.[A-Za-z0-9_.]*[A-Za-z0-9_])"`)
)

// TestEveryKeyUsedExists: every key the templates and the Go code name,
// and every key built from a known value (states, statuses, field codes,
// time units), is in the catalogue.
func TestEveryKeyUsedExists(t *testing.T) {
	locales, err := loadLocales(assetsFS)
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]string{}
	err = fs.WalkDir(assetsFS, "assets/templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(assetsFS, p)
		for _, m := range templateKeyRE.FindAllStringSubmatch(string(b), -1) {
			used[m[1]+m[2]] = p
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(used) < 50 {
		t.Fatalf("found only %d keys in the templates: is the pattern still right?", len(used))
	}
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range goKeyRE.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = f
		}
	}
	for _, s := range stateOrder {
		used["state."+s] = "stateOrder"
	}
	for _, s := range keyStatuses {
		if s != "" {
			used["keys.status."+s] = "keyStatuses"
		}
	}
	used["keys.status.disabled"] = "keyRow"
	for _, code := range []string{"required", "too_short", "too_long", "wrong"} {
		used["field."+code] = "FieldError codes"
	}
	for _, p := range accountPlatforms[1:] {
		used["platform."+p] = "accountPlatforms"
	}
	for _, r := range []string{StateInactive, StateUnschedulable, StateRateLimited, StateOverloaded, StateUnauthorized, StateError, StateOverQuota, ReasonMaxConcurrency} {
		used["reason."+r] = "AccountRow.Unavailable"
	}
	for _, k := range auditKinds[1:] {
		used["audit.kind."+k] = "auditKinds"
	}
	for _, e := range auditTypes[1:] {
		used["event."+e] = "auditTypes"
	}
	for _, v := range keyPermissions {
		used["permission."+v] = "keyPermissions"
	}
	for _, v := range activationUnit {
		used["unit."+v] = "activationUnit"
	}
	for _, v := range expiryModes {
		used["expiry."+v] = "expiryModes"
	}
	for _, v := range keyClients {
		used["client."+v] = "keyClients"
	}
	for _, v := range []string{"saved", "delete", "restore", "enable", "disable"} {
		used["keyForm.done."+v] = "keyEditPage"
	}
	for _, v := range []string{LimitWindowRequests, LimitWindowCost, LimitDailyCost, LimitWeeklyOpusCost, LimitTotalCost} {
		used["limit."+v] = "LimitUsage kinds"
	}
	for _, v := range accountTypes {
		used["accountType."+v] = "accountTypes"
	}
	for _, v := range proxyProtocols[1:] {
		used["proxy."+v] = "proxyProtocols"
	}
	for _, v := range accountDone {
		used["accountForm.done."+v] = "accountDone"
	}
	for _, v := range []string{projections.LimitTotalCost, projections.LimitDailyCost, projections.LimitWeeklyOpusCost, projections.LimitWindowCost, projections.LimitWindowRequests, projections.LimitConcurrency} {
		used["stats.limit."+v] = "holderOf"
	}
	for _, u := range []string{"min", "hour", "day"} {
		used["time.unit."+u] = "relative"
	}
	for _, tag := range languages {
		for k, where := range used {
			if !locales[tag].Has(k) {
				t.Errorf("%s (used in %s) is missing from the %s catalogue", k, where, tag)
			}
		}
	}
}
