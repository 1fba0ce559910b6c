package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/webhooktest"
)

// webhookEnv is testEnv with webhooks on, signed with two secrets (as
// while rotating) and posting to w quickly.
func webhookEnv(dbURL string, w *webhooktest.Receiver) map[string]string {
	env := testEnv(dbURL)
	env["WEBHOOK_URL"] = w.URL + "/hooks"
	env["WEBHOOK_SECRET"] = webhooktest.Secret + "," + webhooktest.NextSecret
	env["WEBHOOK_POLL_INTERVAL"] = "50ms"
	return env
}

// webhookServer starts a server on dbURL posting its events to a new
// receiver that checks both signatures, with an administrator signed in
// (root, whose id is rootID).
func webhookServer(t *testing.T, dbURL string) (recv *webhooktest.Receiver, s *server, root *client, rootID string) {
	t.Helper()
	recv = webhooktest.New(t, webhooktest.Secret, webhooktest.NextSecret)
	env := webhookEnv(dbURL, recv)
	s = startServer(t, env)
	root, rootID = adminClient(t, s, env, "root@example.com", "root's passphrase", "admin", "user")
	return recv, s, root, rootID
}

// TestWebhooksEndToEnd drives a user through the contract's events on a
// real server and checks, at a receiver that verifies every signature
// independently: each event arrives with the data the contract lists, one
// user's events in the order they happened, none holding a secret; and
// appMetadata written by an administrator reaches the user resource and
// every access token, refreshed ones included.
func TestWebhooksEndToEnd(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		recv, s, root, rootID := webhookServer(t, dbURL(t))

		const pw, pw2 = "ada's first password", "ada's second password"
		ada := s.client()
		r := ada.do("POST", "/auth/register", map[string]any{"email": "ada@example.com", "password": pw, "name": "Ada",
			"refreshTokenTransport": "body"})
		expect(t, r, 201, "")
		var first tokenPair
		r.data(t, &first)
		ada.bearer = first.AccessToken
		uid := first.User.ID
		if _, ok := jwtPart(t, first.AccessToken, 1)["app_metadata"]; ok {
			t.Error("app_metadata in a token of an account without any")
		}
		secrets := []string{pw, pw2, first.AccessToken, first.RefreshToken}

		expect(t, ada.do("PATCH", "/users/me", map[string]any{"name": "Ada L."}), 200, "")

		// A second session, refreshed once, then its old token replayed:
		// reuse detected.
		other := s.client()
		op, r := other.login("ada@example.com", pw, "body")
		expect(t, r, 200, "")
		secrets = append(secrets, op.AccessToken, op.RefreshToken)
		r = other.do("POST", "/auth/refresh", map[string]any{"refreshToken": op.RefreshToken})
		expect(t, r, 200, "")
		var rotated tokenPair
		r.data(t, &rotated)
		secrets = append(secrets, rotated.AccessToken, rotated.RefreshToken)
		time.Sleep(11 * time.Second) // past REFRESH_REUSE_GRACE
		expect(t, other.do("POST", "/auth/refresh", map[string]any{"refreshToken": op.RefreshToken}), 401, "REFRESH_TOKEN_REUSED")

		// App claims: an administrator writes them; the next token has them.
		meta := map[string]any{"tenant": "acme", "plan": map[string]any{"seats": 5.0}}
		r = root.do("PATCH", "/admin/users/"+uid, map[string]any{"appMetadata": meta})
		expect(t, r, 200, "")
		var view struct {
			AppMetadata map[string]any `json:"appMetadata"`
		}
		r.data(t, &view)
		if view.AppMetadata["tenant"] != "acme" {
			t.Fatalf("admin view %s", r.Body)
		}
		// Not an object, or over 4 KiB: refused on the field.
		expect(t, root.do("PATCH", "/admin/users/"+uid, map[string]any{"appMetadata": []int{1}}), 400, "VALIDATION_FAILED")
		expect(t, root.do("PATCH", "/admin/users/"+uid, map[string]any{"appMetadata": map[string]any{"x": strings.Repeat("a", 4100)}}), 400, "VALIDATION_FAILED")
		r = ada.do("POST", "/auth/refresh", map[string]any{"refreshToken": first.RefreshToken})
		expect(t, r, 200, "")
		var refreshed tokenPair
		r.data(t, &refreshed)
		secrets = append(secrets, refreshed.AccessToken, refreshed.RefreshToken)
		ada.bearer = refreshed.AccessToken
		got, _ := json.Marshal(jwtPart(t, refreshed.AccessToken, 1)["app_metadata"])
		if want, _ := json.Marshal(meta); string(got) != string(want) {
			t.Fatalf("app_metadata of the refreshed token = %s, want %s", got, want)
		}
		r = ada.do("GET", "/users/me", nil)
		expect(t, r, 200, "")
		r.data(t, &view)
		if view.AppMetadata["tenant"] != "acme" {
			t.Fatalf("user resource %s", r.Body)
		}

		// Password change (fresh: reauthenticate first) ends the other
		// sessions; logout ends this one.
		r = ada.do("POST", "/auth/reauthenticate", map[string]any{"password": pw})
		expect(t, r, 200, "")
		var fresh tokenPair
		r.data(t, &fresh)
		ada.bearer = fresh.AccessToken
		secrets = append(secrets, fresh.AccessToken)
		third := s.client()
		tp, r := third.login("ada@example.com", pw, "body")
		expect(t, r, 200, "")
		secrets = append(secrets, tp.AccessToken, tp.RefreshToken)
		expect(t, ada.do("PUT", "/users/me/password", map[string]any{"currentPassword": pw, "newPassword": pw2}), 200, "")
		expect(t, ada.do("POST", "/auth/logout", map[string]any{"refreshToken": refreshed.RefreshToken}), 200, "")

		// An administrator clears the claims and deletes the account.
		expect(t, root.do("PATCH", "/admin/users/"+uid, map[string]any{"appMetadata": nil}), 200, "")
		expect(t, root.do("DELETE", "/admin/users/"+uid, nil), 200, "")

		evs := recv.WaitFor(t, uid, "user.created", "user.updated", "user.updated", "user.updated",
			"session.created", "session.created", "session.created",
			"refresh_token.reused", "session.revoked", "session.revoked", "session.revoked",
			"password.changed", "user.deleted")
		for _, e := range webhooktest.OutOfOrder(evs) {
			t.Errorf("%s (%s) arrived after a newer event: out of order", e.Type, e.Timestamp)
		}
		byType := map[string][]webhooktest.Event{}
		for _, e := range evs {
			byType[e.Type] = append(byType[e.Type], e)
			for _, sec := range secrets {
				if sec != "" && strings.Contains(e.Body, sec) {
					t.Errorf("%s carries a password or token: %s", e.Type, e.Body)
				}
			}
			for _, bad := range []string{"argon2", "hash", "refreshToken", "accessToken"} {
				if strings.Contains(e.Body, bad) {
					t.Errorf("%s carries %q: %s", e.Type, bad, e.Body)
				}
			}
		}
		created := byType["user.created"][0].Data
		if created["method"] != "password" || created["user"].(map[string]any)["email"] != "ada@example.com" {
			t.Errorf("user.created %v", created)
		}
		var changed [][]any
		for _, e := range byType["user.updated"] {
			changed = append(changed, e.Data["changed"].([]any))
		}
		if len(changed) < 3 || changed[0][0] != "name" || changed[1][0] != "appMetadata" || changed[2][0] != "appMetadata" {
			t.Errorf("user.updated changed %v", changed)
		}
		reasons := map[string]string{}
		for _, e := range byType["session.revoked"] {
			reasons[e.Data["sessionId"].(string)] = e.Data["reason"].(string)
		}
		if reasons[op.Session.ID] != "reuse_detected" || reasons[tp.Session.ID] != "password_changed" || reasons[first.Session.ID] != "logout" {
			t.Errorf("revocations %v (sessions: other %s, third %s, first %s)", reasons, op.Session.ID, tp.Session.ID, first.Session.ID)
		}
		if sc := byType["session.created"][0].Data; sc["sessionId"] != first.Session.ID || sc["method"] != "password" || sc["ip"] != "127.0.0.1" {
			t.Errorf("session.created %v", sc)
		}
		if ru := byType["refresh_token.reused"][0].Data; ru["sessionId"] != op.Session.ID || ru["ip"] != "127.0.0.1" {
			t.Errorf("refresh_token.reused %v", ru)
		}
		if pc := byType["password.changed"][0].Data; pc["via"] != "change" {
			t.Errorf("password.changed %v", pc)
		}
		// The administrator's own account was created by the command line.
		rootEvents := recv.WaitFor(t, rootID, "user.created")
		if rootEvents[0].Data["method"] != "admin" {
			t.Errorf("command-line user.created %v", rootEvents[0].Data)
		}
		if st := recv.Stats(); st.BadSignatures != 0 || st.Concurrent != 0 {
			t.Errorf("%d requests with bad signatures, %d concurrent posts of one event", st.BadSignatures, st.Concurrent)
		}

		// The operators' view: everything delivered.
		page := root.do("GET", "/admin/webhooks/deliveries?status=delivered&limit=100", nil)
		expect(t, page, 200, "")
		var deliveries struct {
			Items []struct {
				ID, Type, Status string
				Attempts         int
			} `json:"items"`
		}
		page.data(t, &deliveries)
		if len(deliveries.Items) < len(evs) {
			t.Errorf("%d delivered deliveries listed, %d events received", len(deliveries.Items), len(evs))
		}
		expect(t, ada.do("GET", "/admin/webhooks/deliveries", nil), 401, "SESSION_REVOKED")
		expect(t, root.do("GET", "/admin/webhooks/deliveries?status=lost", nil), 400, "VALIDATION_FAILED")
	})
}

