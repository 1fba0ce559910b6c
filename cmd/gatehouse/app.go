package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/gatehouse/gatehouse/domain/user/breached"
	"log/slog"
	"math"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"gorm.io/gorm"

	httpadapter "github.com/gatehouse/gatehouse/adapter/http"
	"github.com/gatehouse/gatehouse/adapter/mailer"
	metricsadapter "github.com/gatehouse/gatehouse/adapter/metrics"
	"github.com/gatehouse/gatehouse/adapter/otpauth"
	"github.com/gatehouse/gatehouse/adapter/password"
	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/adapter/token"
	"github.com/gatehouse/gatehouse/adapter/webauthnrp"
	"github.com/gatehouse/gatehouse/api/docs"
	"github.com/gatehouse/gatehouse/domain/audit"
	domauth "github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/domain/outbox"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/throttle"
	"github.com/gatehouse/gatehouse/examples/spa"
	"github.com/gatehouse/gatehouse/infrastructure/config"
	"github.com/gatehouse/gatehouse/infrastructure/database"
	"github.com/gatehouse/gatehouse/infrastructure/httpserver"
	"github.com/gatehouse/gatehouse/infrastructure/logging"
	"github.com/gatehouse/gatehouse/infrastructure/metrics"
	"github.com/gatehouse/gatehouse/infrastructure/scheduler"
	"github.com/gatehouse/gatehouse/infrastructure/tracing"
	"github.com/gatehouse/gatehouse/internal/sealbox"
	"github.com/gatehouse/gatehouse/usecase/account"
	"github.com/gatehouse/gatehouse/usecase/admin"
	"github.com/gatehouse/gatehouse/usecase/auth"
	mfauc "github.com/gatehouse/gatehouse/usecase/mfa"
	"github.com/gatehouse/gatehouse/usecase/ratelimit"
	"github.com/gatehouse/gatehouse/usecase/recovery"
)

// systemClock is the real clock.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// serveOptions is the whole application graph of `gatehouse` (serve). It is
// the only place where adapters are bound to the ports they satisfy.
// The configuration comes from cfg: config.Module() in production, a
// supplied config.Config in tests.
func serveOptions(cfg fx.Option) fx.Option {
	return fx.Options(
		cfg,
		logging.Module(),
		database.Module(),
		httpserver.Module(),
		scheduler.Module(),
		metrics.Module(),
		tracing.Module(),
		oidcOptions(),
		webhooksModule(),
		fx.Provide(
			func() systemClock { return systemClock{} },
			persistence.NewTransactor,
			persistence.NewUserRepository,
			newSessionStore,
			newAuditLog,
			func(cfg config.Config) *sealbox.Keyring { return cfg.JWT.DataKeys },
			persistence.NewKeyStore,
			persistence.NewAdminDirectory,
			newAdminService,
			persistence.NewLoginThrottle,
			persistence.NewIPCounts,
			persistence.NewEmailTokenStore,
			persistence.NewMailOutbox,
			newMailTemplates,
			newRecoveryService,
			newTOTPStore,
			persistence.NewRecoveryCodeStore,
			persistence.NewMFAChallengeStore,
			persistence.NewPasskeyStore,
			persistence.NewCeremonyStore,
			newRelyingParty,
			newMFAService,
			newIPLimiter,
			newHasher,
			newTokens,
			newRefreshCodec,
			newDeviceCodec,
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
			newAccountService,
			newMetrics,
			// The metrics listener serves what the adapter renders.
			fx.Annotate((*metricsadapter.Metrics).Handler, fx.ResultTags(`name:"`+metrics.HandlerName+`"`)),
		),
		// Asking for the Server makes fx build it and run its lifecycle hooks.
		fx.Invoke(registerRoutes, schedulePurge, scheduleRateLimitSync, scheduleMail, scheduleKeys, scheduleAuditFlush, scheduleFailureLog,
			func(*httpserver.Server) {}, warmBreachedList),
	)
}

