package admin

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"relay/edge/fault"
	"relay/edge/secrets"
	"relay/events"
	"relay/projections"
	"relay/store"
)

// API keys (DESIGN.md section 5). Every write is an event on the key's
// subject, published expecting the key's version, and answered with the
// key as projected once the projection and this edge's catalog hold it.

// Key field values.
const (
	KeyPermAll          = "all"
	KeyPermClaude       = "claude"
	KeyPermCodex        = "codex"
	KeyExpiryFixed      = "fixed"
	KeyExpiryActivation = "activation"
	KeyUnitHours        = "hours"
	KeyUnitDays         = "days"
	KeyClientClaudeCode = "claude_code"
	KeyClientCodexCLI   = "codex_cli"
)

// Key limits.
const (
	maxTags            = 50
	MaxTagLen          = 64
	MaxActivationDays  = 36500
	MaxRateLimitWindow = 525600 // a year, in minutes
	maxLimitCount      = 1_000_000_000
)

// KeyInput is what an admin sets on a key: every field is optional on an
// update. Money is US dollars written as a decimal number; an account id ""
// binds no dedicated account; ExpiresAt nil means no fixed expiry.
type KeyInput struct {
	Name, Description, Permissions                Opt[string]
	IsActive                                      Opt[bool]
	ExpirationMode                                Opt[string]
	ExpiresAt                                     Opt[*time.Time]
	ActivationDays                                Opt[int64]
	ActivationUnit                                Opt[string]
	ClaudeConsoleAccountID, CodexAccountID        Opt[string]
	EnableModelRestriction                        Opt[bool]
	RestrictedModels                              Opt[[]string]
	EnableClientRestriction                       Opt[bool]
	AllowedClients                                Opt[[]string]
	ConcurrencyLimit                              Opt[int64]
	RateLimitWindow, RateLimitRequests            Opt[int64]
	RateLimitCost, DailyCostLimit, TotalCostLimit Opt[string]
	WeeklyOpusCostLimit                           Opt[string]
	Tags                                          Opt[[]string]
}

// KeyItem is a key as the admin views show it.
type KeyItem struct {
	projections.KeyView
	// LastUsed is the time of the key's last request (zero: never).
	LastUsed time.Time
}

// keyField is one writable field of a key: its name in the API, the names
// it sets in the event payload (events.Key's wire form), and how its value
// is checked and applied.
type keyField struct {
	name  string
	wire  []string
	apply func(in *KeyInput, k *events.Key) (set bool, err error)
}

// field builds a keyField for a value of type T.
func keyFieldOf[T any](name string, wire []string, get func(*KeyInput) Opt[T], set func(T, *events.Key) error) keyField {
	return keyField{name, wire, func(in *KeyInput, k *events.Key) (bool, error) {
		o := get(in)
		if !o.Set {
			return false, nil
		}
		return true, set(o.Value, k)
	}}
}

func one(name string) []string { return []string{name} }

