package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.uber.org/fx"

	"github.com/gatehouse/gatehouse/adapter/mailer"
	"github.com/gatehouse/gatehouse/adapter/metrics"
	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/domain/outbox"
	"github.com/gatehouse/gatehouse/domain/throttle"
	"github.com/gatehouse/gatehouse/infrastructure/config"
	"github.com/gatehouse/gatehouse/infrastructure/scheduler"
	"github.com/gatehouse/gatehouse/usecase/authn"
	"github.com/gatehouse/gatehouse/usecase/recovery"
)

// mailModule is the mail: its templates, the queue every feature puts
// its mail on (within the per-address and per-IP budgets), the outbox and
// the delivery that drains it when MAIL_URL is set.
func mailModule() fx.Option {
	return fx.Module("mail",
		fx.Provide(newMailTemplates, persistence.NewMailOutbox, newMailQueue, newDeliverer),
		fx.Invoke(scheduleMail),
	)
}

type mailDeps struct {
	fx.In
	Cfg       config.Config
	Templates *mailer.Templates
	Users     *persistence.UserRepository
	Tx        *persistence.Transactor
	Tokens    *persistence.EmailTokenStore
	Outbox    *persistence.MailOutbox
	Throttle  *persistence.LoginThrottle
	Clock     systemClock
	Metrics   *metrics.Metrics
	Log       *slog.Logger
	// EmailCodes makes the mails of sign-in code requests.
	EmailCodes *authn.EmailCodeIssuer
}

func newMailQueue(d mailDeps) *recovery.MailQueue {
	m := d.Cfg.Mail
	return recovery.NewMailQueue(recovery.MailQueueDeps{
		Outbox: d.Outbox, Tokens: d.Tokens, Users: d.Users, Limiter: d.Throttle, Tx: d.Tx, Clock: d.Clock,
		Observer: d.Metrics, Enabled: m.Enabled(),
		PerAddress: mailPolicy(m.PerAddress, m.PerAddressWindow),
		PerIP:      mailPolicy(m.PerIP, m.PerIPWindow),
	})
}

// newDeliverer builds the delivery and, when MAIL_URL is set, the mail
// transport it sends through.
func newDeliverer(d mailDeps) (*recovery.Deliverer, error) {
	deps := recovery.DelivererDeps{
		Outbox: d.Outbox, Tokens: d.Tokens, Users: d.Users, Tx: d.Tx, Clock: d.Clock,
		Observer: d.Metrics, Log: d.Log, Codes: d.EmailCodes,
	}
	m := d.Cfg.Mail
	if m.Enabled() {
		sender, err := mailer.New(mailer.Options{URL: m.URL, From: m.From, Log: d.Log, Templates: d.Templates})
		if err != nil {
			return nil, err
		}
		deps.Sender = sender
	}
	return recovery.NewDeliverer(deps, recovery.DeliveryConfig{
		VerifyLink: m.VerifyLink, ResetLink: m.ResetLink, VerifyTTL: m.VerifyTTL, ResetTTL: m.ResetTTL,
		Retry: outbox.Retry{Base: m.RetryBase, Max: time.Hour, MaxAttempts: mailMaxAttempts},
		Lease: mailLease,
	}), nil
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

// mailLease is how long an instance holds a claimed message; one delivery
// attempt gets at most half of it, so a claim never ends mid-send.
const mailLease = 2 * time.Minute

// mailMaxAttempts gives a message about a day of retries at the default
// back-off (30s doubling, at most an hour between attempts).
const mailMaxAttempts = 30

// scheduleMail delivers the outbox on every instance (claims keep them from
// sending one message twice).
func scheduleMail(r *scheduler.Runner, cfg config.Config, d *recovery.Deliverer) {
	if d.Enabled() {
		r.EveryFor("mail-delivery", cfg.Mail.PollInterval, mailLease, func(ctx context.Context) error {
			_, err := d.DeliverDue(ctx)
			return err
		})
	}
}

// mailPolicy counts n requests per window with the throttle's rules: the
// n-th locks further ones until the window has passed.
func mailPolicy(n int, window time.Duration) throttle.Policy {
	return throttle.Policy{MaxFailures: n, Window: window, Lockout: window}
}
