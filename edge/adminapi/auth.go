package adminapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"relay/edge/admin"
	"relay/edge/fault"
	"relay/edge/httpx"
	"relay/projections"
)

const (
	tokenIssuer  = "relay"
	ctxAdmin     = "relay.admin"
	minPassword  = admin.MinPassword
	maxPassword  = admin.MaxPassword
	badTokenText = "invalid or expired token"
)

// adminClaims are the claims of an admin token. Ver is the sequence of the
// event that set the admin's password: a token carrying an older one was
// issued before a password change and is void.
type adminClaims struct {
	jwt.RegisteredClaims
	Ver uint64 `json:"ver"`
}

// EnsureAdmin creates the first admin when none exists (admin.Service.EnsureAdmin).
func (s *API) EnsureAdmin(ctx context.Context, username, password string) (created bool, generated string, err error) {
	return s.act.EnsureAdmin(ctx, username, password)
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// Login signs an admin in (admin.Service.SignIn holds the rules and the
// throttle): this reads the body and the device cookie, and answers a
// token and a fresh device cookie.
func (s *API) Login(c echo.Context) error {
	var req loginRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		return err
	}
	in := admin.SignInInput{Username: req.Username, Password: req.Password, Address: c.RealIP(), RequestID: httpx.RequestID(c)}
	if req.Username != "" && req.Password != "" {
		in.Device, _ = s.deviceOf(c.Request(), req.Username)
	}
	a, err := s.act.SignIn(c.Request().Context(), in)
	if admin.IsBadCredentials(err) {
		s.loginFailures.Inc()
	}
	if err != nil {
		return err
	}
	if err := s.setDeviceCookie(c, a.Username); err != nil {
		return err
	}
	return s.issueToken(c, a, http.StatusOK)
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
	a, err := s.act.CheckSession(claims.Subject, claims.Ver)
	if err != nil {
		return projections.AdminView{}, errBadToken
	}
	return a, nil
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
	actor := admin.Actor{Username: currentAdmin(c).Username, RequestID: httpx.RequestID(c)}
	updated, err := s.act.ChangePassword(c.Request().Context(), actor, req.CurrentPassword, req.NewPassword)
	if err != nil {
		return err
	}
	// Every earlier token is void now, including the caller's: hand it a new one.
	return s.issueToken(c, updated, http.StatusOK)
}