// keyFields are the writable fields of a key, in the order they are checked.
var keyFields = []keyField{
	keyFieldOf("name", one("name"), func(in *KeyInput) Opt[string] { return in.Name }, func(v string, k *events.Key) (err error) {
		k.Name, err = checkName("name", v)
		return err
	}),
	keyFieldOf("description", one("description"), func(in *KeyInput) Opt[string] { return in.Description }, func(v string, k *events.Key) (err error) {
		k.Description, err = checkText("description", v, MaxDescriptionLen, true)
		return err
	}),
	keyFieldOf("permissions", one("permissions"), func(in *KeyInput) Opt[string] { return in.Permissions }, func(v string, k *events.Key) (err error) {
		k.Permissions, err = checkEnum("permissions", v, KeyPermAll, KeyPermClaude, KeyPermCodex)
		return err
	}),
	keyFieldOf("isActive", one("isActive"), func(in *KeyInput) Opt[bool] { return in.IsActive }, func(v bool, k *events.Key) error {
		k.IsActive = v
		return nil
	}),
	keyFieldOf("expirationMode", one("expirationMode"), func(in *KeyInput) Opt[string] { return in.ExpirationMode }, func(v string, k *events.Key) (err error) {
		k.ExpirationMode, err = checkEnum("expirationMode", v, KeyExpiryFixed, KeyExpiryActivation)
		return err
	}),
	keyFieldOf("expiresAt", one("expiresAt"), func(in *KeyInput) Opt[*time.Time] { return in.ExpiresAt }, func(v *time.Time, k *events.Key) error {
		if v != nil {
			t := v.UTC()
			v = &t
		}
		k.ExpiresAt = v
		return nil
	}),
	keyFieldOf("activationDays", one("activationDays"), func(in *KeyInput) Opt[int64] { return in.ActivationDays }, func(v int64, k *events.Key) (err error) {
		k.ActivationDays, err = checkRange("activationDays", v, 0, MaxActivationDays)
		return err
	}),
	keyFieldOf("activationUnit", one("activationUnit"), func(in *KeyInput) Opt[string] { return in.ActivationUnit }, func(v string, k *events.Key) (err error) {
		k.ActivationUnit, err = checkEnum("activationUnit", v, KeyUnitHours, KeyUnitDays)
		return err
	}),
	keyFieldOf("claudeConsoleAccountId", one("claudeConsoleAccountId"), func(in *KeyInput) Opt[string] { return in.ClaudeConsoleAccountID }, func(v string, k *events.Key) (err error) {
		k.ClaudeConsoleAccountID, err = checkAccountRef("claudeConsoleAccountId", v)
		return err
	}),
	keyFieldOf("codexAccountId", one("codexAccountId"), func(in *KeyInput) Opt[string] { return in.CodexAccountID }, func(v string, k *events.Key) (err error) {
		k.CodexAccountID, err = checkAccountRef("codexAccountId", v)
		return err
	}),
	keyFieldOf("enableModelRestriction", one("enableModelRestriction"), func(in *KeyInput) Opt[bool] { return in.EnableModelRestriction }, func(v bool, k *events.Key) error {
		k.EnableModelRestriction = v
		return nil
	}),
	keyFieldOf("restrictedModels", one("restrictedModels"), func(in *KeyInput) Opt[[]string] { return in.RestrictedModels }, func(v []string, k *events.Key) (err error) {
		k.RestrictedModels, err = checkList("restrictedModels", v, maxListItems, maxModelNameLen)
		return err
	}),
	keyFieldOf("enableClientRestriction", one("enableClientRestriction"), func(in *KeyInput) Opt[bool] { return in.EnableClientRestriction }, func(v bool, k *events.Key) error {
		k.EnableClientRestriction = v
		return nil
	}),
	keyFieldOf("allowedClients", one("allowedClients"), func(in *KeyInput) Opt[[]string] { return in.AllowedClients }, func(v []string, k *events.Key) (err error) {
		k.AllowedClients, err = checkList("allowedClients", v, 2, maxModelNameLen, KeyClientClaudeCode, KeyClientCodexCLI)
		return err
	}),
	keyFieldOf("concurrencyLimit", one("concurrencyLimit"), func(in *KeyInput) Opt[int64] { return in.ConcurrencyLimit }, func(v int64, k *events.Key) (err error) {
		k.ConcurrencyLimit, err = checkRange("concurrencyLimit", v, 0, maxLimitCount)
		return err
	}),
	keyFieldOf("rateLimitWindow", one("rateLimitWindow"), func(in *KeyInput) Opt[int64] { return in.RateLimitWindow }, func(v int64, k *events.Key) (err error) {
		k.RateLimitWindow, err = checkRange("rateLimitWindow", v, 0, MaxRateLimitWindow)
		return err
	}),
	keyFieldOf("rateLimitRequests", one("rateLimitRequests"), func(in *KeyInput) Opt[int64] { return in.RateLimitRequests }, func(v int64, k *events.Key) (err error) {
		k.RateLimitRequests, err = checkRange("rateLimitRequests", v, 0, maxLimitCount)
		return err
	}),
	keyFieldOf("rateLimitCost", one("rateLimitCostMicros"), func(in *KeyInput) Opt[string] { return in.RateLimitCost }, func(v string, k *events.Key) (err error) {
		k.RateLimitCostMicros, err = parseUSD("rateLimitCost", v)
		return err
	}),
	keyFieldOf("dailyCostLimit", one("dailyCostLimitMicros"), func(in *KeyInput) Opt[string] { return in.DailyCostLimit }, func(v string, k *events.Key) (err error) {
		k.DailyCostLimitMicros, err = parseUSD("dailyCostLimit", v)
		return err
	}),
	keyFieldOf("totalCostLimit", one("totalCostLimitMicros"), func(in *KeyInput) Opt[string] { return in.TotalCostLimit }, func(v string, k *events.Key) (err error) {
		k.TotalCostLimitMicros, err = parseUSD("totalCostLimit", v)
		return err
	}),
	keyFieldOf("weeklyOpusCostLimit", one("weeklyOpusCostLimitMicros"), func(in *KeyInput) Opt[string] { return in.WeeklyOpusCostLimit }, func(v string, k *events.Key) (err error) {
		k.WeeklyOpusCostLimitMicros, err = parseUSD("weeklyOpusCostLimit", v)
		return err
	}),
	keyFieldOf("tags", one("tags"), func(in *KeyInput) Opt[[]string] { return in.Tags }, func(v []string, k *events.Key) (err error) {
		k.Tags, err = checkList("tags", v, maxTags, MaxTagLen)
		return err
	}),
}

