package persistence_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/oauth"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/internal/sealbox"
	"github.com/gatehouse/gatehouse/usecase/oidcprovider"
)

func newClient(t *testing.T, st *persistence.OAuthStore, now time.Time) oauth.Client {
	t.Helper()
	c := oauth.Client{ID: id.New(), SecretHash: sha256.Sum256([]byte("s")), Name: "Wiki",
		RedirectURIs: []string{"https://wiki.example/cb?a=1&b=2"}, PostLogoutRedirectURIs: []string{},
		Scopes: oauth.KnownScopes, IDTokenAlg: oauth.AlgRS256, CreatedAt: now}
	if err := st.CreateClient(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestOAuthStore: clients, requests, codes, grants and client sessions on
// every store; a code is spent once even by racing exchanges.
func TestOAuthStore(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		st := persistence.NewOAuthStore(s.db)
		now := time.Now().UTC()
		c := newClient(t, st, now)
		got, err := st.ClientByID(ctx, c.ID)
		if err != nil || got.SecretHash != c.SecretHash || got.RedirectURIs[0] != c.RedirectURIs[0] || len(got.Scopes) != 4 {
			t.Fatalf("client read back %+v %v", got, err)
		}
		if _, err := st.ClientByID(ctx, id.New()); !errors.Is(err, oauth.ErrClientNotFound) {
			t.Errorf("unknown client: %v", err)
		}

		u := mustCreateUser(t, s, "oauth@example.com")
		maxAge := int64(30)
		r := oauth.Request{ID: "req-1", ClientID: c.ID, RedirectURI: c.RedirectURIs[0], Scopes: []string{"openid", "email"},
			State: "st", Nonce: "n", CodeChallenge: "ch", CodeChallengeMethod: "S256", Prompt: []string{"login"},
			MaxAge: &maxAge, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
		if err := st.CreateRequest(ctx, r); err != nil {
			t.Fatal(err)
		}
		code := sha256.Sum256([]byte("code"))
		sid := id.New()
		err = s.tx.WithinTx(ctx, func(ctx context.Context) error {
			return st.UpdateRequest(ctx, "req-1", func(r *oauth.Request) error {
				r.DoneAt, r.UserID, r.GrantedScopes, r.AuthTime = now, u.ID, []string{"openid"}, now
				r.Methods, r.SessionID, r.CodeHash, r.CodeExpiresAt = []string{"pwd", "otp"}, sid, code, now.Add(time.Minute)
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		back, err := st.RequestByID(ctx, "req-1")
		if err != nil || *back.MaxAge != 30 || back.Prompt[0] != "login" || back.Methods[1] != "otp" || back.SessionID != sid || back.DoneAt.IsZero() {
			t.Fatalf("request read back %+v %v", back, err)
		}
		// Eight exchanges race for one code: exactly one spends it.
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, reused := 0, 0
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := st.SpendCode(ctx, code, time.Now())
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case errors.Is(err, oauth.ErrCodeReused):
					reused++
				default:
					t.Errorf("spend: %v", err)
				}
			}()
		}
		wg.Wait()
		if won != 1 || reused != 7 {
			t.Errorf("%d exchanges won, %d saw reuse", won, reused)
		}
		if _, err := st.SpendCode(ctx, sha256.Sum256([]byte("other")), time.Now()); !errors.Is(err, oauth.ErrCodeInvalid) {
			t.Errorf("unknown code: %v", err)
		}

		// Grants join the client's name; saving again widens in place.
		g := oauth.Grant{UserID: u.ID, Client: c.Ref(), Scopes: []string{"openid"}, CreatedAt: now, UpdatedAt: now}
		if err := st.SaveGrant(ctx, g); err != nil {
			t.Fatal(err)
		}
		g.Scopes = append(g.Scopes, "email")
		if err := st.SaveGrant(ctx, g); err != nil {
			t.Fatal(err)
		}
		list, err := st.ListGrants(ctx, u.ID)
		if err != nil || len(list) != 1 || list[0].Client.Name != "Wiki" || len(list[0].Scopes) != 2 {
			t.Fatalf("grants %+v %v", list, err)
		}

		// Client sessions: named, revoked by filter, cascaded with the client.
		sess, _ := mustStartSession(t, s, u, now)
		other, _ := mustStartSession(t, s, u, now)
		if err := st.CreateClientSession(ctx, oauth.ClientSession{SessionID: sess.ID, ClientID: c.ID, UserID: u.ID,
			Scopes: []string{"openid"}, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		names, err := st.SessionClients(ctx, []string{sess.ID, other.ID})
		if err != nil || len(names) != 1 || names[sess.ID].Name != "Wiki" {
			t.Fatalf("session clients %v %v", names, err)
		}
		ids, err := st.RevokeClientSessions(ctx, oidcprovider.SessionFilter{UserID: u.ID, ClientID: c.ID}, "test", now)
		if err != nil || len(ids) != 1 || ids[0] != sess.ID {
			t.Fatalf("revoked %v %v", ids, err)
		}
		if live, _, _ := s.sessions.Liveness(ctx, other.ID); !live.Active(now.Add(time.Second)) {
			t.Error("the app's own session was revoked")
		}
		if err := st.DeleteClient(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := st.ClientSession(ctx, sess.ID); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("client session row outlived its client: %v", err)
		}
		if n := count(t, s, "oauth_requests") + count(t, s, "oauth_grants"); n != 0 {
			t.Errorf("%d request and grant rows outlived their client", n)
		}
	})
}

// TestOIDCKeysSealedAtRest: the provider's RSA keys live in their own table,
// sealed like the access-token keys and bound to that table.
func TestOIDCKeysSealedAtRest(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *env) {
		ctx := context.Background()
		ring, _ := sealbox.New(bytes.Repeat([]byte{7}, 32))
		st := persistence.NewOIDCKeyStore(s.db, ring)
		if _, err := st.EnsureSigningKey(ctx, candidate(1)); err != nil {
			t.Fatal(err)
		}
		var pem string
		if err := s.db.Raw("SELECT private_key_pem FROM oidc_signing_keys").Row().Scan(&pem); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(pem, "PRIVATE KEY") || count(t, s, "signing_keys") != 0 {
			t.Fatalf("stored %q, %d access-token keys", pem, count(t, s, "signing_keys"))
		}
		keys, err := st.SigningKeys(ctx)
		if err != nil || len(keys) != 1 {
			t.Fatalf("read back: %v", err)
		}
	})
}
