package main

import (
	"context"
	"log/slog"

	"go.uber.org/fx"

	httpadapter "github.com/gatehouse/gatehouse/adapter/http"
	"github.com/gatehouse/gatehouse/adapter/password"
	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/adapter/token"
	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/infrastructure/config"
	"github.com/gatehouse/gatehouse/usecase/admin"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

// adminModule is the administration of accounts and keys by the /admin
// routes, one interactor per operation behind one WriteGuard (the command
// line builds its own, see cli.go).
func adminModule() fx.Option {
	return fx.Module("admin",
		fx.Provide(
			persistence.NewAdminDirectory,
			newWriteGuard,
			newAdminWriterDeps,
			newAccountSearch,
			newAccountReader,
			newAccountUpdater,
			newSessionsRevoker,
			newAdminAccountDeleter,
			newEventListing,
			newAccountCreator,
			newKeyLister,
			newKeyRotator,
			newAccountSessionListing,
			newSessionEnder,
			newFactorReader,
			newIdentityListing,
			newAdminRoutes,
		),
	)
}

// warnNotifier writes every administrative action as a WARN line with its
// event name and who did it to whom; never any secret.
type warnNotifier struct{ log *slog.Logger }

// AdminAction implements admin.Notifier.
func (n warnNotifier) AdminAction(ctx context.Context, e audit.Event) {
	n.log.LogAttrs(ctx, slog.LevelWarn, "admin action", slog.String("event", string(e.Type)),
		slog.String("actorId", e.ActorID), slog.String("userId", e.UserID))
}

type adminDeps struct {
	fx.In
	Cfg       config.Config
	Directory *persistence.AdminDirectory
	Sessions  *persistence.SessionStore
	Audit     *persistence.AuditLog
	Tx        *persistence.Transactor
	Hasher    *password.Hasher
	Tokens    *token.Service
	Clock     systemClock
	Log       *slog.Logger
	Live      *authn.LivenessCache
	Events    *persistence.WebhookOutbox
	Hook      authn.SignupHook `optional:"true"`
}

// accountFactorStores are the factor stores the admin view reads (the
// factors module provides them).
type accountFactorStores struct {
	fx.In
	TOTP     *persistence.TOTPStore
	Passkeys *persistence.PasskeyStore
}

// newWriteGuard is the rule of administrative writes over HTTP: a fresh
// token, aal2 for an administrator with a second factor.
func newWriteGuard(d adminDeps) *admin.WriteGuard {
	step := stepUpPolicy(d.Cfg)
	return admin.NewWriteGuard(&step, d.Directory, d.Clock)
}

func newAdminWriterDeps(d adminDeps, guard *admin.WriteGuard) admin.WriterDeps {
	return admin.WriterDeps{
		Sessions: d.Sessions, Audit: d.Audit, Tx: d.Tx, Clock: d.Clock, Guard: guard,
		Notifier: warnNotifier{d.Log}, Cache: d.Live, Events: d.Events,
	}
}

func newAccountSearch(d adminDeps) *admin.AccountSearch {
	return admin.NewAccountSearch(d.Directory, d.Clock)
}

func newAccountReader(d adminDeps) *admin.AccountReader {
	return admin.NewAccountReader(d.Directory, d.Clock)
}

func newAccountUpdater(d adminDeps, w admin.WriterDeps) *admin.AccountUpdater {
	return admin.NewAccountUpdater(d.Directory, w)
}

func newSessionsRevoker(d adminDeps, w admin.WriterDeps) *admin.SessionsRevoker {
	return admin.NewSessionsRevoker(d.Directory, w)
}

func newAdminAccountDeleter(d adminDeps, w admin.WriterDeps) *admin.AccountDeleter {
	return admin.NewAccountDeleter(d.Directory, w)
}

func newEventListing(d adminDeps) *admin.EventListing {
	return admin.NewEventListing(d.Directory, d.Audit)
}

func newAccountCreator(d adminDeps) *admin.AccountCreator {
	return admin.NewAccountCreator(d.Directory, d.Hasher, d.Audit, warnNotifier{d.Log}, d.Tx, d.Clock).
		WithWebhooks(d.Events, d.Hook)
}

func newKeyLister(d adminDeps) *admin.KeyLister { return admin.NewKeyLister(d.Tokens) }

func newKeyRotator(d adminDeps, guard *admin.WriteGuard) *admin.KeyRotator {
	return admin.NewKeyRotator(d.Tokens, guard, warnNotifier{d.Log}, d.Clock)
}

func newAccountSessionListing(d adminDeps) *admin.AccountSessionListing {
	return admin.NewAccountSessionListing(d.Directory, d.Sessions, d.Clock)
}

func newSessionEnder(d adminDeps, guard *admin.WriteGuard) *admin.SessionEnder {
	return admin.NewSessionEnder(d.Directory, d.Sessions, guard, d.Audit, warnNotifier{d.Log}, d.Live, d.Tx, d.Clock)
}

func newFactorReader(d adminDeps, f accountFactorStores) *admin.FactorReader {
	return admin.NewFactorReader(d.Directory, f.TOTP, f.Passkeys)
}

// newIdentityListing reads the federation module's store, the one behind
// the owner's own GET /auth/identities.
func newIdentityListing(d adminDeps, store *persistence.FederationStore) *admin.IdentityListing {
	return admin.NewIdentityListing(d.Directory, store)
}

// adminInteractors are the admin interactors the routes serve.
type adminInteractors struct {
	fx.In
	Guard   *admin.WriteGuard
	Search  *admin.AccountSearch
	Reader  *admin.AccountReader
	Updater *admin.AccountUpdater
	Revoker *admin.SessionsRevoker
	Deleter *admin.AccountDeleter
	Events  *admin.EventListing
	Keys    *admin.KeyLister
	Rotator *admin.KeyRotator
	// The account's sessions, factors and identities, opened one by one.
	Sessions     *admin.AccountSessionListing
	SessionEnder *admin.SessionEnder
	Factors      *admin.FactorReader
	Identities   *admin.IdentityListing
}

func newAdminRoutes(a adminInteractors) *httpadapter.AdminInteractors {
	return &httpadapter.AdminInteractors{
		Guard: a.Guard, Search: a.Search, Reader: a.Reader, Updater: a.Updater, Revoker: a.Revoker,
		Deleter: a.Deleter, Events: a.Events, Keys: a.Keys, Rotator: a.Rotator,
		Sessions: a.Sessions, SessionEnder: a.SessionEnder, Factors: a.Factors,
		Identities: a.Identities,
	}
}