// checkAccountRef checks a dedicated account id: an id, or "" for none.
// Whether the account exists is checked against the read model
// (checkDedicated).
func checkAccountRef(field, id string) (string, error) {
	id, err := checkText(field, id, 128, false)
	if err != nil {
		return "", err
	}
	if id != "" && !events.ValidToken(id) {
		return "", fault.InvalidField(field, field+" is not a valid account id")
	}
	return id, nil
}

// applyKey applies the fields set in in onto k, in the order of keyFields,
// and returns the names set.
func applyKey(in KeyInput, k *events.Key) (map[string]bool, error) {
	sent := map[string]bool{}
	for _, f := range keyFields {
		set, err := f.apply(&in, k)
		if err != nil {
			return nil, err
		}
		if set {
			sent[f.name] = true
		}
	}
	return sent, nil
}

// newKeyDefaults is a key before the fields of a create request apply.
func newKeyDefaults() events.Key {
	return events.Key{
		Permissions: KeyPermAll, IsActive: true, ExpirationMode: KeyExpiryFixed, ActivationUnit: KeyUnitDays,
		Tags: []string{}, RestrictedModels: []string{}, AllowedClients: []string{},
	}
}

// checkKey validates k as a whole, after the sent fields applied, and
// returns the wire fields it had to normalise because a sent field implies
// them: switching a key to activation mode clears a fixed expiry (unless the
// key was activated already, when expiresAt is its computed expiry), and
// switching it to fixed mode zeroes activationDays.
func checkKey(k *events.Key, sent map[string]bool, activated bool, now time.Time) ([]string, error) {
	var implied []string
	switch k.ExpirationMode {
	case KeyExpiryActivation:
		if k.ActivationDays < 1 {
			return nil, fault.InvalidField("activationDays", "activationDays must be at least 1 with expirationMode activation")
		}
		if sent["expiresAt"] && k.ExpiresAt != nil {
			return nil, fault.InvalidField("expiresAt", "expiresAt must be null with expirationMode activation: the key expires activationDays after its first use")
		}
		if !activated && k.ExpiresAt != nil {
			k.ExpiresAt = nil
			implied = append(implied, "expiresAt")
		}
	case KeyExpiryFixed:
		if sent["activationDays"] && k.ActivationDays != 0 {
			return nil, fault.InvalidField("activationDays", "activationDays only applies to expirationMode activation")
		}
		if k.ActivationDays != 0 {
			k.ActivationDays = 0
			implied = append(implied, "activationDays")
		}
		if sent["expiresAt"] && k.ExpiresAt != nil && !k.ExpiresAt.After(now) {
			return nil, fault.InvalidField("expiresAt", "expiresAt must be in the future")
		}
	}
	if (k.RateLimitRequests > 0 || k.RateLimitCostMicros > 0) && k.RateLimitWindow == 0 {
		return nil, fault.InvalidField("rateLimitWindow", "rateLimitWindow (minutes) must be set when rateLimitRequests or rateLimitCost is")
	}
	return implied, nil
}

