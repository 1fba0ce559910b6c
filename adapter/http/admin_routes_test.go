package httpadapter

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/oauth"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/admin"
)

// accountFakes stand for the admin interactors of one account's sessions
// and factors.
type accountFakes struct {
	*useCaseFakes
	// asked is what the listing was asked: user, cursor, limit.
	asked struct {
		userID, cursor string
		limit          int
	}
}

func (f *accountFakes) Sessions(_ context.Context, a admin.Actor, userID, cursor string, limit int) (admin.SessionPage, error) {
	f.asked.userID, f.asked.cursor, f.asked.limit = userID, cursor, limit
	mk := func(id string) admin.SessionView {
		s := session.Policy{IdleTTL: time.Hour, AbsoluteTTL: 24 * time.Hour}.Start(id, userID, testNow.Add(-time.Hour), "Firefox", "198.51.100.7")
		return admin.SessionView{Session: s, Current: id == a.Principal.SessionID()}
	}
	return admin.SessionPage{Items: []admin.SessionView{mk(testSessionID), mk(otherSessionID)}, NextCursor: "c2"}, f.record("AdminSessions")
}

func (f *accountFakes) RevokeSession(_ context.Context, _ admin.Actor, userID, sessionID string) error {
	return f.record("AdminRevokeSession:" + userID + ":" + sessionID)
}

func (f *accountFakes) Factors(_ context.Context, _ admin.Actor, userID string) (admin.FactorsView, error) {
	return admin.FactorsView{
		TOTP: admin.TOTPStatus{Enabled: true, EnabledAt: testNow.Add(-48 * time.Hour)},
		Passkeys: []admin.PasskeyView{
			{ID: testSessionID, Name: "Laptop", CreatedAt: testNow.Add(-24 * time.Hour)},
			{ID: otherSessionID, Name: "Phone", CreatedAt: testNow.Add(-24 * time.Hour), LastUsedAt: testNow},
		},
	}, f.record("AdminFactors:" + userID)
}

func (f *accountFakes) Identities(_ context.Context, _ admin.Actor, userID string) ([]admin.IdentityView, error) {
	return []admin.IdentityView{
		{ID: testSessionID, Provider: "corp", Email: "ada@example.com", LinkedAt: testNow.Add(-48 * time.Hour)},
		{ID: otherSessionID, Provider: "github", LinkedAt: testNow},
	}, f.record("AdminIdentities:" + userID)
}

func withAccountViews(f *accountFakes) serverOpt {
	return func(d *Deps, o *Options) {
		withUseCases(f.useCaseFakes)(d, o)
		d.Admin.Sessions, d.Admin.SessionEnder, d.Admin.Factors, d.Admin.Identities = f, f, f, f
	}
}

func TestAdminAccountSessions(t *testing.T) {
	f := &accountFakes{useCaseFakes: &useCaseFakes{}}
	p := &fakeProvider{sessions: map[string]oauth.Ref{otherSessionID: testClient().Ref()}}
	s := newTestServer(t, withProvider(p), withAccountViews(f))
	r := s.do(http.MethodGet, "/admin/users/"+testUserID+"/sessions?limit=2&cursor=c1", "", bearer(tokAdmin))
	page := dataOf[pageDTO[sessionDTO]](t, r)
	if r.Code != 200 || len(page.Items) != 2 || page.NextCursor == nil || *page.NextCursor != "c2" {
		t.Fatalf("sessions: %d %s", r.Code, r.Body)
	}
	if f.asked.userID != testUserID || f.asked.cursor != "c1" || f.asked.limit != 2 {
		t.Errorf("asked %+v", f.asked)
	}
	// The admin token's session is testSessionID; the other one belongs to
	// an OpenID client.
	if !page.Items[0].Current || page.Items[1].Current || page.Items[0].Client != nil ||
		page.Items[1].Client == nil || page.Items[1].Client.Name != "Notes" || page.Items[0].IP != "198.51.100.7" {
		t.Errorf("items %s", r.Body)
	}
	if r := s.do(http.MethodGet, "/admin/users/"+testUserID+"/sessions", "", bearer(tokAdmin)); r.Code != 200 || f.asked.limit != defaultEventPage {
		t.Errorf("default limit: %d, asked %d", r.Code, f.asked.limit)
	}
	if r := s.do(http.MethodGet, "/admin/users/"+testUserID+"/sessions?limit=101", "", bearer(tokAdmin)); r.Code != 400 || !r.detail("limit") {
		t.Errorf("limit 101: %d %s", r.Code, r.Body)
	}
	if r := s.do(http.MethodGet, "/admin/users/not-a-uuid/sessions", "", bearer(tokAdmin)); r.Code != 404 {
		t.Errorf("malformed id: %d %s", r.Code, r.Body)
	}
	f.err = user.ErrNotFound
	if r := s.do(http.MethodGet, "/admin/users/"+testUserID+"/sessions", "", bearer(tokAdmin)); r.Code != 404 || r.errCode() != CodeNotFound {
		t.Errorf("unknown user: %d %s", r.Code, r.Body)
	}
	f.err = auth.ErrForbidden
	if r := s.do(http.MethodGet, "/admin/users/"+testUserID+"/sessions", "", bearer(tokFresh)); r.Code != 403 || r.errCode() != CodeForbidden {
		t.Errorf("non-admin: %d %s", r.Code, r.Body)
	}
}

