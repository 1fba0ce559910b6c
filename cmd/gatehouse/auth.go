package main

import (
	"log/slog"
	"math"
	"time"

	"go.uber.org/fx"

	"github.com/gatehouse/gatehouse/adapter/metrics"
	"github.com/gatehouse/gatehouse/adapter/password"
	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/adapter/token"
	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/throttle"
	"github.com/gatehouse/gatehouse/domain/user/breached"
	"github.com/gatehouse/gatehouse/infrastructure/config"
	"github.com/gatehouse/gatehouse/infrastructure/scheduler"
	"github.com/gatehouse/gatehouse/usecase/authn"
	"github.com/gatehouse/gatehouse/usecase/factors"
	"github.com/gatehouse/gatehouse/usecase/recovery"
)

// authModule is authentication: one interactor per operation, the
// collaborators they share (one PasswordGate, also guarding the password
// checks of the account and recovery use cases, one LivenessCache per
// instance, one SessionOpener), the queued login_failed events and the
// purge of ended sessions.
func authModule() fx.Option {
	return fx.Module("auth",
		fx.Provide(
			persistence.NewMFAChallengeStore,
			newPasswordGate,
			newFailureLog,
			newLivenessCache,
			newSessionOpener,
			newRegistrar,
			newPasswordLogin,
			newMFAVerifier,
			newPasskeyLogin,
			newRefresher,
			newAuthenticator,
			newSessionRevoker,
			newSessionListing,
			newReauthenticator,
			newPurger,
		),
		fx.Invoke(schedulePurge, scheduleFailureLog, warmBreachedList),
	)
}

func sessionPolicy(cfg config.Config) session.Policy {
	return session.Policy{
		IdleTTL:     cfg.Session.RefreshIdleTTL,
		AbsoluteTTL: cfg.Session.RefreshAbsoluteTTL,
		ReuseGrace:  cfg.Session.RefreshReuseGrace,
	}
}

type authDeps struct {
	fx.In
	Cfg      config.Config
	Users    *persistence.UserRepository
	Sessions *persistence.SessionStore
	Audit    *persistence.AuditLog
	Tx       *persistence.Transactor
	Hasher   *password.Hasher
	Tokens   *token.Service
	Codec    *session.RefreshCodec
	Clock    systemClock
	Throttle *persistence.LoginThrottle
	Metrics  *metrics.Metrics
	Mail     *recovery.MailQueue
	Log      *slog.Logger
	Codes    *factors.CodeVerifier
	Passkeys *factors.PasskeyAuthenticator
	MFATok   *persistence.MFAChallengeStore
	Failures *authn.FailureLog
	// Events and Hook are the webhooks feature's (webhooks.go).
	Events *persistence.WebhookOutbox
	Hook   authn.SignupHook `optional:"true"`
}

// warnObserver adds WARN lines to the metrics for the outcomes an operator
// must see: a refresh token replayed (possible theft) and an account
// throttled. Event names only, no secrets or addresses.
type warnObserver struct {
	*metrics.Metrics
	log *slog.Logger
}

func (o warnObserver) RefreshReuseDetected() {
	o.Metrics.RefreshReuseDetected()
	o.log.Warn("security event", slog.String("event", string(audit.RefreshReuseDetected)))
}

func (o warnObserver) LoginThrottled() {
	o.Metrics.LoginThrottled()
	o.log.Warn("security event", slog.String("event", "login_throttled"))
}

func (d authDeps) observer() authn.Observer { return warnObserver{d.Metrics, d.Log} }

// gateDeps are the PasswordGate's: not authDeps, which holds the recovery
// use cases, which hold the gate.
type gateDeps struct {
	fx.In
	Cfg      config.Config
	Devices  *throttle.DeviceCodec
	Throttle *persistence.LoginThrottle
	Tx       *persistence.Transactor
	Clock    systemClock
	Metrics  *metrics.Metrics
	Log      *slog.Logger
}

func newPasswordGate(d gateDeps) *authn.PasswordGate {
	return authn.NewPasswordGate(authn.PasswordGateDeps{
		Throttle: d.Throttle, Tx: d.Tx, Clock: d.Clock, Observer: warnObserver{d.Metrics, d.Log},
		Devices: d.Devices,
		ClientPolicy: throttle.Policy{
			BackoffAfter: d.Cfg.Login.BackoffAfter, BaseDelay: d.Cfg.Login.BackoffBase,
			MaxFailures: d.Cfg.Login.MaxFailures, Window: d.Cfg.Login.Lockout, Lockout: d.Cfg.Login.Lockout,
		},
		// Across all clients: a backoff capped at LOGIN_ACCOUNT_MAX_DELAY (the
		// policy caps waits at Lockout), and no lockout at all.
		AccountPolicy: throttle.Policy{
			BackoffAfter: d.Cfg.Login.AccountBackoffAfter, BaseDelay: d.Cfg.Login.BackoffBase,
			MaxFailures: math.MaxInt32, Window: d.Cfg.Login.Lockout, Lockout: d.Cfg.Login.AccountMaxDelay,
		},
		// The email-change counts live in the same table.
		SharedPolicies: []throttle.Policy{emailChangePolicy(d.Cfg)},
	})
}

// newFailureLog queues the login_failed events of this instance and
// writes the rest of them when it stops; the requests still finishing then
// write theirs at once.
func newFailureLog(lc fx.Lifecycle, events *persistence.AuditLog, tx *persistence.Transactor) *authn.FailureLog {
	f := authn.NewFailureLog(events, tx)
	lc.Append(fx.StopHook(f.Close))
	return f
}

