// Package oidctest runs identity providers for tests, in process: a real
// OpenID provider built on zitadel/oidc's op package (its example storage
// and login form, its keys and discovery), a misbehaving provider for the
// checks a relying party must make, and a fake GitHub.
package oidctest

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"golang.org/x/text/language"
)

// User is a person at the provider.
type User struct {
	ID, Username, Password string
	Email                  string
	EmailVerified          bool
	FirstName, LastName    string
}

// userStore is the example storage's UserStore over fixed users.
type userStore struct {
	mu    sync.Mutex
	users map[string]*storage.User
}

func (s *userStore) GetUserByID(id string) *storage.User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.users[id]
}

func (s *userStore) GetUserByUsername(name string) *storage.User {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		if u.Username == name {
			return u
		}
	}
	return nil
}

func (s *userStore) ExampleClientID() string { return "service" }

// OP is a running OpenID provider.
type OP struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	srv          *httptest.Server
}

// clientsMu serialises the example storage's global client registration.
var clientsMu sync.Mutex

// StartOP starts an OpenID provider with users and one confidential web
// client (client_secret_basic) allowed to redirect to redirectURIs.
func StartOP(t testing.TB, clientID string, redirectURIs []string, users ...User) *OP {
	t.Helper()
	us := &userStore{users: map[string]*storage.User{}}
	for _, u := range users {
		us.users[u.ID] = &storage.User{
			ID: u.ID, Username: u.Username, Password: u.Password, Email: u.Email, EmailVerified: u.EmailVerified,
			FirstName: u.FirstName, LastName: u.LastName, PreferredLanguage: language.English,
		}
	}
	const secret = "op-client-secret-for-tests"
	clientsMu.Lock()
	storage.RegisterClients(storage.WebClient(clientID, secret, redirectURIs...))
	clientsMu.Unlock()
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()
	srv.Config.Handler = exampleop.SetupServer(issuer, storage.NewStorage(us), nil, false)
	srv.Start()
	t.Cleanup(srv.Close)
	return &OP{Issuer: issuer, ClientID: clientID, ClientSecret: secret, srv: srv}
}

// formID finds the login form's hidden authorization request id.
var formID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// Browser follows redirects as a browser would, but stops at any URL on
// one of the stop hosts (the relying party), returning it.
type Browser struct {
	Client *http.Client
	// Hops records every URL visited, in order.
	Hops []string
}

// NewBrowser returns a Browser with a cookie jar.
func NewBrowser() *Browser {
	jar, _ := cookiejar.New(nil)
	b := &Browser{}
	b.Client = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	return b
}

// Follow GETs u and follows redirects until one leaves for a host in stop
// (returned, not visited) or a page answers 200 (its body returned).
func (b *Browser) Follow(u string, stop ...string) (next string, body string, err error) {
	for range 20 {
		b.Hops = append(b.Hops, u)
		pu, err := url.Parse(u)
		if err != nil {
			return "", "", err
		}
		for _, h := range stop {
			if pu.Host == h {
				return u, "", nil
			}
		}
		resp, err := b.Client.Get(u)
		if err != nil {
			return "", "", err
		}
		data, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			loc, err := resp.Location()
			if err != nil {
				return "", "", err
			}
			u = loc.String()
		case resp.StatusCode == http.StatusOK:
			return u, string(data), nil
		default:
			return u, string(data), fmt.Errorf("GET %s: %d %s", u, resp.StatusCode, data)
		}
	}
	return "", "", errors.New("too many redirects")
}

// SignIn drives the OP's login form for the authorization URL authURL and
// returns the URL the OP sends the browser back to (on host rp).
func (op *OP) SignIn(b *Browser, authURL, username, password, rp string) (string, error) {
	page, body, err := b.Follow(authURL, rp)
	if err != nil {
		return "", err
	}
	if body == "" {
		return page, nil // already signed in at the provider
	}
	m := formID.FindStringSubmatch(body)
	if m == nil {
		return "", fmt.Errorf("no login form at %s", page)
	}
	form := url.Values{"id": {m[1]}, "username": {username}, "password": {password}}
	resp, err := b.Client.PostForm(op.Issuer+"/login/username", form)
	if err != nil {
		return "", err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return "", fmt.Errorf("login form: status %d (wrong password?)", resp.StatusCode)
	}
	loc, err := resp.Location()
	if err != nil {
		return "", err
	}
	next, _, err := b.Follow(loc.String(), rp)
	return next, err
}

// HostOf is u's host.
func HostOf(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return pu.Host
}

// Rebase moves u onto base's scheme and host (the relying party's real
// listener when its PUBLIC_URL names another).
func Rebase(u, base string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return u
	}
	pb, _ := url.Parse(base)
	pu.Scheme, pu.Host = pb.Scheme, pb.Host
	return pu.String()
}

// Fragment parses the fragment of u as a query.
func Fragment(u string) url.Values {
	_, frag, _ := strings.Cut(u, "#")
	v, _ := url.ParseQuery(frag)
	return v
}