func TestAdminRevokeOneSession(t *testing.T) {
	f := &accountFakes{useCaseFakes: &useCaseFakes{}}
	s := newTestServer(t, withAccountViews(f))
	path := "/admin/users/" + testUserID + "/sessions/" + otherSessionID
	// The route declares fresh: a refreshed token is refused before the
	// use case runs.
	if r := s.do(http.MethodDelete, path, "", bearer(tokAdminStale)); r.Code != 403 || r.errCode() != CodeFreshAuthRequired {
		t.Errorf("stale: %d %s", r.Code, r.Body)
	}
	if n := len(f.called()); n != 0 {
		t.Fatalf("stale token reached the use case: %v", f.called())
	}
	if r := s.do(http.MethodDelete, path, "", bearer(tokFresh)); r.Code != 403 || r.errCode() != CodeForbidden {
		t.Errorf("non-admin: %d %s", r.Code, r.Body)
	}
	r := s.do(http.MethodDelete, path, "", bearer(tokAdminAAL2))
	if r.Code != 200 || r.Env.Message != "Session revoked" || len(f.called()) != 1 || f.called()[0] != "AdminRevokeSession:"+testUserID+":"+otherSessionID {
		t.Errorf("revoke: %d %s %v", r.Code, r.Body, f.called())
	}
	if r := s.do(http.MethodDelete, "/admin/users/"+testUserID+"/sessions/nope", "", bearer(tokAdminAAL2)); r.Code != 404 {
		t.Errorf("malformed session id: %d %s", r.Code, r.Body)
	}
	f.err = session.ErrNotFound
	if r := s.do(http.MethodDelete, path, "", bearer(tokAdminAAL2)); r.Code != 404 || r.errCode() != CodeNotFound {
		t.Errorf("not this account's session: %d %s", r.Code, r.Body)
	}
}

func TestAdminAccountFactors(t *testing.T) {
	f := &accountFakes{useCaseFakes: &useCaseFakes{}}
	s := newTestServer(t, withAccountViews(f))
	r := s.do(http.MethodGet, "/admin/users/"+testUserID+"/factors", "", bearer(tokAdmin))
	got := dataOf[adminFactorsDTO](t, r)
	if r.Code != 200 || !got.TOTP.Enabled || got.TOTP.EnabledAt == nil || len(got.Passkeys) != 2 ||
		got.Passkeys[0].LastUsedAt != nil || got.Passkeys[1].LastUsedAt == nil || got.Passkeys[1].Name != "Phone" {
		t.Errorf("factors: %d %s", r.Code, r.Body)
	}
	for _, secret := range []string{"secret", "credential"} {
		if strings.Contains(strings.ToLower(string(r.Env.Data)), secret) {
			t.Errorf("factors name %q: %s", secret, r.Env.Data)
		}
	}
	f.err = user.ErrNotFound
	if r := s.do(http.MethodGet, "/admin/users/"+testUserID+"/factors", "", bearer(tokAdmin)); r.Code != 404 {
		t.Errorf("unknown user: %d %s", r.Code, r.Body)
	}
}

// TestAdminAccountIdentities: the account's linked identities in the
// shape of GET /auth/identities (checked against the spec by the
// harness); an unknown account, a malformed id and a non-admin are
// refused in the envelope.
func TestAdminAccountIdentities(t *testing.T) {
	f := &accountFakes{useCaseFakes: &useCaseFakes{}}
	s := newTestServer(t, withAccountViews(f))
	path := "/admin/users/" + testUserID + "/identities"
	r := s.do(http.MethodGet, path, "", bearer(tokAdmin))
	got := dataOf[[]identityDTO](t, r)
	want := []identityDTO{
		{ID: testSessionID, Provider: "corp", Email: "ada@example.com", CreatedAt: rfc3339(testNow.Add(-48 * time.Hour))},
		{ID: otherSessionID, Provider: "github", Email: "", CreatedAt: rfc3339(testNow)},
	}
	if r.Code != 200 || r.Env.Message != "Identities" || len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("identities: %d %s", r.Code, r.Body)
	}
	if c := f.called(); len(c) != 1 || c[0] != "AdminIdentities:"+testUserID {
		t.Errorf("called %v", c)
	}
	if r := s.do(http.MethodGet, "/admin/users/not-a-uuid/identities", "", bearer(tokAdmin)); r.Code != 404 || r.errCode() != CodeNotFound {
		t.Errorf("malformed id: %d %s", r.Code, r.Body)
	}
	if r := s.do(http.MethodGet, path, ""); r.Code != 401 {
		t.Errorf("anonymous: %d %s", r.Code, r.Body)
	}
	f.err = user.ErrNotFound
	if r := s.do(http.MethodGet, path, "", bearer(tokAdmin)); r.Code != 404 || r.errCode() != CodeNotFound {
		t.Errorf("unknown user: %d %s", r.Code, r.Body)
	}
	f.err = auth.ErrForbidden
	if r := s.do(http.MethodGet, path, "", bearer(tokFresh)); r.Code != 403 || r.errCode() != CodeForbidden {
		t.Errorf("non-admin: %d %s", r.Code, r.Body)
	}
}
