package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/domain/oauth"
	"github.com/gatehouse/gatehouse/infrastructure/config"
	"github.com/gatehouse/gatehouse/infrastructure/database"
	"github.com/gatehouse/gatehouse/usecase/authn"
	"github.com/gatehouse/gatehouse/usecase/oidcprovider"
)

// clientsCommand runs `clients create`: registers an OpenID client and
// prints one JSON line with its ID and secret (the only time the secret is
// shown), as the admin API answers.
func clientsCommand(args []string, stdout, stderr io.Writer) int {
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "gatehouse: "+format+"\n", a...)
		return code
	}
	if len(args) < 2 || args[1] != "create" {
		fmt.Fprintln(stderr, cliUsage)
		return exitUsage
	}
	fs := flag.NewFlagSet("clients create", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	name := fs.String("name", "", "client name")
	var redirects, logouts multiFlag
	fs.Var(&redirects, "redirect-uri", "redirect URI (repeatable)")
	fs.Var(&logouts, "post-logout-redirect-uri", "post-logout redirect URI (repeatable)")
	public := fs.Bool("public", false, "a public client (no secret; PKCE)")
	firstParty := fs.Bool("first-party", false, "skip the consent screen")
	alg := fs.String("id-token-alg", "", "RS256 (default) or EdDSA")
	if err := fs.Parse(args[2:]); err != nil || fs.NArg() != 0 {
		return fail(exitUsage, "clients create: want --name N --redirect-uri U [...]")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, closeDB, err := clientServices(ctx)
	if err != nil {
		return fail(exitFailure, "%v", oneLine(err))
	}
	defer closeDB()
	c, secret, err := admin.Register(ctx, oidcprovider.Actor{CLI: true}, oauth.Registration{
		Name: *name, RedirectURIs: redirects, PostLogoutRedirectURIs: logouts,
		Public: *public, FirstParty: *firstParty, IDTokenAlg: *alg,
	})
	var fe *oauth.FieldError
	if errors.As(err, &fe) {
		return fail(exitInvalid, "clients create: %s", fe.Error())
	}
	if err != nil {
		return fail(exitFailure, "clients create: %v", oneLine(err))
	}
	out := map[string]any{"clientId": c.ID, "name": c.Name, "public": c.Public, "firstParty": c.FirstParty}
	if secret != "" {
		out["clientSecret"] = secret
	}
	b, _ := json.Marshal(out)
	fmt.Fprintln(stdout, string(b))
	return exitOK
}

// clientServices opens the database (migrating it when allowed) and builds
// the client administration on it, with the provider's keys (the first
// client makes the RSA key).
func clientServices(ctx context.Context) (*oidcprovider.ClientAdmin, func(), error) {
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		return nil, nil, err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := database.Open(databaseConfig(cfg), log)
	if err != nil {
		return nil, nil, err
	}
	closeDB := func() { _ = database.Close(db) }
	if cfg.Database.MigrateOnStart {
		if err := database.Migrate(ctx, db, cfg.Database.Driver); err != nil {
			closeDB()
			return nil, nil, err
		}
	}
	keys, err := newProviderKeys(cfg, persistence.NewOIDCKeyStore(db, cfg.JWT.DataKeys))
	if err != nil {
		closeDB()
		return nil, nil, err
	}
	events, err := newWebhookOutbox(cfg, db)
	if err != nil {
		closeDB()
		return nil, nil, err
	}
	store := newOAuthStore(db, events)
	return oidcprovider.NewClientAdmin(oidcprovider.ClientAdminDeps{
		Clients: store, Sessions: store, Tx: persistence.NewTransactor(db), Clock: systemClock{},
		Live: (*authn.LivenessCache)(nil), Keys: keys,
	}), closeDB, nil
}
