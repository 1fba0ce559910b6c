package authn_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/throttle"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/authn"
	"github.com/gatehouse/gatehouse/usecase/internal/fakes"
)

// memThrottle is an in-memory authn.LoginThrottle.
type memThrottle struct {
	mu sync.Mutex
	m  map[string]throttle.State
}

func (t *memThrottle) Update(_ context.Context, key string, fn func(*throttle.State) error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.m[key]
	if err := fn(&st); err != nil {
		return err
	}
	t.m[key] = st
	return nil
}

func (t *memThrottle) PurgeStale(context.Context, time.Time) (int, error) { return 0, nil }

// flakyUsers fails lookups by email while down is set, as a lost database would.
type flakyUsers struct {
	authn.UserRepository
	down bool
}

var errDown = errors.New("database unreachable")

func (f *flakyUsers) ByEmail(ctx context.Context, email string) (user.User, error) {
	if f.down {
		return user.User{}, errDown
	}
	return f.UserRepository.ByEmail(ctx, email)
}

func TestThrottleCountsOnlyCheckedPasswords(t *testing.T) {
	clock := fakes.NewClock(t0)
	store := fakes.NewStore()
	tokens := fakes.NewTokens(clock, accessTTL)
	users := &flakyUsers{UserRepository: store.Users}
	lt := &memThrottle{m: map[string]throttle.State{}}
	policy := throttle.Policy{BackoffAfter: 5, BaseDelay: time.Second, MaxFailures: 3, Window: 15 * time.Minute, Lockout: 15 * time.Minute}
	svc := newService(clock, store, tokens, func(d *deps) {
		d.Users, d.Throttle, d.ThrottlePolicy = users, lt, policy
	})
	ctx := context.Background()
	if _, err := svc.Register(ctx, authn.RegisterInput{Credentials: authn.Credentials{Email: adaEmail, Password: adaPassword}}, meta); err != nil {
		t.Fatal(err)
	}
	// An outage: the password is never checked, so nothing is counted.
	users.down = true
	for range 5 {
		if _, err := svc.Login(ctx, authn.Credentials{Email: adaEmail, Password: adaPassword}, meta); !errors.Is(err, errDown) {
			t.Fatalf("login during the outage: %v", err)
		}
	}
	users.down = false
	if _, err := svc.Login(ctx, authn.Credentials{Email: adaEmail, Password: adaPassword}, meta); err != nil {
		t.Fatalf("login after the outage: %v", err)
	}
	// Wrong passwords are counted, and the third locks.
	for range 3 {
		_, _ = svc.Login(ctx, authn.Credentials{Email: adaEmail, Password: "wrong password"}, meta)
	}
	var limited *throttle.LimitedError
	if _, err := svc.Login(ctx, authn.Credentials{Email: adaEmail, Password: adaPassword}, meta); !errors.As(err, &limited) {
		t.Fatalf("after three failures: %v, want throttled", err)
	}
}

// TestSuccessfulLoginTakesBackItsAttempts: a login that starts its session
// forgets the client's failures with it (in the session's own commit), and
// a step-up with the right password does the same; otherwise an owner who
// mistyped twice would be locked out by the next typo after logging in.
func TestSuccessfulLoginTakesBackItsAttempts(t *testing.T) {
	clock := fakes.NewClock(t0)
	store := fakes.NewStore()
	tokens := fakes.NewTokens(clock, accessTTL)
	lt := &memThrottle{m: map[string]throttle.State{}}
	policy := throttle.Policy{BackoffAfter: 5, BaseDelay: time.Second, MaxFailures: 3, Window: 15 * time.Minute, Lockout: 15 * time.Minute}
	svc := newService(clock, store, tokens, func(d *deps) { d.Throttle, d.ThrottlePolicy = lt, policy })
	ctx := context.Background()
	if _, err := svc.Register(ctx, authn.RegisterInput{Credentials: authn.Credentials{Email: adaEmail, Password: adaPassword}}, meta); err != nil {
		t.Fatal(err)
	}
	var pair authn.TokenPair
	for round := range 3 {
		for range 2 {
			if _, err := svc.Login(ctx, authn.Credentials{Email: adaEmail, Password: "wrong password"}, meta); err == nil {
				t.Fatal("a wrong password logged in")
			}
		}
		var err error
		if pair, err = svc.Login(ctx, authn.Credentials{Email: adaEmail, Password: adaPassword}, meta); err != nil {
			t.Fatalf("round %d: login after two typos: %v", round, err)
		}
	}
	p, err := svc.Authenticate(ctx, pair.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		_, _ = svc.Login(ctx, authn.Credentials{Email: adaEmail, Password: "wrong password"}, meta)
	}
	if _, err := svc.Reauthenticate(ctx, p, authn.ReauthInput{Password: adaPassword}, meta); err != nil {
		t.Fatalf("step-up after two typos: %v", err)
	}
	for range 2 {
		_, _ = svc.Login(ctx, authn.Credentials{Email: adaEmail, Password: "wrong password"}, meta)
	}
	if _, err := svc.Login(ctx, authn.Credentials{Email: adaEmail, Password: adaPassword}, meta); err != nil {
		t.Fatalf("login after a step-up and two typos: %v", err)
	}
}

