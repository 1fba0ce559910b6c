package authn

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/domain/throttle"
	"github.com/gatehouse/gatehouse/domain/user"
)

// PasswordGateDeps are the ports and policies of a PasswordGate.
type PasswordGateDeps struct {
	// Throttle is optional; without it password attempts are not throttled.
	Throttle LoginThrottle
	Tx       Transactor
	Clock    Clock
	// Observer is optional; it is told of refused attempts.
	Observer Observer
	// ClientPolicy applies per account and client (IP, IPv6 /64), so an
	// attacker elsewhere cannot lock the owner out; AccountPolicy, when its
	// BackoffAfter is set, applies per account across every client, as a
	// much higher ceiling that slows distributed guessing.
	ClientPolicy  throttle.Policy
	AccountPolicy throttle.Policy
	// SharedPolicies are the policies of other records kept in the same
	// store (the email-change limit): the purge keeps every record for as
	// long as the longest-lived policy needs it.
	SharedPolicies []throttle.Policy
	// Devices, when set, opens the known-device proofs clients present
	// (issued by the SessionOpener holding the same codec).
	Devices *throttle.DeviceCodec
}

// PasswordGate is the per-account throttle every password proof goes
// through: login, registration (hashing is costly and EMAIL_TAKEN tells
// accounts apart), the second factor, reauthentication, and other
// packages' password checks (a password change or reset, through
// AdmitPassword and its two outcomes). An attempt is counted before the
// secret is checked and taken back once it is proven, so parallel guesses
// cannot slip past the count. Keys are the normalized email as typed,
// whether or not an account has it, so answers never tell existing accounts
// from unknown ones.
//
// The account-wide ceiling is what anyone can drive up, so it must not
// lock the owner out: a client that proves it signed in to the account
// before (a known device: a proof issued at a sign-in, bound to the
// account's current credentials) is counted per device instead, with the
// client policy, and neither counts in nor waits for the ceiling; so is a
// step-up, whose session is such a proof. A reset link proves the mailbox
// and goes through ClientOnly, without the ceiling.
//
// A nil *PasswordGate, or one without a Throttle, admits everything.
type PasswordGate struct {
	store                 LoginThrottle
	tx                    Transactor
	clock                 Clock
	obs                   Observer
	devices               *throttle.DeviceCodec
	client, accountPolicy throttle.Policy
	// retention is how long after its last failure any record of the store
	// can still matter.
	retention time.Duration
}

// NewPasswordGate returns a PasswordGate.
func NewPasswordGate(d PasswordGateDeps) *PasswordGate {
	return &PasswordGate{
		store: d.Throttle, tx: d.Tx, clock: d.Clock, obs: observerOr(d.Observer), devices: d.Devices,
		client: d.ClientPolicy, accountPolicy: d.AccountPolicy,
		retention: retention(append([]throttle.Policy{d.ClientPolicy, d.AccountPolicy}, d.SharedPolicies...)),
	}
}

// retention is the longest a record of any of the policies matters after
// its last failure: a window plus a lockout.
func retention(policies []throttle.Policy) time.Duration {
	var longest time.Duration
	for _, p := range policies {
		longest = max(longest, p.Window+p.Lockout)
	}
	return longest
}

// throttleKeys name the throttle records of a password attempt: the account
// (by normalized email, whether or not an account has it, so answers never
// tell existing accounts from unknown ones) together with the client, and
// the account alone ("" for an attempt the ceiling does not apply to).
// forgive, when set, is one more record a success clears: the client's, for
// an attempt counted for a known device.
type throttleKeys struct{ client, account, forgive string }

func gateKeys(email, ip string) throttleKeys {
	return throttleKeys{
		client:  "account:" + email + "|client:" + throttle.ClientKey(ip),
		account: "account:" + email,
	}
}

// deviceKeys name the record of a known device's attempts on the account
// (device: a device proof's ID, or "session:" and a session ID): counted
// with the client policy, outside the account-wide ceiling.
// A success forgives the client's failures too, as a success counted for
// the client would.
func deviceKeys(email, device, ip string) throttleKeys {
	return throttleKeys{client: "account:" + email + "|device:" + device, forgive: gateKeys(email, ip).client}
}

// keysFor are the throttle keys of an attempt on u's account from the
// client of meta: its known device's, when it presents a valid proof of a
// sign-in to u at u's current credentials, else the client's and the
// account's.
func (g *PasswordGate) keysFor(u user.User, meta Meta) throttleKeys {
	if g != nil && g.devices != nil {
		now := nowUTC(g.clock)
		for _, raw := range meta.Devices {
			if d, ok := g.devices.Open(raw, now); ok && d.UserID == u.ID && d.CredentialVersion == u.CredentialVersion {
				return deviceKeys(u.Email, d.ID, meta.IP)
			}
		}
	}
	return gateKeys(u.Email, meta.IP)
}

// knowsDevices reports whether meta carries proofs this gate could honour.
func (g *PasswordGate) knowsDevices(meta Meta) bool {
	return g != nil && g.devices != nil && len(meta.Devices) > 0
}

