package store

// Every Redis key relay uses is named here.
//
// Read models live under a versioned prefix (default "relay:v2:"), in the
// prefix of the live generation (generation.go): name them with
// s.prefix(), which resolves it. Request-time state lives under
// "relay:rt:" and survives a rebuild of the read models.

const (
	// DefaultPrefix is the prefix of the read models.
	DefaultPrefix = "relay:v2:"
	// RuntimePrefix is the prefix of request-time state.
	RuntimePrefix = "relay:rt:"
)

// checkpoint is the watermark of projection: every event at or below it is
// applied.
func (s *Store) checkpoint(projection string) string { return checkpointKey(s.prefix(), projection) }

// pending holds sequences above the watermark already applied out of order.
func (s *Store) pending(projection string) string { return pendingKey(s.prefix(), projection) }

func checkpointKey(prefix, projection string) string { return prefix + "cp:" + projection }
func pendingKey(prefix, projection string) string    { return prefix + "cp:" + projection + ":pending" }

// genPointer names the live read-model generation (generation.go). It and
// every name starting "gen:" or "g<digits>:" right after the base prefix
// are reserved: no read model may be named so.
func (s *Store) genPointer() string { return s.base + "gen" }

// rebuildLock is held by the one `relay rebuild` allowed at a time.
func (s *Store) rebuildLock() string { return s.base + "gen:lock" }

func (s *Store) keyDoc(id string) string       { return s.prefix() + "key:" + id }
func (s *Store) keyByHash(hash string) string  { return s.prefix() + "keyhash:" + hash }
func (s *Store) keysAll() string               { return s.prefix() + "keys:all" }
func (s *Store) keysLive() string              { return s.prefix() + "keys:live" }
func (s *Store) accountDoc(id string) string   { return s.prefix() + "account:" + id }
func (s *Store) accountsOf(p string) string    { return s.prefix() + "accounts:" + p }
func (s *Store) adminDoc(user string) string   { return s.prefix() + "admin:" + user }
func (s *Store) accountState(id string) string { return s.prefix() + "acctstate:" + id }
func (s *Store) accountStates() string         { return s.prefix() + "acctstates" }

// Failed admin logins (login.go), each counted in a window that starts at
// its first failure: from one client address (an IPv6 address counts by
// its /64), against one of a fixed number of username buckets (every
// username, known or not, hashes into one, so no guessed name adds a key),
// and of one device cookie (only relay issues device ids).
func loginFailAddr(addr string) string   { return RuntimePrefix + "loginfail:addr:" + addr }
func loginFailUser(bucket string) string { return RuntimePrefix + "loginfail:user:" + bucket }
func loginFailDevice(id string) string   { return RuntimePrefix + "loginfail:dev:" + id }

// consoleEnded marks a console session signed out, until it would have
// expired (consolesessions.go).
func consoleEnded(id string) string { return RuntimePrefix + "console:ended:" + id }

// Projection names: each names a durable consumer and a checkpoint.
const (
	ProjectionConfig = "config"
	ProjectionState  = "state"
	ProjectionUsage  = "usage"
)

// Request-time scheduling state (admission.go, leases.go, scheduler.go,
// sticky.go). All of it lives under RuntimePrefix with TTLs, so rebuilds
// leave it alone and nothing accumulates.

// keyLeases is a sorted set of the key's in-flight requests: member =
// request id, score = lease expiry (unix ms).
func keyLeases(keyID string) string { return RuntimePrefix + "lease:key:" + keyID }

// accountLeases is keyLeases for an upstream account.
func accountLeases(accountID string) string { return RuntimePrefix + "lease:acct:" + accountID }

// keyWindow is the sliding log of the key's admitted requests: member =
// request id, score = admission time (unix ms).
func keyWindow(keyID string) string { return RuntimePrefix + "window:key:" + keyID }

// hitCounter is a fixed-window request counter (hits.go) of one id in one
// scope, for the window numbered window.
func hitCounter(scope, id, window string) string {
	return RuntimePrefix + "hits:" + scope + ":" + id + ":" + window
}

// lastUsed is the least-recently-used order of one platform's accounts:
// member = account id, score = last use (unix ms).
func lastUsed(platform string) string { return RuntimePrefix + "lru:" + platform }

// stickyBinding holds the account id a session is bound to.
func stickyBinding(stickyKey string) string { return RuntimePrefix + "sticky:" + stickyKey }

// Listing indexes of the admin API (lists.go). Read models, rebuilt from
// CONFIG like the documents they index.

// keysText maps every key id (deleted ones too) to its lowercased search text.
func (s *Store) keysText() string { return s.prefix() + "keys:text" }

// accountsAllOf orders a platform's accounts, deleted ones included, by
// creation; accountsOf holds only the live ones.
func (s *Store) accountsAllOf(p string) string { return s.prefix() + "accounts:" + p + ":all" }

// accountsText maps a platform's account ids to their lowercased search text.
func (s *Store) accountsText(p string) string { return s.prefix() + "accounts:" + p + ":text" }

// Usage statistics (stats.go, spend.go): read models of the usage
// projection, rebuilt from USAGE. Ids come last in each name: a model name
// may hold any character.

// statsBucket is the hash of the counters of one bucket of one id
// (projections.Delta: dimension, granularity, label, id).
func (s *Store) statsBucket(dim, gran, label, id string) string {
	return s.prefix() + "st:" + dim + ":" + gran + ":" + label + ":" + id
}

// statsIDs is the set of ids of a dimension with usage in one day bucket or
// in all time.
func (s *Store) statsIDs(dim, gran, label string) string {
	return s.prefix() + "stids:" + dim + ":" + gran + ":" + label
}

// statsModels is the set of models one key or account has used.
func (s *Store) statsModels(dim, id string) string { return s.prefix() + "stmodels:" + dim + ":" + id }

// spendMinutes is the cost of one key or account per minute of one UTC
// hour (hour: Unix hours); field = the minute of the hour, 0-59.
func (s *Store) spendMinutes(dim, id, hour string) string {
	return s.prefix() + "spend:" + dim + ":" + id + ":" + hour
}

// rateSeconds counts requests and tokens per second of one minute (minute:
// Unix minutes); fields "requests:<second>" and "tokens:<second>".
func (s *Store) rateSeconds(minute string) string { return s.prefix() + "rate:" + minute }

// usageMeta holds facts about the usage projection itself (field "tz").
func (s *Store) usageMeta() string { return s.prefix() + "usagemeta" }
