package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// Sessions are signed cookies, like the REST API's tokens: the value names
// the admin, a random session id, the admin's password version and an
// expiry, under an HMAC-SHA256. A session is valid while the signature
// holds, it has not expired, the admin's password version is still the one
// it carries (a password change voids every session, as it voids every
// token) and the Backend has not recorded it as ended (signing out).
//
// The value is "s1.<username in base64url>.<id>.<password version>.<expiry
// in Unix seconds>.<mac>". It holds no secret of the admin's.
const (
	sessionCookie    = "relay_console"
	csrfCookie       = "relay_console_csrf"
	langCookie       = "relay_lang"
	themeCookie      = "relay_theme"
	deviceCookie     = "relay_device" // the REST login's device cookie
	sessionVersion   = "s1"
	maxCookieValue   = 512
	csrfField        = "csrf"
	cookiePath       = "/console"
	prefCookieMaxAge = 365 * 24 * 3600
)

type session struct {
	ID       string
	Username string
	Version  uint64
	Expires  time.Time
}

// keys derives the console's keys from Config.Secret, one per purpose, so
// a value made for one use is never accepted for another.
type keys struct {
	session, csrf []byte
}

func deriveKeys(secret []byte) keys {
	derive := func(purpose string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(purpose))
		return m.Sum(nil)
	}
	return keys{session: derive("relay console session v1"), csrf: derive("relay console csrf v1")}
}

func mac(key []byte, parts ...string) string {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func randomID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func (k keys) sign(s session) string {
	body := strings.Join([]string{
		sessionVersion,
		base64.RawURLEncoding.EncodeToString([]byte(s.Username)),
		s.ID,
		strconv.FormatUint(s.Version, 10),
		strconv.FormatInt(s.Expires.Unix(), 10),
	}, ".")
	return body + "." + mac(k.session, body)
}

// parse checks a session cookie's signature and expiry; the Backend checks
// the rest (parseSession).
func (k keys) parse(value string, now time.Time) (session, bool) {
	if value == "" || len(value) > maxCookieValue {
		return session{}, false
	}
	i := strings.LastIndexByte(value, '.')
	if i < 0 {
		return session{}, false
	}
	body, sig := value[:i], value[i+1:]
	if subtle.ConstantTimeCompare([]byte(sig), []byte(mac(k.session, body))) != 1 {
		return session{}, false
	}
	parts := strings.Split(body, ".")
	if len(parts) != 5 || parts[0] != sessionVersion {
		return session{}, false
	}
	user, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || len(user) == 0 {
		return session{}, false
	}
	ver, err := strconv.ParseUint(parts[3], 10, 64)
	if err != nil {
		return session{}, false
	}
	exp, err := strconv.ParseInt(parts[4], 10, 64)
	if err != nil || !now.Before(time.Unix(exp, 0)) {
		return session{}, false
	}
	return session{ID: parts[2], Username: string(user), Version: ver, Expires: time.Unix(exp, 0)}, true
}

// csrfToken is the CSRF token of forms shown in a session: bound to the
// session id, so it dies with the session. Before signing in, forms carry
// anonCSRF, bound to the random relay_console_csrf cookie.
func (k keys) csrfToken(sessionID string) string { return mac(k.csrf, "session", sessionID) }

func (k keys) anonCSRF(cookie string) string { return mac(k.csrf, "anonymous", cookie) }

func (h *Handler) setCookie(c echo.Context, name, value, path string, expires time.Time, sameSite http.SameSite) {
	ck := &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     path,
		HttpOnly: true,
		Secure:   h.cfg.Secure(c.Request()),
		SameSite: sameSite,
	}
	if !expires.IsZero() {
		ck.Expires = expires
		ck.MaxAge = int(time.Until(expires) / time.Second)
		if ck.MaxAge <= 0 {
			ck.MaxAge = 1
		}
	}
	c.SetCookie(ck)
}

func (h *Handler) clearCookie(c echo.Context, name string) {
	c.SetCookie(&http.Cookie{
		Name: name, Value: "", Path: cookiePath, MaxAge: -1, Expires: time.Unix(0, 0),
		HttpOnly: true, Secure: h.cfg.Secure(c.Request()), SameSite: http.SameSiteStrictMode,
	})
}

func cookieValue(c echo.Context, name string) string {
	ck, err := c.Cookie(name)
	if err != nil {
		return ""
	}
	return ck.Value
}

// startSession signs admin in on this browser.
func (h *Handler) startSession(c echo.Context, admin Admin) (session, error) {
	id, err := randomID()
	if err != nil {
		return session{}, err
	}
	s := session{ID: id, Username: admin.Username, Version: admin.PasswordVersion, Expires: h.cfg.Now().Add(h.cfg.SessionTTL).Truncate(time.Second)}
	h.setCookie(c, sessionCookie, h.keys.sign(s), cookiePath, s.Expires, http.SameSiteStrictMode)
	// The pre-sign-in CSRF cookie has done its job.
	h.clearCookie(c, csrfCookie)
	return s, nil
}

// anonCSRF returns the CSRF token for a form shown before signing in,
// setting the cookie it is bound to when the browser has none.
func (h *Handler) anonCSRF(c echo.Context) (string, error) {
	v := cookieValue(c, csrfCookie)
	if v == "" || len(v) > maxCookieValue {
		var err error
		if v, err = randomID(); err != nil {
			return "", err
		}
		h.setCookie(c, csrfCookie, v, cookiePath, time.Time{}, http.SameSiteStrictMode)
	}
	return h.keys.anonCSRF(v), nil
}

// validCSRF checks the token a form sent: the session's when signed in,
// otherwise the anonymous cookie's.
func (h *Handler) validCSRF(c echo.Context, s *session) bool {
	sent := c.FormValue(csrfField)
	if sent == "" {
		return false
	}
	var want string
	if s != nil {
		want = h.keys.csrfToken(s.ID)
	} else {
		v := cookieValue(c, csrfCookie)
		if v == "" || len(v) > maxCookieValue {
			return false
		}
		want = h.keys.anonCSRF(v)
	}
	return subtle.ConstantTimeCompare([]byte(sent), []byte(want)) == 1
}

// sameOrigin refuses a POST whose Origin (sent by every current browser
// on a POST) names another host: a second line behind the CSRF token. A
// proxy that rewrites Host is expected to send X-Forwarded-Host, which a
// cross-site form cannot set.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	return u.Host == r.Host || u.Host == r.Header.Get("X-Forwarded-Host")
}
