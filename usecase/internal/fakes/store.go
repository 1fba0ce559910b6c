package fakes

import (
	"context"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/account"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

// state is everything a Store keeps. Values are stored by value and their
// slices are copied on the way in and out, so a snapshot is a copy of the maps.
type state struct {
	users    map[string]user.User // by ID
	emails   map[string]string    // normalized email -> user ID
	sessions map[string]storedSession
	legacy   map[[32]byte]legacyToken
	events   []storedEvent
}

type storedSession struct {
	s   session.Session
	seq int64 // insertion order, to break CreatedAt ties
}

type storedEvent struct {
	e   audit.Event
	seq int64
}

func newState() state {
	return state{
		users:    map[string]user.User{},
		emails:   map[string]string{},
		sessions: map[string]storedSession{},
		legacy:   map[[32]byte]legacyToken{},
	}
}

func (st state) clone() state {
	return state{
		users:    maps.Clone(st.users),
		emails:   maps.Clone(st.emails),
		sessions: maps.Clone(st.sessions),
		legacy:   maps.Clone(st.legacy),
		events:   slices.Clone(st.events),
	}
}

// Store is the in-memory database behind the fakes. Use NewStore.
type Store struct {
	// txMu serialises transactions (and autocommit calls).
	txMu sync.Mutex
	// mu guards st for the inspection helpers and the repositories.
	mu  sync.Mutex
	st  state
	seq int64

	rotations     atomic.Int64
	fastRotations atomic.Int64
	locks         atomic.Int64
	commits       atomic.Int64
	rollbacks     atomic.Int64

	appendErr atomic.Pointer[error]

	// Users, Sessions and Audit are the repositories over this store.
	Users    *Users
	Sessions *Sessions
	Audit    *Audit
}

// NewStore returns an empty store.
func NewStore() *Store {
	s := &Store{st: newState()}
	s.Users = &Users{s: s}
	s.Sessions = &Sessions{s: s}
	s.Audit = &Audit{s: s}
	return s
}

type txKey struct{}

// tx marks a context as taking part in a transaction of one store.
type tx struct {
	store *Store
	done  atomic.Bool
}

func (s *Store) inTx(ctx context.Context) bool {
	t, ok := ctx.Value(txKey{}).(*tx)
	return ok && t.store == s && !t.done.Load()
}

// WithinTx runs fn in a transaction. Transactions are serialised; an error
// from fn (or a panic) restores the state from before the transaction. A
// nested call with a context already in a transaction joins it.
func (s *Store) WithinTx(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	if s.inTx(ctx) {
		return fn(ctx)
	}
	s.txMu.Lock()
	defer s.txMu.Unlock()
	s.mu.Lock()
	snapshot := s.st.clone()
	s.mu.Unlock()
	t := &tx{store: s}
	committed := false
	defer func() {
		t.done.Store(true)
		if !committed {
			s.mu.Lock()
			s.st = snapshot
			s.mu.Unlock()
			s.rollbacks.Add(1)
		}
	}()
	if err := fn(context.WithValue(ctx, txKey{}, t)); err != nil {
		return err
	}
	committed = true
	s.commits.Add(1)
	return nil
}

// access locks the state for one repository call: inside a transaction only
// the data mutex (the transaction already holds txMu), outside one both, as an
// autocommit statement.
func (s *Store) access(ctx context.Context) (unlock func()) {
	if s.inTx(ctx) {
		s.mu.Lock()
		return s.mu.Unlock
	}
	s.txMu.Lock()
	s.mu.Lock()
	return func() {
		s.mu.Unlock()
		s.txMu.Unlock()
	}
}

// inspect locks the committed state for a test's inspection helper.
func (s *Store) inspect() (unlock func()) {
	s.txMu.Lock()
	s.mu.Lock()
	return func() {
		s.mu.Unlock()
		s.txMu.Unlock()
	}
}

func (s *Store) nextSeq() int64 {
	s.seq++
	return s.seq
}

// Stats counts what happened in the store since it was made.
type Stats struct {
	// Rotations is the number of committed or pending rotations, on
	// either path; FastRotations those of RotateCurrent.
	Rotations, FastRotations int64
	// Locks is the number of Update calls that found their session.
	Locks int64
	// Commits and Rollbacks count finished top-level transactions.
	Commits, Rollbacks int64
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	return Stats{
		Rotations:     s.rotations.Load(),
		FastRotations: s.fastRotations.Load(),
		Locks:         s.locks.Load(),
		Commits:       s.commits.Load(),
		Rollbacks:     s.rollbacks.Load(),
	}
}

// User returns the committed account with this ID.
func (s *Store) User(id string) (user.User, bool) {
	defer s.inspect()()
	u, ok := s.st.users[id]
	return copyUser(u), ok
}

// UserCount returns the number of accounts.
func (s *Store) UserCount() int {
	defer s.inspect()()
	return len(s.st.users)
}

// Session returns the committed session with this ID, revoked or not.
func (s *Store) Session(id string) (session.Session, bool) {
	defer s.inspect()()
	ss, ok := s.st.sessions[id]
	return ss.s, ok
}

// SessionsOf returns every session of userID (revoked and expired ones too),
// oldest first.
func (s *Store) SessionsOf(userID string) []session.Session {
	defer s.inspect()()
	var list []storedSession
	for _, ss := range s.st.sessions {
		if ss.s.UserID == userID {
			list = append(list, ss)
		}
	}
	slices.SortFunc(list, func(a, b storedSession) int { return int(a.seq - b.seq) })
	out := make([]session.Session, len(list))
	for i, ss := range list {
		out[i] = ss.s
	}
	return out
}

// Events returns every security event of userID in the order they were
// appended (oldest first).
func (s *Store) Events(userID string) []audit.Event {
	defer s.inspect()()
	var out []audit.Event
	for _, se := range s.st.events {
		if se.e.UserID == userID {
			out = append(out, se.e)
		}
	}
	return out
}

// EventsOfType returns the events of userID with type t, oldest first.
func (s *Store) EventsOfType(userID string, t audit.Type) []audit.Event {
	var out []audit.Event
	for _, e := range s.Events(userID) {
		if e.Type == t {
			out = append(out, e)
		}
	}
	return out
}

func copyUser(u user.User) user.User {
	u.Roles = slices.Clone(u.Roles)
	return u
}

var (
	_ authn.Transactor   = (*Store)(nil)
	_ account.Transactor = (*Store)(nil)
	_ authn.Clock        = (*Clock)(nil)
	_ account.Clock      = (*Clock)(nil)
)

// AllEvents returns every security event, of every user, oldest first.
func (s *Store) AllEvents() []audit.Event {
	defer s.inspect()()
	out := make([]audit.Event, len(s.st.events))
	for i, se := range s.st.events {
		out[i] = se.e
	}
	return out
}
