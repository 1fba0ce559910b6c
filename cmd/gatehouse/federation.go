package main

import (
	"context"
	"log/slog"
	"strings"

	"go.uber.org/fx"

	httpadapter "github.com/gatehouse/gatehouse/adapter/http"
	"github.com/gatehouse/gatehouse/adapter/oauthclient"
	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/domain/federation"
	"github.com/gatehouse/gatehouse/infrastructure/config"
	"github.com/gatehouse/gatehouse/infrastructure/scheduler"
	"github.com/gatehouse/gatehouse/usecase/authn"
	"github.com/gatehouse/gatehouse/usecase/providers"
)

// federationModule is sign-in through other identity providers: the
// store, the provider clients, one use case per operation and the HTTP
// layer's view of them. The routes are served whether or not providers
// are configured (GET /auth/providers then lists none).
func federationModule() fx.Option {
	return fx.Module("federation",
		fx.Provide(
			persistence.NewFederationStore,
			newProviderRegistry,
			newFederatedLogin,
			newFederation,
		),
		fx.Invoke(scheduleFederationPurge),
	)
}

// newProviderRegistry builds the configured providers; nothing is fetched
// until first use.
func newProviderRegistry(cfg config.Config) *oauthclient.Registry {
	base := strings.TrimSuffix(cfg.Mail.PublicURL, "/")
	cfgs := make([]oauthclient.Config, 0, len(cfg.OAuth.Providers))
	for _, p := range cfg.OAuth.Providers {
		cfgs = append(cfgs, oauthclient.Config{
			ID: p.ID, Name: p.Name, Issuer: p.Issuer, ClientID: p.ClientID, ClientSecret: p.ClientSecret,
			Scopes: p.Scopes, RedirectURL: base + "/auth/oauth/" + p.ID + "/callback",
			GitHubURL: cfg.OAuth.GitHubURL, GitHubAPIURL: cfg.OAuth.GitHubAPIURL,
		})
	}
	return oauthclient.New(cfgs, nil)
}

func newFederatedLogin(d authDeps, opener *authn.SessionOpener) *authn.FederatedLogin {
	return authn.NewFederatedLogin(authn.FederatedLoginDeps{
		Users: d.Users, SignInDeps: d.signIn(opener), RequireVerifiedEmail: d.Cfg.Mail.RequireVerification,
	})
}

func newFederation(d authDeps, store *persistence.FederationStore, reg *oauthclient.Registry, login *authn.FederatedLogin) *httpadapter.Federation {
	redirects := federation.NewRedirectPolicy(d.Cfg.OAuth.RedirectURLs)
	stepUp := stepUpPolicy(d.Cfg)
	obs := d.Metrics
	return &httpadapter.Federation{
		Providers: func() []httpadapter.ProviderInfo {
			list := reg.List()
			out := make([]httpadapter.ProviderInfo, len(list))
			for i, p := range list {
				out[i] = httpadapter.ProviderInfo{ID: p.ID, Name: p.Name}
			}
			return out
		},
		Starter: providers.NewStarter(providers.StarterDeps{
			Providers: reg, Flows: store, Redirects: redirects, Clock: d.Clock,
		}),
		Linker: providers.NewLinkStarter(providers.LinkStarterDeps{
			Providers: reg, Flows: store, Redirects: redirects, Clock: d.Clock, Factors: d.Codes, StepUp: stepUp,
		}),
		Finisher: providers.NewFinisher(providers.FinisherDeps{
			Providers: reg, Flows: store, Codes: store, Identities: store, Accounts: d.Users,
			Audit: d.Audit, Tx: d.Tx, Clock: d.Clock, Observer: obs, Hook: d.Hook,
			Events: d.Events,
		}),
		Exchanger: providers.NewExchanger(providers.ExchangerDeps{
			Codes: store, Sessions: login, Clock: d.Clock, Observer: obs,
		}),
		Identities: providers.NewIdentityLister(store),
		Unlinker: providers.NewIdentityUnlinker(providers.UnlinkerDeps{
			Identities: store, Accounts: d.Users, Passkeys: store, Factors: d.Codes,
			Audit: d.Audit, Tx: d.Tx, Clock: d.Clock, StepUp: stepUp, Events: d.Events,
		}),
	}
}

// scheduleFederationPurge deletes expired flows and codes on every
// instance.
func scheduleFederationPurge(r *scheduler.Runner, cfg config.Config, store *persistence.FederationStore, log *slog.Logger) {
	everyPurge(r, cfg, log, "oauth-purge", "purged expired oauth flows and codes", func(ctx context.Context) (int, error) {
		return store.PurgeExpired(ctx, systemClock{}.Now())
	})
}
