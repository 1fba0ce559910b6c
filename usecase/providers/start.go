package providers

import (
	"context"
	"crypto/rand"
	"encoding/base64"

	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/federation"
	"github.com/gatehouse/gatehouse/domain/user"
)

// random returns 256 random bits, base64url.
func random() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// flows is what both starters share: the provider and the stored state.
type flows struct {
	providers Providers
	store     FlowStore
	redirects federation.RedirectPolicy
	clock     Clock
}

// checkRedirect is the rule for the app's redirectTo, checked before
// anything is redirected.
func (f flows) checkRedirect(redirectTo string) *user.FieldError {
	switch {
	case redirectTo == "":
		return &user.FieldError{Field: "redirectTo", Message: "is required"}
	case !f.redirects.Allows(redirectTo):
		return &user.FieldError{Field: "redirectTo", Message: "is not an allowed redirect URL (OAUTH_REDIRECT_URLS)"}
	}
	return nil
}

// start stores a new flow and returns the provider's URL for it.
func (f flows) start(ctx context.Context, provider, redirectTo, challenge, linkUser string) (string, error) {
	p, ok := f.providers.Provider(provider)
	if !ok {
		return "", federation.ErrUnknownProvider
	}
	if e := f.checkRedirect(redirectTo); e != nil {
		return "", &user.ValidationError{Fields: []user.FieldError{*e}}
	}
	state, nonce, verifier := random(), random(), random()
	// The URL first: a provider whose discovery cannot be read stores
	// nothing.
	u, err := p.AuthURL(ctx, state, nonce, verifier)
	if err != nil {
		return "", err
	}
	now := f.clock.Now().UTC()
	err = f.store.CreateFlow(ctx, federation.Flow{
		StateHash: federation.Hash(state), Provider: provider, Nonce: nonce, Verifier: verifier,
		RedirectTo: redirectTo, CodeChallenge: challenge, LinkUserID: linkUser,
		CreatedAt: now, ExpiresAt: now.Add(federation.StateTTL),
	})
	if err != nil {
		return "", err
	}
	return u, nil
}

// StarterDeps are the ports and settings of a Starter.
type StarterDeps struct {
	Providers Providers
	Flows     FlowStore
	Redirects federation.RedirectPolicy
	Clock     Clock
}

// Starter begins a sign-in: the browser goes to the provider.
type Starter struct{ f flows }

// NewStarter returns a Starter.
func NewStarter(d StarterDeps) *Starter {
	return &Starter{flows{providers: d.Providers, store: d.Flows, redirects: d.Redirects, clock: d.Clock}}
}

// Start checks the app's redirectTo and codeChallenge, stores the flow and
// returns the provider's authorization URL. federation.ErrUnknownProvider,
// federation.ErrProviderUnavailable, or a validation error naming the parameter.
func (s *Starter) Start(ctx context.Context, provider, redirectTo, codeChallenge string) (string, error) {
	if _, ok := s.f.providers.Provider(provider); !ok {
		return "", federation.ErrUnknownProvider
	}
	var bad []user.FieldError
	if e := s.f.checkRedirect(redirectTo); e != nil {
		bad = append(bad, *e)
	}
	if !federation.ValidChallenge(codeChallenge) {
		bad = append(bad, user.FieldError{Field: "codeChallenge", Message: "must be the base64url SHA-256 of the verifier (43 characters)"})
	}
	if len(bad) > 0 {
		return "", &user.ValidationError{Fields: bad}
	}
	return s.f.start(ctx, provider, redirectTo, codeChallenge, "")
}

// LinkStarterDeps are the ports and settings of a LinkStarter.
type LinkStarterDeps struct {
	Providers Providers
	Flows     FlowStore
	Redirects federation.RedirectPolicy
	Clock     Clock
	Factors   SecondFactors
	StepUp    auth.StepUpPolicy
}

// LinkStarter begins linking an identity to the signed-in account.
type LinkStarter struct {
	f       flows
	factors SecondFactors
	stepUp  auth.StepUpPolicy
}

// NewLinkStarter returns a LinkStarter.
func NewLinkStarter(d LinkStarterDeps) *LinkStarter {
	return &LinkStarter{
		f:       flows{providers: d.Providers, store: d.Flows, redirects: d.Redirects, clock: d.Clock},
		factors: d.Factors, stepUp: d.StepUp,
	}
}

// Start needs a fresh token, aal2 when the account has TOTP (a new way in
// takes as much proof as the factors give), and returns the provider's
// URL; coming back links the identity to p's account.
func (l *LinkStarter) Start(ctx context.Context, p auth.Principal, provider, redirectTo string) (string, error) {
	now := l.f.clock.Now()
	if err := l.stepUp.Check(p.Claims, now); err != nil {
		return "", err
	}
	factors, err := l.factors.LoginFactors(ctx, p.UserID())
	if err != nil {
		return "", err
	}
	if err := l.stepUp.CheckAAL2(p.Claims, len(factors) > 0, now); err != nil {
		return "", err
	}
	return l.f.start(ctx, provider, redirectTo, "", p.UserID())
}
