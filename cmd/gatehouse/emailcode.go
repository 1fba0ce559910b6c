package main

import (
	"context"
	"log/slog"

	"go.uber.org/fx"

	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/domain/emailcode"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/infrastructure/config"
	"github.com/gatehouse/gatehouse/infrastructure/scheduler"
	"github.com/gatehouse/gatehouse/usecase/authn"
	"github.com/gatehouse/gatehouse/usecase/recovery"
)

// Sign in with an emailed code: the pending codes' store, the key codes are
// sealed under, the request, the issuing at send time (which the mail
// delivery of the recovery use cases calls) and the sign-in.
func emailCodeModule() fx.Option {
	return fx.Module("emailcode",
		fx.Provide(
			persistence.NewEmailCodeStore,
			newEmailCodeSealer,
			newEmailCodeIssuer,
			newEmailCodeRequester,
			newEmailCodeLogin,
		),
		fx.Invoke(scheduleEmailCodePurge),
	)
}

// newEmailCodeSealer seals codes under a key derived from the refresh-token
// key: one server secret every instance shares, kept out of the database
// table the seals are in.
func newEmailCodeSealer(codec *session.RefreshCodec) (*emailcode.Sealer, error) {
	return emailcode.NewSealer(codec.Subkey("email code"))
}

type emailCodeIssuerDeps struct {
	fx.In
	Cfg    config.Config
	Users  *persistence.UserRepository
	Codes  *persistence.EmailCodeStore
	Sealer *emailcode.Sealer
	Tx     *persistence.Transactor
	Clock  systemClock
}

func newEmailCodeIssuer(d emailCodeIssuerDeps) *authn.EmailCodeIssuer {
	return authn.NewEmailCodeIssuer(authn.EmailCodeIssuerDeps{
		Users: d.Users, Codes: d.Codes, Sealer: d.Sealer, Tx: d.Tx, Clock: d.Clock,
		TTL: d.Cfg.EmailCode.TTL, Link: d.Cfg.EmailCode.Link, Signup: d.Cfg.EmailCode.Signup,
	})
}

// newEmailCodeRequester queues requests in the mail outbox, within the
// mail budgets, when mail is configured; without it every request is
// MAIL_UNAVAILABLE.
func newEmailCodeRequester(d authDeps, outbox *persistence.MailOutbox) *authn.EmailCodeRequester {
	deps := authn.EmailCodeRequesterDeps{Budget: d.Mail, Tx: d.Tx, Clock: d.Clock}
	if d.Mail.Enabled() {
		deps.Queue = outbox
	}
	return authn.NewEmailCodeRequester(deps)
}

func newEmailCodeLogin(d authDeps, codes *persistence.EmailCodeStore, sealer *emailcode.Sealer,
	gate *authn.PasswordGate, opener *authn.SessionOpener) *authn.EmailCodeLogin {
	return authn.NewEmailCodeLogin(authn.EmailCodeLoginDeps{
		Codes: codes, Users: d.Users, Sealer: sealer, Gate: gate, SignInDeps: d.signIn(opener),
		Signup: d.Cfg.EmailCode.Signup, Hook: d.Hook, Events: d.Events,
	})
}

// scheduleEmailCodePurge deletes expired codes on every instance (the
// delete is idempotent).
func scheduleEmailCodePurge(r *scheduler.Runner, cfg config.Config, codes *persistence.EmailCodeStore, clock systemClock, log *slog.Logger) {
	everyPurge(r, cfg, log, "email-code-purge", "purged expired sign-in codes", func(ctx context.Context) (int, error) {
		return codes.PurgeExpired(ctx, clock.Now())
	})
}

// The recovery use cases' mail delivery turns code requests into mails
// through the issuer.
var _ recovery.CodeIssuer = (*authn.EmailCodeIssuer)(nil)
