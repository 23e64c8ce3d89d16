package adminapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"relay/edge/admin"
	"relay/edge/httpx"
)

// Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device
// Cookies"): a successful login hands the client a cookie naming the admin
// it signed in as. Later logins of that admin carrying it are counted by
// the device, not by address or username (login), so nobody else's guesses
// lock the device out. Browsers keep it as the relay_device cookie; scripts
// may keep it too (curl -c/-b) or send its value in X-Relay-Device.
//
// The value is "d1.<username>.<id>.<expiry>.<mac>": the username in
// base64url, a random 128-bit id (what the device's failures are counted
// by), the expiry in Unix seconds, and an HMAC-SHA256 of the rest under a
// key derived from JWT_SECRET (rotating JWT_SECRET voids every device
// cookie, as it voids every token). It holds no secret of the admin's.
const (
	deviceCookieName = admin.DeviceCookieName
	deviceHeader     = "X-Relay-Device"
)

// deviceOf returns the id of the device cookie r carries (the
// X-Relay-Device header first, then the cookie) when it is relay's, not
// expired, and issued to username (admin.Devices.Verify).
func (s *API) deviceOf(r *http.Request, username string) (string, bool) {
	v := r.Header.Get(deviceHeader)
	if v == "" {
		if ck, err := r.Cookie(deviceCookieName); err == nil {
			v = ck.Value
		}
	}
	return s.devices.Verify(v, username, time.Now())
}

// setDeviceCookie gives the client a new device cookie for username: one
// year (DeviceCookieTTL), HttpOnly, SameSite=Strict, Secure when the client
// came over TLS.
func (s *API) setDeviceCookie(c echo.Context, username string) error {
	exp := time.Now().Add(s.cfg.DeviceCookieTTL)
	value, err := s.DeviceCookie(username, exp)
	if err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{
		Name:     deviceCookieName,
		Value:    value,
		Path:     "/",
		Expires:  exp,
		MaxAge:   int(s.cfg.DeviceCookieTTL / time.Second),
		HttpOnly: true,
		Secure:   httpx.OverTLS(c.Request(), s.cfg.TrustedProxies),
		SameSite: http.SameSiteStrictMode,
	})
	return nil
}

// DeviceCookie signs a device cookie value for username, with a fresh
// device id, valid until expires.
func (s *API) DeviceCookie(username string, expires time.Time) (string, error) {
	return s.devices.Sign(username, expires)
}

// LoginKey is the key admin.Service hashes usernames into throttle
// buckets with (admin.Config.LoginKey), derived from JWT_SECRET.
func LoginKey(jwtSecret []byte) []byte {
	return admin.Derive(jwtSecret, "relay login username bucket v1")
}
