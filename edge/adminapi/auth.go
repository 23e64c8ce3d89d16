package adminapi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"math"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"

	"relay/edge/fault"
	"relay/edge/httpx"
	"relay/events"
	"relay/projections"
	"relay/store"
)

const (
	tokenIssuer  = "relay"
	ctxAdmin     = "relay.admin"
	minPassword  = 8
	maxPassword  = 72 // bcrypt ignores bytes past 72
	maxUsername  = 64
	badTokenText = "invalid or expired token"
)

// adminClaims are the claims of an admin token. Ver is the sequence of the
// event that set the admin's password: a token carrying an older one was
// issued before a password change and is void.
type adminClaims struct {
	jwt.RegisteredClaims
	Ver uint64 `json:"ver"`
}

// EnsureAdmin creates the first admin when none exists. An empty password is
// replaced by a generated one, returned so the caller can print it once. An
// existing admin is never touched: a changed password survives restarts with
// the original ADMIN_PASSWORD still in the environment.
func (s *API) EnsureAdmin(ctx context.Context, username, password string) (created bool, generated string, err error) {
	var exists bool
	s.catalog.Read(func(c *projections.Catalog) { exists = len(c.Admins) > 0 })
	if exists {
		return false, "", nil
	}
	if !events.ValidToken(username) || len(username) > maxUsername {
		return false, "", errors.New("ADMIN_USERNAME must be 1-64 characters without dots, spaces or wildcards")
	}
	if password == "" {
		b := make([]byte, 18)
		if _, err := rand.Read(b); err != nil {
			return false, "", err
		}
		password, generated = base64.RawURLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.cfg.BcryptCost)
	if err != nil {
		return false, "", err
	}
	env, err := events.New(events.AdminCreated, time.Now(), "system", "", events.AdminCreatedData{Username: username, PasswordHash: string(hash)})
	if err != nil {
		return false, "", err
	}
	none := uint64(0)
	if seq, err := s.writeConfig(ctx, events.AdminSubject(username), env, &none); err != nil {
		var e *fault.Error
		if errors.As(err, &e) && e.Kind == fault.Conflict {
			return false, "", nil // another process created it first
		}
		if seq > 0 {
			// Recorded, not visible yet (the workers are starting too):
			// the admin exists; the read models will show it shortly.
			return true, generated, nil
		}
		return false, "", err
	}
	return true, generated, nil
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// Login checks an admin's password. Failed attempts are bounded three
// ways (OWASP, "Slow Down Online Guessing Attacks with Device Cookies"):
// per client address (LoginFailures), per username from every address
// (LoginUserFailures) and per device cookie (LoginDeviceFailures). A
// request carrying a valid device cookie of the username it logs in as is
// counted by its device only, so guesses from elsewhere (or from behind the
// same proxy) never lock out a browser or script that signed in before;
// a device that fails too often is treated like any other client until its
// window passes. Each attempt is counted before the password is checked
// and taken back when it was right, so concurrent guesses cannot overrun a
// bound. A wrong username and a wrong password get the same answer, the
// same counters and the same bcrypt work.
func (s *API) Login(c echo.Context) error {
	var req loginRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		return err
	}
	if req.Username == "" {
		return fault.InvalidField("username", "username is required")
	}
	if req.Password == "" {
		return fault.InvalidField("password", "password is required")
	}
	ctx := c.Request().Context()
	var charged []store.LoginCounter
	if dev, ok := s.deviceOf(c.Request(), req.Username); ok {
		counters := []store.LoginCounter{{Scope: store.LoginByDevice, ID: dev, Limit: s.cfg.LoginDeviceFailures}}
		if ok, _, err := s.store.ChargeLogin(ctx, counters, s.cfg.LoginWindow); err != nil {
			httpx.Logger(c).Warn().Err(err).Msg("could not count a login attempt")
		} else if ok {
			charged = counters
		}
		// A device past its bound falls through to the untrusted bounds.
	}
	if charged == nil {
		counters := []store.LoginCounter{
			{Scope: store.LoginByUser, ID: s.usernameBucket(req.Username), Limit: s.cfg.LoginUserFailures},
			{Scope: store.LoginByAddress, ID: throttleAddr(c.RealIP()), Limit: s.cfg.LoginFailures},
		}
		ok, wait, err := s.store.ChargeLogin(ctx, counters, s.cfg.LoginWindow)
		switch {
		case err != nil:
			// Redis is down: admins can still sign in, unthrottled.
			httpx.Logger(c).Warn().Err(err).Msg("could not count a login attempt")
		case !ok:
			e := fault.New(fault.RateLimited, "too many failed logins; try again later")
			e.RetryAfter = int(math.Ceil(wait.Seconds()))
			return e
		default:
			charged = counters
		}
	}
	admin, found := s.admin(req.Username)
	hash := s.dummyHash
	if found {
		hash = []byte(admin.PasswordHash)
	}
	// Compare even for an unknown user so both answers take as long.
	if bcrypt.CompareHashAndPassword(hash, []byte(req.Password)) != nil || !found {
		s.loginFailures.Inc()
		return fault.New(fault.Unauthorized, "invalid username or password")
	}
	if err := s.store.RefundLogin(ctx, charged); err != nil {
		httpx.Logger(c).Warn().Err(err).Msg("could not uncount a successful login")
	}
	if err := s.setDeviceCookie(c, admin.Username); err != nil {
		return err
	}
	return s.issueToken(c, admin, http.StatusOK)
}

