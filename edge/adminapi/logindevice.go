package adminapi

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"relay/edge/httpx"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
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
	deviceCookieName = "relay_device"
	deviceHeader     = "X-Relay-Device"
	deviceVersion    = "d1"
	maxDeviceValue   = 512
	deviceIDLen      = 22 // 16 random bytes in unpadded base64url
)

// derivedKey derives a key for one purpose from JWT_SECRET.
func (s *API) derivedKey(purpose string) []byte { return derive(s.cfg.JWTSecret, purpose) }

func derive(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

func (s *API) deviceMAC(body string) []byte {
	m := hmac.New(sha256.New, s.derivedKey("relay device cookie v1"))
	m.Write([]byte(body))
	return m.Sum(nil)
}

// signDevice returns a device cookie value for username.
func (s *API) signDevice(username, id string, expires time.Time) string {
	body := strings.Join([]string{deviceVersion, base64.RawURLEncoding.EncodeToString([]byte(username)), id, strconv.FormatInt(expires.Unix(), 10)}, ".")
	return body + "." + base64.RawURLEncoding.EncodeToString(s.deviceMAC(body))
}

// deviceOf returns the id of the device cookie r carries (the
// X-Relay-Device header first, then the cookie) when it is relay's, not
// expired, and issued to username. Anything else gives no privilege.
func (s *API) deviceOf(r *http.Request, username string) (string, bool) {
	v := r.Header.Get(deviceHeader)
	if v == "" {
		if ck, err := r.Cookie(deviceCookieName); err == nil {
			v = ck.Value
		}
	}
	if v == "" || len(v) > maxDeviceValue {
		return "", false
	}
	parts := strings.Split(v, ".")
	if len(parts) != 5 || parts[0] != deviceVersion || len(parts[2]) != deviceIDLen {
		return "", false
	}
	mac, err := base64.RawURLEncoding.DecodeString(parts[4])
	if err != nil || !hmac.Equal(mac, s.deviceMAC(strings.Join(parts[:4], "."))) {
		return "", false
	}
	user, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || string(user) != username {
		return "", false
	}
	exp, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil || time.Now().Unix() >= exp {
		return "", false
	}
	return parts[2], true
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
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return s.signDevice(username, base64.RawURLEncoding.EncodeToString(b), expires), nil
}

// LoginKey is the key admin.Service hashes usernames into throttle
// buckets with (admin.Config.LoginKey), derived from JWT_SECRET.
func LoginKey(jwtSecret []byte) []byte {
	return derive(jwtSecret, "relay login username bucket v1")
}
