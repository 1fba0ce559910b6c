package main

import (
	"log/slog"

	"go.uber.org/fx"

	httpadapter "github.com/gatehouse/gatehouse/adapter/http"
	"github.com/gatehouse/gatehouse/adapter/mailer"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/throttle"
	"github.com/gatehouse/gatehouse/infrastructure/config"
	"github.com/gatehouse/gatehouse/infrastructure/scheduler"
	"github.com/gatehouse/gatehouse/usecase/account"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

// accountModule is a signed-in user's own account: one interactor per
// operation, served under /users/me, and the purge of old security events.
func accountModule() fx.Option {
	return fx.Module("account",
		fx.Provide(
			newProfileReader,
			newProfileEditor,
			newPasswordChanger,
			newEmailChanger,
			newAccountDeleter,
			newSecurityEventListing,
			newEventPurger,
			newAccountRoutes,
		),
		fx.Invoke(scheduleEventPurge),
	)
}

// emailChangePolicy is EMAIL_CHANGE_LIMIT: every attempt counts.
func emailChangePolicy(cfg config.Config) throttle.Policy {
	return throttle.Policy{MaxFailures: cfg.Login.EmailChanges, Window: cfg.Login.EmailChangeWindow, Lockout: cfg.Login.EmailChangeWindow}
}

// stepUpPolicy is STEP_UP_MAX_AGE, the freshness of sensitive operations.
func stepUpPolicy(cfg config.Config) auth.StepUpPolicy {
	return auth.StepUpPolicy{MaxAge: cfg.Session.StepUpMaxAge}
}

func newProfileReader(d authDeps) *account.ProfileReader { return account.NewProfileReader(d.Users) }

func newProfileEditor(d authDeps, mail *mailer.Templates) *account.ProfileEditor {
	return account.NewProfileEditor(d.Users, d.Tx, d.Clock, mail.Locales()).WithEvents(d.Events)
}

func newPasswordChanger(d authDeps, gate *authn.PasswordGate, live *authn.LivenessCache) *account.PasswordChanger {
	return account.NewPasswordChanger(account.PasswordChangerDeps{
		Users: d.Users, Hasher: d.Hasher, Sessions: d.Sessions, Audit: d.Audit, Tx: d.Tx, Clock: d.Clock,
		Guard: gate, Cache: live, StepUp: stepUpPolicy(d.Cfg), Events: d.Events,
	})
}

func newEmailChanger(d authDeps) *account.EmailChanger {
	return account.NewEmailChanger(account.EmailChangerDeps{
		Users: d.Users, Audit: d.Audit, Tx: d.Tx, Clock: d.Clock,
		Throttle: d.Throttle, Policy: emailChangePolicy(d.Cfg),
		Mail: d.Mail, Confirm: d.Cfg.Mail.RequireVerification,
		StepUp: stepUpPolicy(d.Cfg), Events: d.Events,
	})
}

func newAccountDeleter(d authDeps, live *authn.LivenessCache) *account.AccountDeleter {
	return account.NewAccountDeleter(d.Users, d.Audit, d.Tx, d.Clock, live, stepUpPolicy(d.Cfg)).WithEvents(d.Events)
}

func newSecurityEventListing(d authDeps) *account.SecurityEventListing {
	return account.NewSecurityEventListing(d.Audit)
}

func newEventPurger(d authDeps) *account.EventPurger {
	return account.NewEventPurger(d.Audit, d.Clock, d.Cfg.Audit.Retention)
}

// accountInteractors are the account interactors the routes serve.
type accountInteractors struct {
	fx.In
	Profile  *account.ProfileReader
	Editor   *account.ProfileEditor
	Password *account.PasswordChanger
	Email    *account.EmailChanger
	Deleter  *account.AccountDeleter
	Events   *account.SecurityEventListing
}

func newAccountRoutes(a accountInteractors) httpadapter.AccountInteractors {
	return httpadapter.AccountInteractors{
		Profile: a.Profile, Editor: a.Editor, Password: a.Password, Email: a.Email,
		Deleter: a.Deleter, Events: a.Events,
	}
}

// scheduleEventPurge deletes the security events older than
// SECURITY_EVENT_RETENTION, on every instance.
func scheduleEventPurge(r *scheduler.Runner, cfg config.Config, p *account.EventPurger, log *slog.Logger) {
	everyPurge(r, cfg, log, "security-event-purge", "purged old security events", p.PurgeEvents)
}