// TestWebhooksSurviveAReceiverOutage: while the receiver answers 503,
// events wait (nothing on the request path slows down or fails); each
// failed attempt is a failed, retried delivery the operators see; once the
// receiver is back, every event arrives, and an operator's retry posts a
// delivered event again under the same webhook-id.
func TestWebhooksSurviveAReceiverOutage(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		recv, s, root, _ := webhookServer(t, dbURL(t))
		recv.SetDown(true)
		var ids []string
		for _, email := range []string{"a@example.com", "b@example.com", "c@example.com"} {
			c := s.client()
			ids = append(ids, c.register(email, "a long enough password").User.ID)
		}
		// Past the first attempt of each: failed, pending, with the error.
		deadline := time.Now().Add(30 * time.Second)
		for {
			r := root.do("GET", "/admin/webhooks/deliveries?status=pending&limit=100", nil)
			expect(t, r, 200, "")
			var page struct {
				Items []struct {
					Attempts  int     `json:"attempts"`
					LastError *string `json:"lastError"`
				} `json:"items"`
			}
			r.data(t, &page)
			failed := 0
			for _, d := range page.Items {
				if d.Attempts >= 1 && d.LastError != nil && strings.Contains(*d.LastError, "503") {
					failed++
				}
			}
			if failed >= 6 { // three user.created, three session.created
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("deliveries never failed: %s", r.Body)
			}
			time.Sleep(100 * time.Millisecond)
		}
		recv.SetDown(false)
		for _, uid := range ids {
			recv.WaitFor(t, uid, "user.created", "session.created")
		}
		// An operator's retry of a delivered event: posted again, same id.
		r := root.do("GET", "/admin/webhooks/deliveries?status=delivered&limit=1", nil)
		var page struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		r.data(t, &page)
		if len(page.Items) != 1 {
			t.Fatalf("no delivered event: %s", r.Body)
		}
		expect(t, root.do("POST", "/admin/webhooks/deliveries/"+page.Items[0].ID+"/retry", nil), 200, "")
		deadline = time.Now().Add(30 * time.Second)
		for recv.Posts(page.Items[0].ID) < 2 {
			if time.Now().After(deadline) {
				t.Fatal("the retried event was not posted again")
			}
			time.Sleep(50 * time.Millisecond)
		}
		expect(t, root.do("POST", "/admin/webhooks/deliveries/00000000-0000-4000-8000-000000000000/retry", nil), 404, "NOT_FOUND")
	})
}

