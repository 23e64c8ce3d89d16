package projections

import "relay/events"

// Catalog is every configuration and health view folded in memory: what an
// edge needs to authenticate and route a request without reading Redis. It is
// not safe for concurrent use; the edge guards it.
type Catalog struct {
	Keys      map[string]KeyView
	KeyByHash map[string]string // SHA-256 hex of the secret -> key id
	Accounts  map[string]AccountView
	Admins    map[string]AdminView
	States    map[string]AccountStateView
	// ConfigSeq and StateSeq are the last sequences folded from each stream.
	ConfigSeq uint64
	StateSeq  uint64
}

// NewCatalog returns an empty catalog.
func NewCatalog() *Catalog {
	return &Catalog{
		Keys:      map[string]KeyView{},
		KeyByHash: map[string]string{},
		Accounts:  map[string]AccountView{},
		Admins:    map[string]AdminView{},
		States:    map[string]AccountStateView{},
	}
}

// Apply folds one CONFIG or STATE event. Its subject says which entity it is
// about, so the catalog never guesses from the payload.
func (c *Catalog) Apply(env events.Envelope) error {
	kind, id := events.EntityOf(env.Subject)
	var err error
	switch kind {
	case events.EntityKey:
		var v KeyView
		if v, err = ApplyKey(c.Keys[id], env); err == nil {
			if old := c.Keys[id]; old.KeyHash != "" && old.KeyHash != v.KeyHash {
				delete(c.KeyByHash, old.KeyHash)
			}
			c.Keys[id] = v
			if v.KeyHash != "" {
				c.KeyByHash[v.KeyHash] = id
			}
		}
	case events.EntityAccount:
		var v AccountView
		if v, err = ApplyAccount(c.Accounts[id], env); err == nil {
			c.Accounts[id] = v
		}
	case events.EntityAdmin:
		var v AdminView
		if v, err = ApplyAdmin(c.Admins[id], env); err == nil {
			c.Admins[id] = v
		}
	case events.EntityAccountState:
		var v AccountStateView
		if v, err = ApplyAccountState(c.States[id], env); err == nil {
			c.States[id] = v
		}
	default:
		// Another kind of configuration (notification channels): not
		// folded here, but its sequence counts, so waiting for the
		// stream's last event ends.
		c.ConfigSeq = max(c.ConfigSeq, env.Seq)
		return nil
	}
	if err != nil {
		return err
	}
	if kind == events.EntityAccountState {
		c.StateSeq = max(c.StateSeq, env.Seq)
	} else {
		c.ConfigSeq = max(c.ConfigSeq, env.Seq)
	}
	return nil
}