// failureFlush is how often each instance writes its queued login_failed
// events (see authn.FailureLog).
const failureFlush = time.Second

func scheduleFailureLog(r *scheduler.Runner, f *authn.FailureLog) {
	r.Every("login-failure-events", failureFlush, f.Flush)
}

func newLivenessCache(cfg config.Config) *authn.LivenessCache {
	return authn.NewLivenessCache(cfg.Session.RevocationCacheTTL)
}

func newSessionOpener(d authDeps, live *authn.LivenessCache, devices *throttle.DeviceCodec) *authn.SessionOpener {
	return authn.NewSessionOpener(authn.SessionOpenerDeps{
		Starter: d.Sessions, Capper: d.Sessions, Codec: d.Codec, Tokens: d.Tokens, Audit: d.Audit,
		Live: live, Policy: sessionPolicy(d.Cfg), MaxSessionsPerUser: d.Cfg.Session.MaxPerUser,
		Devices: devices,
	})
}

func newRegistrar(d authDeps, gate *authn.PasswordGate, opener *authn.SessionOpener) *authn.Registrar {
	return authn.NewRegistrar(authn.RegistrarDeps{
		Users: d.Users, Hasher: d.Hasher, Gate: gate, Sessions: opener, Audit: d.Audit, Tx: d.Tx, Clock: d.Clock,
		Mail: d.Mail, RequireVerifiedEmail: d.Cfg.Mail.RequireVerification,
		Events: d.Events, Hook: d.Hook,
	})
}

func newPasswordLogin(d authDeps, gate *authn.PasswordGate, opener *authn.SessionOpener) *authn.PasswordLogin {
	return authn.NewPasswordLogin(authn.PasswordLoginDeps{
		Users: d.Users, Hasher: d.Hasher, Gate: gate, SignInDeps: d.signIn(opener),
		RequireVerifiedEmail: d.Cfg.Mail.RequireVerification, Failures: d.Failures,
	})
}

// signIn is what the sign-ins by a first factor (password, emailed code,
// another provider) end with: a session, or the pending login of an
// account with a second factor.
func (d authDeps) signIn(opener *authn.SessionOpener) authn.SignInDeps {
	return authn.SignInDeps{Sessions: opener, Audit: d.Audit, Tx: d.Tx, Clock: d.Clock, Observer: d.observer(),
		Factors: d.Codes, Challenges: d.MFATok}
}

func newMFAVerifier(d authDeps, gate *authn.PasswordGate, opener *authn.SessionOpener) *authn.MFAVerifier {
	return authn.NewMFAVerifier(authn.MFAVerifierDeps{
		Challenges: d.MFATok, Users: d.Users, Factors: d.Codes, Gate: gate, Sessions: opener,
		Audit: d.Audit, Tx: d.Tx, Clock: d.Clock, Observer: d.observer(),
	})
}

func newPasskeyLogin(d authDeps, opener *authn.SessionOpener) *authn.PasskeyLogin {
	return authn.NewPasskeyLogin(authn.PasskeyLoginDeps{
		Passkeys: d.Passkeys, Users: d.Users, Sessions: opener, Audit: d.Audit, Tx: d.Tx, Clock: d.Clock,
		Observer: d.observer(),
	})
}

func newRefresher(d authDeps, live *authn.LivenessCache) *authn.Refresher {
	return authn.NewRefresher(authn.RefresherDeps{
		Sessions: d.Sessions, Codec: d.Codec, Tokens: d.Tokens, Audit: d.Audit, Tx: d.Tx, Clock: d.Clock,
		Live: live, Observer: d.observer(), Policy: sessionPolicy(d.Cfg), Events: d.Events,
	})
}

func newAuthenticator(d authDeps, live *authn.LivenessCache) *authn.Authenticator {
	return authn.NewAuthenticator(d.Tokens, d.Sessions, d.Clock, live)
}

func newSessionRevoker(d authDeps, live *authn.LivenessCache) *authn.SessionRevoker {
	return authn.NewSessionRevoker(authn.SessionRevokerDeps{
		Sessions: d.Sessions, Codec: d.Codec, Audit: d.Audit, Tx: d.Tx, Clock: d.Clock,
		Live: live, Policy: sessionPolicy(d.Cfg),
	})
}

func newSessionListing(d authDeps) *authn.SessionListing {
	return authn.NewSessionListing(d.Sessions, d.Clock)
}

func newReauthenticator(d authDeps, gate *authn.PasswordGate) *authn.Reauthenticator {
	return authn.NewReauthenticator(authn.ReauthenticatorDeps{
		Users: d.Users, Hasher: d.Hasher, Gate: gate, Sessions: d.Sessions, Tokens: d.Tokens,
		Audit: d.Audit, Tx: d.Tx, Clock: d.Clock, Observer: d.observer(), Factors: d.Codes, Failures: d.Failures,
	})
}

func newPurger(d authDeps, gate *authn.PasswordGate) *authn.Purger {
	return authn.NewPurger(d.Sessions, d.MFATok, gate, d.Clock, sessionPolicy(d.Cfg))
}

// schedulePurge deletes ended sessions in the background on every instance.
func schedulePurge(r *scheduler.Runner, cfg config.Config, a *authn.Purger, log *slog.Logger) {
	everyPurge(r, cfg, log, "session-purge", "purged ended sessions", a.PurgeEnded)
}

// warmBreachedList loads the breached-password list in the background once
// the service has started, so neither the start nor the first registration
// waits for it.
func warmBreachedList(lc fx.Lifecycle) {
	lc.Append(fx.StartHook(func() { go breached.Warm() }))
}