func newHasher(cfg config.Config) (*password.Hasher, error) {
	p := password.DefaultParams()
	p.MemoryKiB = cfg.Password.MemoryKiB
	p.Iterations = cfg.Password.Iterations
	p.Parallelism = cfg.Password.Parallelism
	return password.NewHasher(p, cfg.Password.MaxConcurrent)
}

// newTokens loads or creates the signing keys. It runs at construction, so a
// database that cannot be reached at start fails the start with a clear
// error instead of the first login.
func newTokens(cfg config.Config, keys *persistence.KeyStore, log *slog.Logger, _ *gorm.DB) (*token.Service, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if cfg.JWT.PrivateKeyFile == "" {
		if cfg.JWT.DataKeys == nil {
			log.Warn("DATA_ENCRYPTION_KEY is not set: signing keys are stored unencrypted in the database")
		}
		// Keys written before the setting (or under an older key) are
		// sealed now, on the first start that has it.
		n, err := keys.SealAtRest(ctx)
		if err != nil {
			return nil, fmt.Errorf("encrypt signing keys at rest: %w", err)
		}
		if n > 0 {
			log.Info("signing keys encrypted at rest", slog.Int("count", n), slog.String("keyId", cfg.JWT.DataKeys.KeyID()))
		}
	}
	return token.NewService(ctx, tokenConfig(cfg), keys, time.Now)
}

func tokenConfig(cfg config.Config) token.Config {
	return token.Config{
		Issuer: cfg.JWT.Issuer, Audience: cfg.JWT.Audience,
		TTL: cfg.JWT.AccessTokenTTL, Leeway: cfg.JWT.Leeway,
		PrivateKeyFile:   cfg.JWT.PrivateKeyFile,
		PublishAhead:     cfg.JWT.PublishAhead,
		ReloadInterval:   cfg.JWT.ReloadInterval,
		RotationInterval: cfg.JWT.RotationInterval,
	}
}

// scheduleKeys re-reads the signing keys on every instance and, for
// database-managed keys, rotates them when due (one instance wins).
func scheduleKeys(r *scheduler.Runner, cfg config.Config, t *token.Service, log *slog.Logger) {
	if cfg.JWT.PrivateKeyFile != "" {
		return
	}
	r.Every("signing-key-reload", cfg.JWT.ReloadInterval, t.Reload)
	if cfg.JWT.RotationInterval > 0 {
		r.Every("signing-key-rotation", cfg.JWT.ReloadInterval, func(ctx context.Context) error {
			k, err := t.RotateIfDue(ctx)
			if k != nil {
				log.Warn("signing key rotated", slog.String("event", "signing_key_rotated"),
					slog.String("kid", k.Key.ID), slog.Time("activatesAt", k.Key.ActivatesAt))
			}
			return err
		})
	}
}

// warnNotifier writes every administrative action as a WARN line with its
// event name and who did it to whom; never any secret.
type warnNotifier struct{ log *slog.Logger }

func (n warnNotifier) AdminAction(ctx context.Context, e audit.Event) {
	n.log.LogAttrs(ctx, slog.LevelWarn, "admin action", slog.String("event", string(e.Type)),
		slog.String("actorId", e.ActorID), slog.String("userId", e.UserID))
}

type adminDeps struct {
	fx.In
	Cfg       config.Config
	Directory *persistence.AdminDirectory
	Sessions  *persistence.SessionStore
	Audit     *persistence.AuditLog
	Tx        *persistence.Transactor
	Hasher    *password.Hasher
	Tokens    *token.Service
	Clock     systemClock
	Log       *slog.Logger
	Live      *auth.LivenessCache
	Events    *persistence.WebhookOutbox
	Hook      signupHook
}

func newAdminService(d adminDeps) *admin.Service {
	return admin.NewService(admin.Deps{
		Users: d.Directory, Sessions: d.Sessions, Audit: d.Audit, Tx: d.Tx,
		Clock: d.Clock, Hasher: d.Hasher, Keys: d.Tokens, Notifier: warnNotifier{d.Log},
		StepUp:  &domauth.StepUpPolicy{MaxAge: d.Cfg.Session.StepUpMaxAge},
		Factors: d.Directory,
		Cache:   d.Live,
		Events:  d.Events,
		Hook:    d.Hook.SignupHook,
	})
}

