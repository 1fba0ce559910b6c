package providers

import (
	"context"
	"errors"

	"github.com/gatehouse/gatehouse/domain/federation"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

// ExchangerDeps are the ports of an Exchanger.
type ExchangerDeps struct {
	Codes    CodeStore
	Sessions SessionStarter
	Clock    Clock
	// Observer is optional.
	Observer Observer
}

// Exchanger trades the app's one-time code and its PKCE verifier for a
// session: the usual token pair, or the second-factor challenge.
type Exchanger struct {
	codes    CodeStore
	sessions SessionStarter
	clock    Clock
	obs      Observer
}

// NewExchanger returns an Exchanger.
func NewExchanger(d ExchangerDeps) *Exchanger {
	return &Exchanger{codes: d.Codes, sessions: d.Sessions, clock: d.Clock, obs: observerOr(d.Observer)}
}

// Exchange takes the code (single use: a wrong verifier spends it too, so
// it cannot be guessed at) and signs in. federation.ErrFailed for an unknown,
// used or expired code or a wrong verifier; user.ErrDisabled for an
// account disabled meanwhile.
func (e *Exchanger) Exchange(ctx context.Context, code, verifier string, meta authn.Meta) (authn.TokenPair, error) {
	if code == "" || len(code) > 256 {
		return authn.TokenPair{}, federation.ErrFailed
	}
	c, err := e.codes.TakeCode(ctx, federation.Hash(code)) // one statement, single use
	if err != nil {
		return authn.TokenPair{}, err
	}
	if !e.clock.Now().Before(c.ExpiresAt) || !federation.VerifierMatches(verifier, c.CodeChallenge) {
		e.obs.FederatedSignIn(c.Provider, OutcomeFailed)
		return authn.TokenPair{}, federation.ErrFailed
	}
	pair, err := e.sessions.SignIn(ctx, c.UserID, c.Provider, meta)
	switch {
	case errors.Is(err, user.ErrNotFound):
		e.obs.FederatedSignIn(c.Provider, OutcomeFailed)
		return authn.TokenPair{}, federation.ErrFailed
	case errors.Is(err, user.ErrDisabled):
		e.obs.FederatedSignIn(c.Provider, OutcomeDisabled)
		return authn.TokenPair{}, err
	case err != nil:
		return authn.TokenPair{}, err
	}
	e.obs.FederatedSignIn(c.Provider, OutcomeSuccess)
	return pair, nil
}
