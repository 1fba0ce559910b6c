package recovery_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/emailtoken"
	"github.com/gatehouse/gatehouse/domain/outbox"
	"github.com/gatehouse/gatehouse/domain/throttle"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/domain/webhook"
	"github.com/gatehouse/gatehouse/usecase/internal/fakes"
	"github.com/gatehouse/gatehouse/usecase/recovery"
)

// In-memory fakes of the ports; the contract suites of the real stores are
// in adapter/persistence.

type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

type tx struct{}

func (tx) WithinTx(ctx context.Context, fn func(context.Context) error) error { return fn(ctx) }

// users finds accounts as fakes.UserMap does and writes their credentials
// and addresses.
type users struct{ fakes.UserMap }

func (u *users) SetPassword(_ context.Context, id, hash string, proven int64, now time.Time) error {
	x, ok := u.UserMap[id]
	switch {
	case !ok:
		return user.ErrNotFound
	case x.CredentialVersion != proven:
		return user.ErrCredentialChanged
	}
	x.PasswordHash, x.UpdatedAt = hash, now
	x.CredentialVersion++
	u.UserMap[id] = x
	return nil
}
func (u *users) MarkEmailVerified(_ context.Context, id, email string, now time.Time) error {
	x, ok := u.UserMap[id]
	if !ok || x.Email != email {
		return user.ErrNotFound
	}
	x.EmailVerified, x.UpdatedAt = true, now
	u.UserMap[id] = x
	return nil
}
func (u *users) SetEmail(_ context.Context, id, email string, verified bool, now time.Time) error {
	x, ok := u.UserMap[id]
	if !ok {
		return user.ErrNotFound
	}
	x.Email, x.EmailVerified, x.UpdatedAt = email, verified, now
	u.UserMap[id] = x
	return nil
}

type tokens struct{ m map[[32]byte]emailtoken.Token }

func (s *tokens) Insert(_ context.Context, t emailtoken.Token) error { s.m[t.Hash] = t; return nil }
func (s *tokens) ByHash(_ context.Context, h [32]byte) (emailtoken.Token, error) {
	t, ok := s.m[h]
	if !ok {
		return emailtoken.Token{}, emailtoken.ErrLinkInvalid
	}
	return t, nil
}
func (s *tokens) Take(ctx context.Context, h [32]byte) (emailtoken.Token, error) {
	t, err := s.ByHash(ctx, h)
	delete(s.m, h)
	return t, err
}
func (s *tokens) DeleteForUser(_ context.Context, id string, p emailtoken.Purpose) error {
	for h, t := range s.m {
		if t.UserID == id && t.Purpose == p {
			delete(s.m, h)
		}
	}
	return nil
}
func (s *tokens) Supersede(_ context.Context, id string, p emailtoken.Purpose, keep [32]byte) error {
	for h, t := range s.m {
		if t.UserID == id && t.Purpose == p && h != keep {
			delete(s.m, h)
		}
	}
	return nil
}
func (s *tokens) PurgeExpired(context.Context, time.Time) (int, error) { return 0, nil }

type row struct {
	m      outbox.Message
	due    time.Time
	failed bool
	reason string
}

type box struct{ rows []*row }

func (b *box) Enqueue(_ context.Context, m outbox.Message, due time.Time) error {
	if m.Link != "" {
		return errors.New("the outbox never stores a link")
	}
	b.rows = append(b.rows, &row{m: m, due: due})
	return nil
}
func (b *box) Claim(_ context.Context, now time.Time, lease time.Duration, limit int) ([]outbox.Message, error) {
	var out []outbox.Message
	for _, r := range b.rows {
		if !r.failed && !r.due.After(now) && len(out) < limit {
			r.m.Attempts++
			r.due = now.Add(lease)
			out = append(out, r.m)
		}
	}
	return out, nil
}
func (b *box) find(id string) *row {
	for _, r := range b.rows {
		if r.m.ID == id {
			return r
		}
	}
	return nil
}
func (b *box) Delivered(_ context.Context, id string) error {
	for i, r := range b.rows {
		if r.m.ID == id {
			b.rows = append(b.rows[:i], b.rows[i+1:]...)
			break
		}
	}
	return nil
}
func (b *box) Retry(_ context.Context, id string, at time.Time, reason string) error {
	r := b.find(id)
	r.due, r.reason = at, reason
	return nil
}
func (b *box) GiveUp(_ context.Context, id, reason string) error {
	r := b.find(id)
	r.failed, r.reason, r.m.Link = true, reason, ""
	return nil
}

