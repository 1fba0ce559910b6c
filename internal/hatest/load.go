package hatest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The load's operations.
const (
	opLogin   = "login"
	opRefresh = "refresh"
	opMe      = "me"
	opLogout  = "logout"
)

// password is every load account's; long and unusual, so no breached-password list has it.
const password = "gatehouse-ha-load-Q7v2x9Lm"

// LoadOptions shape a mixed load.
type LoadOptions struct {
	Users   int // accounts
	Chains  int // refresh chains (sessions) kept alive at once
	Workers int
	// Rate is the most requests per second the whole load sends (0: as
	// fast as the workers go).
	Rate float64
}

// chain is one session as a client holds it. Exactly one worker holds its
// lock at a time, as one client refreshes one session serially.
type chain struct {
	mu      sync.Mutex
	email   string
	session string // the session's id
	access  string
	tokens  []string // every refresh token of the session, newest last
	needNew bool     // no session: the last login did not answer 200
	// leaving: a logout got no answer, so the session may be gone; the
	// chain must finish the logout before anything else.
	leaving bool
	// unsure: the last refresh got no answer (or a 503), so the session may
	// have rotated to a successor the client never saw; only a prompt
	// retry with the same token, within the reuse grace, gets it back.
	unsure bool
	// trail is the chain's last few requests, for failure messages.
	trail []string
}

// note adds one request to the chain's trail.
func (c *chain) note(op string, r reply) {
	tok := ""
	if len(c.tokens) > 0 {
		tok = c.current()
		tok = tok[max(0, len(tok)-6):]
	}
	c.trail = append(c.trail, fmt.Sprintf("%s %s(%s…%s)", time.Now().Format("15:04:05.000"), op, r, tok))
	if len(c.trail) > 6 {
		c.trail = c.trail[1:]
	}
}

func (c *chain) current() string { return c.tokens[len(c.tokens)-1] }

// revoked is a session whose logout was acknowledged (200).
type revoked struct {
	refresh, access string
}

// failure is one request that did not answer as it should.
type failure struct {
	at     time.Time // when the answer (or its absence) arrived
	op     string
	status int // 0: no response
	what   string
}

// Load is a bounded, steady mixed load of logins, refreshes, me and
// logouts against one URL, which records every failure with its time.
type Load struct {
	c    *client
	opts LoadOptions
	rng  *rand.Rand
	rmu  sync.Mutex

	chains []*chain

	mu       sync.Mutex
	revoked  []revoked
	failures []failure
	lat      []time.Duration // latencies since the last Interval
	ok       atomic.Int64    // answered as expected, in total
	sent     atomic.Int64
	unacked  map[string]int // per email: logins that got no answer
	// started are the sessions whose login was answered 200, in order:
	// what a webhook receiver must hear of (session.created).
	started  []string
	checked  int // revocations that CheckInvariants has seen
	lastTick time.Time

	run    sync.WaitGroup
	cancel context.CancelFunc
}

// NewLoad registers the users and logs every chain in, through url.
func NewLoad(ctx context.Context, url string, opts LoadOptions) (*Load, error) {
	l := &Load{c: newClient(url, opts.Workers*2), opts: opts,
		rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 16)), unacked: map[string]int{}}
	emails := make([]string, opts.Users)
	for i := range emails {
		emails[i] = fmt.Sprintf("ha-%d-%d@example.com", time.Now().UnixNano(), i)
		var tp tokenPair
		if r := l.c.register(ctx, emails[i], password, &tp); r.status != 201 {
			return nil, fmt.Errorf("register %s: %v", emails[i], r)
		}
		// Registration's own session is not one of the chains.
		if r := l.c.logout(ctx, tp.RefreshToken); r.status != 200 {
			return nil, fmt.Errorf("logout after register %s: %v", emails[i], r)
		}
	}
	l.chains = make([]*chain, opts.Chains)
	err := l.parallel(ctx, len(l.chains), func(i int) error {
		c := &chain{email: emails[i%len(emails)]}
		l.chains[i] = c
		if r := l.newSession(ctx, c); r.status != 200 {
			return fmt.Errorf("login %s: %v", c.email, r)
		}
		return nil
	})
	return l, err
}

// parallel runs fn(0..n-1) on the load's worker count.
func (l *Load) parallel(ctx context.Context, n int, fn func(i int) error) error {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for range max(l.opts.Workers, 1) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("%d failed, first: %w", len(errs), errs[0])
	}
	return nil
}

// newSession logs c's user in and makes c that session.
func (l *Load) newSession(ctx context.Context, c *chain) reply {
	var tp tokenPair
	r := l.c.login(ctx, c.email, password, &tp)
	c.note(opLogin, r)
	if r.status == 200 && r.err == nil {
		c.session, c.access, c.tokens, c.needNew = tp.Session.ID, tp.AccessToken, []string{tp.RefreshToken}, false
		l.mu.Lock()
		l.started = append(l.started, tp.Session.ID)
		l.mu.Unlock()
	} else {
		c.needNew = true
	}
	return r
}

// Started returns the sessions whose login was acknowledged (200).
func (l *Load) Started() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.started)
}

// Start runs the workers until Stop.
func (l *Load) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	l.mu.Lock()
	l.lastTick = time.Now()
	l.mu.Unlock()
	for w := range max(l.opts.Workers, 1) {
		l.run.Go(func() { l.worker(ctx, w) })
	}
}