// signupHook is an app's before-signup hook: it refuses addresses at
// blocked.example, and records what it was asked.
type signupHookServer struct {
	srv   *httptest.Server
	mu    sync.Mutex
	asked []map[string]any
}

func newSignupHookServer(t *testing.T, secret string) *signupHookServer {
	t.Helper()
	h := &signupHookServer{}
	keys := webhooktest.KeysOf(t, secret)
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !keys.Verify(r.Header, body) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var req struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		_ = json.Unmarshal(body, &req)
		h.mu.Lock()
		h.asked = append(h.asked, req.Data)
		h.mu.Unlock()
		email, _ := req.Data["email"].(string)
		switch {
		case strings.HasSuffix(email, "@slow.example"):
			time.Sleep(3 * time.Second)
			_, _ = io.WriteString(w, `{"allow": true}`)
		case strings.HasSuffix(email, "@broken.example"):
			w.WriteHeader(http.StatusInternalServerError)
		case strings.HasSuffix(email, "@blocked.example"):
			_, _ = io.WriteString(w, `{"allow": false, "message": "Sign-ups are by invitation only"}`)
		default:
			_, _ = io.WriteString(w, `{"allow": true}`)
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// TestBeforeSignupHook: register and the command line ask the hook first;
// a refusal is 403 SIGNUP_REJECTED with the hook's message, a slow or
// broken hook 503, and either way no account exists afterwards.
func TestBeforeSignupHook(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		hook := newSignupHookServer(t, webhooktest.Secret)
		env := testEnv(dbURL(t))
		env["HOOK_BEFORE_SIGNUP_URL"] = hook.srv.URL
		env["HOOK_SECRET"] = webhooktest.Secret
		env["HOOK_TIMEOUT"] = "1s"
		s := startServer(t, env)
		c := s.client()

		r := c.do("POST", "/auth/register", map[string]any{"email": "eve@blocked.example", "password": "a long enough password"})
		expect(t, r, 403, "SIGNUP_REJECTED")
		if r.Env.Message != "Sign-ups are by invitation only" {
			t.Errorf("message %q", r.Env.Message)
		}
		expect(t, c.do("POST", "/auth/register", map[string]any{"email": "sam@slow.example", "password": "a long enough password"}), 503, "SERVICE_UNAVAILABLE")
		expect(t, c.do("POST", "/auth/register", map[string]any{"email": "bo@broken.example", "password": "a long enough password"}), 503, "SERVICE_UNAVAILABLE")
		for _, email := range []string{"eve@blocked.example", "sam@slow.example", "bo@broken.example"} {
			_, r := c.login(email, "a long enough password", "body")
			expect(t, r, 401, "INVALID_CREDENTIALS")
		}
		ok := c.register("ada@example.com", "a long enough password")
		if ok.User.Email != "ada@example.com" {
			t.Fatalf("allowed signup: %+v", ok)
		}

		// The command line asks too.
		if code, _, errOut := cli(t, env, "a long enough password\n", "users", "create", "--email", "mallory@blocked.example"); code != exitInvalid ||
			!strings.Contains(errOut, "invitation only") {
			t.Fatalf("refused CLI create: %d %q", code, errOut)
		}
		if code, _, errOut := cli(t, env, "a long enough password\n", "users", "create", "--email", "root@example.com", "--role", "admin"); code != 0 {
			t.Fatalf("allowed CLI create: %d %q", code, errOut)
		}
		root := s.client()
		if _, r := root.login("root@example.com", "a long enough password", "body"); r.Status != 200 {
			t.Fatalf("root login %s", r.Body)
		}
		r = root.do("GET", "/admin/users?q=blocked", nil)
		expect(t, r, 200, "")
		if strings.Contains(string(r.Body), "blocked.example") {
			t.Errorf("a refused account exists: %s", r.Body)
		}

		hook.mu.Lock()
		defer hook.mu.Unlock()
		var methods []string
		for _, a := range hook.asked {
			methods = append(methods, a["method"].(string))
			if a["ip"] == nil || a["provider"] == nil {
				t.Errorf("hook asked %v", a)
			}
		}
		if !slices.Contains(methods, "password") || !slices.Contains(methods, "admin") {
			t.Errorf("hook methods %v", methods)
		}
	})
}
