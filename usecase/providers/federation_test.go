package providers_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/federation"
	"github.com/gatehouse/gatehouse/domain/webhook"
	"github.com/gatehouse/gatehouse/usecase/authn"
	"github.com/gatehouse/gatehouse/usecase/internal/fakes"
	"github.com/gatehouse/gatehouse/usecase/providers"
)

// The fakes: one in-memory store for flows, codes, identities and
// accounts, a provider that asserts fixed claims, a settable clock.

type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

type store struct {
	flows  once[federation.Flow]
	codes  once[federation.AppCode]
	ids    []federation.Identity
	events []audit.Event
	fakes.UserMap
}

func newStore() *store {
	return &store{flows: once[federation.Flow]{}, codes: once[federation.AppCode]{}, UserMap: fakes.UserMap{}}
}

// once keeps single-use records (flows, app codes) by hash: taking one
// removes it, and an unknown one is federation.ErrFailed, as in the real store.
type once[T any] map[[32]byte]T

func (m once[T]) put(h [32]byte, v T) error {
	m[h] = v
	return nil
}

func (m once[T]) take(h [32]byte) (T, error) {
	v, ok := m[h]
	if !ok {
		var none T
		return none, federation.ErrFailed
	}
	delete(m, h)
	return v, nil
}

func (s *store) WithinTx(ctx context.Context, fn func(context.Context) error) error { return fn(ctx) }
func (s *store) CreateFlow(_ context.Context, f federation.Flow) error {
	return s.flows.put(f.StateHash, f)
}
func (s *store) TakeFlow(_ context.Context, h [32]byte) (federation.Flow, error) {
	return s.flows.take(h)
}
func (s *store) CreateCode(_ context.Context, c federation.AppCode) error {
	return s.codes.put(c.Hash, c)
}
func (s *store) TakeCode(_ context.Context, h [32]byte) (federation.AppCode, error) {
	return s.codes.take(h)
}
func (s *store) BySubject(_ context.Context, p, sub string) (federation.Identity, error) {
	for _, i := range s.ids {
		if i.Provider == p && i.Subject == sub {
			return i, nil
		}
	}
	return federation.Identity{}, federation.ErrIdentityNotFound
}
func (s *store) Link(_ context.Context, i federation.Identity) error {
	s.ids = append(s.ids, i)
	return nil
}
func (s *store) ListByUser(context.Context, string) ([]federation.Identity, error) { return nil, nil }
func (s *store) CountIdentities(context.Context, string) (int, error)              { return 0, nil }
func (s *store) Unlink(context.Context, string, string) (federation.Identity, error) {
	return federation.Identity{}, nil
}
func (s *store) Append(_ context.Context, e audit.Event) error {
	s.events = append(s.events, e)
	return nil
}

type provider struct {
	claims federation.Claims
	err    error
}

func (p provider) AuthURL(_ context.Context, state, nonce, _ string) (string, error) {
	return "https://idp.example.com/authorize?state=" + state + "&nonce=" + nonce, nil
}
func (p provider) Identify(context.Context, string, string, string) (federation.Claims, error) {
	return p.claims, p.err
}

type providerList map[string]providers.Provider

func (p providerList) Provider(id string) (providers.Provider, bool) {
	v, ok := p[id]
	return v, ok
}

type signer struct{ userID string }

func (s *signer) SignIn(_ context.Context, userID, _ string, _ authn.Meta) (authn.TokenPair, error) {
	s.userID = userID
	return authn.TokenPair{AccessToken: "token"}, nil
}

type hook struct{ refuse, silent bool }

func (h hook) BeforeSignup(context.Context, authn.SignupAttempt) error {
	if h.refuse {
		return &webhook.RejectedError{Message: "no"}
	}
	if h.silent {
		return errors.New("timeout")
	}
	return nil
}

type counter map[string]int

func (c counter) FederatedSignIn(p, o string) { c[p+"/"+o]++ }

const app = "https://app.example.com/cb"

// world wires the use cases over the fakes.
type world struct {
	st      *store
	clk     *clock
	prov    *provider
	start   *providers.Starter
	finish  *providers.Finisher
	swap    *providers.Exchanger
	signed  *signer
	counted counter
}

func newWorld(h authn.SignupHook) *world {
	w := &world{st: newStore(), clk: &clock{now: time.Date(2026, 12, 7, 21, 0, 0, 0, time.UTC)},
		prov:    &provider{claims: federation.Claims{Subject: "sub-1", Email: "Ada@Example.com", EmailVerified: true, Name: "Ada"}},
		signed:  &signer{},
		counted: counter{}}
	ps := providerList{"corp": w.prov}
	w.start = providers.NewStarter(providers.StarterDeps{Providers: ps, Flows: w.st,
		Redirects: federation.NewRedirectPolicy([]string{"https://app.example.com/*"}), Clock: w.clk})
	w.finish = providers.NewFinisher(providers.FinisherDeps{Providers: ps, Flows: w.st, Codes: w.st,
		Identities: w.st, Accounts: w.st, Audit: w.st, Tx: w.st, Clock: w.clk, Hook: h, Observer: w.counted})
	w.swap = providers.NewExchanger(providers.ExchangerDeps{Codes: w.st, Sessions: w.signed,
		Clock: w.clk, Observer: w.counted})
	return w
}

// verifier and its challenge.
const (
	verifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" // RFC 7636 appendix B
)

