package config

import (
	"os"

	"go.uber.org/fx"
)

// Module returns the fx module providing Config, loaded once from the
// process environment, the YAML file and the defaults. A bad value fails
// the fx application at construction, so the service never starts
// half-configured. It is a function rather than a package-level variable
// because the house rules allow no globals.
func Module() fx.Option {
	return fx.Module("config", fx.Provide(func() (Config, error) { return Load(os.LookupEnv) }))
}