type sender struct {
	mu   sync.Mutex
	err  error
	sent []outbox.Message
}

func (s *sender) Send(_ context.Context, m outbox.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.sent = append(s.sent, m)
	return nil
}

type revoker struct{ revoked []string }

func (r *revoker) RevokeAllForUser(_ context.Context, userID, _, _ string, _ time.Time) ([]string, error) {
	r.revoked = append(r.revoked, userID)
	return nil, nil
}

// failures records whose failed second-factor codes were cleared.
type failures struct{ cleared []string }

func (f *failures) ClearFailures(_ context.Context, userID string) error {
	f.cleared = append(f.cleared, userID)
	return nil
}

type auditLog struct{ events []audit.Type }

func (a *auditLog) Append(_ context.Context, e audit.Event) error {
	a.events = append(a.events, e.Type)
	return nil
}

type hasher struct{}

func (hasher) Hash(_ context.Context, p string) (string, error) { return "hash:" + p, nil }

type observer struct {
	queued, sent int
	fakes.Retries
}

func (o *observer) MailQueued()           { o.queued++ }
func (o *observer) MailSent()             { o.sent++ }
func (o *observer) MailFailed(final bool) { o.Failed(final) }

// deps are the ports the recovery interactors of a test are built from;
// each interactor takes the ones it calls.
type deps struct {
	Users    *users
	Tokens   *tokens
	Outbox   *box
	Sessions recovery.SessionRevoker
	Audit    recovery.EventRecorder
	Tx       recovery.Transactor
	Hasher   recovery.PasswordHasher
	Limiter  recovery.Limiter
	Clock    recovery.Clock
	Sender   recovery.MailSender
	Observer recovery.Observer
	Factors  recovery.FactorFailures
	Events   recovery.Events
}

// config are the recovery settings of a test.
type config struct {
	recovery.DeliveryConfig
	PerAddress, PerIP throttle.Policy
}

// interactors are the recovery interactors the tests act through.
type interactors struct {
	*recovery.MailQueue
	*recovery.VerificationRequester
	*recovery.EmailVerifier
	*recovery.ResetRequester
	*recovery.PasswordResetter
	*recovery.Deliverer
	*recovery.TokenPurger
}

func newInteractors(d deps, cfg config) interactors {
	if d.Audit == nil {
		d.Audit = &auditLog{}
	}
	mail := recovery.NewMailQueue(recovery.MailQueueDeps{
		Outbox: d.Outbox, Tokens: d.Tokens, Users: d.Users, Limiter: d.Limiter, Tx: d.Tx, Clock: d.Clock,
		Observer: d.Observer, Enabled: d.Sender != nil, PerAddress: cfg.PerAddress, PerIP: cfg.PerIP,
	})
	return interactors{
		MailQueue:             mail,
		VerificationRequester: recovery.NewVerificationRequester(d.Users, mail, d.Tx),
		EmailVerifier: recovery.NewEmailVerifier(recovery.EmailVerifierDeps{
			Tokens: d.Tokens, Users: d.Users, Audit: d.Audit, Tx: d.Tx, Clock: d.Clock, Mail: mail, Events: d.Events,
		}),
		ResetRequester: recovery.NewResetRequester(mail, d.Tx),
		PasswordResetter: recovery.NewPasswordResetter(recovery.PasswordResetterDeps{
			Tokens: d.Tokens, Users: d.Users, Sessions: d.Sessions, Audit: d.Audit, Tx: d.Tx, Hasher: d.Hasher,
			Clock: d.Clock, Mail: mail, Factors: d.Factors, Events: d.Events,
		}),
		Deliverer: recovery.NewDeliverer(recovery.DelivererDeps{
			Outbox: d.Outbox, Sender: d.Sender, Tokens: d.Tokens, Users: d.Users, Tx: d.Tx, Clock: d.Clock,
			Observer: d.Observer,
		}, cfg.DeliveryConfig),
		TokenPurger: recovery.NewTokenPurger(d.Tokens, d.Clock),
	}
}