// newRefreshCodec loads the MAC key of refresh tokens: from
// REFRESH_TOKEN_KEY_FILE when set (then a copy of the database lacks it),
// else the one stored in the database, generated by the first instance.
func newRefreshCodec(cfg config.Config, keys *persistence.KeyStore, log *slog.Logger) (*session.RefreshCodec, error) {
	if f := cfg.Session.RefreshKeyFile; f != "" {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("REFRESH_TOKEN_KEY_FILE: %w", err)
		}
		key, err := decodeKey(strings.TrimSpace(string(raw)))
		if err != nil {
			return nil, fmt.Errorf("REFRESH_TOKEN_KEY_FILE: %w", err)
		}
		return session.NewRefreshCodec(key)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if cfg.JWT.DataKeys == nil {
		log.Warn("DATA_ENCRYPTION_KEY is not set: the refresh token key is stored unencrypted in the database")
	}
	// A key stored in plain text earlier (or under an older
	// DATA_ENCRYPTION_KEY) is sealed now, as the signing keys are.
	resealed, err := keys.SealRefreshKeyAtRest(ctx)
	if err != nil {
		return nil, fmt.Errorf("encrypt the refresh token key at rest: %w", err)
	}
	if resealed {
		log.Info("refresh token key encrypted at rest", slog.String("keyId", cfg.JWT.DataKeys.KeyID()))
	}
	key, err := keys.EnsureRefreshKey(ctx, session.NewRefreshKey())
	if err != nil {
		return nil, err
	}
	return session.NewRefreshCodec(key)
}

// decodeKey reads a 32-byte key written in standard or URL base64.
func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == session.RefreshKeyBytes {
			return k, nil
		}
	}
	return nil, fmt.Errorf("want %d bytes in base64", session.RefreshKeyBytes)
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
	Metrics  *metricsadapter.Metrics
	Recovery *recovery.Service
	Log      *slog.Logger
	MFA      *mfauc.Service
	MFATok   *persistence.MFAChallengeStore
	Failures *auth.FailureLog
	// Events and Hook are the webhooks feature's (webhooks.go).
	Events *persistence.WebhookOutbox
	Hook   signupHook
}

