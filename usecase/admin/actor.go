package admin

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/user"
)

// ReasonAdmin is the revoke reason of sessions an administrator ended.
const ReasonAdmin = "admin"

// ReasonDisabled is the revoke reason of the sessions a disable ended.
const ReasonDisabled = "disabled"

// MaxPage bounds a page of search results or events.
const MaxPage = 100

// Actor is who acts: an administrator signed in over HTTP, or the command
// line (CLI true), which has database access and no account.
type Actor struct {
	Principal auth.Principal
	CLI       bool
	IP        string
	UserAgent string
}

// CLIActor is the actor of the command line.
var CLIActor = Actor{CLI: true}

func (a Actor) id() string {
	if a.CLI {
		return audit.ActorCLI
	}
	return a.Principal.UserID()
}

// authorize admits the command line and callers whose account (as loaded
// with their session, so a removed role counts at once) holds admin.
func (a Actor) authorize() error {
	if a.CLI || a.Principal.User.HasRole(user.RoleAdmin) {
		return nil
	}
	return auth.ErrForbidden
}

// WriteGuard is the rule of every administrative write, shared by the
// interactors that write.
type WriteGuard struct {
	stepUp  *auth.StepUpPolicy
	factors Factors
	clock   Clock
}

// NewWriteGuard returns a WriteGuard. stepUp, when not nil, is the
// freshness rule of the writes for signed-in callers, so any caller gets
// it, not only the routes that declare it (the command line has no token
// and is exempt). factors, when set with stepUp, adds aal2 to that rule for
// an administrator whose account has a second factor: a stolen password
// (or a session that never proved the factor) must not be enough to change
// other accounts.
func NewWriteGuard(stepUp *auth.StepUpPolicy, factors Factors, clock Clock) *WriteGuard {
	return &WriteGuard{stepUp: stepUp, factors: factors, clock: clock}
}

// AuthorizeWrite applies the rule of every administrative write to a: the
// command line, or an administrator with a fresh token, aal2 when their
// account has a second factor. The writes check it themselves; the routes
// call it first, to answer before reading a body.
func (g *WriteGuard) AuthorizeWrite(ctx context.Context, a Actor) error {
	if err := a.authorize(); err != nil {
		return err
	}
	if a.CLI || g.stepUp == nil {
		return nil
	}
	now := g.clock.Now().UTC()
	if err := g.stepUp.Check(a.Principal.Claims, now); err != nil {
		return err
	}
	if g.factors == nil {
		return nil
	}
	has, err := g.factors.HasSecondFactor(ctx, a.Principal.UserID())
	if err != nil {
		return err
	}
	return g.stepUp.CheckAAL2(a.Principal.Claims, has, now)
}

// journal records administrative actions as security events and tells the
// notifier (optional) of them once committed.
type journal struct {
	log      EventRecorder
	notifier Notifier
}

func (j journal) event(a Actor, t audit.Type, userID string, now time.Time) audit.Event {
	return audit.Event{ID: id.New(), UserID: userID, Type: t, IP: a.IP, UserAgent: a.UserAgent,
		CreatedAt: now, ActorID: a.id()}
}

func (j journal) append(ctx context.Context, events ...audit.Event) error {
	for _, e := range events {
		if err := j.log.Append(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

func (j journal) notify(ctx context.Context, events ...audit.Event) {
	if j.notifier == nil {
		return
	}
	for _, e := range events {
		j.notifier.AdminAction(ctx, e)
	}
}

// forget evicts userID from this instance's session cache (cache may be
// nil): disabled, its roles changed or its sessions ended, what the cache
// holds is stale.
func forget(cache SessionCache, userID string) {
	if cache != nil {
		cache.ForgetUser(userID)
	}
}

// View is an account as administrators see it.
type View struct {
	user.User
	Facts
}

// Page is one page of a search.
type Page struct {
	Items      []View
	NextCursor string
}

// viewer adds their facts to accounts.
type viewer struct {
	facts FactsReader
	clock Clock
}

func (v viewer) views(ctx context.Context, list []user.User) ([]View, error) {
	ids := make([]string, len(list))
	for i, u := range list {
		ids[i] = u.ID
	}
	facts, err := v.facts.Facts(ctx, ids, v.clock.Now().UTC())
	if err != nil {
		return nil, err
	}
	out := make([]View, len(list))
	for i, u := range list {
		out[i] = View{User: u, Facts: facts[u.ID]}
	}
	return out, nil
}

func (v viewer) view(ctx context.Context, u user.User) (View, error) {
	list, err := v.views(ctx, []user.User{u})
	if err != nil {
		return View{}, err
	}
	return list[0], nil
}

// AuthorizeRead applies the rule of every administrative read to a: the
// command line, or a caller whose current account holds the admin role.
func (g *WriteGuard) AuthorizeRead(_ context.Context, a Actor) error { return a.authorize() }