// keyChanges returns the fields of k (in its wire form) that the sent
// fields and the implied wire names set: the Changes of a key.updated
// event.
func keyChanges(k events.Key, sent map[string]bool, implied ...string) (json.RawMessage, error) {
	var wire []string
	for _, f := range keyFields {
		if sent[f.name] {
			wire = append(wire, f.wire...)
		}
	}
	return pickWire(k, append(wire, implied...))
}

// pickWire returns the members names of payload's JSON form.
func pickWire(payload any, names []string) (json.RawMessage, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, err
	}
	picked := make(map[string]json.RawMessage, len(names))
	for _, n := range names {
		picked[n] = all[n]
	}
	return json.Marshal(picked)
}

// ListQuery is a page of a list: Offset items skipped, at most Limit
// returned, matching Search, deleted entities too when IncludeDeleted.
type ListQuery struct {
	Offset, Limit  int
	Search         string
	IncludeDeleted bool
}

// ListKeys returns a page of keys and the number of keys matching.
func (s *Service) ListKeys(ctx context.Context, q ListQuery) ([]KeyItem, int, error) {
	views, total, err := s.store.ListKeys(ctx, store.ListQuery{Offset: q.Offset, Limit: q.Limit, Search: q.Search, IncludeDeleted: q.IncludeDeleted})
	if err != nil {
		return nil, 0, err
	}
	items, err := s.keyItems(ctx, views...)
	return items, total, err
}

// Key returns the key id.
func (s *Service) Key(ctx context.Context, id string) (KeyItem, error) {
	v, err := s.loadKey(ctx, id)
	if err != nil {
		return KeyItem{}, err
	}
	return s.keyItem(ctx, v)
}

// CreateKey creates a key from in and returns it with its secret, which is
// shown this once: only its SHA-256 is kept.
func (s *Service) CreateKey(ctx context.Context, who Actor, in KeyInput) (KeyItem, string, error) {
	if !in.Name.Set {
		return KeyItem{}, "", fault.InvalidField("name", "name is required")
	}
	k := newKeyDefaults()
	sent, err := applyKey(in, &k)
	if err != nil {
		return KeyItem{}, "", err
	}
	now := time.Now()
	if _, err := checkKey(&k, sent, false, now); err != nil {
		return KeyItem{}, "", err
	}
	if err := s.checkDedicated(ctx, k, sent); err != nil {
		return KeyItem{}, "", err
	}
	secret, err := secrets.NewAPIKey()
	if err != nil {
		return KeyItem{}, "", err
	}
	k.ID, k.KeyHash = events.NewID(now), secrets.HashKey(secret)
	env, err := events.New(events.KeyCreated, now, who.Username, who.RequestID, k)
	if err != nil {
		return KeyItem{}, "", err
	}
	none := uint64(0)
	if _, err := s.writeConfig(ctx, events.KeySubject(k.ID), env, &none); err != nil {
		return KeyItem{}, "", err
	}
	item, err := s.Key(ctx, k.ID)
	return item, secret, err
}

// UpdateKey changes the fields set in in. expect is the version the change
// was made on (nil: the version read now); another admin's change since
// answers a conflict.
func (s *Service) UpdateKey(ctx context.Context, who Actor, id string, expect *uint64, in KeyInput) (KeyItem, error) {
	old, err := s.loadKey(ctx, id)
	if err != nil {
		return KeyItem{}, err
	}
	if old.IsDeleted {
		return KeyItem{}, fault.New(fault.Conflict, "the key is deleted; restore it before changing it")
	}
	version := expected(expect, old.Seq)
	k := old.Key
	sent, err := applyKey(in, &k)
	if err != nil {
		return KeyItem{}, err
	}
	if len(sent) == 0 {
		if version != old.Seq {
			return KeyItem{}, fault.New(fault.Conflict, "the key was changed by someone else since it was read; read it again and retry")
		}
		return s.keyItem(ctx, old)
	}
	implied, err := checkKey(&k, sent, old.IsActivated, time.Now())
	if err != nil {
		return KeyItem{}, err
	}
	if err := s.checkDedicated(ctx, k, sent); err != nil {
		return KeyItem{}, err
	}
	changes, err := keyChanges(k, sent, implied...)
	if err != nil {
		return KeyItem{}, err
	}
	return s.writeKey(ctx, who, old.ID, events.KeyUpdated, events.KeyUpdatedData{ID: old.ID, Changes: changes}, version)
}