// ClientOnly returns a gate sharing g's store and counts whose attempts
// skip the account-wide ceiling: for proofs that carry a possession of
// their own (a reset link proves the mailbox), which back-off caused by
// other clients must never slow. Each client's own count still applies.
func (g *PasswordGate) ClientOnly() *PasswordGate {
	if g == nil {
		return nil
	}
	c := *g
	c.accountPolicy = throttle.Policy{}
	return &c
}

func (g *PasswordGate) off() bool { return g == nil || g.store == nil }

// accountWide reports whether the all-clients ceiling applies to k.
func (g *PasswordGate) accountWide(k throttleKeys) bool {
	return g.accountPolicy.BackoffAfter > 0 && k.account != ""
}

// admit asks the throttle whether this attempt may proceed and, if so,
// counts it as a failure, for this client and for the account, before the
// password is checked. Counting first means parallel guesses cannot all slip
// past the check before any failure is recorded; a success takes the counts
// back. Both records are updated in one transaction, always in the same
// order, so a refusal by either counts nothing.
func (g *PasswordGate) admit(ctx context.Context, k throttleKeys) error {
	if g.off() {
		return nil
	}
	now := nowUTC(g.clock)
	step := func(ctx context.Context, key string, p throttle.Policy) error {
		return g.store.Update(ctx, key, func(st *throttle.State) error {
			if wait, ok := p.Admit(*st, now); !ok {
				return &throttle.LimitedError{RetryAfter: wait}
			}
			*st = p.Fail(*st, now)
			return nil
		})
	}
	err := g.tx.WithinTx(ctx, func(ctx context.Context) error {
		if err := step(ctx, k.client, g.client); err != nil {
			return err
		}
		if g.accountWide(k) {
			return step(ctx, k.account, g.accountPolicy)
		}
		return nil
	})
	var limited *throttle.LimitedError
	if errors.As(err, &limited) {
		g.obs.LoginThrottled()
	}
	return err
}

// undoAttempt takes back the failure admit counted when the password could
// not be checked at all (store or hash unavailable). Best effort: with the
// store down it fails too, and the count then stands.
func (g *PasswordGate) undoAttempt(ctx context.Context, k throttleKeys) {
	if g.off() {
		return
	}
	// The request's context may be what ran out; the undo gets a moment of
	// its own.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	_ = g.tx.WithinTx(ctx, func(ctx context.Context) error {
		if err := g.undo(ctx, k.client, g.client); err != nil {
			return err
		}
		if g.accountWide(k) {
			return g.undo(ctx, k.account, g.accountPolicy)
		}
		return nil
	})
}

func (g *PasswordGate) undo(ctx context.Context, key string, p throttle.Policy) error {
	return g.store.Update(ctx, key, func(st *throttle.State) error {
		*st = p.Undo(*st)
		return nil
	})
}

// undoTimeout bounds undoAttempt.
const undoTimeout = 2 * time.Second

// clear forgets this client's failures after a successful proof, and takes
// back the attempt's count from the account-wide record (whose other
// failures, from other clients, stand).
func (g *PasswordGate) clear(ctx context.Context, k throttleKeys) error {
	if g.off() {
		return nil
	}
	return g.tx.WithinTx(ctx, func(ctx context.Context) error {
		for _, key := range []string{k.client, k.forgive} {
			if key == "" {
				continue
			}
			if err := g.store.Update(ctx, key, func(st *throttle.State) error {
				*st = throttle.State{}
				return nil
			}); err != nil {
				return err
			}
		}
		if g.accountWide(k) {
			return g.undo(ctx, k.account, g.accountPolicy)
		}
		return nil
	})
}

// purgeStale deletes throttle records that no longer matter: a record
// matters for at most a window plus a lockout after its last failure, under
// the longest-lived policy that shares the store.
func (g *PasswordGate) purgeStale(ctx context.Context) (int, error) {
	if g.off() {
		return 0, nil
	}
	return g.store.PurgeStale(ctx, nowUTC(g.clock).Add(-g.retention))
}

// AdmitPassword counts a password proof of another use case (a password
// change) for the account with email from ip, as a login attempt counts,
// before the password is checked; throttle.LimitedError when refused. The
// caller reports the outcome with PasswordProven, or PasswordUnchecked when
// the password could not be checked at all; a wrong password needs nothing
// more: it stays counted as a failure.
func (g *PasswordGate) AdmitPassword(ctx context.Context, email, ip string) error {
	return g.admit(ctx, gateKeys(email, ip))
}

// PasswordProven clears what AdmitPassword counted.
func (g *PasswordGate) PasswordProven(ctx context.Context, email, ip string) error {
	return g.clear(ctx, gateKeys(email, ip))
}

// PasswordUnchecked takes back what AdmitPassword counted.
func (g *PasswordGate) PasswordUnchecked(ctx context.Context, email, ip string) {
	g.undoAttempt(ctx, gateKeys(email, ip))
}
