package main

import (
	"context"

	"go.uber.org/fx"

	httpadapter "github.com/gatehouse/gatehouse/adapter/http"
	"github.com/gatehouse/gatehouse/adapter/password"
	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/infrastructure/config"
	"github.com/gatehouse/gatehouse/infrastructure/scheduler"
	"github.com/gatehouse/gatehouse/usecase/authn"
	"github.com/gatehouse/gatehouse/usecase/recovery"
)

// recoveryModule is email verification and password reset: one
// interactor per operation on the mail queue, and the purge of expired
// emailed tokens.
func recoveryModule() fx.Option {
	return fx.Module("recovery",
		fx.Provide(
			persistence.NewEmailTokenStore,
			newVerificationRequester,
			newEmailVerifier,
			newResetRequester,
			newPasswordResetter,
			newTokenPurger,
			newRecoveryRoutes,
		),
		fx.Invoke(scheduleTokenPurge),
	)
}

type recoveryDeps struct {
	fx.In
	Users    *persistence.UserRepository
	Sessions *persistence.SessionStore
	Audit    *persistence.AuditLog
	Tx       *persistence.Transactor
	Tokens   *persistence.EmailTokenStore
	Hasher   *password.Hasher
	Clock    systemClock
	Mail     *recovery.MailQueue
	Events   *persistence.WebhookOutbox
}

func newVerificationRequester(d recoveryDeps) *recovery.VerificationRequester {
	return recovery.NewVerificationRequester(d.Users, d.Mail, d.Tx)
}

func newEmailVerifier(d recoveryDeps) *recovery.EmailVerifier {
	return recovery.NewEmailVerifier(recovery.EmailVerifierDeps{
		Tokens: d.Tokens, Users: d.Users, Audit: d.Audit, Tx: d.Tx, Clock: d.Clock, Mail: d.Mail,
		Events: d.Events,
	})
}

func newResetRequester(d recoveryDeps) *recovery.ResetRequester {
	return recovery.NewResetRequester(d.Mail, d.Tx)
}

func newPasswordResetter(d recoveryDeps, gate *authn.PasswordGate, live *authn.LivenessCache, totp *persistence.TOTPStore) *recovery.PasswordResetter {
	return recovery.NewPasswordResetter(recovery.PasswordResetterDeps{
		Tokens: d.Tokens, Users: d.Users, Sessions: d.Sessions, Audit: d.Audit, Tx: d.Tx,
		Hasher: d.Hasher, Clock: d.Clock, Mail: d.Mail, Events: d.Events,
		// The reset's new password goes through the login throttle (the
		// client's count only: the link proves the mailbox, and back-off
		// others caused on the account never slows it), and its revocation
		// is seen by this instance's liveness cache at once.
		Guard: gate.ClientOnly(), Cache: live,
		// A reset lifts the ceiling of failed second-factor codes.
		Factors: totp,
	})
}

func newTokenPurger(d recoveryDeps) *recovery.TokenPurger {
	return recovery.NewTokenPurger(d.Tokens, d.Clock)
}

// recoveryInteractors are the recovery interactors the routes serve.
type recoveryInteractors struct {
	fx.In
	Requester *recovery.VerificationRequester
	Verifier  *recovery.EmailVerifier
	Forgot    *recovery.ResetRequester
	Resetter  *recovery.PasswordResetter
}

func newRecoveryRoutes(r recoveryInteractors) httpadapter.RecoveryInteractors {
	return httpadapter.RecoveryInteractors{
		Verification: r.Requester, Verifier: r.Verifier, Forgot: r.Forgot, Reset: r.Resetter,
	}
}

// scheduleTokenPurge purges expired emailed tokens on every instance.
func scheduleTokenPurge(r *scheduler.Runner, cfg config.Config, p *recovery.TokenPurger) {
	r.Every("email-token-purge", cfg.Session.PurgeInterval, func(ctx context.Context) error {
		_, err := p.PurgeExpiredTokens(ctx)
		return err
	})
}
