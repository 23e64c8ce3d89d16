package edge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"relay/events"
	"relay/events/streams"
	"relay/projections"
	"relay/store"
	"relay/store/redistest"
)

// TestDistinctModelNamesDoNotGrowRedis is issue 13's model-name flood: one
// key (rate limited, so nearly all its requests are refused) and another
// (relayed, unpriced) send 20,000 model names they made up. Before, each
// name added hashes, index entries and expiring keys to Redis for good:
// the embedded Redis's clock walked them all ten times a second (86-100%
// CPU with no traffic) and the stats endpoints failed. Now every unpriced
// name counts under "other", and refusals are counted per key and reason,
// never per model: the number of Redis keys after 20,000 names is the
// number after a handful, and the stats endpoints answer.
//
// The first names go through relay over HTTP; the rest are the unpriced
// answer as relay recorded it, published again with new ids and model
// names, which is what 20,000 requests would record, in a fraction of the
// time.
func TestDistinctModelNamesDoNotGrowRedis(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		const total, overHTTP = 20000, 200
		e := newRelayEnv(t, b, 1)
		limited := e.CreateKey(t, events.Key{ID: "limited", Name: "limited", IsActive: true, RateLimitWindow: 60, RateLimitRequests: 1})
		ctx := context.Background()
		send := func(key string, i int) int {
			body := strings.Replace(claudeBody, "claude-sonnet-4-5-20250929", fmt.Sprintf("made-up-model-%05d", i), 1)
			resp, _ := post(t, e.Env, "/api/v1/messages", key, body)
			return resp.StatusCode
		}
		dbsize := func() int64 {
			n, err := b.Client.DBSize(ctx).Result()
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		okN, refusedN := 2, 1 // answered requests and the limited key's refusals
		// A few names first: every kind of key exists once.
		if st := send(e.key, 0); st != http.StatusOK {
			t.Fatalf("relayed request: %d", st)
		}
		if st := send(limited, 1); st != http.StatusOK {
			t.Fatalf("the limited key's first request: %d", st)
		}
		if st := send(limited, 2); st != http.StatusTooManyRequests {
			t.Fatalf("the limited key's second request: %d", st)
		}
		e.WaitUsageProjected(t)
		before := dbsize()

		var wg sync.WaitGroup
		sem := make(chan struct{}, 4)
		for i := 3; i < overHTTP; i++ {
			key, want := e.key, http.StatusOK
			if i%2 == 1 {
				key, want = limited, http.StatusTooManyRequests
				refusedN++
			} else {
				okN++
			}
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if st := send(key, i); st != want {
					t.Errorf("request %d: %d, want %d", i, st, want)
				}
			})
		}
		wg.Wait()
		us := e.WaitUsage(t, okN)
		var unpriced *events.Usage
		for i := range us {
			if us[i].Outcome == events.OutcomeOK && !us[i].Priced && us[i].KeyID == "key1" {
				unpriced = &us[i]
				break
			}
		}
		if unpriced == nil {
			t.Fatalf("no unpriced answer among %d events", len(us))
		}
		// The refusals were counted (per key, reason and minute), not
		// recorded with their model names.
		var counted int64
		for _, c := range e.RefusalCounts(t) {
			if c.KeyID == "limited" {
				counted += c.Count
			}
		}
		if counted != int64(refusedN) {
			t.Fatalf("refusals counted %d, want %d", counted, refusedN)
		}
		// Published as the edge publishes: many at once, grouped into
		// atomic batches (the test server fsyncs every write).
		pub := streams.NewGroupPublisher(e.JS, 30*time.Second)
		flood := make(chan int)
		var pwg sync.WaitGroup
		for range 256 {
			pwg.Go(func() {
				for i := range flood {
					u := *unpriced
					u.ID = fmt.Sprintf("flood%05d", i)
					u.Model = fmt.Sprintf("made-up-model-%05d", i)
					if u.UpstreamModel != "" {
						u.UpstreamModel = u.Model
					}
					u.Time = time.Now().UTC()
					env, err := events.NewWithID(u.ID, events.UsageRecorded, u.Time, "key:"+u.KeyID, u.ID, &u)
					if err == nil {
						_, err = pub.Publish(ctx, events.UsageSubject(u.Platform, u.KeyID), env)
					}
					if err != nil {
						t.Error(err)
					}
				}
			})
		}
		for i := overHTTP; i < total; i++ {
			flood <- i
		}
		close(flood)
		pwg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		// 20,000 events take the projection a few seconds, many more on a
		// busy machine under the race detector: a generous bound.
		wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		defer cancel()
		stream, err := e.JS.Stream(wctx, events.StreamUsage)
		if err != nil {
			t.Fatal(err)
		}
		info, err := stream.Info(wctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Store.WaitCheckpoint(wctx, store.ProjectionUsage, info.State.LastSeq); err != nil {
			t.Fatalf("the usage projection did not reach %d: %v", info.State.LastSeq, err)
		}
		after := dbsize()
		t.Logf("Redis keys: %d after 3 model names, %d after %d", before, after, total)
		// New hours, minutes and seconds may have begun meanwhile: a few
		// time buckets, never one per name.
		if after > before+40 {
			t.Fatalf("Redis grew from %d to %d keys with %d model names", before, after, total)
		}

		token := e.AdminToken(t)
		for _, path := range []string{
			"/api/v2/keys/key1/stats", "/api/v2/keys/limited/stats",
			"/api/v2/accounts/claude-console/acct0/stats",
			"/api/v2/stats/overview", "/api/v2/stats/usage?by=model",
		} {
			if r := e.Do(t, http.MethodGet, path, token, nil); r.Status != http.StatusOK {
				t.Fatalf("%s: %d %s", path, r.Status, r.Body)
			}
		}
		var ks struct {
			Data struct {
				Total struct {
					Refused int64 `json:"refused"`
				} `json:"total"`
				ByModel map[string]struct {
					Requests int64 `json:"requests"`
					Refused  int64 `json:"refused"`
				} `json:"byModel"`
			} `json:"data"`
		}
		r := e.Do(t, http.MethodGet, "/api/v2/keys/limited/stats", token, nil)
		if err := json.Unmarshal(r.Body, &ks); err != nil {
			t.Fatalf("%s: %v", r.Body, err)
		}
		other := ks.Data.ByModel[projections.OtherModel]
		if len(ks.Data.ByModel) != 1 || other.Requests != 1 || ks.Data.Total.Refused != int64(refusedN) {
			t.Fatalf("the limited key: byModel %+v, refused %d; want its one answer under %q and %d refusals",
				ks.Data.ByModel, ks.Data.Total.Refused, projections.OtherModel, refusedN)
		}
	})
}