func (s *API) issueToken(c echo.Context, admin projections.AdminView, status int) error {
	now := time.Now()
	exp := now.Add(s.cfg.TokenTTL)
	claims := adminClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    tokenIssuer,
			Subject:   admin.Username,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
		Ver: admin.PasswordSeq,
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.cfg.JWTSecret)
	if err != nil {
		return err
	}
	return httpx.OK(c, status, map[string]any{
		"token":     token,
		"expiresAt": exp.UTC().Truncate(time.Second),
		"user":      map[string]string{"username": admin.Username},
	})
}

func (s *API) admin(username string) (projections.AdminView, bool) {
	var v projections.AdminView
	s.catalog.Read(func(c *projections.Catalog) { v = c.Admins[username] })
	return v, v.Exists()
}

// RequireAdmin authenticates the admin token. Every failure (missing,
// malformed, forged, another algorithm, expired, no expiry, issued before a
// password change) gets the same answer.
func (s *API) RequireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		admin, err := s.verifyToken(c.Request().Header.Get("Authorization"))
		if err != nil {
			return fault.New(fault.Unauthorized, badTokenText)
		}
		c.Set(ctxAdmin, admin)
		return next(c)
	}
}

var errBadToken = errors.New("bad token")

func (s *API) verifyToken(header string) (projections.AdminView, error) {
	raw, found := strings.CutPrefix(header, "Bearer ")
	if !found || raw == "" || len(raw) > 4096 {
		return projections.AdminView{}, errBadToken
	}
	var claims adminClaims
	_, err := jwt.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return s.cfg.JWTSecret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(tokenIssuer),
		jwt.WithLeeway(5*time.Second),
	)
	if err != nil {
		return projections.AdminView{}, errBadToken
	}
	admin, found := s.admin(claims.Subject)
	if !found || claims.Ver != admin.PasswordSeq {
		return projections.AdminView{}, errBadToken
	}
	return admin, nil
}

func currentAdmin(c echo.Context) projections.AdminView {
	a, _ := c.Get(ctxAdmin).(projections.AdminView)
	return a
}

func (s *API) Me(c echo.Context) error {
	a := currentAdmin(c)
	return httpx.OK(c, http.StatusOK, map[string]any{"username": a.Username, "createdAt": a.CreatedAt, "passwordChangedAt": a.UpdatedAt})
}

type changePasswordRequest struct {
	CurrentPassword string `json:"currentPassword"`
	NewPassword     string `json:"newPassword"`
}

func (s *API) ChangePassword(c echo.Context) error {
	var req changePasswordRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		return err
	}
	if req.CurrentPassword == "" {
		return fault.InvalidField("currentPassword", "currentPassword is required")
	}
	if len(req.NewPassword) < minPassword || len(req.NewPassword) > maxPassword {
		return fault.InvalidField("newPassword", "newPassword must be 8 to 72 bytes long")
	}
	a := currentAdmin(c)
	if bcrypt.CompareHashAndPassword([]byte(a.PasswordHash), []byte(req.CurrentPassword)) != nil {
		return fault.InvalidField("currentPassword", "currentPassword is wrong")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(req.NewPassword), s.cfg.BcryptCost)
	if err != nil {
		return err
	}
	env, err := events.New(events.AdminPasswordChanged, time.Now(), a.Username, httpx.RequestID(c),
		events.AdminPasswordChangedData{Username: a.Username, PasswordHash: string(hash)})
	if err != nil {
		return err
	}
	if _, err := s.writeConfig(c.Request().Context(), events.AdminSubject(a.Username), env, &a.Seq); err != nil {
		return err
	}
	updated, _ := s.admin(a.Username)
	// Every earlier token is void now, including the caller's: hand it a new one.
	return s.issueToken(c, updated, http.StatusOK)
}

// throttleAddr is the name an address is counted under by the login
// throttle: an IPv4 address as is, an IPv6 address by its /64 (one
// subscriber's usual allocation, whose addresses cost nothing to change).
func throttleAddr(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		if len(ip) > 64 {
			ip = ip[:64]
		}
		return "?" + ip
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}
