package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"relay/events"
	"relay/projections"
	"relay/store"
	"relay/store/redistest"
)

// putKey projects v at seq the way the config worker does.
func putKey(t *testing.T, s *store.Store, seq uint64, v projections.KeyView) {
	t.Helper()
	ctx := context.Background()
	old, _ := s.Key(ctx, v.ID)
	v.Seq = seq
	ops, err := s.KeyOps(old, v)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(ctx, store.ProjectionConfig, seq, ops); err != nil {
		t.Fatal(err)
	}
}

func keyIDs(vs []projections.KeyView) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.ID
	}
	return out
}

func TestListKeys(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := store.New(b.Client, "")
		// k1..k7; k3 is deleted later; names and tags to search.
		names := []string{"", "Alpha", "beta", "GAMMA team", "delta", "Épsilon", "alphabet", "zeta"}
		for i := 1; i <= 7; i++ {
			v := projections.KeyView{Key: events.Key{ID: fmt.Sprintf("k%d", i), Name: names[i], KeyHash: fmt.Sprintf("h%d", i)}, CreatedSeq: uint64(i)}
			if i == 4 {
				v.Description = "for the Alpha project"
			}
			if i == 5 {
				v.Tags = []string{"ops", "ALPHA-tag"}
			}
			putKey(t, s, uint64(i), v)
		}
		del := projections.KeyView{Key: events.Key{ID: "k3", Name: "beta", KeyHash: "h3"}, CreatedSeq: 3, IsDeleted: true}
		putKey(t, s, 8, del)

		tests := []struct {
			name  string
			q     store.ListQuery
			want  []string
			total int
		}{
			{"first page", store.ListQuery{Limit: 3}, []string{"k7", "k6", "k5"}, 6},
			{"second page", store.ListQuery{Offset: 3, Limit: 3}, []string{"k4", "k2", "k1"}, 6},
			{"past the end", store.ListQuery{Offset: 10, Limit: 3}, []string{}, 6},
			{"zero limit counts", store.ListQuery{}, []string{}, 6},
			{"with deleted", store.ListQuery{Limit: 10, IncludeDeleted: true}, []string{"k7", "k6", "k5", "k4", "k3", "k2", "k1"}, 7},
			{"search name desc tags, any case", store.ListQuery{Limit: 10, Search: "ALPHA"}, []string{"k6", "k5", "k4", "k1"}, 4},
			{"search paged", store.ListQuery{Offset: 1, Limit: 2, Search: "alpha"}, []string{"k5", "k4"}, 4},
			{"search unicode case", store.ListQuery{Limit: 10, Search: "épsilon"}, []string{"k5"}, 1},
			{"search hides deleted", store.ListQuery{Limit: 10, Search: "beta"}, []string{"k2"}, 1},
			{"search with deleted", store.ListQuery{Limit: 10, Search: "beta", IncludeDeleted: true}, []string{"k3", "k2"}, 2},
			{"search no match", store.ListQuery{Limit: 10, Search: "nothing"}, []string{}, 0},
			{"search is plain, not a pattern", store.ListQuery{Limit: 10, Search: "a.p%"}, []string{}, 0},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, total, err := s.ListKeys(ctx, tt.q)
				if err != nil {
					t.Fatal(err)
				}
				if ids := keyIDs(got); !slices.Equal(ids, tt.want) || total != tt.total {
					t.Fatalf("got %v total %d, want %v total %d", ids, total, tt.want, tt.total)
				}
			})
		}
	})
}

// A search walks the index in chunks; matches on both sides of a chunk
// boundary must all be found, in order.
func TestListKeysSearchAcrossChunks(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := store.New(b.Client, "")
		const n = 1203
		for i := 1; i <= n; i++ {
			name := fmt.Sprintf("key %d", i)
			if i%100 == 0 {
				name = fmt.Sprintf("needle %d", i)
			}
			putKey(t, s, uint64(i), projections.KeyView{Key: events.Key{ID: fmt.Sprintf("k%04d", i), Name: name}, CreatedSeq: uint64(i)})
		}
		got, total, err := s.ListKeys(ctx, store.ListQuery{Offset: 2, Limit: 5, Search: "needle"})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"k1000", "k0900", "k0800", "k0700", "k0600"}
		if !slices.Equal(keyIDs(got), want) || total != 12 {
			t.Fatalf("got %v total %d", keyIDs(got), total)
		}
		all, total, err := s.ListKeys(ctx, store.ListQuery{Offset: 1200, Limit: 10})
		if err != nil || total != n || !slices.Equal(keyIDs(all), []string{"k0003", "k0002", "k0001"}) {
			t.Fatalf("last page %v total %d err %v", keyIDs(all), total, err)
		}
	})
}

func TestListAccountsByPlatform(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := store.New(b.Client, "")
		put := func(seq uint64, v projections.AccountView) {
			v.Seq = seq
			ops, err := s.AccountOps(v)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Apply(ctx, store.ProjectionConfig, seq, ops); err != nil {
				t.Fatal(err)
			}
		}
		acct := func(id, platform, name string, created uint64) projections.AccountView {
			return projections.AccountView{Account: events.Account{ID: id, Platform: platform, Name: name}, CreatedSeq: created}
		}
		put(1, acct("a1", events.PlatformClaudeConsole, "Main console", 1))
		put(2, acct("a2", events.PlatformCodex, "Main codex", 2))
		put(3, acct("a3", events.PlatformClaudeConsole, "Backup", 3))
		gone := acct("a1", events.PlatformClaudeConsole, "Main console", 1)
		gone.IsDeleted = true
		put(4, gone)

		ids := func(vs []projections.AccountView) []string {
			out := []string{}
			for _, v := range vs {
				out = append(out, v.ID)
			}
			return out
		}
		for _, tt := range []struct {
			platform string
			q        store.ListQuery
			want     []string
		}{
			{events.PlatformClaudeConsole, store.ListQuery{Limit: 10}, []string{"a3"}},
			{events.PlatformClaudeConsole, store.ListQuery{Limit: 10, IncludeDeleted: true}, []string{"a3", "a1"}},
			{events.PlatformClaudeConsole, store.ListQuery{Limit: 10, IncludeDeleted: true, Search: "main"}, []string{"a1"}},
			{events.PlatformCodex, store.ListQuery{Limit: 10, Search: "MAIN"}, []string{"a2"}},
		} {
			got, total, err := s.ListAccounts(ctx, tt.platform, tt.q)
			if err != nil || !slices.Equal(ids(got), tt.want) || total != len(tt.want) {
				t.Errorf("%s %+v: got %v total %d err %v, want %v", tt.platform, tt.q, ids(got), total, err, tt.want)
			}
		}
	})
}
