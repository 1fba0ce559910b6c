package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// resourceServer is another service that verifies Gatehouse tokens with the
// JWKS only, caching it as Cache-Control says and refetching (at most every
// second) when a token names a kid it does not know, as JWT libraries do.
type resourceServer struct {
	jwksURL string
	issuer  string
	mu      sync.Mutex
	set     jwk.Set
	expires time.Time
	last    time.Time
	fetches int
}

func (rs *resourceServer) keys(force bool) (jwk.Set, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	now := time.Now()
	if rs.set != nil && now.Before(rs.expires) && (!force || now.Sub(rs.last) < time.Second) {
		return rs.set, nil
	}
	resp, err := http.Get(rs.jwksURL)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	set, err := jwk.Parse(body)
	if err != nil {
		return nil, err
	}
	maxAge := 0
	if cc := resp.Header.Get("Cache-Control"); strings.Contains(cc, "max-age=") {
		maxAge, _ = strconv.Atoi(cc[strings.Index(cc, "max-age=")+len("max-age="):])
	}
	rs.set, rs.expires, rs.last = set, now.Add(time.Duration(maxAge)*time.Second), now
	rs.fetches++
	return set, nil
}

func (rs *resourceServer) verify(tok string) error {
	set, err := rs.keys(false)
	if err != nil {
		return err
	}
	if _, ok := set.LookupKeyID(kidOf(tok)); !ok {
		if set, err = rs.keys(true); err != nil {
			return err
		}
	}
	_, err = jwt.Parse([]byte(tok), jwt.WithKeySet(set), jwt.WithValidate(true),
		jwt.WithIssuer(rs.issuer), jwt.WithAudience("gatehouse"))
	return err
}

func (rs *resourceServer) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if err := rs.verify(tok); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

func kidOf(tok string) string {
	seg, _, _ := strings.Cut(tok, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(seg)
	var h struct {
		Kid string `json:"kid"`
	}
	_ = json.Unmarshal(raw, &h)
	return h.Kid
}

func jwksKids(t *testing.T, s *server) ([]string, string) {
	t.Helper()
	r := s.client().do("GET", "/.well-known/jwks.json", nil)
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(r.Body, &set); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.Kid)
	}
	return out, string(r.Body)
}

func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestKeyRotationAcrossInstances: two instances on one database and a
// resource server that caches the JWKS of one of them. A rotation on
// instance A publishes the next key everywhere before it signs; tokens
// signed before, during and after the rotation verify on both instances and
// on the resource server until they expire; the user's refresh chain goes on
// across instances without a new login; the old key leaves the JWKS once
// its last token has expired.
func TestKeyRotationAcrossInstances(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		env := testEnv(dbURL(t))
		env["ACCESS_TOKEN_TTL"] = "6s"
		env["JWT_KEY_PUBLISH_AHEAD"] = "3s"
		env["JWT_KEY_RELOAD_INTERVAL"] = "1s"
		env["JWT_KEY_ROTATION_INTERVAL"] = "0"
		a := startServer(t, env)
		b := startServer(t, env)
		rs := &resourceServer{jwksURL: b.base + "/.well-known/jwks.json", issuer: b.cfg.JWT.Issuer}
		rsSrv := httptest.NewServer(rs.handler())
		t.Cleanup(rsSrv.Close)
		useAt := func(tok string) int {
			req, _ := http.NewRequestWithContext(context.Background(), "GET", rsSrv.URL, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			return resp.StatusCode
		}

		admin, _ := signInRoot(t, a, env)
		user := a.client()
		first := user.register("ada@example.com", "ada's password 1")
		oldKID := kidOf(first.AccessToken)
		before, beforeDoc := jwksKids(t, b)
		if len(before) != 1 || before[0] != oldKID || useAt(first.AccessToken) != 200 {
			t.Fatalf("before: %v, kid %s", before, oldKID)
		}
		t.Logf("JWKS before rotation (instance B): %s", beforeDoc)

		// refreshOn moves the user's cookie session to instance s and refreshes there.
		refreshOn := func(s *server) tokenPair {
			t.Helper()
			user.s = s
			r := user.do("POST", "/auth/refresh", nil)
			expect(t, r, 200, "")
			var p tokenPair
			r.data(t, &p)
			user.bearer = p.AccessToken
			for _, inst := range []*server{a, b} {
				c := inst.client()
				c.bearer = p.AccessToken
				expect(t, c.do("GET", "/users/me", nil), 200, "")
			}
			if code := useAt(p.AccessToken); code != 200 {
				t.Fatalf("resource server refused a token of kid %s: %d", kidOf(p.AccessToken), code)
			}
			return p
		}

		r := admin.do("POST", "/admin/keys/rotate", nil)
		expect(t, r, 200, "")
		var next struct{ Kid, State, ActivatesAt string }
		r.data(t, &next)
		rotatedAt := time.Now()

		// During: B publishes the next key within its reload interval, while
		// both still sign with the old one.
		waitFor(t, "instance B to publish the next key", 3*time.Second, func() bool {
			kids, _ := jwksKids(t, b)
			return len(kids) == 2
		})
		during := refreshOn(b)
		if kidOf(during.AccessToken) != oldKID {
			t.Fatal("the next key signed before its time")
		}
		_, duringDoc := jwksKids(t, b)
		t.Logf("JWKS during (next key published, old key signing): %s", duringDoc)

		// After activation every instance signs with the new key; tokens of
		// both keys verify everywhere until they expire.
		var after tokenPair
		lastOld := during
		waitFor(t, "the new key to sign", 6*time.Second, func() bool {
			after = refreshOn(a)
			if kidOf(after.AccessToken) == oldKID {
				lastOld = after
			}
			return kidOf(after.AccessToken) == next.Kid
		})
		if time.Since(rotatedAt) < 2*time.Second {
			t.Fatalf("the new key signed %s after the rotation, before the publish-ahead", time.Since(rotatedAt))
		}
		onB := refreshOn(b)
		if kidOf(onB.AccessToken) != next.Kid {
			t.Fatal("instance B still signs with the old key")
		}
		// The last old-key token, minted just before the switch, still
		// verifies everywhere after it.
		for _, inst := range []*server{a, b} {
			c := inst.client()
			c.bearer = lastOld.AccessToken
			expect(t, c.do("GET", "/users/me", nil), 200, "")
		}
		if useAt(lastOld.AccessToken) != 200 {
			t.Fatal("a token of the old key stopped verifying before it expired")
		}
		// The old key leaves the JWKS once its last token has expired.
		waitFor(t, "the old key to leave the JWKS", 12*time.Second, func() bool {
			kids, _ := jwksKids(t, b)
			return len(kids) == 1 && kids[0] == next.Kid
		})
		_, afterDoc := jwksKids(t, b)
		t.Logf("JWKS after (old key gone once its tokens expired): %s", afterDoc)
		// Nobody logged in again: the same session went on throughout.
		last := refreshOn(a)
		if last.Session.ID != first.Session.ID {
			t.Fatalf("session changed: %s -> %s", first.Session.ID, last.Session.ID)
		}
		// The admin's 4-second token is long gone; the command line lists.
		code, out, _ := cli(t, env, "", "keys", "list")
		if code != 0 || !strings.Contains(out, next.Kid+" EdDSA active") || !strings.Contains(out, oldKID+" EdDSA retired") {
			t.Fatalf("keys list: %d %q", code, out)
		}
		t.Logf("gatehouse keys list after:\n%s", out)
		t.Logf("resource server fetched the JWKS %d times", rs.fetches)
	})
}
