package main

import (
	"time"

	"go.uber.org/fx"

	"github.com/gatehouse/gatehouse/infrastructure/database"
	"github.com/gatehouse/gatehouse/infrastructure/httpserver"
	"github.com/gatehouse/gatehouse/infrastructure/logging"
	"github.com/gatehouse/gatehouse/infrastructure/metricsserver"
	"github.com/gatehouse/gatehouse/infrastructure/scheduler"
	"github.com/gatehouse/gatehouse/infrastructure/tracing"
)

// systemClock is the real clock.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// serveOptions is the whole application graph of `gatehouse` (serve): the
// platform, then one module per feature, each in its own file and the only
// place where that feature's adapters are bound to its ports. Adding a
// feature adds a file and a line here. The configuration comes from cfg:
// config.Module() in production, a supplied config.Config in tests.
//
// Modules run their invokes in this order: the OpenID provider's key
// schedule, then the routes (which build the server and everything it
// serves), then the other features' scheduled jobs.
func serveOptions(cfg fx.Option) fx.Option {
	return fx.Options(
		cfg,
		logging.Module(),
		database.Module(),
		httpserver.Module(),
		scheduler.Module(),
		metricsserver.Module(),
		tracing.Module(),
		oidcModule(),
		httpModule(),
		coreModule(),
		keysModule(),
		authModule(),
		accountModule(),
		recoveryModule(),
		mailModule(),
		factorsModule(),
		adminModule(),
		emailCodeModule(),
		federationModule(),
		webhooksModule(),
	)
}