// Issue 21 item 5: the account-wide ceiling others drive up does not slow a
// client presenting the device proof of an earlier sign-in to the account,
// nor a step-up; a proof of another account, or none, waits like anyone.
func TestAccountCeilingSparesKnownDevices(t *testing.T) {
	clock := fakes.NewClock(t0)
	store := fakes.NewStore()
	tokens := fakes.NewTokens(clock, accessTTL)
	lt := &memThrottle{m: map[string]throttle.State{}}
	devices, err := throttle.NewDeviceCodec(bytes.Repeat([]byte{8}, throttle.DeviceKeyBytes))
	if err != nil {
		t.Fatal(err)
	}
	svc := newService(clock, store, tokens, func(d *deps) {
		d.Throttle, d.Devices = lt, devices
		d.ThrottlePolicy = throttle.Policy{BackoffAfter: 5, BaseDelay: time.Second, MaxFailures: 10, Window: 15 * time.Minute, Lockout: 15 * time.Minute}
		d.AccountPolicy = throttle.Policy{BackoffAfter: 6, BaseDelay: time.Second, MaxFailures: 1 << 30, Window: 15 * time.Minute, Lockout: 30 * time.Second}
	})
	ctx := context.Background()
	if _, err := svc.Register(ctx, authn.RegisterInput{Credentials: authn.Credentials{Email: "bea@example.com", Password: adaPassword}}, meta); err != nil {
		t.Fatal(err)
	}
	reg, err := svc.Register(ctx, authn.RegisterInput{Credentials: authn.Credentials{Email: adaEmail, Password: adaPassword}}, meta)
	if err != nil {
		t.Fatal(err)
	}
	known, err := svc.Login(ctx, authn.Credentials{Email: adaEmail, Password: adaPassword}, meta)
	if err != nil || known.Device == "" || reg.Device == "" {
		t.Fatalf("sign-ins issue device proofs: %q %q %v", reg.Device, known.Device, err)
	}
	bea, _ := svc.Login(ctx, authn.Credentials{Email: "bea@example.com", Password: adaPassword}, meta)
	// Seven addresses, one wrong password each: past the ceiling of 6.
	for i := range 7 {
		_, _ = svc.Login(ctx, authn.Credentials{Email: adaEmail, Password: "wrong password"}, authn.Meta{IP: fmt.Sprintf("198.51.100.%d", i)})
	}
	var limited *throttle.LimitedError
	owner := authn.Meta{IP: "192.0.2.50"}
	if _, err := svc.Login(ctx, authn.Credentials{Email: adaEmail, Password: adaPassword}, owner); !errors.As(err, &limited) {
		t.Fatalf("a client without a proof: %v, want the account-wide wait", err)
	}
	forged := []byte(known.Device)
	forged[10] ^= 1 // still base64url: A<->B, a<->b, 0<->1, ...
	for _, other := range []string{bea.Device, string(forged), "garbage"} {
		if _, err := svc.Login(ctx, authn.Credentials{Email: adaEmail, Password: adaPassword}, authn.Meta{IP: owner.IP, Devices: []string{other}}); !errors.As(err, &limited) {
			t.Fatalf("a foreign or forged proof: %v, want the account-wide wait", err)
		}
	}
	for range 3 {
		if _, err := svc.Login(ctx, authn.Credentials{Email: adaEmail, Password: adaPassword}, authn.Meta{IP: owner.IP, Devices: []string{"garbage", known.Device}}); err != nil {
			t.Fatalf("the known device: %v", err)
		}
	}
	p, err := svc.Authenticate(ctx, known.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Reauthenticate(ctx, p, authn.ReauthInput{Password: adaPassword}, owner); err != nil {
		t.Fatalf("step-up during the attack: %v", err)
	}
}
