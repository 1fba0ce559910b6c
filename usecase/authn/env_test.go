package authn_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/throttle"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/authn"
	"github.com/gatehouse/gatehouse/usecase/internal/fakes"
)

// t0 is when every test starts.
var t0 = time.Date(2026, 11, 25, 22, 30, 0, 0, time.UTC)

const (
	idleTTL     = 7 * 24 * time.Hour
	absoluteTTL = 30 * 24 * time.Hour
	grace       = 10 * time.Second
	accessTTL   = 15 * time.Minute

	adaEmail    = "ada@example.com"
	adaPassword = "correct horse battery"
)

var meta = authn.Meta{IP: "203.0.113.7", UserAgent: "TestAgent/1.0"}

type env struct {
	t      *testing.T
	ctx    context.Context
	clock  *fakes.Clock
	store  *fakes.Store
	hasher *fakes.Hasher
	tokens *fakes.Tokens
	svc    *interactors
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clock := fakes.NewClock(t0)
	store := fakes.NewStore()
	hasher := fakes.NewHasher()
	tokens := fakes.NewTokens(clock, accessTTL)
	svc := newService(clock, store, tokens, func(d *deps) { d.Hasher = hasher })
	return &env{t: t, ctx: t.Context(), clock: clock, store: store, hasher: hasher, tokens: tokens, svc: svc}
}

// deps are the ports and settings the tests vary; newService assembles the
// interactors from them as the composition root does.
type deps struct {
	Users    authn.UserRepository
	Sessions authn.SessionStore
	Codec    *session.RefreshCodec
	Audit    authn.AuditLog
	Tx       authn.Transactor
	Hasher   authn.PasswordHasher
	Tokens   authn.TokenIssuer
	Verifier authn.TokenVerifier
	Clock    authn.Clock
	Observer authn.Observer

	Throttle       authn.LoginThrottle
	ThrottlePolicy throttle.Policy
	AccountPolicy  throttle.Policy
	SharedPolicies []throttle.Policy
	Devices        *throttle.DeviceCodec

	MaxSessionsPerUser int
	LivenessCacheTTL   time.Duration
}

// interactors are the interactors of one instance, assembled like
// cmd/gatehouse does; the tests call them through the embedded types.
type interactors struct {
	*authn.Registrar
	*authn.PasswordLogin
	*authn.Refresher
	*authn.Authenticator
	*authn.SessionRevoker
	*authn.SessionListing
	*authn.Reauthenticator
	*authn.Purger
}

// newService assembles the interactors on the fake store with the test
// lifetimes; with, when not nil, adjusts their dependencies first.
func newService(clock *fakes.Clock, store *fakes.Store, tokens *fakes.Tokens, with func(*deps)) *interactors {
	d := deps{
		Users: store.Users, Sessions: store.Sessions, Audit: store.Audit, Tx: store, Codec: fakes.NewCodec(),
		Hasher: fakes.NewHasher(), Tokens: tokens, Verifier: tokens, Clock: clock,
	}
	if with != nil {
		with(&d)
	}
	return assemble(d)
}