// Stop stops the workers and waits for their requests to end.
func (l *Load) Stop() {
	l.cancel()
	l.run.Wait()
}

func (l *Load) intn(n int) int {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	return l.rng.IntN(n)
}

func (l *Load) worker(ctx context.Context, w int) {
	var every time.Duration
	if l.opts.Rate > 0 {
		every = time.Duration(float64(time.Second) * float64(max(l.opts.Workers, 1)) / l.opts.Rate)
	}
	next := time.Now().Add(time.Duration(w) * every / time.Duration(max(l.opts.Workers, 1)))
	for ctx.Err() == nil {
		if every > 0 {
			if d := time.Until(next); d > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(d):
				}
			}
			next = next.Add(every)
			if time.Until(next) < -time.Second {
				next = time.Now() // do not burst to catch up after a stall
			}
		}
		c := l.chains[l.intn(len(l.chains))]
		if !c.mu.TryLock() {
			continue
		}
		l.step(ctx, c)
		c.mu.Unlock()
	}
}

// step does one operation on c: refresh 55%, me 35%, logout then a new
// login 10% (a login also replaces a session whose login failed).
func (l *Load) step(ctx context.Context, c *chain) {
	if c.leaving && !l.logoutChain(ctx, c) {
		return
	}
	if c.needNew {
		l.timed(ctx, opLogin, func() reply { return l.newSession(ctx, c) }, c.email)
		return
	}
	switch p := l.intn(100); {
	case p < 55:
		l.refreshChain(ctx, c)
	case p < 90:
		l.timed(ctx, opMe, func() reply { return l.c.me(ctx, c.access) }, "")
	default:
		if !l.logoutChain(ctx, c) {
			return
		}
		l.timed(ctx, opLogin, func() reply { return l.newSession(ctx, c) }, c.email)
	}
}

// refreshChain rotates c's token. A request that got no answer or a 503 is
// retried (briefly, within the reuse grace) with the same token, as a
// client that lost the answer would: if the rotation had happened, the
// grace interval hands back the same successor.
func (l *Load) refreshChain(ctx context.Context, c *chain) {
	for attempt := 0; ; attempt++ {
		var tp tokenPair
		r := l.timed(ctx, opRefresh, func() reply { return l.c.refresh(ctx, c.current(), &tp) }, "")
		c.note(opRefresh, r)
		if r.status == 200 && r.err == nil {
			c.access = tp.AccessToken
			c.tokens = append(c.tokens, tp.RefreshToken)
			c.unsure = false
			return
		}
		c.unsure = true
		if (r.status != 0 && r.status != 503) || attempt == 20 || ctx.Err() != nil {
			return
		}
		sleepCtx(ctx, 200*time.Millisecond)
	}
}

// logoutChain logs c's session out, retrying an unanswered attempt (logout
// is idempotent); it reports whether the logout was acknowledged.
func (l *Load) logoutChain(ctx context.Context, c *chain) bool {
	for attempt := 0; ; attempt++ {
		r := l.timed(ctx, opLogout, func() reply { return l.c.logout(ctx, c.current()) }, "")
		c.note(opLogout, r)
		if r.status == 200 {
			l.mu.Lock()
			l.revoked = append(l.revoked, revoked{refresh: c.current(), access: c.access})
			l.mu.Unlock()
			c.needNew, c.leaving = true, false
			return true
		}
		c.leaving = true
		if (r.status != 0 && r.status != 503) || attempt == 20 || ctx.Err() != nil {
			return false
		}
		sleepCtx(ctx, 200*time.Millisecond)
	}
}

// timed runs one request and records it: latency when answered 200, a
// failure otherwise (a request cut short by Stop is neither). email names
// the account of a login, whose unanswered attempts may have made a session.
func (l *Load) timed(ctx context.Context, op string, fn func() reply, email string) reply {
	start := time.Now()
	r := fn()
	d := time.Since(start)
	if ctx.Err() != nil && r.status == 0 {
		if email != "" {
			l.mu.Lock()
			l.unacked[email]++
			l.mu.Unlock()
		}
		return r
	}
	l.sent.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.status == 200 && r.err == nil {
		l.ok.Add(1)
		l.lat = append(l.lat, d)
		return r
	}
	if email != "" && r.status == 0 {
		l.unacked[email]++
	}
	// A failure counts when the client saw it: a request in flight when a
	// fault struck fails after the injection.
	l.failures = append(l.failures, failure{at: start.Add(d), op: op, status: r.status, what: r.String()})
	return r
}

// Failures returns the failures recorded so far.
func (l *Load) Failures() []failure {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.failures)
}

// Tick is throughput and latency since the previous Tick.
type Tick struct {
	Elapsed time.Duration
	OK      int
	Rate    float64 // answered-as-expected requests per second
	P50     time.Duration
	P99     time.Duration
}

// Interval returns the figures since the last call and resets them.
func (l *Load) Interval() Tick {
	l.mu.Lock()
	lat, since := l.lat, l.lastTick
	l.lat, l.lastTick = nil, time.Now()
	l.mu.Unlock()
	el := time.Since(since)
	t := Tick{Elapsed: el, OK: len(lat), Rate: float64(len(lat)) / el.Seconds()}
	if len(lat) > 0 {
		slices.Sort(lat)
		t.P50 = lat[len(lat)/2]
		t.P99 = lat[min(len(lat)-1, len(lat)*99/100)]
	}
	return t
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
