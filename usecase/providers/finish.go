package providers

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/federation"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/domain/webhook"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

// FinisherDeps are the ports of a Finisher.
type FinisherDeps struct {
	Providers  Providers
	Flows      FlowStore
	Codes      CodeStore
	Identities IdentityStore
	Accounts   Accounts
	Audit      AuditLog
	Tx         Transactor
	Clock      Clock
	// Hook is optional: the before-signup hook.
	Hook authn.SignupHook
	// Observer is optional.
	Observer Observer
	// Events is optional: user.created and identity.linked go to the
	// webhook outbox in the transaction of the change.
	Events Events
}

// Finisher handles the provider's callback: it takes the flow's state,
// has the adapter exchange and check the provider's answer, decides the
// account (federation.Decide) and sends the browser back to the app with a
// one-time code, a linked notice, or an error code, all in the fragment.
type Finisher struct {
	providers  Providers
	flows      FlowStore
	codes      CodeStore
	identities IdentityStore
	accounts   Accounts
	audit      AuditLog
	tx         Transactor
	clock      Clock
	hook       authn.SignupHook
	obs        Observer
	events     Events
}

// NewFinisher returns a Finisher.
func NewFinisher(d FinisherDeps) *Finisher {
	return &Finisher{
		providers: d.Providers, flows: d.Flows, codes: d.Codes, identities: d.Identities,
		accounts: d.Accounts, audit: d.Audit, tx: d.Tx, clock: d.Clock, hook: d.Hook,
		obs: observerOr(d.Observer), events: d.Events,
	}
}

// Callback is what the provider sent the browser back with.
type Callback struct {
	Provider string
	State    string
	Code     string
	// Error is the provider's error parameter (access_denied and others).
	Error string
	// IP is the client's address, for the before-signup hook and events.
	IP, UserAgent string
}

// Finish returns the URL to send the browser to. Its error is set only
// when there is no trusted place to send it (federation.ErrFailed: an unknown,
// used or expired state, or one of another provider) or the store
// failed; everything else travels in the returned URL's fragment.
func (f *Finisher) Finish(ctx context.Context, cb Callback) (string, error) {
	if cb.State == "" || len(cb.State) > 256 {
		return "", federation.ErrFailed
	}
	now := f.clock.Now().UTC()
	// One statement takes the flow (of two callbacks with one state exactly
	// one gets it): no transaction of its own is needed.
	flow, err := f.flows.TakeFlow(ctx, federation.Hash(cb.State))
	if err != nil {
		return "", err
	}
	if flow.Provider != cb.Provider || !now.Before(flow.ExpiresAt) {
		return "", federation.ErrFailed
	}
	back := func(key, value string) (string, error) { return withFragment(flow.RedirectTo, key, value), nil }
	fail := func(code, outcome string) (string, error) {
		f.obs.FederatedSignIn(flow.Provider, outcome)
		return back("error", code)
	}
	p, ok := f.providers.Provider(flow.Provider)
	if !ok {
		return fail(federation.CodeFailed, OutcomeFailed)
	}
	if cb.Error != "" {
		return fail(federation.CodeDenied, OutcomeDenied)
	}
	if cb.Code == "" {
		return fail(federation.CodeFailed, OutcomeFailed)
	}
	claims, err := p.Identify(ctx, cb.Code, flow.Verifier, flow.Nonce)
	if err != nil {
		if errors.Is(err, federation.ErrFailed) || errors.Is(err, federation.ErrProviderUnavailable) {
			return fail(federation.CodeFailed, OutcomeFailed)
		}
		return "", err
	}
	if flow.LinkUserID != "" {
		return f.link(ctx, flow, claims, now)
	}
	return f.signIn(ctx, flow, claims, cb, now)
}