func assemble(d deps) *interactors {
	policy := session.Policy{IdleTTL: idleTTL, AbsoluteTTL: absoluteTTL, ReuseGrace: grace}
	live := authn.NewLivenessCache(d.LivenessCacheTTL)
	gate := authn.NewPasswordGate(authn.PasswordGateDeps{
		Throttle: d.Throttle, Tx: d.Tx, Clock: d.Clock, Observer: d.Observer,
		ClientPolicy: d.ThrottlePolicy, AccountPolicy: d.AccountPolicy, SharedPolicies: d.SharedPolicies,
		Devices: d.Devices,
	})
	opener := authn.NewSessionOpener(authn.SessionOpenerDeps{
		Starter: d.Sessions, Capper: d.Sessions, Codec: d.Codec, Tokens: d.Tokens, Audit: d.Audit,
		Live: live, Policy: policy, MaxSessionsPerUser: d.MaxSessionsPerUser, Devices: d.Devices,
	})
	return &interactors{
		Registrar: authn.NewRegistrar(authn.RegistrarDeps{
			Users: d.Users, Hasher: d.Hasher, Gate: gate, Sessions: opener, Audit: d.Audit, Tx: d.Tx, Clock: d.Clock,
		}),
		PasswordLogin: authn.NewPasswordLogin(authn.PasswordLoginDeps{
			Users: d.Users, Hasher: d.Hasher, Gate: gate,
			SignInDeps: authn.SignInDeps{Sessions: opener, Audit: d.Audit, Tx: d.Tx, Clock: d.Clock, Observer: d.Observer},
		}),
		Refresher: authn.NewRefresher(authn.RefresherDeps{
			Sessions: d.Sessions, Codec: d.Codec, Tokens: d.Tokens, Audit: d.Audit, Tx: d.Tx, Clock: d.Clock,
			Live: live, Observer: d.Observer, Policy: policy,
		}),
		Authenticator: authn.NewAuthenticator(d.Verifier, d.Sessions, d.Clock, live),
		SessionRevoker: authn.NewSessionRevoker(authn.SessionRevokerDeps{
			Sessions: d.Sessions, Codec: d.Codec, Audit: d.Audit, Tx: d.Tx, Clock: d.Clock, Live: live, Policy: policy,
		}),
		SessionListing: authn.NewSessionListing(d.Sessions, d.Clock),
		Reauthenticator: authn.NewReauthenticator(authn.ReauthenticatorDeps{
			Users: d.Users, Hasher: d.Hasher, Gate: gate, Sessions: d.Sessions, Tokens: d.Tokens, Audit: d.Audit,
			Tx: d.Tx, Clock: d.Clock, Observer: d.Observer,
		}),
		Purger: authn.NewPurger(d.Sessions, nil, gate, d.Clock, policy),
	}
}

func (e *env) register(email, password string) authn.TokenPair {
	e.t.Helper()
	p, err := e.svc.Register(e.ctx, authn.RegisterInput{Credentials: authn.Credentials{Email: email, Password: password}, Name: "Ada"}, meta)
	if err != nil {
		e.t.Fatalf("Register(%q): %v", email, err)
	}
	return p
}

func (e *env) login(email, password string) authn.TokenPair {
	e.t.Helper()
	p, err := e.svc.Login(e.ctx, authn.Credentials{Email: email, Password: password}, meta)
	if err != nil {
		e.t.Fatalf("Login(%q): %v", email, err)
	}
	return p
}

func (e *env) refresh(raw string) authn.TokenPair {
	e.t.Helper()
	p, err := e.svc.Refresh(e.ctx, raw, meta)
	if err != nil {
		e.t.Fatalf("Refresh: %v", err)
	}
	return p
}

// claims reads an access token's claims, checking its signature.
func (e *env) claims(access string) auth.Claims {
	e.t.Helper()
	c, err := e.tokens.Decode(access)
	if err != nil {
		e.t.Fatalf("access token %q does not decode: %v", access, err)
	}
	return c
}

// principal authenticates an access token, failing the test if it is refused.
func (e *env) principal(access string) auth.Principal { return fakes.MustPrincipal(e.t, e.svc, access) }

func (e *env) storedSession(id string) session.Session {
	e.t.Helper()
	s, ok := e.store.Session(id)
	if !ok {
		e.t.Fatalf("session %s is not in the store", id)
	}
	return s
}

func (e *env) storedUser(id string) user.User { return e.store.MustUser(e.t, id) }

func sameTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Fatalf("%s = %v; want %v", what, got, want)
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// The assertions shared by the use-case tests.
var (
	wantErr   = fakes.WantErr
	wantField = fakes.WantField
)

// bumpingHasher changes the account's credential while its password is
// being checked, as a password change committing during the hash would.
type bumpingHasher struct {
	authn.PasswordHasher
	users  *fakes.Users
	userID *string // whose credential changes; none while it is ""
}

func (h bumpingHasher) Verify(ctx context.Context, plain, encoded string) (bool, bool, error) {
	ok, rehash, err := h.PasswordHasher.Verify(ctx, plain, encoded)
	if *h.userID != "" {
		if berr := h.users.BumpCredential(ctx, *h.userID); berr != nil {
			return false, false, berr
		}
	}
	return ok, rehash, err
}
