package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.uber.org/fx"
	"gorm.io/gorm"

	httpadapter "github.com/gatehouse/gatehouse/adapter/http"
	"github.com/gatehouse/gatehouse/adapter/metrics"
	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/adapter/webhooksender"
	"github.com/gatehouse/gatehouse/domain/webhook"
	"github.com/gatehouse/gatehouse/infrastructure/config"
	"github.com/gatehouse/gatehouse/infrastructure/scheduler"
	"github.com/gatehouse/gatehouse/usecase/admin"
	"github.com/gatehouse/gatehouse/usecase/authn"
	"github.com/gatehouse/gatehouse/usecase/delivery"
)

// webhookLease is how long an instance holds a claimed event: more than
// twice the receiver's 10-second bound, so a claim never ends mid-post.
const webhookLease = 30 * time.Second

// webhookRetention is how long delivered events stay for operators.
const webhookRetention = 7 * 24 * time.Hour

// webhooksModule is the webhooks feature: the outbox every interactor
// writes its events to (always built; it keeps nothing while WEBHOOK_URL
// is unset), the before-signup hook, every instance's sender, and the
// operators' routes.
func webhooksModule() fx.Option {
	return fx.Module("webhooks",
		fx.Provide(newWebhookOutbox, newSignupHook, newWebhookAdmin),
		fx.Invoke(scheduleWebhooks),
	)
}

// newWebhookOutbox is the outbox, keeping the WEBHOOK_EVENTS types while
// WEBHOOK_URL is set.
func newWebhookOutbox(cfg config.Config, db *gorm.DB) (*persistence.WebhookOutbox, error) {
	o := persistence.NewWebhookOutbox(db)
	if !cfg.Webhooks.Enabled() {
		return o, nil
	}
	types, err := webhook.ParseTypes(cfg.Webhooks.Events)
	if err != nil {
		return nil, fmt.Errorf("config: WEBHOOK_EVENTS: %w", err)
	}
	return o.Enable(types), nil
}

// newSessionStore is the session store, reporting session starts and ends
// to the outbox in the transaction of each.
func newSessionStore(db *gorm.DB, events *persistence.WebhookOutbox) *persistence.SessionStore {
	return persistence.NewSessionStore(db).Publishing(events)
}

// newSignupHook is the before-signup hook, nil when
// HOOK_BEFORE_SIGNUP_URL is unset; every path that creates an account asks
// it (authn.SignupHook, optional in their deps).
func newSignupHook(cfg config.Config) (authn.SignupHook, error) {
	if cfg.Webhooks.HookURL == "" {
		return nil, nil
	}
	h, err := webhooksender.NewSignupHook(cfg.Webhooks.HookURL, cfg.Webhooks.HookSecrets, cfg.Webhooks.HookTimeout)
	if err != nil {
		return nil, fmt.Errorf("config: HOOK_SECRET: %w", err)
	}
	return h, nil
}

func newWebhookAdmin(guard *admin.WriteGuard, o *persistence.WebhookOutbox) *httpadapter.WebhookAdmin {
	return &httpadapter.WebhookAdmin{
		List:  delivery.NewDeliveryList(guard, o),
		Retry: delivery.NewDeliveryRetry(guard, o, systemClock{}),
	}
}

// scheduleWebhooks runs the sender on this instance while WEBHOOK_URL is
// set, and the purge of delivered events either way (rows left from when
// it was set).
func scheduleWebhooks(r *scheduler.Runner, cfg config.Config, o *persistence.WebhookOutbox, m *metrics.Metrics, log *slog.Logger) error {
	everyPurge(r, cfg, log, "webhook-purge", "purged delivered webhook events", func(ctx context.Context) (int, error) {
		return o.PurgeDelivered(ctx, time.Now().Add(-webhookRetention), 1000)
	})
	if !cfg.Webhooks.Enabled() {
		return nil
	}
	sender, err := webhooksender.NewSender(cfg.Webhooks.URL, cfg.Webhooks.Secrets)
	if err != nil {
		return fmt.Errorf("config: WEBHOOK_SECRET: %w", err)
	}
	d := delivery.NewDeliverer(delivery.DelivererDeps{
		Outbox: o, Sender: sender, Clock: systemClock{}, Log: log, Observer: m,
		Retry: webhook.DefaultRetry, Lease: webhookLease,
	})
	r.EveryFor("webhook-delivery", cfg.Webhooks.PollInterval, 5*time.Minute, func(ctx context.Context) error {
		_, err := d.DeliverDue(ctx)
		return err
	})
	return nil
}