// link attaches the identity to the account that began the flow.
func (f *Finisher) link(ctx context.Context, flow federation.Flow, c federation.Claims, now time.Time) (string, error) {
	err := f.tx.WithinTx(ctx, func(ctx context.Context) error {
		have, err := f.identities.BySubject(ctx, flow.Provider, c.Subject)
		switch {
		case err == nil && have.UserID == flow.LinkUserID:
			return nil // linked already: nothing changes
		case err == nil:
			return federation.ErrIdentityTaken
		case !errors.Is(err, federation.ErrIdentityNotFound):
			return err
		}
		if _, err := f.accounts.ByID(ctx, flow.LinkUserID); err != nil {
			return err
		}
		return f.linkIdentity(ctx, flow.LinkUserID, flow.Provider, c, now)
	})
	switch {
	case errors.Is(err, federation.ErrIdentityTaken):
		f.obs.FederatedSignIn(flow.Provider, OutcomeIdentityTaken)
		return withFragment(flow.RedirectTo, "error", federation.CodeIdentityTaken), nil
	case errors.Is(err, user.ErrNotFound):
		f.obs.FederatedSignIn(flow.Provider, OutcomeFailed)
		return withFragment(flow.RedirectTo, "error", federation.CodeFailed), nil
	case err != nil:
		return "", err
	}
	f.obs.FederatedSignIn(flow.Provider, OutcomeLinked)
	return withFragment(flow.RedirectTo, "linked", flow.Provider), nil
}

// linkIdentity stores the identity and its event, in the caller's
// transaction.
func (f *Finisher) linkIdentity(ctx context.Context, userID, provider string, c federation.Claims, now time.Time) error {
	if err := f.identities.Link(ctx, federation.Identity{
		ID: id.New(), UserID: userID, Provider: provider, Subject: c.Subject,
		Email: strings.TrimSpace(c.Email), CreatedAt: now,
	}); err != nil {
		return err
	}
	if err := f.audit.Append(ctx, audit.Event{ID: id.New(), UserID: userID, Type: audit.IdentityLinked,
		CreatedAt: now, Provider: provider}); err != nil {
		return err
	}
	return publish(ctx, f.events, webhook.NewIdentityChanged(id.New(), userID, provider, true, now))
}

// publish writes e to the outbox when one is set.
func publish(ctx context.Context, ev Events, e webhook.Event) error {
	if ev == nil {
		return nil
	}
	return ev.Publish(ctx, e)
}

// signIn decides the account and issues the app's code.
func (f *Finisher) signIn(ctx context.Context, flow federation.Flow, c federation.Claims, cb Callback, now time.Time) (string, error) {
	code := random()
	decision, err := f.decideAndIssue(ctx, flow, c, cb, now, code)
	switch {
	case errors.Is(err, user.ErrDisabled):
		f.obs.FederatedSignIn(flow.Provider, OutcomeDisabled)
		return withFragment(flow.RedirectTo, "error", federation.CodeUserDisabled), nil
	case errors.Is(err, errSignupRejected):
		f.obs.FederatedSignIn(flow.Provider, OutcomeRejected)
		return withFragment(flow.RedirectTo, "error", federation.CodeSignupDenied), nil
	case errors.Is(err, errHookUnavailable):
		f.obs.FederatedSignIn(flow.Provider, OutcomeHookUnavailable)
		return withFragment(flow.RedirectTo, "error", federation.CodeUnavailable), nil
	case err != nil:
		return "", err
	}
	switch decision {
	case federation.AccountExists:
		f.obs.FederatedSignIn(flow.Provider, OutcomeAccountExists)
		return withFragment(flow.RedirectTo, "error", federation.CodeAccountExists), nil
	case federation.EmailRequired:
		f.obs.FederatedSignIn(flow.Provider, OutcomeEmailRequired)
		return withFragment(flow.RedirectTo, "error", federation.CodeEmailRequired), nil
	}
	// Counted as a success when the app exchanges the code.
	return withFragment(flow.RedirectTo, "code", code), nil
}

// errSignupRejected is the before-signup hook's refusal and
// errHookUnavailable its silence (fail closed), carried out of the
// transaction.
var (
	errSignupRejected  = errors.New("signup rejected")
	errHookUnavailable = errors.New("before-signup hook unavailable")
)

// askHook asks the before-signup hook, when set, about a first sign-in
// through provider: nil, errSignupRejected or errHookUnavailable (any
// answer other than a refusal fails closed).
func (f *Finisher) askHook(ctx context.Context, email, name, provider, ip string) error {
	if f.hook == nil {
		return nil
	}
	err := f.hook.BeforeSignup(ctx, authn.SignupAttempt{Email: email, Name: name, Method: webhook.MethodOAuth,
		Provider: provider, IP: ip})
	var refused *webhook.RejectedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &refused):
		return errSignupRejected
	default:
		return errHookUnavailable
	}
}

