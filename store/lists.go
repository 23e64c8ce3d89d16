package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"relay/projections"
)

// Listings of the admin API. Keys and accounts are kept in sorted sets
// scored by their creation sequence, so a page, newest first, is one
// ZREVRANGE and one MGET however many entities there are. Search is a
// case-insensitive substring match over a short text per entity (name,
// description, tags) kept in a hash next to the sorted set: it reads those
// texts (about 100 bytes an entity), never the documents, and then only the
// documents of the page.

// ListQuery selects one page of a listing, newest first.
type ListQuery struct {
	// Offset and Limit select the page: Limit entities after the first
	// Offset matches.
	Offset, Limit int
	// Search, when set, keeps the entities whose text contains it,
	// ignoring case.
	Search string
	// IncludeDeleted lists soft-deleted entities too.
	IncludeDeleted bool
}

// maxListLimit bounds a page, whatever the caller asks for.
const maxListLimit = 1000

// ListKeys returns one page of keys, newest first, and how many match.
func (s *Store) ListKeys(ctx context.Context, q ListQuery) ([]projections.KeyView, int, error) {
	index := s.keysLive()
	if q.IncludeDeleted {
		index = s.keysAll()
	}
	ids, total, err := s.listIDs(ctx, index, s.keysText(), q)
	if err != nil {
		return nil, 0, err
	}
	docs := make([]string, len(ids))
	for i, id := range ids {
		docs[i] = s.keyDoc(id)
	}
	items, err := loadDocs[projections.KeyView](ctx, s, docs)
	return items, total, err
}

// ListAccounts returns one page of the accounts of platform, newest first,
// and how many match.
func (s *Store) ListAccounts(ctx context.Context, platform string, q ListQuery) ([]projections.AccountView, int, error) {
	index := s.accountsOf(platform)
	if q.IncludeDeleted {
		index = s.accountsAllOf(platform)
	}
	ids, total, err := s.listIDs(ctx, index, s.accountsText(platform), q)
	if err != nil {
		return nil, 0, err
	}
	docs := make([]string, len(ids))
	for i, id := range ids {
		docs[i] = s.accountDoc(id)
	}
	items, err := loadDocs[projections.AccountView](ctx, s, docs)
	return items, total, err
}

// listIDs returns the ids of one page of index and the number of matches.
func (s *Store) listIDs(ctx context.Context, index, texts string, q ListQuery) ([]string, int, error) {
	offset, limit := max(q.Offset, 0), min(max(q.Limit, 0), maxListLimit)
	needle := searchText(q.Search)
	if needle != "" {
		return s.searchIDs(ctx, index, texts, needle, offset, limit)
	}
	// Count and page in one transaction, so the total fits the page.
	var card *redis.IntCmd
	var page *redis.StringSliceCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		card = p.ZCard(ctx, index)
		if limit > 0 {
			page = p.ZRevRange(ctx, index, int64(offset), int64(offset+limit-1))
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("store: list %s: %w", index, err)
	}
	var ids []string
	if page != nil {
		ids = page.Val()
	}
	return ids, int(card.Val()), nil
}

// searchIDs matches needle against every text of index, newest first, in
// this process: the ids and texts are read in one transaction, so Redis
// spends two plain commands on a search (a Lua loop over them would block
// every other client, leases included, for the whole scan).
func (s *Store) searchIDs(ctx context.Context, index, texts, needle string, offset, limit int) ([]string, int, error) {
	var order *redis.StringSliceCmd
	var text *redis.MapStringStringCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		order = p.ZRevRange(ctx, index, 0, -1)
		text = p.HGetAll(ctx, texts)
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("store: search %s: %w", index, err)
	}
	all := text.Val()
	var ids []string
	total := 0
	for _, id := range order.Val() {
		if !strings.Contains(all[id], needle) {
			continue
		}
		if total >= offset && len(ids) < limit {
			ids = append(ids, id)
		}
		total++
	}
	return ids, total, nil
}

// loadDocs reads the JSON documents at keys in one MGET, skipping any that
// vanished between the index read and this one.
func loadDocs[T any](ctx context.Context, s *Store, keys []string) ([]T, error) {
	out := make([]T, 0, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue
		}
		var doc T
		if err := json.Unmarshal([]byte(str), &doc); err != nil {
			return nil, fmt.Errorf("store: corrupt document %s: %w", keys[i], err)
		}
		out = append(out, doc)
	}
	return out, nil
}

// searchText normalises text for matching: lowercased, without the NUL that
// separates the fields of an entity's text, so a needle never spans two
// fields.
func searchText(s string) string {
	return strings.ToLower(strings.ReplaceAll(s, "\x00", ""))
}

// keySearchText is the text a key search runs over: name, description and
// tags.
func keySearchText(v projections.KeyView) string {
	parts := append([]string{v.Name, v.Description}, v.Tags...)
	for i, p := range parts {
		parts[i] = searchText(p)
	}
	return strings.Join(parts, "\x00")
}

// accountSearchText is the text an account search runs over: name and
// description.
func accountSearchText(v projections.AccountView) string {
	return searchText(v.Name) + "\x00" + searchText(v.Description)
}
