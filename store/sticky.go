package store

import (
	"context"
	"fmt"
)

// SessionKey is the Choice.StickyKey of a session of one API key on one
// platform. Scoping by key id keeps two keys' sessions apart even when
// their session ids (or prompt hashes) collide; scoping by platform keeps a
// key's Claude and Codex sessions from rebinding each other.
func SessionKey(keyID, platform, session string) string {
	return keyID + ":" + platform + ":" + session
}

// Unbind drops a session's binding, for an account the caller knows is
// gone. It is optional: Choose rebinds a session whose account is not
// among the candidates anyway.
func (s *Store) Unbind(ctx context.Context, stickyKey string) error {
	if err := s.rdb.Del(ctx, stickyBinding(stickyKey)).Err(); err != nil {
		return fmt.Errorf("store: unbind: %w", err)
	}
	return nil
}