type fixture struct {
	svc    interactors
	clock  *clock
	users  *users
	tokens *tokens
	box    *box
	sender *sender
	rev    *revoker
	obs    *observer
	fails  *failures
	ada    user.User
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{
		clock:  &clock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)},
		users:  &users{fakes.UserMap{}},
		tokens: &tokens{m: map[[32]byte]emailtoken.Token{}},
		box:    &box{}, sender: &sender{}, rev: &revoker{}, obs: &observer{}, fails: &failures{},
	}
	f.ada = user.User{ID: "0b7e7a52-3c1f-4e8a-9d2b-6f4c1a8e5d33", Email: "ada@example.com", PasswordHash: "hash:old"}
	f.users.UserMap[f.ada.ID] = f.ada
	f.svc = newInteractors(deps{
		Users: f.users, Tokens: f.tokens, Outbox: f.box, Sessions: f.rev, Audit: &auditLog{},
		Tx: tx{}, Hasher: hasher{}, Clock: f.clock, Sender: f.sender, Observer: f.obs, Factors: f.fails,
	}, config{
		DeliveryConfig: recovery.DeliveryConfig{
			VerifyLink: "https://app/#/verify-email?token={token}", ResetLink: "https://app/#/reset-password?token={token}",
			VerifyTTL: 24 * time.Hour, ResetTTL: 30 * time.Minute,
			Retry: outbox.Retry{Base: time.Second, Max: time.Minute, MaxAttempts: 3},
			Lease: time.Minute,
		},
		// No Limiter: the throttle's own tests and the HTTP tests cover it.
		PerAddress: throttle.Policy{}, PerIP: throttle.Policy{},
	})
	return f
}

func tokenOf(t *testing.T, m outbox.Message) string {
	t.Helper()
	_, tok, ok := strings.Cut(m.Link, "token=")
	if !ok {
		t.Fatalf("no token in %q", m.Link)
	}
	return tok
}

