package admin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device
// Cookies"): a successful sign-in hands the client a value naming the admin
// it signed in as; later sign-ins of that admin carrying it are counted by
// the device (SignInInput.Device), so nobody else's guesses lock it out.
// Every transport (the REST API, the console) signs and checks them here,
// with one key, so a browser's cookie serves both.
//
// The value is "d1.<username>.<id>.<expiry>.<mac>": the username in
// base64url, a random 128-bit id (what the device's failures are counted
// by), the expiry in Unix seconds, and an HMAC-SHA256 of the rest under a
// key derived from JWT_SECRET (rotating JWT_SECRET voids every device
// cookie). It holds no secret of the admin's.
const (
	// DeviceCookieName is the cookie browsers keep the value in.
	DeviceCookieName = "relay_device"
	deviceVersion    = "d1"
	maxDeviceValue   = 512
	deviceIDLen      = 22 // 16 random bytes in unpadded base64url
)

// Derive derives a key for one purpose from a secret (JWT_SECRET): an
// HMAC-SHA256 of the purpose, so keys for different uses never coincide.
func Derive(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// Devices signs and checks device cookie values.
type Devices struct{ key []byte }

// NewDevices returns the device cookies keyed from jwtSecret.
func NewDevices(jwtSecret []byte) Devices {
	return Devices{key: Derive(jwtSecret, "relay device cookie v1")}
}

func (d Devices) mac(body string) []byte {
	m := hmac.New(sha256.New, d.key)
	m.Write([]byte(body))
	return m.Sum(nil)
}

// Sign returns a device cookie value for username with a fresh device id,
// valid until expires.
func (d Devices) Sign(username string, expires time.Time) (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return d.sign(username, base64.RawURLEncoding.EncodeToString(b), expires), nil
}

func (d Devices) sign(username, id string, expires time.Time) string {
	body := strings.Join([]string{deviceVersion, base64.RawURLEncoding.EncodeToString([]byte(username)), id, strconv.FormatInt(expires.Unix(), 10)}, ".")
	return body + "." + base64.RawURLEncoding.EncodeToString(d.mac(body))
}

// Verify returns the device id of value when it is relay's, not expired at
// now, and issued to username. Anything else gives no privilege.
func (d Devices) Verify(value, username string, now time.Time) (string, bool) {
	if value == "" || len(value) > maxDeviceValue {
		return "", false
	}
	parts := strings.Split(value, ".")
	if len(parts) != 5 || parts[0] != deviceVersion || len(parts[2]) != deviceIDLen {
		return "", false
	}
	mac, err := base64.RawURLEncoding.DecodeString(parts[4])
	if err != nil || !hmac.Equal(mac, d.mac(strings.Join(parts[:4], "."))) {
		return "", false
	}
	user, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || string(user) != username {
		return "", false
	}
	exp, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil || now.Unix() >= exp {
		return "", false
	}
	return parts[2], true
}