// trip begins a flow and returns its state.
func (w *world) trip(t *testing.T) string {
	t.Helper()
	u, err := w.start.Start(context.Background(), "corp", app, challenge)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(u, "state=")
	state, _, _ := strings.Cut(rest, "&")
	return state
}

func (w *world) callback(t *testing.T, state string) string {
	t.Helper()
	to, err := w.finish.Finish(context.Background(), providers.Callback{Provider: "corp", State: state, Code: "c"})
	if err != nil {
		t.Fatal(err)
	}
	return to
}

func codeOf(to string) string { return strings.TrimPrefix(to, app+"#code=") }

func TestStateLivesTenMinutesOnce(t *testing.T) {
	w := newWorld(nil)
	late := w.trip(t)
	w.clk.now = w.clk.now.Add(federation.StateTTL)
	if _, err := w.finish.Finish(context.Background(), providers.Callback{Provider: "corp", State: late, Code: "c"}); !errors.Is(err, federation.ErrFailed) {
		t.Fatalf("expired state: %v", err)
	}
	s := w.trip(t)
	if _, err := w.finish.Finish(context.Background(), providers.Callback{Provider: "other", State: s, Code: "c"}); !errors.Is(err, federation.ErrFailed) {
		t.Fatalf("another provider's callback: %v", err)
	}
	// Taken by the refused attempt: a state is tried once.
	if _, err := w.finish.Finish(context.Background(), providers.Callback{Provider: "corp", State: s, Code: "c"}); !errors.Is(err, federation.ErrFailed) {
		t.Fatalf("reused state: %v", err)
	}
}

func TestCodeLivesSixtySecondsBoundToItsChallenge(t *testing.T) {
	w := newWorld(nil)
	ctx := context.Background()
	first := codeOf(w.callback(t, w.trip(t)))
	second := codeOf(w.callback(t, w.trip(t)))
	third := codeOf(w.callback(t, w.trip(t)))
	if len(first) < 43 || first == second {
		t.Fatalf("codes %q %q", first, second)
	}
	if _, err := w.swap.Exchange(ctx, first, strings.Repeat("x", 43), authn.Meta{}); !errors.Is(err, federation.ErrFailed) {
		t.Fatalf("wrong verifier: %v", err)
	}
	if _, err := w.swap.Exchange(ctx, first, verifier, authn.Meta{}); !errors.Is(err, federation.ErrFailed) {
		t.Fatalf("a code spent by a wrong verifier: %v", err)
	}
	w.clk.now = w.clk.now.Add(federation.CodeTTL - time.Second)
	if _, err := w.swap.Exchange(ctx, second, verifier, authn.Meta{}); err != nil {
		t.Fatalf("a code at 59 s: %v", err)
	}
	w.clk.now = w.clk.now.Add(time.Second)
	if _, err := w.swap.Exchange(ctx, third, verifier, authn.Meta{}); !errors.Is(err, federation.ErrFailed) {
		t.Fatalf("a code at 60 s: %v", err)
	}
	if w.counted["corp/success"] != 1 || w.counted["corp/failed"] != 2 {
		t.Fatalf("counted %v", w.counted)
	}
}

func TestSignUpThroughAProvider(t *testing.T) {
	w := newWorld(nil)
	to := w.callback(t, w.trip(t))
	if _, err := w.swap.Exchange(context.Background(), codeOf(to), verifier, authn.Meta{}); err != nil {
		t.Fatal(err)
	}
	u := w.st.UserMap[w.signed.userID]
	if u.Email != "ada@example.com" || u.HasPassword() || !u.EmailVerified || u.Name != "Ada" {
		t.Fatalf("new account %+v", u)
	}
	if len(w.st.ids) != 1 || w.st.events[0].Type != audit.IdentityLinked || w.st.events[0].Provider != "corp" {
		t.Fatalf("identities %+v events %+v", w.st.ids, w.st.events)
	}
}

func TestProviderFailuresTravelInTheFragment(t *testing.T) {
	w := newWorld(nil)
	w.prov.err = errors.Join(federation.ErrFailed, errors.New("bad signature"))
	if to := w.callback(t, w.trip(t)); to != app+"#error=OAUTH_FAILED" {
		t.Fatalf("got %s", to)
	}
	to, err := w.finish.Finish(context.Background(), providers.Callback{Provider: "corp", State: w.trip(t), Error: "access_denied"})
	if err != nil || to != app+"#error=OAUTH_DENIED" {
		t.Fatalf("denied: %s %v", to, err)
	}
	if len(w.st.UserMap) != 0 || len(w.st.codes) != 0 {
		t.Fatal("a failed sign-in left an account or a code")
	}
}

// TestBeforeSignupHookRefusals: a before-signup hook that refuses, or
// does not answer (the sign-up fails closed), sends the app its error and
// leaves no account, identity or code.
func TestBeforeSignupHookRefusals(t *testing.T) {
	for _, c := range []struct {
		name string
		hook hook
		code string
	}{
		{"refuses", hook{refuse: true}, "SIGNUP_REJECTED"},
		{"unavailable fails closed", hook{silent: true}, "SERVICE_UNAVAILABLE"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(c.hook)
			if to := w.callback(t, w.trip(t)); to != app+"#error="+c.code {
				t.Fatalf("got %s", to)
			}
			if len(w.st.UserMap) != 0 || len(w.st.ids) != 0 || len(w.st.codes) != 0 {
				t.Fatal("a sign-up the hook did not allow created something")
			}
		})
	}
}
