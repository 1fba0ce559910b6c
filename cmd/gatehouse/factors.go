package main

import (
	"log/slog"

	"go.uber.org/fx"
	"gorm.io/gorm"

	httpadapter "github.com/gatehouse/gatehouse/adapter/http"
	"github.com/gatehouse/gatehouse/adapter/otpauth"
	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/adapter/webauthnrp"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/infrastructure/config"
	"github.com/gatehouse/gatehouse/infrastructure/scheduler"
	"github.com/gatehouse/gatehouse/internal/sealbox"
	"github.com/gatehouse/gatehouse/usecase/authn"
	"github.com/gatehouse/gatehouse/usecase/factors"
	"github.com/gatehouse/gatehouse/usecase/recovery"
)

// factorsModule is second factors: TOTP with its recovery codes, and
// passkeys with their WebAuthn relying party; one interactor per operation
// around one FactorRules, and the purge of abandoned passkey ceremonies.
func factorsModule() fx.Option {
	return fx.Module("factors",
		fx.Provide(
			newTOTPStore,
			persistence.NewRecoveryCodeStore,
			persistence.NewPasskeyStore,
			persistence.NewCeremonyStore,
			newRelyingParty,
			newFactorRules,
			newTOTPEnroller,
			newTOTPConfirmer,
			newTOTPDisabler,
			newRecoveryCodeRegenerator,
			newCodeVerifier,
			newPasskeyRegistrar,
			newPasskeyLister,
			newPasskeyRemover,
			newPasskeyAuthenticator,
			newCeremonyPurger,
			newFactorRoutes,
		),
		fx.Invoke(scheduleCeremonyPurge),
	)
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
	Mail     *recovery.MailQueue
	Sessions *persistence.SessionStore
	Live     *authn.LivenessCache
	// Ways keeps an account without a password a way to sign in.
	Ways   *persistence.FederationStore
	Events *persistence.WebhookOutbox
}

func newFactorRules(d mfaDeps) *factors.FactorRules {
	return factors.NewFactorRules(factors.FactorRulesDeps{
		Users: d.Users, TOTP: d.TOTP, Audit: d.Audit, Clock: d.Clock,
		Mail: d.Mail, Sessions: d.Sessions, Cache: d.Live, StepUp: stepUpPolicy(d.Cfg),
		Events: d.Events,
	})
}

func newTOTPEnroller(d mfaDeps, r *factors.FactorRules) *factors.TOTPEnroller {
	return factors.NewTOTPEnroller(r, d.TOTP, otpauth.TOTP{}, d.Cfg.MFA.Issuer, d.Tx)
}

func newTOTPConfirmer(d mfaDeps, r *factors.FactorRules) *factors.TOTPConfirmer {
	return factors.NewTOTPConfirmer(r, d.TOTP, d.Codes, otpauth.TOTP{}, d.Tx)
}

func newTOTPDisabler(d mfaDeps, r *factors.FactorRules) *factors.TOTPDisabler {
	return factors.NewTOTPDisabler(r, d.TOTP, d.Codes, d.Tx)
}

func newRecoveryCodeRegenerator(d mfaDeps, r *factors.FactorRules) *factors.RecoveryCodeRegenerator {
	return factors.NewRecoveryCodeRegenerator(r, d.TOTP, d.Codes, d.Tx)
}

func newCodeVerifier(d mfaDeps) *factors.CodeVerifier {
	return factors.NewCodeVerifier(factors.CodeVerifierDeps{
		Users: d.Users, TOTP: d.TOTP, Codes: d.Codes, OTP: otpauth.TOTP{}, Clock: d.Clock,
		Mail: d.Mail, MaxFailures: mfa.FailureCeiling(d.Cfg.MFA.MaxFailures),
	})
}

func newPasskeyRegistrar(d mfaDeps, r *factors.FactorRules) *factors.PasskeyRegistrar {
	return factors.NewPasskeyRegistrar(r, d.Keys, d.Cer, d.RP, d.Tx)
}

func newPasskeyLister(d mfaDeps) *factors.PasskeyLister { return factors.NewPasskeyLister(d.Keys) }

func newPasskeyRemover(d mfaDeps, r *factors.FactorRules) *factors.PasskeyRemover {
	return factors.NewPasskeyRemover(r, d.Keys, d.Tx, d.Ways)
}

func newPasskeyAuthenticator(d mfaDeps) *factors.PasskeyAuthenticator {
	return factors.NewPasskeyAuthenticator(factors.PasskeyLoginDeps{
		Users: d.Users, Passkeys: d.Keys, Ceremonies: d.Cer, WebAuthn: d.RP, Tx: d.Tx, Clock: d.Clock,
	})
}

func newCeremonyPurger(d mfaDeps) *factors.CeremonyPurger {
	return factors.NewCeremonyPurger(d.Cer, d.Clock)
}

// factorInteractors are the second-factor interactors the routes serve.
type factorInteractors struct {
	fx.In
	Enroll   *factors.TOTPEnroller
	Confirm  *factors.TOTPConfirmer
	Disable  *factors.TOTPDisabler
	Codes    *factors.RecoveryCodeRegenerator
	Register *factors.PasskeyRegistrar
	Passkeys *factors.PasskeyLister
	Remove   *factors.PasskeyRemover
	Login    *factors.PasskeyAuthenticator
}

func newFactorRoutes(f factorInteractors) httpadapter.FactorInteractors {
	return httpadapter.FactorInteractors{
		TOTPEnroll: f.Enroll, TOTPConfirm: f.Confirm, TOTPDisable: f.Disable, Codes: f.Codes,
		PasskeyRegister: f.Register, Passkeys: f.Passkeys, PasskeyRemove: f.Remove, PasskeyLogin: f.Login,
	}
}

// scheduleCeremonyPurge deletes passkey ceremonies begun and never finished,
// on every instance.
func scheduleCeremonyPurge(r *scheduler.Runner, cfg config.Config, m *factors.CeremonyPurger, log *slog.Logger) {
	everyPurge(r, cfg, log, "passkey-ceremony-purge", "purged passkey ceremonies", m.PurgeCeremonies)
}
