package main

import (
	"context"
	"log/slog"

	"go.uber.org/fx"
	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/adapter/otpauth"
	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/adapter/webauthnrp"
	domauth "github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/infrastructure/config"
	"github.com/gatehouse/gatehouse/infrastructure/scheduler"
	"github.com/gatehouse/gatehouse/internal/sealbox"
	"github.com/gatehouse/gatehouse/usecase/auth"
	mfauc "github.com/gatehouse/gatehouse/usecase/mfa"
	"github.com/gatehouse/gatehouse/usecase/recovery"
)

// factorsModule is second factors: TOTP with its recovery codes, and
// passkeys with their WebAuthn relying party.
func factorsModule() fx.Option {
	return fx.Module("factors",
		fx.Provide(
			newTOTPStore,
			persistence.NewRecoveryCodeStore,
			persistence.NewPasskeyStore,
			persistence.NewCeremonyStore,
			newRelyingParty,
			newMFAService,
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
	Live     *auth.LivenessCache
}

func newMFAService(d mfaDeps) *mfauc.Service {
	return mfauc.NewService(mfauc.Deps{
		Users: d.Users, TOTP: d.TOTP, RecoveryCodes: d.Codes, OTP: otpauth.TOTP{},
		Passkeys: d.Keys, Ceremonies: d.Cer, WebAuthn: d.RP,
		Audit: d.Audit, Tx: d.Tx, Clock: d.Clock,
		Mail: d.Mail, Sessions: d.Sessions, Cache: d.Live,
		StepUp:      domauth.StepUpPolicy{MaxAge: d.Cfg.Session.StepUpMaxAge},
		Issuer:      d.Cfg.MFA.Issuer,
		MaxFailures: mfa.FailureCeiling(d.Cfg.MFA.MaxFailures),
	})
}

// scheduleCeremonyPurge deletes passkey ceremonies begun and never finished,
// on every instance (the deletes are idempotent).
func scheduleCeremonyPurge(r *scheduler.Runner, cfg config.Config, m *mfauc.Service, log *slog.Logger) {
	r.Every("passkey-ceremony-purge", cfg.Session.PurgeInterval, func(ctx context.Context) error {
		n, err := m.PurgeCeremonies(ctx)
		if n > 0 {
			log.Info("purged passkey ceremonies", slog.Int("count", n))
		}
		return err
	})
}