// situation reads what federation.Decide needs: the identity, if linked, and the
// account it or the address leads to.
func (f *Finisher) situation(ctx context.Context, provider string, c federation.Claims, email string, emailOK bool) (federation.Situation, user.User, error) {
	s := federation.Situation{Claims: c}
	var account user.User
	have, err := f.identities.BySubject(ctx, provider, c.Subject)
	switch {
	case err == nil:
		s.Linked = true
	case !errors.Is(err, federation.ErrIdentityNotFound):
		return s, account, err
	}
	if s.Linked {
		account, err = f.accounts.ByID(ctx, have.UserID)
		return s, account, err
	}
	if emailOK {
		account, err = f.accounts.ByEmail(ctx, email)
		switch {
		case err == nil:
			s.AccountExists, s.AccountVerified = true, account.EmailVerified
		case !errors.Is(err, user.ErrNotFound):
			return s, account, err
		}
	}
	return s, account, nil
}

// decideAndIssue applies federation.Decide in one transaction: reads, the new
// account or link, and the app's code commit together.
func (f *Finisher) decideAndIssue(ctx context.Context, flow federation.Flow, c federation.Claims, cb Callback, now time.Time, code string) (federation.Decision, error) {
	email, emailOK := user.NormalizeEmail(c.Email)
	if !emailOK {
		c.Email = ""
	}
	// The hook is asked before the transaction, so a slow hook holds no
	// locks: from a first read, repeated in the transaction.
	asked := false
	if f.hook != nil {
		s, _, err := f.situation(ctx, flow.Provider, c, email, emailOK)
		if err != nil {
			return 0, err
		}
		if federation.Decide(s) == federation.SignUp {
			if err := f.askHook(ctx, email, c.Name, flow.Provider, cb.IP); err != nil {
				return 0, err
			}
			asked = true
		}
	}
	var decision federation.Decision
	err := f.tx.WithinTx(ctx, func(ctx context.Context) error {
		s, account, err := f.situation(ctx, flow.Provider, c, email, emailOK)
		if err != nil {
			return err
		}
		decision = federation.Decide(s)
		switch decision {
		case federation.AccountExists, federation.EmailRequired:
			return nil
		case federation.SignUp:
			if !asked {
				// The account or identity read first went away meanwhile:
				// asked here, rarely.
				if err := f.askHook(ctx, email, c.Name, flow.Provider, cb.IP); err != nil {
					return err
				}
			}
			account = user.User{
				ID: id.New(), Email: email, Name: displayName(c.Name), Roles: []string{user.RoleUser},
				EmailVerified: c.EmailVerified, CreatedAt: now, UpdatedAt: now,
			}
			if err := f.accounts.Create(ctx, account); err != nil {
				return err
			}
			if err := publish(ctx, f.events, webhook.NewUserCreated(id.New(), account, webhook.MethodOAuth, now)); err != nil {
				return err
			}
			if err := f.linkIdentity(ctx, account.ID, flow.Provider, c, now); err != nil {
				return err
			}
		case federation.LinkAndSignIn:
			if err := account.CanSignIn(); err != nil {
				return err
			}
			if err := f.linkIdentity(ctx, account.ID, flow.Provider, c, now); err != nil {
				return err
			}
		}
		if err := account.CanSignIn(); err != nil {
			return err
		}
		return f.codes.CreateCode(ctx, federation.AppCode{
			Hash: federation.Hash(code), UserID: account.ID, Provider: flow.Provider,
			CodeChallenge: flow.CodeChallenge, CreatedAt: now, ExpiresAt: now.Add(federation.CodeTTL),
		})
	})
	if errors.Is(err, user.ErrEmailTaken) {
		// Another sign-up of the address committed first: it is an
		// account this identity is not linked to.
		return federation.AccountExists, nil
	}
	return decision, err
}

// displayName makes the provider's name fit the account's rules: no
// control characters, at most user.MaxNameLength characters.
func displayName(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	if r := []rune(s); len(r) > user.MaxNameLength {
		s = string(r[:user.MaxNameLength])
	}
	return s
}

// withFragment is redirectTo with key=value as its fragment: the answer
// never reaches a server log through a Referer or the app's server.
func withFragment(redirectTo, key, value string) string {
	return redirectTo + "#" + key + "=" + url.QueryEscape(value)
}
