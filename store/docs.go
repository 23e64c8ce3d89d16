package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"relay/projections"
)

func (s *Store) getJSON(ctx context.Context, key string, v any) error {
	b, err := s.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("store: corrupt document %s: %w", key, err)
	}
	return nil
}

func setJSON(key string, v any) (Op, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Op{}, err
	}
	return Op{Cmd: "SET", Args: []any{key, b}}, nil
}

// Key returns the projected key id.
func (s *Store) Key(ctx context.Context, id string) (projections.KeyView, error) {
	var v projections.KeyView
	return v, s.getJSON(ctx, s.keyDoc(id), &v)
}

// KeyOps are the writes that project v (the key after an event) over old.
func (s *Store) KeyOps(old, v projections.KeyView) ([]Op, error) {
	doc, err := setJSON(s.keyDoc(v.ID), v)
	if err != nil {
		return nil, err
	}
	ops := []Op{doc, {Cmd: "ZADD", Args: []any{s.keysAll(), v.CreatedSeq, v.ID}},
		{Cmd: "HSET", Args: []any{s.keysText(), v.ID, keySearchText(v)}}}
	if v.IsDeleted {
		ops = append(ops, Op{Cmd: "ZREM", Args: []any{s.keysLive(), v.ID}})
	} else {
		ops = append(ops, Op{Cmd: "ZADD", Args: []any{s.keysLive(), v.CreatedSeq, v.ID}})
	}
	if old.KeyHash != "" && old.KeyHash != v.KeyHash {
		ops = append(ops, Op{Cmd: "DEL", Args: []any{s.keyByHash(old.KeyHash)}})
	}
	if v.KeyHash != "" {
		ops = append(ops, Op{Cmd: "SET", Args: []any{s.keyByHash(v.KeyHash), v.ID}})
	}
	return ops, nil
}

// Account returns the projected account id.
func (s *Store) Account(ctx context.Context, id string) (projections.AccountView, error) {
	var v projections.AccountView
	return v, s.getJSON(ctx, s.accountDoc(id), &v)
}

// AccountOps are the writes that project v (the account after an event).
func (s *Store) AccountOps(v projections.AccountView) ([]Op, error) {
	doc, err := setJSON(s.accountDoc(v.ID), v)
	if err != nil {
		return nil, err
	}
	ops := []Op{doc, {Cmd: "ZADD", Args: []any{s.accountsAllOf(v.Platform), v.CreatedSeq, v.ID}},
		{Cmd: "HSET", Args: []any{s.accountsText(v.Platform), v.ID, accountSearchText(v)}}}
	if v.IsDeleted {
		ops = append(ops, Op{Cmd: "ZREM", Args: []any{s.accountsOf(v.Platform), v.ID}})
	} else {
		ops = append(ops, Op{Cmd: "ZADD", Args: []any{s.accountsOf(v.Platform), v.CreatedSeq, v.ID}})
	}
	return ops, nil
}

// Admin returns the projected admin username.
func (s *Store) Admin(ctx context.Context, username string) (projections.AdminView, error) {
	var v projections.AdminView
	return v, s.getJSON(ctx, s.adminDoc(username), &v)
}

// AdminOps are the writes that project v.
func (s *Store) AdminOps(v projections.AdminView) ([]Op, error) {
	doc, err := setJSON(s.adminDoc(v.Username), v)
	if err != nil {
		return nil, err
	}
	return []Op{doc}, nil
}

// AccountState returns the projected health of account id (a zero view when
// nothing was ever recorded).
func (s *Store) AccountState(ctx context.Context, id string) (projections.AccountStateView, error) {
	var v projections.AccountStateView
	err := s.getJSON(ctx, s.accountState(id), &v)
	if errors.Is(err, ErrNotFound) {
		return projections.AccountStateView{AccountID: id}, nil
	}
	return v, err
}

// AccountStateOps are the writes that project v.
func (s *Store) AccountStateOps(v projections.AccountStateView) ([]Op, error) {
	doc, err := setJSON(s.accountState(v.AccountID), v)
	if err != nil {
		return nil, err
	}
	return []Op{doc, {Cmd: "SADD", Args: []any{s.accountStates(), v.AccountID}}}, nil
}
