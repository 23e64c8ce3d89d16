package edge

import "time"

// SignDeviceForTest signs a device cookie for username expiring at
// expires, as a login would issue it.
func (s *Server) SignDeviceForTest(username string, expires time.Time) string {
	v, err := s.admin.DeviceCookie(username, expires)
	if err != nil {
		panic(err)
	}
	return v
}
