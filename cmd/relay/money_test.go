package main

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"relay/edge/upstreamtest"
	"relay/events/usagelog"
)

// Issue 17's figures, end to end: seven sonnet 4.5 requests of 120 input,
// 17 output, 30 cache-write and 50 cache-read tokens cost exactly
// $0.0051975 at list price (742.5 µ$ each: what Claude Code's own
// total_cost_usd says). Relay used to round each request to 743 µ$ and
// report $0.005201. The key's statistics and the ledger (`relay replay
// --group-by key`) both say $0.0051975 now.
func TestCostsAreExactInStatsAndReplay(t *testing.T) {
	port := chaosFreePort(t)
	dataDir := t.TempDir()
	natsListen := "127.0.0.1:" + strconv.Itoa(port)
	p := startServe(t, map[string]string{
		"DATA_DIR": dataDir, "HOST": "127.0.0.1", "PORT": "0", "NATS_LISTEN": natsListen,
		"ADMIN_PASSWORD": chaosAdminPassword, "LOG_LEVEL": "warn",
	})
	up := upstreamtest.New(t)
	up.SetDefault(upstreamtest.Reply{Usage: upstreamtest.Usage{InputTokens: 120, OutputTokens: 17, CacheCreation5m: 30, CacheRead: 50}})
	a := chaosLogin(t, p.base)
	id, key := a.setup(t, up.URL, 1)
	for i := range 7 {
		if r := chaosDo(p.base, key); !r.complete {
			t.Fatalf("request %d: %d %v", i, r.status, r.err)
		}
	}

	var stats struct {
		Total struct {
			Requests  int64       `json:"requests"`
			Cost      json.Number `json:"cost"`
			CostNanos int64       `json:"costNanos"`
		} `json:"total"`
	}
	chaosWait(t, 20*time.Second, "7 requests in the key's statistics", func() bool {
		a.do(t, http.StatusOK, http.MethodGet, "/api/v2/keys/"+id+"/stats", nil, &stats)
		return stats.Total.Requests == 7
	})
	if stats.Total.CostNanos != 5_197_500 || stats.Total.Cost.String() != "0.005197500" {
		t.Fatalf("key statistics: cost %s (%d n$), want 0.0051975 USD (5197500 n$)", stats.Total.Cost, stats.Total.CostNanos)
	}
	if f, _ := stats.Total.Cost.Float64(); f != 0.0051975 {
		t.Fatalf("cost as a JSON number reads %v, want 0.0051975", f)
	}

	env := map[string]string{"DATA_DIR": dataDir, "NATS_LISTEN": natsListen}
	code, out, errs := runRelay(env, "replay", "--group-by", "key", "--format", "csv")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(rows) != 2 {
		t.Fatalf("replay: exit %d, %v, rows %v; stderr %s", code, err, rows, errs)
	}
	col := func(name string) string { return rows[1][1+slices.Index(usagelog.TotalsColumns, name)] }
	if rows[1][0] != id || col("requests") != "7" || col("cost") != "0.005197500" || col("costNanos") != "5197500" {
		t.Fatalf("replay --group-by key: %v (columns keyId %v)", rows[1], usagelog.TotalsColumns)
	}
}
