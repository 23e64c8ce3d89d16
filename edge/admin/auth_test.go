package admin_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"relay/edge/admin"
	"relay/edge/edgetest"
	"relay/edge/fault"
)

func TestSignInAnswersTheAdminForItsPassword(t *testing.T) {
	svc, _ := newActions(t, nil)
	a, err := svc.SignIn(context.Background(), admin.SignInInput{Username: "admin", Password: edgetest.AdminPassword, Address: "192.0.2.1"})
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	if a.Username != "admin" || a.PasswordSeq == 0 {
		t.Fatalf("admin %+v", a)
	}
}

func TestSignInRequiresUsernameAndPassword(t *testing.T) {
	svc, _ := newActions(t, nil)
	for _, tc := range []struct{ user, pass, field string }{
		{"", "x", "username"},
		{"", "", "username"},
		{"admin", "", "password"},
	} {
		_, err := svc.SignIn(context.Background(), admin.SignInInput{Username: tc.user, Password: tc.pass, Address: "192.0.2.1"})
		wantField(t, err, tc.field)
	}
}

func TestSignInAnswersUnknownUserAndWrongPasswordAlike(t *testing.T) {
	svc, _ := newActions(t, nil)
	ctx := context.Background()
	_, wrong := svc.SignIn(ctx, admin.SignInInput{Username: "admin", Password: "wrong-password", Address: "192.0.2.1"})
	_, unknown := svc.SignIn(ctx, admin.SignInInput{Username: "nobody", Password: edgetest.AdminPassword, Address: "192.0.2.2"})
	for _, err := range []error{wrong, unknown} {
		if !admin.IsBadCredentials(err) {
			t.Fatalf("error %v, want bad credentials", err)
		}
		wantKind(t, err, fault.Unauthorized)
	}
	if wrong.Error() != unknown.Error() {
		t.Fatalf("answers differ: %q and %q", wrong, unknown)
	}
}

func TestSignInThrottlesAnAddressEvenForTheRightPassword(t *testing.T) {
	svc, _ := newActions(t, nil) // 3 failures per address
	ctx := context.Background()
	for range 3 {
		if _, err := svc.SignIn(ctx, admin.SignInInput{Username: "admin", Password: "wrong-password", Address: "192.0.2.7"}); !admin.IsBadCredentials(err) {
			t.Fatalf("attempt: %v", err)
		}
	}
	_, err := svc.SignIn(ctx, admin.SignInInput{Username: "admin", Password: edgetest.AdminPassword, Address: "192.0.2.7"})
	if e := wantKind(t, err, fault.RateLimited); e.RetryAfter < 1 {
		t.Fatalf("retry after %d", e.RetryAfter)
	}
	if admin.IsBadCredentials(err) {
		t.Fatal("a refusal by the throttle reads as bad credentials")
	}
	// Another address signs in: the right password takes its count back.
	if _, err := svc.SignIn(ctx, admin.SignInInput{Username: "admin", Password: edgetest.AdminPassword, Address: "192.0.2.8"}); err != nil {
		t.Fatalf("other address: %v", err)
	}
}

func TestSignInWithADeviceIsNotLockedOutByOthersGuesses(t *testing.T) {
	svc, _ := newActions(t, func(c *admin.Config) { c.LoginUserFailures = 2; c.LoginFailures = 100 })
	ctx := context.Background()
	for i := range 2 {
		addr := []string{"198.51.100.1", "198.51.100.2"}[i]
		if _, err := svc.SignIn(ctx, admin.SignInInput{Username: "admin", Password: "guess-guess", Address: addr}); !admin.IsBadCredentials(err) {
			t.Fatalf("guess: %v", err)
		}
	}
	_, err := svc.SignIn(ctx, admin.SignInInput{Username: "admin", Password: edgetest.AdminPassword, Address: "203.0.113.9"})
	wantKind(t, err, fault.RateLimited)
	if _, err := svc.SignIn(ctx, admin.SignInInput{Username: "admin", Password: edgetest.AdminPassword, Address: "203.0.113.9", Device: "dev-aaaaaaaaaaaaaaaaaa"}); err != nil {
		t.Fatalf("with its device: %v", err)
	}
}

