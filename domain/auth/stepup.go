package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/domain/user"
)

// ErrFreshAuthRequired means a sensitive operation needs a recent password
// proof that the presented token does not carry.
var ErrFreshAuthRequired = errors.New("fresh authentication required")

// ErrForbidden means an authenticated caller who may not do this.
var ErrForbidden = errors.New("forbidden")

// ErrLastAdmin refuses a change that would leave no enabled administrator:
// taking the admin role from the last one, disabling or deleting them. It
// is an ErrForbidden.
var ErrLastAdmin = fmt.Errorf("%w: the last enabled administrator cannot lose the role, be disabled or be deleted", ErrForbidden)

// ErrSecondFactorRequired means an operation that changes second factors
// needs a token of assurance level aal2, because the account has one. It is
// an ErrFreshAuthRequired, so clients that know only that code still step up.
var ErrSecondFactorRequired = fmt.Errorf("%w: second factor (aal2) required", ErrFreshAuthRequired)

// ErrInvalidCredentials is the one answer for a wrong email or password.
var ErrInvalidCredentials = errors.New("invalid credentials")

// StepUpPolicy decides whether a token is recent enough for a sensitive
// operation, in the manner of OIDC's max_age and Kratos' privileged sessions.
type StepUpPolicy struct {
	// MaxAge is how long after a password proof sensitive operations stay allowed.
	MaxAge time.Duration
}

// Check returns nil when c was minted right after a password proof (fresh)
// and that proof is no older than MaxAge at now; otherwise
// ErrFreshAuthRequired. Both conditions are needed: "fresh" alone would let a
// token minted at login stay privileged for its whole lifetime if MaxAge is
// shorter, and a recent auth_time alone is carried by refreshed tokens too.
func (p StepUpPolicy) Check(c Claims, now time.Time) error {
	if !c.Fresh || c.AuthTime.IsZero() {
		return ErrFreshAuthRequired
	}
	age := now.Sub(c.AuthTime)
	if age > p.MaxAge {
		return ErrFreshAuthRequired
	}
	return nil
}

// Principal is the authenticated caller of a request, as established by the
// access-token check: the token's claims, already verified and live.
type Principal struct {
	Claims Claims
	// User is the caller's account as loaded with the session check; its
	// zero value means it was not loaded.
	User user.User
}

// UserID is the caller's user ID.
func (p Principal) UserID() string { return p.Claims.Subject }

// SessionID is the caller's session ID.
func (p Principal) SessionID() string { return p.Claims.SessionID }

// CheckAAL2 is Check plus, when the account has a second factor
// (hasFactor), an aal2 token: changing factors must take as much proof as
// the factors themselves give, or a stolen password would remove them.
func (p StepUpPolicy) CheckAAL2(c Claims, hasFactor bool, now time.Time) error {
	if err := p.Check(c, now); err != nil {
		return err
	}
	if hasFactor && c.AAL != AAL2 {
		return ErrSecondFactorRequired
	}
	return nil
}