// requestReset runs forgot-password for email and delivers, returning the
// reset mail sent (if any).
func (f *fixture) requestReset(t *testing.T, email string) []outbox.Message {
	t.Helper()
	if err := f.svc.ForgotPassword(context.Background(), email, recovery.Meta{IP: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	before := len(f.sender.sent)
	if _, err := f.svc.DeliverDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	return f.sender.sent[before:]
}

func TestResetLinkExpires(t *testing.T) {
	f := newFixture(t)
	sent := f.requestReset(t, "ADA@example.com")
	if len(sent) != 1 || sent[0].Kind != outbox.KindPasswordReset || sent[0].TTL != 30*time.Minute {
		t.Fatalf("sent %+v", sent)
	}
	tok := tokenOf(t, sent[0])
	f.clock.t = f.clock.t.Add(30 * time.Minute)
	err := f.svc.ResetPassword(context.Background(), tok, "a new long password", recovery.Meta{})
	if !errors.Is(err, emailtoken.ErrLinkInvalid) {
		t.Fatalf("a reset link at its expiry: %v, want ErrLinkInvalid", err)
	}
	if f.users.UserMap[f.ada.ID].PasswordHash != "hash:old" || len(f.rev.revoked) != 0 || len(f.fails.cleared) != 0 {
		t.Fatal("an expired link changed something")
	}
}

func TestResetRevokesSessionsAndVerifies(t *testing.T) {
	f := newFixture(t)
	tok := tokenOf(t, f.requestReset(t, "ada@example.com")[0])
	f.clock.t = f.clock.t.Add(29 * time.Minute)
	if err := f.svc.ResetPassword(context.Background(), tok, "a new long password", recovery.Meta{}); err != nil {
		t.Fatal(err)
	}
	u := f.users.UserMap[f.ada.ID]
	if u.PasswordHash != "hash:a new long password" || !u.EmailVerified || len(f.rev.revoked) != 1 || u.CredentialVersion != 1 {
		t.Fatalf("after reset: %+v, revoked %v", u, f.rev.revoked)
	}
	// The ceiling of failed second-factor codes is lifted (the factors stay).
	if len(f.fails.cleared) != 1 || f.fails.cleared[0] != f.ada.ID {
		t.Fatalf("failed codes cleared for %v", f.fails.cleared)
	}
	if _, err := f.svc.DeliverDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	last := f.sender.sent[len(f.sender.sent)-1]
	if last.Kind != outbox.KindPasswordChanged || last.Link != "" {
		t.Fatalf("no notice after the reset: %+v", last)
	}
}

func TestForgotPasswordUnknownAddressSendsNothing(t *testing.T) {
	f := newFixture(t)
	if sent := f.requestReset(t, "nobody@example.com"); len(sent) != 0 {
		t.Fatalf("sent %+v to an unknown address", sent)
	}
	if len(f.box.rows) != 0 {
		t.Fatalf("the request stayed in the outbox: %+v", f.box.rows[0])
	}
}

// TestDeliveryRetriesWithBackoffThenGivesUp: a failing transport gets the
// message again after Base, then 2·Base, and after MaxAttempts it is given
// up, without its link, and counted.
func TestDeliveryRetriesWithBackoffThenGivesUp(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.svc.Registered(ctx, f.ada, "203.0.113.5"); err != nil {
		t.Fatal(err)
	}
	f.sender.err = errors.New("421 service not available")
	start := f.clock.t
	for i, wait := range []time.Duration{0, time.Second, 2 * time.Second} {
		f.clock.t = f.clock.t.Add(wait)
		if n, err := f.svc.DeliverDue(ctx); err != nil || n != 0 {
			t.Fatalf("attempt %d: %d sent, %v", i+1, n, err)
		}
		// Not due again before its back-off.
		f.clock.t = f.clock.t.Add(time.Millisecond)
		if msgs, _ := f.box.Claim(ctx, f.clock.t, 0, 10); len(msgs) != 0 && i < 2 {
			t.Fatalf("attempt %d: the message came back before its back-off", i+1)
		}
		f.clock.t = f.clock.t.Add(-time.Millisecond)
	}
	r := f.box.rows[0]
	if !r.failed || r.m.Link != "" || r.reason != "421 service not available" {
		t.Fatalf("after %s and 3 attempts: %+v", f.clock.t.Sub(start), r)
	}
	if f.obs.queued != 1 || f.obs.Retried != 2 || f.obs.GaveUp != 1 || f.obs.sent != 0 {
		t.Fatalf("observer %+v", f.obs)
	}
}

func TestMailOff(t *testing.T) {
	f := newFixture(t)
	off := newInteractors(deps{Users: f.users, Tokens: f.tokens, Outbox: f.box, Tx: tx{}, Clock: f.clock}, config{})
	if err := off.ForgotPassword(context.Background(), "ada@example.com", recovery.Meta{}); !errors.Is(err, emailtoken.ErrMailUnavailable) {
		t.Fatalf("forgot with mail off: %v", err)
	}
	if err := off.Registered(context.Background(), f.ada, ""); err != nil || len(f.box.rows) != 0 {
		t.Fatalf("register with mail off: %v, %d queued", err, len(f.box.rows))
	}
}

// TestForgotPasswordDisabledAccountSendsNothing: an account an administrator
// disabled gets no reset link (a reset would undo the decision), and the
// request leaves the outbox like any other.
func TestForgotPasswordDisabledAccountSendsNothing(t *testing.T) {
	f := newFixture(t)
	ada := f.ada
	ada.Disabled = true
	f.users.UserMap[ada.ID] = ada
	if sent := f.requestReset(t, ada.Email); len(sent) != 0 {
		t.Fatalf("sent %+v to a disabled account", sent)
	}
	if len(f.box.rows) != 0 {
		t.Fatalf("the request stayed in the outbox: %+v", f.box.rows[0])
	}
	ada.Disabled = false
	f.users.UserMap[ada.ID] = ada
	if sent := f.requestReset(t, ada.Email); len(sent) != 1 {
		t.Fatalf("enabled again: sent %d mails; want 1", len(sent))
	}
}

// A notice goes through the outbox as a mail without a link, and nowhere
// while mail is off.
func TestNotice(t *testing.T) {
	f := newFixture(t)
	if err := f.svc.Notice(context.Background(), "ada@example.com", outbox.KindPasskeyAdded); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.DeliverDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(f.sender.sent) != 1 || f.sender.sent[0].Kind != outbox.KindPasskeyAdded || f.sender.sent[0].To != "ada@example.com" || f.sender.sent[0].Link != "" {
		t.Fatalf("sent %+v", f.sender.sent)
	}
	off := newInteractors(deps{Users: f.users, Tokens: f.tokens, Outbox: f.box, Tx: tx{}, Clock: f.clock}, config{})
	queued := len(f.box.rows)
	if err := off.Notice(context.Background(), "ada@example.com", outbox.KindPasskeyAdded); err != nil || len(f.box.rows) != queued {
		t.Fatalf("mail off: %v, %d queued", err, len(f.box.rows)-queued)
	}
}

// TestLinksAreMadeAtSendTime (issue 21 item 6): what the outbox holds for a
// verification or reset mail carries no link; the token is made when the
// mail is sent, stored only as its hash, and a failed attempt leaves no
// token behind (the next attempt makes a new one, which works).
func TestLinksAreMadeAtSendTime(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.svc.Registered(ctx, f.ada, "203.0.113.5"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.ForgotPassword(ctx, f.ada.Email, recovery.Meta{}); err != nil {
		t.Fatal(err)
	}
	if len(f.box.rows) != 2 || len(f.tokens.m) != 0 {
		t.Fatalf("queued %d rows and %d tokens; want 2 requests and no token yet", len(f.box.rows), len(f.tokens.m))
	}
	f.sender.err = errors.New("421 try later")
	if _, err := f.svc.DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	if len(f.tokens.m) != 0 {
		t.Fatalf("%d tokens left by failed attempts", len(f.tokens.m))
	}
	for _, r := range f.box.rows {
		if r.m.Link != "" {
			t.Fatalf("a queued row holds a link: %+v", r.m)
		}
	}
	f.sender.err = nil
	f.clock.t = f.clock.t.Add(time.Hour)
	if n, err := f.svc.DeliverDue(ctx); err != nil || n != 2 {
		t.Fatalf("delivered %d, %v", n, err)
	}
	var verify, reset string
	for _, m := range f.sender.sent {
		switch m.Kind {
		case outbox.KindVerifyEmail:
			verify = tokenOf(t, m)
		case outbox.KindPasswordReset:
			reset = tokenOf(t, m)
		}
	}
	if len(f.tokens.m) != 2 || verify == "" || reset == "" {
		t.Fatalf("sent %+v with %d tokens stored", f.sender.sent, len(f.tokens.m))
	}
	if u, err := f.svc.Verify(ctx, verify); err != nil || !u.EmailVerified {
		t.Fatalf("verify with the link made at send time: %+v %v", u, err)
	}
	if err := f.svc.ResetPassword(ctx, reset, "a new long password", recovery.Meta{}); err != nil {
		t.Fatalf("reset with the link made at send time: %v", err)
	}
}

// TestResetLinkDies (issue 21 item 7): a reset link stops working when the
// password changes by another path, when the address changes, and when a
// newer reset link has been sent.
func TestResetLinkDies(t *testing.T) {
	ctx := context.Background()
	t.Run("password change", func(t *testing.T) {
		f := newFixture(t)
		tok := tokenOf(t, f.requestReset(t, f.ada.Email)[0])
		if err := f.users.SetPassword(ctx, f.ada.ID, "hash:changed", 0, f.clock.t); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.ResetPassword(ctx, tok, "a new long password", recovery.Meta{}); !errors.Is(err, emailtoken.ErrLinkInvalid) {
			t.Fatalf("reset after a password change: %v", err)
		}
		if f.users.UserMap[f.ada.ID].PasswordHash != "hash:changed" {
			t.Fatal("the old link reset the password")
		}
	})
	t.Run("address change", func(t *testing.T) {
		f := newFixture(t)
		tok := tokenOf(t, f.requestReset(t, f.ada.Email)[0])
		if err := f.users.SetEmail(ctx, f.ada.ID, "ada@example.org", false, f.clock.t); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.ResetPassword(ctx, tok, "a new long password", recovery.Meta{}); !errors.Is(err, emailtoken.ErrLinkInvalid) {
			t.Fatalf("reset after an address change: %v", err)
		}
	})
	t.Run("newer link", func(t *testing.T) {
		f := newFixture(t)
		older := tokenOf(t, f.requestReset(t, f.ada.Email)[0])
		newer := tokenOf(t, f.requestReset(t, f.ada.Email)[0])
		if err := f.svc.ResetPassword(ctx, older, "a new long password", recovery.Meta{}); !errors.Is(err, emailtoken.ErrLinkInvalid) {
			t.Fatalf("reset with the older of two links: %v", err)
		}
		if err := f.svc.ResetPassword(ctx, newer, "a new long password", recovery.Meta{}); err != nil {
			t.Fatalf("reset with the newer link: %v", err)
		}
	})
}

// TestQueuedBeforeTheUpgrade: a reset mail queued by a version that stored
// its link (migration 00010 blanks it; the row names no account) is still
// delivered, with a link made at send time for the account that has the
// address, and that link works.
func TestQueuedBeforeTheUpgrade(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.box.Enqueue(ctx, outbox.Message{ID: "00000000-0000-4000-8000-000000000001", Kind: outbox.KindPasswordReset,
		To: f.ada.Email, CreatedAt: f.clock.t}, f.clock.t); err != nil {
		t.Fatal(err)
	}
	if n, err := f.svc.DeliverDue(ctx); err != nil || n != 1 {
		t.Fatalf("delivered %d, %v", n, err)
	}
	m := f.sender.sent[0]
	if m.Kind != outbox.KindPasswordReset || m.TTL != 30*time.Minute {
		t.Fatalf("sent %+v", m)
	}
	if err := f.svc.ResetPassword(ctx, tokenOf(t, m), "a new long password", recovery.Meta{}); err != nil {
		t.Fatal(err)
	}
}

// TestEmailChangeConfirmation (issue 21 item 8): a requested change mails
// the new address a link that moves the account there (verified), voids
// the old address's links and tells the old address; to an address another
// account has, the owner gets a notice and nobody a link; a password change
// voids a pending change link, and so does a newer request's link.
func TestEmailChangeConfirmation(t *testing.T) {
	ctx := context.Background()
	deliver := func(t *testing.T, f *fixture) []outbox.Message {
		t.Helper()
		before := len(f.sender.sent)
		if _, err := f.svc.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
		return f.sender.sent[before:]
	}
	t.Run("free address", func(t *testing.T) {
		f := newFixture(t)
		reset := tokenOf(t, f.requestReset(t, f.ada.Email)[0])
		if err := f.svc.EmailChangeRequested(ctx, f.ada, "new@example.org"); err != nil {
			t.Fatal(err)
		}
		if f.users.UserMap[f.ada.ID].Email != f.ada.Email {
			t.Fatal("the request moved the account")
		}
		sent := deliver(t, f)
		if len(sent) != 1 || sent[0].Kind != outbox.KindConfirmEmailChange || sent[0].To != "new@example.org" {
			t.Fatalf("sent %+v", sent)
		}
		u, err := f.svc.Verify(ctx, tokenOf(t, sent[0]))
		if err != nil || u.Email != "new@example.org" || !u.EmailVerified {
			t.Fatalf("confirm: %+v %v", u, err)
		}
		if got := f.users.UserMap[f.ada.ID]; got.Email != "new@example.org" || !got.EmailVerified {
			t.Fatalf("stored %+v", got)
		}
		if err := f.svc.ResetPassword(ctx, reset, "a new long password", recovery.Meta{}); !errors.Is(err, emailtoken.ErrLinkInvalid) {
			t.Fatalf("a reset link of the old address after the move: %v", err)
		}
		notice := deliver(t, f)
		if len(notice) != 1 || notice[0].Kind != outbox.KindEmailChanged || notice[0].To != f.ada.Email || notice[0].Link != "" {
			t.Fatalf("notice %+v", notice)
		}
	})
	t.Run("taken address", func(t *testing.T) {
		f := newFixture(t)
		bob := user.User{ID: "1c9e7a52-3c1f-4e8a-9d2b-6f4c1a8e5d33", Email: "bob@example.com"}
		f.users.UserMap[bob.ID] = bob
		if err := f.svc.EmailChangeRequested(ctx, f.ada, bob.Email); err != nil {
			t.Fatal(err)
		}
		sent := deliver(t, f)
		if len(sent) != 1 || sent[0].Kind != outbox.KindEmailInUse || sent[0].To != bob.Email || sent[0].Link != "" {
			t.Fatalf("sent %+v", sent)
		}
		if len(f.tokens.m) != 0 {
			t.Fatal("a token was made for a taken address")
		}
	})
	t.Run("voided by a password change and by a newer request", func(t *testing.T) {
		f := newFixture(t)
		if err := f.svc.EmailChangeRequested(ctx, f.ada, "one@example.org"); err != nil {
			t.Fatal(err)
		}
		one := tokenOf(t, deliver(t, f)[0])
		if err := f.svc.EmailChangeRequested(ctx, f.ada, "two@example.org"); err != nil {
			t.Fatal(err)
		}
		two := tokenOf(t, deliver(t, f)[0])
		if _, err := f.svc.Verify(ctx, one); !errors.Is(err, emailtoken.ErrLinkInvalid) {
			t.Fatalf("the older change link: %v", err)
		}
		if err := f.users.SetPassword(ctx, f.ada.ID, "hash:changed", 0, f.clock.t); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Verify(ctx, two); !errors.Is(err, emailtoken.ErrLinkInvalid) {
			t.Fatalf("a change link after a password change: %v", err)
		}
		if f.users.UserMap[f.ada.ID].Email != f.ada.Email {
			t.Fatal("a void link moved the account")
		}
	})
}

// published records webhook events as the outbox would.
type published struct{ events []webhook.Event }

func (p *published) Publish(_ context.Context, e webhook.Event) error {
	p.events = append(p.events, e)
	return nil
}

// TestRecoveryEventsArePublished: a reset link proves the address and
// changes the password (user.updated, email.verified, password.changed via
// reset); a verification link of an address already proven says nothing.
func TestRecoveryEventsArePublished(t *testing.T) {
	f := newFixture(t)
	pub := &published{}
	f.svc = newInteractors(deps{
		Users: f.users, Tokens: f.tokens, Outbox: f.box, Sessions: f.rev, Audit: &auditLog{},
		Tx: tx{}, Hasher: hasher{}, Clock: f.clock, Sender: f.sender, Observer: f.obs, Factors: f.fails, Events: pub,
	}, config{DeliveryConfig: recovery.DeliveryConfig{
		ResetLink: "https://app/#/reset-password?token={token}", VerifyLink: "https://app/#/verify-email?token={token}",
		VerifyTTL: time.Hour, ResetTTL: 30 * time.Minute, Lease: time.Minute,
		Retry: outbox.Retry{Base: time.Second, Max: time.Minute, MaxAttempts: 3},
	}})
	tok := tokenOf(t, f.requestReset(t, "ada@example.com")[0])
	if err := f.svc.ResetPassword(context.Background(), tok, "a new long password", recovery.Meta{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range pub.events {
		got = append(got, string(e.Type))
		if e.UserID != f.ada.ID {
			t.Errorf("%s for %q", e.Type, e.UserID)
		}
	}
	if strings.Join(got, ",") != "user.updated,email.verified,password.changed" {
		t.Fatalf("published %v", got)
	}
	if pub.events[1].Data["email"] != "ada@example.com" || pub.events[2].Data["via"] != "reset" {
		t.Errorf("data %v %v", pub.events[1].Data, pub.events[2].Data)
	}
}

// codeIssuer is a CodeIssuer that mails a fixed code and counts its undos.
type codeIssuer struct {
	issued, undone int
}

func (c *codeIssuer) IssueEmailCode(_ context.Context, m outbox.Message) (*outbox.Message, func(context.Context), error) {
	c.issued++
	out := m
	out.Kind, out.Code, out.Link = outbox.KindEmailCode, "045311", "https://app/#/email-code?token=t"
	return &out, func(context.Context) { c.undone++ }, nil
}

// A sign-in code request becomes the issuer's mail at send time; a failed
// send withdraws what was issued and the retry issues anew. Without an
// issuer the request is dropped, nothing sent.
func TestCodeRequestsGoThroughTheIssuer(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	codes := &codeIssuer{}
	deliver := func(c recovery.CodeIssuer) *recovery.Deliverer {
		return recovery.NewDeliverer(recovery.DelivererDeps{
			Outbox: f.box, Sender: f.sender, Tokens: f.tokens, Users: f.users, Tx: tx{}, Clock: f.clock, Codes: c,
		}, recovery.DeliveryConfig{Retry: outbox.Retry{Base: time.Second, Max: time.Minute, MaxAttempts: 3}, Lease: time.Minute})
	}
	req := outbox.Message{ID: "7c1e2d3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f", Kind: outbox.KindEmailCodeRequested, To: "ada@example.com", CreatedAt: f.clock.t}
	if err := f.box.Enqueue(ctx, req, f.clock.t); err != nil {
		t.Fatal(err)
	}
	f.sender.err = errors.New("421 try later")
	if n, err := deliver(codes).DeliverDue(ctx); err != nil || n != 0 {
		t.Fatalf("failed attempt: %d sent, %v", n, err)
	}
	if codes.issued != 1 || codes.undone != 1 {
		t.Fatalf("after a failed send: issued %d, undone %d", codes.issued, codes.undone)
	}
	f.sender.err = nil
	f.clock.t = f.clock.t.Add(time.Second)
	if n, err := deliver(codes).DeliverDue(ctx); err != nil || n != 1 {
		t.Fatalf("retry: %d sent, %v", n, err)
	}
	if got := f.sender.sent[len(f.sender.sent)-1]; got.Kind != outbox.KindEmailCode || got.Code != "045311" || codes.issued != 2 || codes.undone != 1 {
		t.Fatalf("sent %+v; issued %d, undone %d", got, codes.issued, codes.undone)
	}

	before := len(f.sender.sent)
	req.ID = "8d2f3e4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a"
	if err := f.box.Enqueue(ctx, req, f.clock.t); err != nil {
		t.Fatal(err)
	}
	if n, err := deliver(nil).DeliverDue(ctx); err != nil || n != 0 || len(f.sender.sent) != before {
		t.Fatalf("without an issuer: %d sent, %v", n, err)
	}
	if msgs, _ := f.box.Claim(ctx, f.clock.t.Add(time.Hour), time.Minute, 10); len(msgs) != 0 {
		t.Fatalf("the request without an issuer is still queued: %+v", msgs)
	}
}
