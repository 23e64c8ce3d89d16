package admin

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"

	"golang.org/x/crypto/bcrypt"

	"relay/edge/fault"
	"relay/events"
	"relay/projections"
	"relay/store"
)

// Admin passwords and usernames.
const (
	MinPassword = 8
	MaxPassword = 72 // bcrypt ignores bytes past 72
	MaxUsername = 64
)

// usernameBuckets is how many counters failed sign-ins per username share:
// every username, known or not, hashes into one of them, so guessed names
// add no keys to Redis beyond this many, and a name's bucket refuses it the
// same way whether or not the admin exists.
const usernameBuckets = 4096

// ErrSessionVoid answers CheckSession for a session that no longer holds.
var ErrSessionVoid = errors.New("the admin is gone or changed its password since the session began")

// Admin returns the admin named username, if it exists.
func (s *Service) Admin(username string) (projections.AdminView, bool) {
	var v projections.AdminView
	s.catalog.Read(func(c *projections.Catalog) { v = c.Admins[username] })
	return v, v.Exists()
}

// EnsureAdmin creates the first admin when none exists. An empty password is
// replaced by a generated one, returned so the caller can print it once. An
// existing admin is never touched: a changed password survives restarts with
// the original ADMIN_PASSWORD still in the environment.
func (s *Service) EnsureAdmin(ctx context.Context, username, password string) (created bool, generated string, err error) {
	var exists bool
	s.catalog.Read(func(c *projections.Catalog) { exists = len(c.Admins) > 0 })
	if exists {
		return false, "", nil
	}
	if !events.ValidToken(username) || len(username) > MaxUsername {
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

// SignInInput is a sign-in attempt.
type SignInInput struct {
	Username, Password string
	// Address is the client's address (IP), as the transport trusts it.
	Address string
	// Device is the id of a device cookie the transport verified as issued
	// to Username (signature and expiry); empty when none came.
	Device string
	// RequestID names the request in logs.
	RequestID string
}

// errBadCredentials answers a wrong username or password (the same for
// both).
var errBadCredentials = fault.New(fault.Unauthorized, "invalid username or password")

// IsBadCredentials reports whether err is SignIn's answer to a wrong
// username or password (as opposed to a refusal by the throttle).
func IsBadCredentials(err error) bool { return errors.Is(err, errBadCredentials) }

// SignIn checks an admin's password and returns the admin. Failed attempts
// are bounded three ways (OWASP, "Slow Down Online Guessing Attacks with
// Device Cookies"): per client address (LoginFailures), per username from
// every address (LoginUserFailures) and per device (LoginDeviceFailures).
// An attempt carrying a device of the username it signs in as is counted
// by its device only, so guesses from elsewhere (or from behind the same
// proxy) never lock out a browser or script that signed in before; a
// device that fails too often is treated like any other client until its
// window passes. Each attempt is counted before the password is checked
// and taken back when it was right, so concurrent guesses cannot overrun a
// bound. A wrong username and a wrong password get the same answer, the
// same counters and the same bcrypt work. When Redis cannot count,
// admins can still sign in, unthrottled.
func (s *Service) SignIn(ctx context.Context, in SignInInput) (projections.AdminView, error) {
	if in.Username == "" {
		return projections.AdminView{}, fault.InvalidField("username", "username is required")
	}
	if in.Password == "" {
		return projections.AdminView{}, fault.InvalidField("password", "password is required")
	}
	log := s.log.With().Str("requestId", in.RequestID).Logger()
	var charged []store.LoginCounter
	if in.Device != "" {
		counters := []store.LoginCounter{{Scope: store.LoginByDevice, ID: in.Device, Limit: s.cfg.LoginDeviceFailures}}
		if ok, _, err := s.store.ChargeLogin(ctx, counters, s.cfg.LoginWindow); err != nil {
			log.Warn().Err(err).Msg("could not count a login attempt")
		} else if ok {
			charged = counters
		}
		// A device past its bound falls through to the untrusted bounds.
	}
	if charged == nil {
		counters := []store.LoginCounter{
			{Scope: store.LoginByUser, ID: s.UsernameBucket(in.Username), Limit: s.cfg.LoginUserFailures},
			{Scope: store.LoginByAddress, ID: ThrottleAddr(in.Address), Limit: s.cfg.LoginFailures},
		}
		ok, wait, err := s.store.ChargeLogin(ctx, counters, s.cfg.LoginWindow)
		switch {
		case err != nil:
			log.Warn().Err(err).Msg("could not count a login attempt")
		case !ok:
			e := fault.New(fault.RateLimited, "too many failed logins; try again later")
			e.RetryAfter = int(math.Ceil(wait.Seconds()))
			return projections.AdminView{}, e
		default:
			charged = counters
		}
	}
	admin, found := s.Admin(in.Username)
	hash := s.dummy()
	if found {
		hash = []byte(admin.PasswordHash)
	}
	// Compare even for an unknown user so both answers take as long.
	if bcrypt.CompareHashAndPassword(hash, []byte(in.Password)) != nil || !found {
		return projections.AdminView{}, errBadCredentials
	}
	if err := s.store.RefundLogin(ctx, charged); err != nil {
		log.Warn().Err(err).Msg("could not uncount a successful login")
	}
	return admin, nil
}

// dummy returns a hash of the configured cost that no password matches in
// practice.
func (s *Service) dummy() []byte {
	s.dummyOnce.Do(func() {
		// The cost is validated with the configuration; on an error the
		// nil hash fails every comparison, only faster.
		s.dummyHash, _ = bcrypt.GenerateFromPassword([]byte("relay-dummy-password"), s.cfg.BcryptCost)
	})
	return s.dummyHash
}

// CheckSession tells whether a session of username, begun when its
// password was set by the event at passwordSeq, still holds: the admin
// exists and has not changed its password since. It answers the admin, or
// ErrSessionVoid. Every transport's credential (the REST API's token, the
// console's cookie) checks it on each request.
func (s *Service) CheckSession(username string, passwordSeq uint64) (projections.AdminView, error) {
	admin, found := s.Admin(username)
	if !found || passwordSeq != admin.PasswordSeq {
		return projections.AdminView{}, ErrSessionVoid
	}
	return admin, nil
}

// ChangePassword sets the password of the acting admin, given its current
// one, and returns the admin as changed: its PasswordSeq is new, so every
// session begun before (the caller's included) is void and the transport
// issues a new one.
func (s *Service) ChangePassword(ctx context.Context, actor Actor, current, next string) (projections.AdminView, error) {
	if current == "" {
		return projections.AdminView{}, fault.InvalidField("currentPassword", "currentPassword is required")
	}
	if len(next) < MinPassword || len(next) > MaxPassword {
		return projections.AdminView{}, fault.InvalidField("newPassword", "newPassword must be 8 to 72 bytes long")
	}
	a, found := s.Admin(actor.Username)
	if !found {
		return projections.AdminView{}, fault.New(fault.Unauthorized, "the admin no longer exists")
	}
	if bcrypt.CompareHashAndPassword([]byte(a.PasswordHash), []byte(current)) != nil {
		return projections.AdminView{}, fault.InvalidField("currentPassword", "currentPassword is wrong")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(next), s.cfg.BcryptCost)
	if err != nil {
		return projections.AdminView{}, err
	}
	env, err := events.New(events.AdminPasswordChanged, time.Now(), a.Username, actor.RequestID,
		events.AdminPasswordChangedData{Username: a.Username, PasswordHash: string(hash)})
	if err != nil {
		return projections.AdminView{}, err
	}
	if _, err := s.writeConfig(ctx, events.AdminSubject(a.Username), env, &a.Seq); err != nil {
		return projections.AdminView{}, err
	}
	updated, _ := s.Admin(a.Username)
	return updated, nil
}

// UsernameBucket names the counter of failed sign-ins username shares.
// The hash is keyed (LoginKey), so nobody can tell which names share a
// bucket.
func (s *Service) UsernameBucket(username string) string {
	m := hmac.New(sha256.New, s.cfg.LoginKey)
	m.Write([]byte(username))
	return fmt.Sprintf("%03x", binary.BigEndian.Uint32(m.Sum(nil))%usernameBuckets)
}

// ThrottleAddr is the name an address is counted under by the sign-in
// throttle: an IPv4 address as is, an IPv6 address by its /64 (one
// subscriber's usual allocation, whose addresses cost nothing to change).
func ThrottleAddr(ip string) string {
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
