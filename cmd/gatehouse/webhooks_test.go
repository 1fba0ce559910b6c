package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Two Standard Webhooks secrets, as while rotating.
const (
	hookSecretOld = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3"
	hookSecretNew = "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="
)

// event is one event as the receiver got it.
type event struct {
	ID        string
	Type      string         `json:"type"`
	Timestamp time.Time      `json:"timestamp"`
	Data      map[string]any `json:"data"`
	Body      string
}

// webhookReceiver is an app's endpoint. It checks every request's
// signatures with its own HMAC code (the contract's words, not the
// library the service signs with), keeps each event once by webhook-id,
// counts duplicates, and records whether two posts of one event were ever
// in flight at the same time.
type webhookReceiver struct {
	t   *testing.T
	srv *httptest.Server

	mu         sync.Mutex
	events     []event
	seen       map[string]int
	inFlight   map[string]int
	concurrent []string
	badSigs    int
	down       bool
	delay      time.Duration
}

func newWebhookReceiver(t *testing.T, secrets ...string) *webhookReceiver {
	t.Helper()
	w := &webhookReceiver{t: t, seen: map[string]int{}, inFlight: map[string]int{}}
	keys := make([][]byte, len(secrets))
	for i, s := range secrets {
		k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = k
	}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		msgID, ts := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp")
		sigs := strings.Split(r.Header.Get("webhook-signature"), " ")
		ok := len(sigs) == len(keys)
		for i, k := range keys {
			m := hmac.New(sha256.New, k)
			m.Write([]byte(msgID + "." + ts + "." + string(body)))
			want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
			if ok && !hmac.Equal([]byte(sigs[i]), []byte(want)) {
				ok = false
			}
		}
		w.mu.Lock()
		if !ok {
			w.badSigs++
			w.mu.Unlock()
			rw.WriteHeader(http.StatusUnauthorized)
			return
		}
		if w.down {
			w.mu.Unlock()
			rw.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.inFlight[msgID]++
		if w.inFlight[msgID] > 1 {
			w.concurrent = append(w.concurrent, msgID)
		}
		delay := w.delay
		w.mu.Unlock()
		time.Sleep(delay)
		w.mu.Lock()
		defer w.mu.Unlock()
		w.inFlight[msgID]--
		w.seen[msgID]++
		if w.seen[msgID] == 1 {
			e := event{ID: msgID, Body: string(body)}
			if err := json.Unmarshal(body, &e); err != nil {
				w.t.Errorf("event body %s: %v", body, err)
			}
			w.events = append(w.events, e)
		}
		rw.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *webhookReceiver) setDown(down bool) {
	w.mu.Lock()
	w.down = down
	w.mu.Unlock()
}

// snapshot returns the events received so far, in arrival order.
func (w *webhookReceiver) snapshot() []event {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.events)
}

