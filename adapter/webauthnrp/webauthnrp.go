// Package webauthnrp is the WebAuthn relying party of the passkey use
// cases, on github.com/go-webauthn/webauthn: registration and discoverable
// (passwordless) login ceremonies, with user verification required, so
// every passkey login is two factors (possession plus PIN or biometric).
package webauthnrp

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/factors"
)

// Config names the relying party.
type Config struct {
	RPID    string
	RPName  string
	Origins []string
}

// RP runs ceremonies.
type RP struct{ w *webauthn.WebAuthn }

// errNoDomain answers every ceremony of an RP whose ID is an IP address:
// WebAuthn binds credentials to a domain, so browsers refuse such an RP.
var errNoDomain = fmt.Errorf("%w: passkeys need a domain name as relying party ID (WEBAUTHN_RP_ID or PUBLIC_URL)", mfa.ErrPasskeyInvalid)

// Available reports whether ceremonies can run (the RP ID is a domain).
func (r *RP) Available() bool { return r.w != nil }

var _ factors.WebAuthn = (*RP)(nil)

// New returns an RP for cfg.
//
// An RP ID that is an IP address (PUBLIC_URL such as http://127.0.0.1:3000
// in development) is no error: the service starts, and every ceremony
// answers PASSKEY_INVALID, since no browser would run one for it.
func New(cfg Config) (*RP, error) {
	if net.ParseIP(cfg.RPID) != nil {
		return &RP{}, nil
	}
	w, err := webauthn.New(&webauthn.Config{
		RPID: cfg.RPID, RPDisplayName: cfg.RPName, RPOrigins: cfg.Origins,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementRequired,
			UserVerification: protocol.VerificationRequired,
		},
		AttestationPreference: protocol.PreferNoAttestation,
	})
	if err != nil {
		return nil, fmt.Errorf("webauthn: %w", err)
	}
	return &RP{w: w}, nil
}

// account is a user as go-webauthn sees it. The user handle is the
// account's ID, so a discoverable login names its account directly.
type account struct {
	u     user.User
	creds []webauthn.Credential
}

func (a account) WebAuthnID() []byte                         { return []byte(a.u.ID) }
func (a account) WebAuthnName() string                       { return a.u.Email }
func (a account) WebAuthnDisplayName() string                { return displayName(a.u) }
func (a account) WebAuthnCredentials() []webauthn.Credential { return a.creds }

func displayName(u user.User) string {
	if u.Name != "" {
		return u.Name
	}
	return u.Email
}

func newAccount(u user.User, keys []mfa.Passkey) (account, error) {
	a := account{u: u}
	for _, k := range keys {
		var c webauthn.Credential
		if err := json.Unmarshal(k.Credential, &c); err != nil {
			return account{}, fmt.Errorf("webauthn: stored credential %s: %w", k.ID, err)
		}
		a.creds = append(a.creds, c)
	}
	return a, nil
}

// BeginRegistration implements factors.WebAuthn.
func (r *RP) BeginRegistration(u user.User, existing []mfa.Passkey) ([]byte, []byte, error) {
	if r.w == nil {
		return nil, nil, errNoDomain
	}
	a, err := newAccount(u, existing)
	if err != nil {
		return nil, nil, err
	}
	creation, session, err := r.w.BeginRegistration(a,
		webauthn.WithExclusions(webauthn.Credentials(a.creds).CredentialDescriptors()),
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired))
	if err != nil {
		return nil, nil, fmt.Errorf("webauthn: begin registration: %w", err)
	}
	return marshalPair(creation.Response, session)
}

// FinishRegistration implements factors.WebAuthn.
func (r *RP) FinishRegistration(u user.User, existing []mfa.Passkey, state, response []byte) ([]byte, []byte, error) {
	if r.w == nil {
		return nil, nil, errNoDomain
	}
	var session webauthn.SessionData
	if err := json.Unmarshal(state, &session); err != nil {
		return nil, nil, fmt.Errorf("webauthn: stored session: %w", err)
	}
	a, err := newAccount(u, existing)
	if err != nil {
		return nil, nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, nil, invalid(err)
	}
	cred, err := r.w.CreateCredential(a, session, parsed)
	if err != nil {
		return nil, nil, invalid(err)
	}
	if !cred.Flags.UserVerified {
		return nil, nil, mfa.ErrPasskeyInvalid
	}
	stored, err := json.Marshal(cred)
	if err != nil {
		return nil, nil, fmt.Errorf("webauthn: encode credential: %w", err)
	}
	return cred.ID, stored, nil
}

// BeginLogin implements factors.WebAuthn: a discoverable login, so the allow
// list is empty and the page need not know who is signing in.
func (r *RP) BeginLogin() ([]byte, []byte, error) {
	if r.w == nil {
		return nil, nil, errNoDomain
	}
	assertion, session, err := r.w.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, nil, fmt.Errorf("webauthn: begin login: %w", err)
	}
	return marshalPair(assertion.Response, session)
}

// FinishLogin implements factors.WebAuthn. The sign counter and the backup
// flags are updated in the returned credential; a counter that went
// backwards (a cloned authenticator) is refused.
func (r *RP) FinishLogin(state, response []byte, find func(credentialID, userHandle []byte) (user.User, []mfa.Passkey, error)) (mfa.Passkey, bool, error) {
	if r.w == nil {
		return mfa.Passkey{}, false, errNoDomain
	}
	var session webauthn.SessionData
	if err := json.Unmarshal(state, &session); err != nil {
		return mfa.Passkey{}, false, fmt.Errorf("webauthn: stored session: %w", err)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return mfa.Passkey{}, false, invalid(err)
	}
	var keys []mfa.Passkey
	var lookupErr error
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		u, ks, err := find(rawID, userHandle)
		if err != nil {
			lookupErr = err
			return nil, err
		}
		keys = ks
		return newAccount(u, ks)
	}
	_, cred, err := r.w.ValidatePasskeyLogin(handler, session, parsed)
	if lookupErr != nil && !errors.Is(lookupErr, mfa.ErrPasskeyInvalid) && !errors.Is(lookupErr, mfa.ErrNotFound) {
		return mfa.Passkey{}, false, lookupErr // the store failed: not the client's fault
	}
	if err != nil {
		return mfa.Passkey{}, false, invalid(err)
	}
	if cred.Authenticator.CloneWarning {
		return mfa.Passkey{}, false, fmt.Errorf("%w: sign counter went backwards", mfa.ErrPasskeyInvalid)
	}
	for _, k := range keys {
		if string(k.CredentialID) == string(cred.ID) {
			if k.Credential, err = json.Marshal(cred); err != nil {
				return mfa.Passkey{}, false, fmt.Errorf("webauthn: encode credential: %w", err)
			}
			return k, cred.Flags.UserVerified, nil
		}
	}
	return mfa.Passkey{}, false, mfa.ErrPasskeyInvalid
}

// invalid turns a ceremony failure into the client's error, keeping the
// library's reason for the log.
func invalid(err error) error { return fmt.Errorf("%w: %v", mfa.ErrPasskeyInvalid, err) }

func marshalPair(options any, session *webauthn.SessionData) ([]byte, []byte, error) {
	o, err := json.Marshal(options)
	if err != nil {
		return nil, nil, fmt.Errorf("webauthn: encode options: %w", err)
	}
	s, err := json.Marshal(session)
	if err != nil {
		return nil, nil, fmt.Errorf("webauthn: encode session: %w", err)
	}
	return o, s, nil
}
