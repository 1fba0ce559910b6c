package authn

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/domain/webhook"
)

// RegisterInput is a new account's data.
type RegisterInput struct {
	Credentials
	Name string
	// Locale is the language of the account's mails (the adapter matched
	// it against the supported ones); empty means user.DefaultLocale.
	Locale string
}

// RegistrarDeps are the ports and settings of a Registrar.
type RegistrarDeps struct {
	Users    UserCreator
	Hasher   PasswordHasher
	Gate     *PasswordGate
	Sessions *SessionOpener
	Audit    AuditLog
	Tx       Transactor
	Clock    Clock
	// Mail is optional; without it registration queues no mail.
	Mail AccountMail
	// RequireVerifiedEmail makes registration start no session (see
	// RegisterPending): accounts must verify their address first.
	RequireVerifiedEmail bool
	// Events and Hook are optional (webhooks and the before-signup hook).
	Events Events
	Hook   SignupHook
}

// Registrar creates accounts: with their first session (Register), or,
// when addresses must be verified first, without one (RegisterPending).
// The account, its verification mail and its session commit together.
type Registrar struct {
	users    UserCreator
	hasher   PasswordHasher
	gate     *PasswordGate
	sessions *SessionOpener
	rec      recorder
	tx       Transactor
	clock    Clock
	mail     AccountMail
	verify   bool
	events   Events
	hook     SignupHook
}

// NewRegistrar returns a Registrar.
func NewRegistrar(d RegistrarDeps) *Registrar {
	return &Registrar{
		users: d.Users, hasher: d.Hasher, gate: d.Gate, sessions: d.Sessions, rec: recorder{d.Audit},
		tx: d.Tx, clock: d.Clock, mail: d.Mail, verify: d.RequireVerifiedEmail,
		events: d.Events, hook: d.Hook,
	}
}

// Register creates an account and its first session.
func (r *Registrar) Register(ctx context.Context, in RegisterInput, meta Meta) (TokenPair, error) {
	return r.register(ctx, in, meta, true)
}

// register creates an account, queues its verification mail and, with
// withSession, starts its first session, all in one transaction.
func (r *Registrar) register(ctx context.Context, in RegisterInput, meta Meta, withSession bool) (TokenPair, error) {
	meta = meta.clean()
	email, name, err := user.CheckNewAccount(in.Email, in.Password, in.Name)
	if err != nil {
		return TokenPair{}, err
	}
	// Hashing is costly and EMAIL_TAKEN tells accounts apart: both go
	// through the account throttle, a taken address counting as a failure.
	keys := gateKeys(email, meta.IP)
	if err := r.gate.admit(ctx, keys); err != nil {
		return TokenPair{}, err
	}
	// Asked before anything is written, for a taken address too (so the
	// answer tells no accounts apart); a refusal or a silent hook creates
	// nothing.
	if err := beforeSignup(ctx, r.hook, SignupAttempt{Email: email, Name: name, Method: webhook.MethodPassword, IP: meta.IP}); err != nil {
		r.gate.undoAttempt(ctx, keys)
		return TokenPair{}, err
	}
	hash, err := r.hasher.Hash(ctx, in.Password)
	if err != nil {
		r.gate.undoAttempt(ctx, keys)
		return TokenPair{}, fmt.Errorf("register: hash: %w", err)
	}
	now := nowUTC(r.clock)
	u := user.User{
		ID: id.New(), Email: email, Name: name, Roles: []string{user.RoleUser},
		PasswordHash: hash, Locale: in.Locale, CreatedAt: now, UpdatedAt: now,
	}
	if u.Locale == "" {
		u.Locale = user.DefaultLocale
	}
	var pair TokenPair
	err = r.tx.WithinTx(ctx, func(ctx context.Context) error {
		if err := r.users.Create(ctx, u); err != nil {
			return err
		}
		if err := publish(ctx, r.events, webhook.NewUserCreated(id.New(), u, webhook.MethodPassword, now)); err != nil {
			return err
		}
		if r.mail != nil {
			if err := r.mail.Registered(ctx, u, meta.IP); err != nil {
				return err
			}
		}
		if !withSession {
			return nil
		}
		var err error
		pair, err = r.sessions.open(ctx, u, now, meta, passwordOnly)
		if err != nil {
			return err
		}
		// Registration proves the password and starts a session: the user's
		// event list starts with it.
		return r.rec.record(ctx, audit.LoginSucceeded, u.ID, pair.Session.ID, meta, now)
	})
	if err != nil {
		if !errors.Is(err, user.ErrEmailTaken) {
			r.gate.undoAttempt(ctx, keys)
		}
		return TokenPair{}, err
	}
	_ = r.gate.clear(ctx, keys)
	return pair, nil
}

// VerificationRequired reports whether accounts must verify their address
// before they can log in; registration then uses RegisterPending.
func (r *Registrar) VerificationRequired() bool { return r.verify }

// RegisterPending creates an account without starting a session, for when
// the address must be verified first. It answers the same for a new and an
// already registered address, after the same hashing; the owner of an
// existing one is told by mail instead.
func (r *Registrar) RegisterPending(ctx context.Context, in RegisterInput, meta Meta) error {
	_, err := r.register(ctx, in, meta, false)
	if !errors.Is(err, user.ErrEmailTaken) {
		return err
	}
	email, _ := user.NormalizeEmail(in.Email)
	if r.mail == nil {
		return nil
	}
	return r.tx.WithinTx(ctx, func(ctx context.Context) error {
		return r.mail.RegisteredAgain(ctx, email, meta.IP)
	})
}
