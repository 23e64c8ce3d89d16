package store

// Every Redis key relay uses is named here.
//
// Read models live under a versioned prefix (Options.Prefix, default
// "relay:v1:"). Request-time state lives under "relay:rt:" and survives a
// rebuild of the read models.

const (
	// DefaultPrefix is the prefix of the read models.
	DefaultPrefix = "relay:v1:"
	// RuntimePrefix is the prefix of request-time state.
	RuntimePrefix = "relay:rt:"
)

// checkpoint is the watermark of projection: every event at or below it is
// applied.
func (s *Store) checkpoint(projection string) string { return s.prefix + "cp:" + projection }

// pending holds sequences above the watermark already applied out of order.
func (s *Store) pending(projection string) string { return s.prefix + "cp:" + projection + ":pending" }

func (s *Store) keyDoc(id string) string       { return s.prefix + "key:" + id }
func (s *Store) keyByHash(hash string) string  { return s.prefix + "keyhash:" + hash }
func (s *Store) keysAll() string               { return s.prefix + "keys:all" }
func (s *Store) keysLive() string              { return s.prefix + "keys:live" }
func (s *Store) accountDoc(id string) string   { return s.prefix + "account:" + id }
func (s *Store) accountsOf(p string) string    { return s.prefix + "accounts:" + p }
func (s *Store) adminDoc(user string) string   { return s.prefix + "admin:" + user }
func (s *Store) accountState(id string) string { return s.prefix + "acctstate:" + id }
func (s *Store) accountStates() string         { return s.prefix + "acctstates" }

// loginFailures counts failed admin logins from one address.
func loginFailures(addr string) string { return RuntimePrefix + "loginfail:" + addr }

// Projection names: each names a durable consumer and a checkpoint.
const (
	ProjectionConfig = "config"
	ProjectionState  = "state"
	ProjectionUsage  = "usage"
)
