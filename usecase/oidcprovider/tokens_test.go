package oidcprovider_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/oauth"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/internal/fakes"
	"github.com/gatehouse/gatehouse/usecase/oidcprovider"
)

// memClientSessions is an in-memory ClientSessionStore over the fake
// session store.
type memClientSessions struct {
	mu   sync.Mutex
	rows map[string]oauth.ClientSession
	s    *fakes.Store
}

func (m *memClientSessions) CreateClientSession(_ context.Context, cs oauth.ClientSession) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rows[cs.SessionID] = cs
	return nil
}

func (m *memClientSessions) ClientSession(_ context.Context, sid string) (oauth.ClientSession, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cs, ok := m.rows[sid]
	if !ok {
		return oauth.ClientSession{}, session.ErrNotFound
	}
	return cs, nil
}

func (m *memClientSessions) RevokeClientSessions(ctx context.Context, f oidcprovider.SessionFilter, reason string, now time.Time) ([]string, error) {
	m.mu.Lock()
	var ids []string
	for sid, cs := range m.rows {
		if (f.SessionID == "" || f.SessionID == sid) && (f.UserID == "" || f.UserID == cs.UserID) && (f.ClientID == "" || f.ClientID == cs.ClientID) {
			ids = append(ids, sid)
		}
	}
	m.mu.Unlock()
	for _, sid := range ids {
		if err := m.s.Sessions.Update(ctx, sid, func(s *session.Session) error { s.Revoke(now, reason); return nil }); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

func (m *memClientSessions) SessionClients(context.Context, []string) (map[string]oauth.Ref, error) {
	return map[string]oauth.Ref{}, nil
}

type noEvict struct{}

func (noEvict) Evict(...string) {}

// TestOpenClientSession: a code opens a session at the request's auth_time
// and methods, with a refresh token only for offline_access and, without
// one, a lifetime no longer than its access token; once the app session
// that accepted has ended, the code opens nothing.
func TestOpenClientSession(t *testing.T) {
	ctx := context.Background()
	store := fakes.NewStore()
	clock := fakes.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	u := user.User{ID: id.New(), Email: "ada@example.com", Name: "Ada"}
	if err := store.Users.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	policy := session.Policy{IdleTTL: 7 * 24 * time.Hour, AbsoluteTTL: 30 * 24 * time.Hour, ReuseGrace: 10 * time.Second}
	login := policy.Start(id.New(), u.ID, clock.Now().Add(-time.Hour), "", "")
	login.TokenHash = [32]byte{1}
	if err := store.Sessions.Create(ctx, login); err != nil {
		t.Fatal(err)
	}
	codec, _ := session.NewRefreshCodec(session.NewRefreshKey())
	cs := &memClientSessions{rows: map[string]oauth.ClientSession{}, s: store}
	x := oidcprovider.NewCodeExchanger(oidcprovider.TokensDeps{
		Sessions: store.Sessions, ClientSessions: cs, Refresh: codec.ForClients(), Audit: store.Audit,
		Tx: store, Clock: clock, Live: noEvict{}, Policy: policy, AccessTokenTTL: 15 * time.Minute,
	})
	authTime := clock.Now().Add(-time.Hour)
	req := func(scopes ...string) oauth.Request {
		return oauth.Request{ClientID: id.New(), UserID: u.ID, SessionID: id.New(), LoginSessionID: login.ID,
			GrantedScopes: append([]string{"openid"}, scopes...), AuthTime: authTime, Methods: []string{"pwd", "otp", "mfa"}}
	}

	opened, err := x.Open(ctx, req(), "192.0.2.1", "ua")
	if err != nil {
		t.Fatal(err)
	}
	if opened.RefreshToken != "" || !opened.Session.AuthTime.Equal(authTime) || len(opened.Session.Methods) != 3 ||
		!opened.Session.IdleExpiresAt.Equal(clock.Now().Add(15*time.Minute)) {
		t.Errorf("without offline_access: %+v", opened)
	}
	opened, err = x.Open(ctx, req("offline_access"), "", "")
	if err != nil || opened.RefreshToken == "" || !opened.Session.IdleExpiresAt.Equal(clock.Now().Add(policy.IdleTTL)) {
		t.Fatalf("with offline_access: %+v %v", opened, err)
	}
	if p, err := codec.Parse(opened.RefreshToken); err == nil {
		t.Errorf("the app's codec took a client's refresh token: %+v", p)
	}

	// The accepting session ends (a password change, a logout): the code
	// opens nothing.
	if _, err := store.Sessions.RevokeAllForUser(ctx, u.ID, "", session.ReasonPasswordChange, clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Open(ctx, req(), "", ""); !errors.Is(err, oauth.ErrCodeInvalid) {
		t.Errorf("after the login session ended: %v", err)
	}
}