// DeleteKey deletes the key (it can be restored).
func (s *Service) DeleteKey(ctx context.Context, who Actor, id string, expect *uint64) (KeyItem, error) {
	old, err := s.loadKey(ctx, id)
	if err != nil {
		return KeyItem{}, err
	}
	if old.IsDeleted {
		return KeyItem{}, fault.New(fault.Conflict, "the key is already deleted")
	}
	return s.writeKey(ctx, who, old.ID, events.KeyDeleted, events.KeyDeletedData{ID: old.ID}, expected(expect, old.Seq))
}

// RestoreKey brings a deleted key back.
func (s *Service) RestoreKey(ctx context.Context, who Actor, id string, expect *uint64) (KeyItem, error) {
	old, err := s.loadKey(ctx, id)
	if err != nil {
		return KeyItem{}, err
	}
	if !old.IsDeleted {
		return KeyItem{}, fault.New(fault.Conflict, "the key is not deleted")
	}
	return s.writeKey(ctx, who, old.ID, events.KeyRestored, events.KeyRestoredData{ID: old.ID}, expected(expect, old.Seq))
}

// expected is the version a write expects: the one the caller read when
// given, else the one just read.
func expected(expect *uint64, current uint64) uint64 {
	if expect != nil {
		return *expect
	}
	return current
}

// writeKey publishes one event about key id expecting version expect and
// returns the key as projected after it.
func (s *Service) writeKey(ctx context.Context, who Actor, id, typ string, payload any, expect uint64) (KeyItem, error) {
	env, err := events.New(typ, time.Now(), who.Username, who.RequestID, payload)
	if err != nil {
		return KeyItem{}, err
	}
	if _, err := s.writeConfig(ctx, events.KeySubject(id), env, &expect); err != nil {
		return KeyItem{}, err
	}
	return s.Key(ctx, id)
}

// loadKey reads key id from the read model.
func (s *Service) loadKey(ctx context.Context, id string) (projections.KeyView, error) {
	if !events.ValidToken(id) {
		return projections.KeyView{}, fault.New(fault.NotFound, "key not found")
	}
	v, err := s.store.Key(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !v.Exists()) {
		return v, fault.New(fault.NotFound, "key not found")
	}
	return v, err
}

func (s *Service) keyItem(ctx context.Context, v projections.KeyView) (KeyItem, error) {
	items, err := s.keyItems(ctx, v)
	if err != nil {
		return KeyItem{}, err
	}
	return items[0], nil
}

// keyItems adds each key's last use.
func (s *Service) keyItems(ctx context.Context, views ...projections.KeyView) ([]KeyItem, error) {
	ids := make([]string, len(views))
	for i, v := range views {
		ids[i] = v.ID
	}
	used, err := s.store.LastUsed(ctx, projections.DimKey, ids)
	if err != nil {
		return nil, err
	}
	items := make([]KeyItem, len(views))
	for i, v := range views {
		items[i] = KeyItem{KeyView: v, LastUsed: used[v.ID]}
	}
	return items, nil
}

// checkDedicated checks that the dedicated accounts sent exist, are not
// deleted and belong to the platform of their field.
func (s *Service) checkDedicated(ctx context.Context, k events.Key, sent map[string]bool) error {
	for _, ref := range []struct{ field, id, platform string }{
		{"claudeConsoleAccountId", k.ClaudeConsoleAccountID, events.PlatformClaudeConsole},
		{"codexAccountId", k.CodexAccountID, events.PlatformCodex},
	} {
		if !sent[ref.field] || ref.id == "" {
			continue
		}
		a, err := s.store.Account(ctx, ref.id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !a.Exists()) {
			return fault.InvalidField(ref.field, ref.field+" names no existing account")
		}
		if err != nil {
			return err
		}
		if a.Platform != ref.platform {
			return fault.InvalidField(ref.field, ref.field+" must name a "+ref.platform+" account")
		}
	}
	return nil
}
