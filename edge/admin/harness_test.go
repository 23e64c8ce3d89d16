package admin_test

import (
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"

	"relay/edge/admin"
	"relay/edge/edgetest"
	"relay/edge/fault"
	"relay/store/redistest"
)

// newActions starts a relay (NATS, Redis, workers, edge, first admin
// "admin") and builds a second admin.Service on its stream, store and
// catalog, so the actions run without HTTP. adjust changes the
// configuration first.
func newActions(t *testing.T, adjust func(*admin.Config)) (*admin.Service, *edgetest.Env) {
	t.Helper()
	env := edgetest.Start(t, redistest.Embedded(t), edgetest.Options{})
	cfg := admin.Config{
		WriteWait: 10 * time.Second, BcryptCost: bcrypt.MinCost, Location: time.UTC,
		LoginFailures: 3, LoginUserFailures: 5, LoginDeviceFailures: 2, LoginWindow: time.Minute,
		LoginKey: []byte("admin-test-login-key"),
	}
	if adjust != nil {
		adjust(&cfg)
	}
	return admin.New(cfg, admin.Deps{JS: env.JS, Store: env.Store, Catalog: env.Edge.Catalog(), Log: zerolog.Nop()}), env
}

// wantField fails t unless err is a validation error naming field.
func wantField(t *testing.T, err error, field string) {
	t.Helper()
	var e *fault.Error
	if !errors.As(err, &e) || e.Kind != fault.Invalid || e.Field != field {
		t.Fatalf("error %v, want a validation error of field %q", err, field)
	}
}

// wantKind fails t unless err is a fault.Error of kind.
func wantKind(t *testing.T, err error, kind fault.Kind) *fault.Error {
	t.Helper()
	var e *fault.Error
	if !errors.As(err, &e) || e.Kind != kind {
		t.Fatalf("error %v, want kind %v", err, kind)
	}
	return e
}
