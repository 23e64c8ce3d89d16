package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
)

// Digest hashes every read model under the store's prefix: key names, types
// and values, in a canonical order. Two Redis states that project the same
// events give the same digest.
func (s *Store) Digest(ctx context.Context) (string, error) {
	prefix := s.prefix()
	keys, err := s.scan(ctx, prefix)
	if err != nil {
		return "", err
	}
	slices.Sort(keys)
	h := sha256.New()
	for _, k := range keys {
		typ, err := s.rdb.Type(ctx, k).Result()
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%s\x00", k[len(prefix):], typ)
		var parts []string
		switch typ {
		case "string":
			v, err := s.rdb.Get(ctx, k).Result()
			if err != nil {
				return "", err
			}
			parts = []string{v}
		case "hash":
			m, err := s.rdb.HGetAll(ctx, k).Result()
			if err != nil {
				return "", err
			}
			for f, v := range m {
				parts = append(parts, f+"="+v)
			}
			slices.Sort(parts)
		case "set":
			if parts, err = s.rdb.SMembers(ctx, k).Result(); err != nil {
				return "", err
			}
			slices.Sort(parts)
		case "zset":
			zs, err := s.rdb.ZRangeWithScores(ctx, k, 0, -1).Result()
			if err != nil {
				return "", err
			}
			for _, z := range zs {
				parts = append(parts, fmt.Sprint(z.Member)+"="+strconv.FormatFloat(z.Score, 'g', -1, 64))
			}
		case "none":
			continue // expired between the scan and now
		default:
			return "", fmt.Errorf("store: digest: unexpected type %s at %s", typ, k)
		}
		for _, p := range parts {
			h.Write([]byte(p))
			h.Write([]byte{0})
		}
		h.Write([]byte{1})
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Drop deletes every read model under the store's prefix; request-time state
// is left alone.
func (s *Store) Drop(ctx context.Context) (int, error) {
	keys, err := s.scan(ctx, s.prefix())
	if err != nil {
		return 0, err
	}
	for chunk := range slices.Chunk(keys, 500) {
		if err := s.rdb.Unlink(ctx, chunk...).Err(); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}

// scan returns the read-model keys under prefix, sorted, without the
// generation bookkeeping and other generations that share generation 0's
// prefix.
func (s *Store) scan(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	var cursor uint64
	for {
		batch, next, err := s.rdb.Scan(ctx, cursor, prefix+"*", 1000).Result()
		if err != nil {
			return nil, err
		}
		for _, k := range batch {
			if prefix != s.base || !s.reserved(k) {
				keys = append(keys, k)
			}
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys), nil
}