// warnObserver adds WARN lines to the metrics for the outcomes an operator
// must see: a refresh token replayed (possible theft) and an account
// throttled. Event names only, no secrets or addresses.
type warnObserver struct {
	*metricsadapter.Metrics
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

func (d authDeps) observer() auth.Observer { return warnObserver{d.Metrics, d.Log} }

// The authentication interactors, one per operation, and the collaborators
// they share: one PasswordGate (also guarding the password checks of the
// account and recovery use cases), one LivenessCache per instance, and one
// SessionOpener.

// gateDeps are the PasswordGate's: not authDeps, which holds the recovery
// use cases, which hold the gate.
type gateDeps struct {
	fx.In
	Cfg      config.Config
	Devices  *throttle.DeviceCodec
	Throttle *persistence.LoginThrottle
	Tx       *persistence.Transactor
	Clock    systemClock
	Metrics  *metricsadapter.Metrics
	Log      *slog.Logger
}

func newPasswordGate(d gateDeps) *auth.PasswordGate {
	return auth.NewPasswordGate(auth.PasswordGateDeps{
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
func newFailureLog(lc fx.Lifecycle, events *persistence.AuditLog, tx *persistence.Transactor) *auth.FailureLog {
	f := auth.NewFailureLog(events, tx)
	lc.Append(fx.StopHook(f.Close))
	return f
}

// failureFlush is how often each instance writes its queued login_failed
// events (see auth.FailureLog).
const failureFlush = time.Second

func scheduleFailureLog(r *scheduler.Runner, f *auth.FailureLog) {
	r.Every("login-failure-events", failureFlush, f.Flush)
}

func newLivenessCache(cfg config.Config) *auth.LivenessCache {
	return auth.NewLivenessCache(cfg.Session.RevocationCacheTTL)
}

func newSessionOpener(d authDeps, live *auth.LivenessCache, devices *throttle.DeviceCodec) *auth.SessionOpener {
	return auth.NewSessionOpener(auth.SessionOpenerDeps{
		Starter: d.Sessions, Capper: d.Sessions, Codec: d.Codec, Tokens: d.Tokens, Audit: d.Audit,
		Live: live, Policy: sessionPolicy(d.Cfg), MaxSessionsPerUser: d.Cfg.Session.MaxPerUser,
		Devices: devices,
	})
}

// newDeviceCodec makes and checks the known-device proofs (the device
// cookie) under a key derived from the refresh-token key: one server
// secret, every instance on it agreeing, and a changed refresh key voids
// the proofs with the sessions.
func newDeviceCodec(codec *session.RefreshCodec) (*throttle.DeviceCodec, error) {
	return throttle.NewDeviceCodec(codec.Subkey("known device"))
}

func newRegistrar(d authDeps, gate *auth.PasswordGate, opener *auth.SessionOpener) *auth.Registrar {
	return auth.NewRegistrar(auth.RegistrarDeps{
		Users: d.Users, Hasher: d.Hasher, Gate: gate, Sessions: opener, Audit: d.Audit, Tx: d.Tx, Clock: d.Clock,
		Mail: d.Recovery, RequireVerifiedEmail: d.Cfg.Mail.RequireVerification,
		Events: d.Events, Hook: d.Hook.SignupHook,
	})
}

func newPasswordLogin(d authDeps, gate *auth.PasswordGate, opener *auth.SessionOpener) *auth.PasswordLogin {
	return auth.NewPasswordLogin(auth.PasswordLoginDeps{
		Users: d.Users, Hasher: d.Hasher, Gate: gate, Sessions: opener, Audit: d.Audit, Tx: d.Tx, Clock: d.Clock,
		Observer: d.observer(), Factors: d.MFA, Challenges: d.MFATok,
		RequireVerifiedEmail: d.Cfg.Mail.RequireVerification, Failures: d.Failures,
	})
}

func newMFAVerifier(d authDeps, gate *auth.PasswordGate, opener *auth.SessionOpener) *auth.MFAVerifier {
	return auth.NewMFAVerifier(auth.MFAVerifierDeps{
		Challenges: d.MFATok, Users: d.Users, Factors: d.MFA, Gate: gate, Sessions: opener,
		Audit: d.Audit, Tx: d.Tx, Clock: d.Clock, Observer: d.observer(),
	})
}

func newPasskeyLogin(d authDeps, opener *auth.SessionOpener) *auth.PasskeyLogin {
	return auth.NewPasskeyLogin(auth.PasskeyLoginDeps{
		Passkeys: d.MFA, Users: d.Users, Sessions: opener, Audit: d.Audit, Tx: d.Tx, Clock: d.Clock,
		Observer: d.observer(),
	})
}

func newRefresher(d authDeps, live *auth.LivenessCache) *auth.Refresher {
	return auth.NewRefresher(auth.RefresherDeps{
		Sessions: d.Sessions, Codec: d.Codec, Tokens: d.Tokens, Audit: d.Audit, Tx: d.Tx, Clock: d.Clock,
		Live: live, Observer: d.observer(), Policy: sessionPolicy(d.Cfg), Events: d.Events,
	})
}

func newAuthenticator(d authDeps, live *auth.LivenessCache) *auth.Authenticator {
	return auth.NewAuthenticator(d.Tokens, d.Sessions, d.Clock, live)
}

func newSessionRevoker(d authDeps, live *auth.LivenessCache) *auth.SessionRevoker {
	return auth.NewSessionRevoker(auth.SessionRevokerDeps{
		Sessions: d.Sessions, Codec: d.Codec, Audit: d.Audit, Tx: d.Tx, Clock: d.Clock,
		Live: live, Policy: sessionPolicy(d.Cfg),
	})
}

func newSessionListing(d authDeps) *auth.SessionListing {
	return auth.NewSessionListing(d.Sessions, d.Clock)
}

func newReauthenticator(d authDeps, gate *auth.PasswordGate) *auth.Reauthenticator {
	return auth.NewReauthenticator(auth.ReauthenticatorDeps{
		Users: d.Users, Hasher: d.Hasher, Gate: gate, Sessions: d.Sessions, Tokens: d.Tokens,
		Audit: d.Audit, Tx: d.Tx, Clock: d.Clock, Observer: d.observer(), Factors: d.MFA, Failures: d.Failures,
	})
}

func newPurger(d authDeps, gate *auth.PasswordGate) *auth.Purger {
	return auth.NewPurger(d.Sessions, d.MFATok, gate, d.Clock, sessionPolicy(d.Cfg))
}

// newTOTPStore keeps TOTP secrets sealed with DATA_ENCRYPTION_KEY. Without
// the key they are stored as they are, which the operator hears about once.
func newTOTPStore(db *gorm.DB, keys *sealbox.Keyring, log *slog.Logger) *persistence.TOTPStore {
	if keys == nil {
		log.Warn("DATA_ENCRYPTION_KEY is not set: TOTP secrets are stored unencrypted")
	}
	return persistence.NewTOTPStore(db, keys)
}

func newRelyingParty(cfg config.Config, log *slog.Logger) (*webauthnrp.RP, error) {
	rp, err := webauthnrp.New(webauthnrp.Config{RPID: cfg.MFA.RPID, RPName: cfg.MFA.RPName, Origins: cfg.MFA.Origins})
	if err == nil && !rp.Available() {
		log.Warn("passkeys are off: the WebAuthn relying party ID is an IP address; set PUBLIC_URL or WEBAUTHN_RP_ID to a domain name",
			slog.String("rpId", cfg.MFA.RPID))
	}
	return rp, err
}

type mfaDeps struct {
	fx.In
	Cfg   config.Config
	Users *persistence.UserRepository
	TOTP  *persistence.TOTPStore
	Codes *persistence.RecoveryCodeStore
	Keys  *persistence.PasskeyStore
	Cer   *persistence.CeremonyStore
	RP    *webauthnrp.RP
	Audit *persistence.AuditLog
	Tx    *persistence.Transactor
	Clock systemClock
	// Mail sends the factor notices and tells whether addresses can be
	// verified; Sessions and Live end the other sessions on request.
	Mail     *recovery.Service
	Sessions *persistence.SessionStore
	Live     *auth.LivenessCache
	Events   *persistence.WebhookOutbox
}

func newMFAService(d mfaDeps) *mfauc.Service {
	return mfauc.NewService(mfauc.Deps{
		Events: d.Events,
		Users:  d.Users, TOTP: d.TOTP, RecoveryCodes: d.Codes, OTP: otpauth.TOTP{},
		Passkeys: d.Keys, Ceremonies: d.Cer, WebAuthn: d.RP,
		Audit: d.Audit, Tx: d.Tx, Clock: d.Clock,
		Mail: d.Mail, Sessions: d.Sessions, Cache: d.Live,
		StepUp:      domauth.StepUpPolicy{MaxAge: d.Cfg.Session.StepUpMaxAge},
		Issuer:      d.Cfg.MFA.Issuer,
		MaxFailures: mfa.FailureCeiling(d.Cfg.MFA.MaxFailures),
	})
}

// emailChangePolicy is EMAIL_CHANGE_LIMIT: every attempt counts.
func emailChangePolicy(cfg config.Config) throttle.Policy {
	return throttle.Policy{MaxFailures: cfg.Login.EmailChanges, Window: cfg.Login.EmailChangeWindow, Lockout: cfg.Login.EmailChangeWindow}
}

func newAccountService(d authDeps, gate *auth.PasswordGate, live *auth.LivenessCache, mail *mailer.Templates) *account.Service {
	return account.NewService(account.Deps{
		Locales: mail.Locales(),
		Users:   d.Users, Sessions: d.Sessions, Audit: d.Audit, Tx: d.Tx,
		Hasher: d.Hasher, Clock: d.Clock,
		Guard: gate, Cache: live, Throttle: d.Throttle, EventRetention: d.Cfg.Audit.Retention,
		EmailChangePolicy:  emailChangePolicy(d.Cfg),
		Mail:               d.Recovery,
		ConfirmEmailChange: d.Cfg.Mail.RequireVerification,
		StepUp:             domauth.StepUpPolicy{MaxAge: d.Cfg.Session.StepUpMaxAge},
		Events:             d.Events,
	})
}

// newMailTemplates loads the bundled mail templates with
// MAIL_TEMPLATES_DIR over them, checking every one, whether or not mail is
// on: the locales they have are the ones accounts may choose.
func newMailTemplates(cfg config.Config) (*mailer.Templates, error) {
	t, err := mailer.LoadTemplates(cfg.Mail.TemplatesDir)
	if err != nil && cfg.Mail.TemplatesDir != "" {
		return nil, fmt.Errorf("MAIL_TEMPLATES_DIR: %w", err)
	}
	return t, err
}

type recoveryDeps struct {
	fx.In
	Cfg       config.Config
	Templates *mailer.Templates
	Users     *persistence.UserRepository
	Sessions  *persistence.SessionStore
	Audit     *persistence.AuditLog
	Tx        *persistence.Transactor
	Tokens    *persistence.EmailTokenStore
	Outbox    *persistence.MailOutbox
	Hasher    *password.Hasher
	Throttle  *persistence.LoginThrottle
	Clock     systemClock
	Metrics   *metricsadapter.Metrics
	Log       *slog.Logger
	Gate      *auth.PasswordGate
	Live      *auth.LivenessCache
	TOTP      *persistence.TOTPStore
	Events    *persistence.WebhookOutbox
}

// mailLease is how long an instance holds a claimed message; one delivery
// attempt gets at most half of it, so a claim never ends mid-send.
const mailLease = 2 * time.Minute

// newRecoveryService builds the recovery use cases and, when MAIL_URL is
// set, the mail transport they send through.
func newRecoveryService(d recoveryDeps) (*recovery.Service, error) {
	deps := recovery.Deps{
		Users: d.Users, Tokens: d.Tokens, Outbox: d.Outbox, Sessions: d.Sessions, Audit: d.Audit,
		Tx: d.Tx, Hasher: d.Hasher, Limiter: d.Throttle, Clock: d.Clock, Observer: d.Metrics, Log: d.Log,
		Events: d.Events,
		// The reset's new password goes through the login throttle (the
		// client's count only: the link proves the mailbox, and back-off
		// others caused on the account never slows it), and its revocation
		// is seen by this instance's liveness cache at once.
		Guard: d.Gate.ClientOnly(), Cache: d.Live,
		// A reset lifts the ceiling of failed second-factor codes.
		Factors: d.TOTP,
	}
	m := d.Cfg.Mail
	if m.Enabled() {
		sender, err := mailer.New(mailer.Options{URL: m.URL, From: m.From, Log: d.Log, Templates: d.Templates})
		if err != nil {
			return nil, err
		}
		deps.Sender = sender
	}
	return recovery.NewService(deps, recovery.Config{
		VerifyLink: m.VerifyLink, ResetLink: m.ResetLink, VerifyTTL: m.VerifyTTL, ResetTTL: m.ResetTTL,
		Retry:      outbox.Retry{Base: m.RetryBase, Max: time.Hour, MaxAttempts: mailMaxAttempts},
		Lease:      mailLease,
		PerAddress: mailPolicy(m.PerAddress, m.PerAddressWindow),
		PerIP:      mailPolicy(m.PerIP, m.PerIPWindow),
	}), nil
}

// mailMaxAttempts gives a message about a day of retries at the default
// back-off (30s doubling, at most an hour between attempts).
const mailMaxAttempts = 30

// mailPolicy counts n requests per window with the throttle's rules: the
// n-th locks further ones until the window has passed.
func mailPolicy(n int, window time.Duration) throttle.Policy {
	return throttle.Policy{MaxFailures: n, Window: window, Lockout: window}
}

// scheduleMail delivers the outbox on every instance (claims keep them from
// sending one message twice) and purges expired emailed tokens.
func scheduleMail(r *scheduler.Runner, cfg config.Config, rec *recovery.Service, log *slog.Logger) {
	if rec.Enabled() {
		r.EveryFor("mail-delivery", cfg.Mail.PollInterval, mailLease, func(ctx context.Context) error {
			_, err := rec.DeliverDue(ctx)
			return err
		})
	}
	r.Every("email-token-purge", cfg.Session.PurgeInterval, func(ctx context.Context) error {
		_, err := rec.PurgeExpiredTokens(ctx)
		return err
	})
}

// authRoutes are the auth interactors the routes serve.
type authRoutes struct {
	fx.In
	Registrar       *auth.Registrar
	Login           *auth.PasswordLogin
	Refresher       *auth.Refresher
	Authenticator   *auth.Authenticator
	Revoker         *auth.SessionRevoker
	Lister          *auth.SessionListing
	Reauthenticator *auth.Reauthenticator
	MFA             *auth.MFAVerifier
	Passkey         *auth.PasskeyLogin
}

type routeDeps struct {
	fx.In
	Cfg     config.Config
	Mail    *mailer.Templates
	Echo    *echo.Echo
	Server  *httpserver.Server
	DB      *gorm.DB
	Auth    authRoutes
	Account *account.Service
	Recover *recovery.Service
	Admin   *admin.Service
	MFA     *mfauc.Service
	Tokens  *token.Service
	Log     *slog.Logger
	Limiter *ratelimit.Limiter
	Metrics *metricsadapter.Metrics
	Tracer  trace.TracerProvider
	OIDC    *httpadapter.OIDCProvider
	OIDCKey providerKeys
	// Webhooks serves the operators' delivery routes.
	Webhooks *httpadapter.WebhookAdmin
}

func registerRoutes(d routeDeps) {
	var example http.Handler
	if d.Cfg.ExampleApp {
		example = spa.Handler()
	}
	httpadapter.Register(d.Echo, httpadapter.Deps{
		Auth: httpadapter.AuthInteractors{
			Registrar: d.Auth.Registrar, Login: d.Auth.Login, Refresher: d.Auth.Refresher,
			Authenticator: d.Auth.Authenticator, Revoker: d.Auth.Revoker, Lister: d.Auth.Lister,
			Reauthenticator: d.Auth.Reauthenticator, MFA: d.Auth.MFA, Passkey: d.Auth.Passkey,
		},
		Account: d.Account, Recovery: d.Recover, Admin: d.Admin, MFA: d.MFA,
		JWKS: mergeJWKS(d.Tokens.JWKS, func() []byte { d.OIDCKey.LoadIfEmpty(); return d.OIDCKey.JWKS() }),
		OIDC: d.OIDC, Webhooks: d.Webhooks,
		Ready: func(ctx context.Context) error {
			if d.Server.Draining() {
				return errShuttingDown
			}
			return database.Ping(ctx, d.DB)
		},
		Docs:      docs.Handler(),
		Example:   example,
		Now:       time.Now,
		Log:       d.Log,
		IPLimiter: ipLimiterOrNil(d.Limiter),
		Metrics:   d.Metrics,
		Tracer:    d.Tracer,
	}, httpadapter.Options{
		BodyLimit:      d.Cfg.HTTP.BodyLimit,
		RequestTimeout: d.Cfg.HTTP.RequestTimeout,
		Cookie: httpadapter.CookieOptions{
			Secure: d.Cfg.Cookie.Secure, SameSite: d.Cfg.Cookie.SameSite,
			MaxAge: d.Cfg.Session.RefreshIdleTTL,
		},
		CORSAllowedOrigins: d.Cfg.HTTP.CORSAllowedOrigins,
		TrustedProxies:     d.Cfg.HTTP.TrustedProxies,
		StepUp:             domauth.StepUpPolicy{MaxAge: d.Cfg.Session.StepUpMaxAge},
		Issuer:             d.Cfg.JWT.Issuer,
		PublicURL:          d.Cfg.Mail.PublicURL,
		JWKSMaxAge:         d.Tokens.JWKSMaxAge(),
		Locales:            d.Mail.Locales(),
	})
	d.Log.Info("gatehouse configured", slog.Any("config", d.Cfg.Redacted()))
	for _, w := range d.Cfg.Warnings() {
		d.Log.Warn(w)
	}
}

// schedulePurge deletes ended sessions in the background on every instance;
// the deletes are idempotent, so instances running it at once do no harm.
func schedulePurge(r *scheduler.Runner, cfg config.Config, a *auth.Purger, acc *account.Service, m *mfauc.Service, log *slog.Logger) {
	r.Every("session-purge", cfg.Session.PurgeInterval, func(ctx context.Context) error {
		n, err := a.PurgeEnded(ctx)
		if err == nil {
			var c int
			c, err = m.PurgeCeremonies(ctx)
			n += c
		}
		if n > 0 {
			log.Info("purged ended sessions", slog.Int("count", n))
		}
		m, eerr := acc.PurgeEvents(ctx)
		if m > 0 {
			log.Info("purged old security events", slog.Int("count", m))
		}
		return errors.Join(err, eerr)
	})
}

// newAuditLog is the security-event log with the per-account bound of
// SECURITY_EVENT_LIMIT.
func newAuditLog(cfg config.Config, db *gorm.DB) *persistence.AuditLog {
	return persistence.NewAuditLog(db).Limit(cfg.Audit.PerUser, cfg.Audit.Window)
}

// auditFlushInterval is how often each instance writes the security events
// SECURITY_EVENT_LIMIT dropped to their accounts' markers.
const auditFlushInterval = time.Second

// scheduleAuditFlush writes the dropped-event counts every second, and a
// last time at stop, so a marker's count is never more than a second
// behind (a listing on this instance flushes that account's at once).
func scheduleAuditFlush(r *scheduler.Runner, lc fx.Lifecycle, a *persistence.AuditLog) {
	r.Every("security-event-flush", auditFlushInterval, func(ctx context.Context) error {
		_, err := a.FlushSuppressed(ctx)
		return err
	})
	lc.Append(fx.StopHook(func(ctx context.Context) error {
		_, err := a.FlushSuppressed(ctx)
		return err
	}))
}

// ipLimiterSync is how often each instance adds its per-IP counts to the
// shared ones: the fleet's budget is enforced late by at most this much.
const ipLimiterSync = time.Second

func newIPLimiter(cfg config.Config, store *persistence.IPCounts) *ratelimit.Limiter {
	return ratelimit.New(cfg.RateLimit.PerIP, cfg.RateLimit.Window, store, time.Now)
}

// ipLimiterOrNil keeps the middleware out entirely when the limit is off.
func ipLimiterOrNil(l *ratelimit.Limiter) httpadapter.IPLimiter {
	if !l.Enabled() {
		return nil
	}
	return l
}

func scheduleRateLimitSync(r *scheduler.Runner, l *ratelimit.Limiter) {
	if l.Enabled() {
		r.Every("rate-limit-sync", ipLimiterSync, l.Sync)
	}
}

// newMetrics records the service's metrics, the database pool's included.
// They are always collected (a few atomic adds per request) and exposed only
// by the METRICS_ADDR listener, never by the public one.
func newMetrics(db *gorm.DB) (*metricsadapter.Metrics, error) {
	m, err := metricsadapter.New()
	if err != nil {
		return nil, err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("metrics: database handle: %w", err)
	}
	if err := m.RegisterDB(sqlDB); err != nil {
		return nil, err
	}
	if err := m.RegisterBuildInfo(version, runtime.Version()); err != nil {
		return nil, err
	}
	return m, nil
}

// warmBreachedList loads the breached-password list in the background once
// the service has started, so neither the start nor the first registration
// waits for it.
func warmBreachedList(lc fx.Lifecycle) {
	lc.Append(fx.StartHook(func() { go breached.Warm() }))
}