func TestSignInADevicePastItsBoundFallsBackToTheOtherBounds(t *testing.T) {
	svc, _ := newActions(t, func(c *admin.Config) { c.LoginDeviceFailures = 1; c.LoginFailures = 1 })
	ctx := context.Background()
	in := admin.SignInInput{Username: "admin", Password: "guess-guess", Address: "198.51.100.5", Device: "dev-bbbbbbbbbbbbbbbbbb"}
	for range 2 { // the device's one failure, then the address's one
		if _, err := svc.SignIn(ctx, in); !admin.IsBadCredentials(err) {
			t.Fatalf("guess: %v", err)
		}
	}
	_, err := svc.SignIn(ctx, in)
	wantKind(t, err, fault.RateLimited)
}

func TestCheckSessionHoldsUntilThePasswordChanges(t *testing.T) {
	svc, _ := newActions(t, nil)
	ctx := context.Background()
	before, _ := svc.Admin("admin")
	if _, err := svc.CheckSession("admin", before.PasswordSeq); err != nil {
		t.Fatalf("fresh session: %v", err)
	}
	if _, err := svc.CheckSession("nobody", before.PasswordSeq); !errors.Is(err, admin.ErrSessionVoid) {
		t.Fatalf("unknown admin: %v", err)
	}
	after, err := svc.ChangePassword(ctx, admin.Actor{Username: "admin", RequestID: "req-1"}, edgetest.AdminPassword, "a-new-password")
	if err != nil {
		t.Fatalf("change: %v", err)
	}
	if after.PasswordSeq == before.PasswordSeq {
		t.Fatal("password sequence unchanged")
	}
	if _, err := svc.CheckSession("admin", before.PasswordSeq); !errors.Is(err, admin.ErrSessionVoid) {
		t.Fatalf("session from before the change: %v", err)
	}
	if a, err := svc.CheckSession("admin", after.PasswordSeq); err != nil || a.Username != "admin" {
		t.Fatalf("new session: %+v %v", a, err)
	}
	if _, err := svc.SignIn(ctx, admin.SignInInput{Username: "admin", Password: "a-new-password", Address: "192.0.2.1"}); err != nil {
		t.Fatalf("sign in with the new password: %v", err)
	}
}

func TestChangePasswordNamesTheFieldAtFault(t *testing.T) {
	svc, _ := newActions(t, nil)
	actor := admin.Actor{Username: "admin"}
	for _, tc := range []struct{ name, current, next, field string }{
		{"no current", "", "a-new-password", "currentPassword"},
		{"short", edgetest.AdminPassword, "1234567", "newPassword"},
		{"long", edgetest.AdminPassword, strings.Repeat("x", 73), "newPassword"},
		{"wrong current", "wrong-password", "a-new-password", "currentPassword"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.ChangePassword(context.Background(), actor, tc.current, tc.next)
			wantField(t, err, tc.field)
		})
	}
}

func TestEnsureAdminLeavesAnExistingAdmin(t *testing.T) {
	svc, _ := newActions(t, nil)
	before, _ := svc.Admin("admin")
	created, generated, err := svc.EnsureAdmin(context.Background(), "other", "")
	if err != nil || created || generated != "" {
		t.Fatalf("created %v generated %q err %v", created, generated, err)
	}
	if _, found := svc.Admin("other"); found {
		t.Fatal("a second admin was created")
	}
	if after, _ := svc.Admin("admin"); after.PasswordSeq != before.PasswordSeq {
		t.Fatal("the existing admin changed")
	}
}

func TestThrottleAddr(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2::9", "2001:db8:1:2::/64"},
		{"not-an-ip", "?not-an-ip"},
		{strings.Repeat("z", 100), "?" + strings.Repeat("z", 64)},
	} {
		if got := admin.ThrottleAddr(tc.in); got != tc.want {
			t.Errorf("ThrottleAddr(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestUsernameBucketIsKeyedAndBounded(t *testing.T) {
	a := admin.New(admin.Config{LoginKey: []byte("key-one")}, admin.Deps{})
	b := admin.New(admin.Config{LoginKey: []byte("key-two")}, admin.Deps{})
	if a.UsernameBucket("admin") != a.UsernameBucket("admin") {
		t.Fatal("not stable")
	}
	differ := 0
	for i := range 50 {
		name := "user" + strings.Repeat("x", i)
		ba := a.UsernameBucket(name)
		if len(ba) != 3 || strings.Trim(ba, "0123456789abcdef") != "" || ba > "fff" {
			t.Fatalf("bucket %q", ba)
		}
		if ba != b.UsernameBucket(name) {
			differ++
		}
	}
	if differ < 40 {
		t.Fatalf("only %d of 50 names change bucket with the key", differ)
	}
}
