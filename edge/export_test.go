package edge

import (
	"crypto/rand"
	"encoding/base64"
	"time"
)

// SignDeviceForTest signs a device cookie for username expiring at
// expires, with a fresh id, as a login would issue it.
func (s *Server) SignDeviceForTest(username string, expires time.Time) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return s.signDevice(username, base64.RawURLEncoding.EncodeToString(b), expires)
}