// waitFor waits until every type in want (with multiplicity) has arrived
// for userID, and returns that user's events in arrival order.
func (w *webhookReceiver) waitFor(t *testing.T, userID string, want ...string) []event {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var mine []event
		have := map[string]int{}
		for _, e := range w.snapshot() {
			if eventUser(e) == userID {
				mine = append(mine, e)
				have[e.Type]++
			}
		}
		need := map[string]int{}
		for _, typ := range want {
			need[typ]++
		}
		done := true
		for typ, n := range need {
			if have[typ] < n {
				done = false
			}
		}
		if done {
			return mine
		}
		if time.Now().After(deadline) {
			t.Fatalf("events for %s: have %v, want %v", userID, have, need)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// eventUser is the user an event is about.
func eventUser(e event) string {
	if id, ok := e.Data["userId"].(string); ok {
		return id
	}
	if u, ok := e.Data["user"].(map[string]any); ok {
		id, _ := u["id"].(string)
		return id
	}
	return ""
}

// webhookEnv is testEnv with webhooks on, posting to w quickly.
func webhookEnv(dbURL string, w *webhookReceiver) map[string]string {
	env := testEnv(dbURL)
	env["WEBHOOK_URL"] = w.srv.URL + "/hooks"
	env["WEBHOOK_SECRET"] = hookSecretOld + "," + hookSecretNew
	env["WEBHOOK_POLL_INTERVAL"] = "50ms"
	return env
}

// accessClaims decodes an access token's payload (the signature is the
// service's business; the test reads what it carries).
func accessClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestWebhooksEndToEnd drives a user through the contract's events on a
// real server and checks, at a receiver that verifies every signature
// independently: each event arrives with the data the contract lists, one
// user's events in the order they happened, none holding a secret; and
// appMetadata written by an administrator reaches the user resource and
// every access token, refreshed ones included.
func TestWebhooksEndToEnd(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		recv := newWebhookReceiver(t, hookSecretOld, hookSecretNew)
		env := webhookEnv(dbURL(t), recv)
		s := startServer(t, env)
		root, rootID := adminClient(t, s, env, "root@example.com", "root's passphrase", "admin", "user")

		const pw, pw2 = "ada's first password", "ada's second password"
		ada := s.client()
		r := ada.do("POST", "/auth/register", map[string]any{"email": "ada@example.com", "password": pw, "name": "Ada",
			"refreshTokenTransport": "body"})
		expect(t, r, 201, "")
		var first tokenPair
		r.data(t, &first)
		ada.bearer = first.AccessToken
		uid := first.User.ID
		if _, ok := accessClaims(t, first.AccessToken)["app_metadata"]; ok {
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
		got, _ := json.Marshal(accessClaims(t, refreshed.AccessToken)["app_metadata"])
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

		evs := recv.waitFor(t, uid, "user.created", "user.updated", "user.updated", "user.updated",
			"session.created", "session.created", "session.created",
			"refresh_token.reused", "session.revoked", "session.revoked", "session.revoked",
			"password.changed", "user.deleted")
		byType := map[string][]event{}
		for i, e := range evs {
			byType[e.Type] = append(byType[e.Type], e)
			if i > 0 && e.Timestamp.Before(evs[i-1].Timestamp) {
				t.Errorf("%s (%s) arrived after %s (%s): out of order", e.Type, e.Timestamp, evs[i-1].Type, evs[i-1].Timestamp)
			}
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
		rootEvents := recv.waitFor(t, rootID, "user.created")
		if rootEvents[0].Data["method"] != "admin" {
			t.Errorf("command-line user.created %v", rootEvents[0].Data)
		}
		recv.mu.Lock()
		bad, dup := recv.badSigs, len(recv.concurrent)
		recv.mu.Unlock()
		if bad != 0 || dup != 0 {
			t.Errorf("%d requests with bad signatures, %d concurrent posts of one event", bad, dup)
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
		recv := newWebhookReceiver(t, hookSecretOld, hookSecretNew)
		env := webhookEnv(dbURL(t), recv)
		s := startServer(t, env)
		root, _ := adminClient(t, s, env, "root@example.com", "root's passphrase", "admin", "user")
		recv.setDown(true)
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
		recv.setDown(false)
		for _, uid := range ids {
			recv.waitFor(t, uid, "user.created", "session.created")
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
		for {
			recv.mu.Lock()
			n := recv.seen[page.Items[0].ID]
			recv.mu.Unlock()
			if n >= 2 {
				break
			}
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
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		m := hmac.New(sha256.New, key)
		m.Write([]byte(r.Header.Get("webhook-id") + "." + r.Header.Get("webhook-timestamp") + "." + string(body)))
		if r.Header.Get("webhook-signature") != "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)) {
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
		hook := newSignupHookServer(t, hookSecretOld)
		env := testEnv(dbURL(t))
		env["HOOK_BEFORE_SIGNUP_URL"] = hook.srv.URL
		env["HOOK_SECRET"] = hookSecretOld
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
