package recovery

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/domain/emailtoken"
	"github.com/gatehouse/gatehouse/domain/outbox"
	"github.com/gatehouse/gatehouse/domain/user"
)

// DeliveryConfig are the settings of delivery.
type DeliveryConfig struct {
	// VerifyLink and ResetLink are link templates; "{token}" is replaced.
	VerifyLink, ResetLink string
	VerifyTTL, ResetTTL   time.Duration
	// Retry is the delivery back-off.
	Retry outbox.Retry
	// Lease is how long a claimed message is this instance's; it must
	// outlast one delivery attempt.
	Lease time.Duration
}

// DelivererDeps are the ports of a Deliverer.
type DelivererDeps struct {
	Outbox Outbox
	// Sender is nil when no mail transport is configured (mail off).
	Sender MailSender
	Tokens LinkIssuer
	Users  UserFinder
	Tx     Transactor
	Clock  Clock
	// Observer and Log are optional.
	Observer Observer
	Log      *slog.Logger
	// Codes, when set, makes the mails of sign-in code requests; without
	// it such requests are dropped.
	Codes CodeIssuer
}

// Deliverer sends the outbox.
type Deliverer struct {
	d   DelivererDeps
	cfg DeliveryConfig
}

// NewDeliverer returns a Deliverer.
func NewDeliverer(d DelivererDeps, cfg DeliveryConfig) *Deliverer {
	if d.Observer == nil {
		d.Observer = noObserver{}
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Deliverer{d: d, cfg: cfg}
}

// Enabled reports whether mail can be sent.
func (s *Deliverer) Enabled() bool { return s.d.Sender != nil }

func (s *Deliverer) now() time.Time { return s.d.Clock.Now().UTC() }

// deliverBatch bounds the messages one instance claims per run.
const deliverBatch = 20

// DeliverDue sends the due messages of the outbox and returns how many
// went out. Every instance runs it: a claim makes a message this
// instance's for the lease, so two instances never send one message at
// once; a crash mid-send leaves the claim to expire and the message is
// tried again (delivery is at least once). A failed attempt is retried with
// back-off and logged, without the message's link.
func (s *Deliverer) DeliverDue(ctx context.Context) (int, error) {
	if !s.Enabled() {
		return 0, nil
	}
	sent := 0
	for {
		msgs, err := s.d.Outbox.Claim(ctx, s.now(), s.cfg.Lease, deliverBatch)
		if err != nil {
			return sent, err
		}
		for _, m := range msgs {
			if ctx.Err() != nil {
				// The claims expire and another run picks the rest up.
				return sent, ctx.Err()
			}
			if s.deliver(ctx, m) {
				sent++
			}
		}
		if len(msgs) < deliverBatch {
			return sent, nil
		}
	}
}

// deliver handles one claimed message; true when a mail went out.
//
// A message that carries a link is rendered here, at send time: the token
// is made now, its hash stored (committed before the mail leaves, so the
// link works the moment it arrives), and the link exists only in this
// process's memory and in the mail. The outbox row never holds it, so a
// copy of the database taken while a mail waits (up to a day while the
// mail server is down) holds nothing that resets a password. A failed
// attempt deletes its token, and the next attempt makes a new one. A new
// reset or email-change link voids the account's older ones as it is made:
// the user asked for a new one.
func (s *Deliverer) deliver(ctx context.Context, m outbox.Message) bool {
	out, undo, err := s.render(ctx, m)
	switch {
	case err == nil && out == nil:
		// Nothing to send any more (the account is gone, moved, verified or
		// disabled): the request is done.
		if err := s.d.Outbox.Delivered(ctx, m.ID); err != nil {
			s.d.Log.Warn("mail outbox update failed", slog.String("messageId", m.ID), slog.String("error", err.Error()))
		}
		return false
	case err == nil:
		// One attempt may take at most half the lease, so the claim always
		// outlives it.
		sendCtx, cancel := context.WithTimeout(ctx, s.cfg.Lease/2)
		err = s.d.Sender.Send(sendCtx, *out)
		cancel()
		if err == nil {
			s.d.Observer.MailSent()
			if derr := s.d.Outbox.Delivered(ctx, m.ID); derr != nil {
				// The mail went out; the row stays claimed until the lease
				// ends and may be sent once more then.
				s.d.Log.Warn("mail sent but not marked delivered",
					slog.String("messageId", m.ID), slog.String("error", derr.Error()))
			}
			return true
		}
		undo(ctx)
	}
	if ctx.Err() != nil {
		// Shutting down (or out of time): not the message's fault. The claim
		// runs out and an instance tries again.
		return false
	}
	next, retry := s.cfg.Retry.Next(m.Attempts, s.now())
	s.d.Observer.MailFailed(!retry)
	attrs := []any{
		slog.String("messageId", m.ID), slog.String("kind", string(m.Kind)),
		slog.Int("attempt", m.Attempts), slog.String("error", err.Error()),
	}
	if retry {
		s.d.Log.Warn("mail delivery failed; will retry", append(attrs, slog.Time("nextAttempt", next))...)
		err = s.d.Outbox.Retry(ctx, m.ID, next, err.Error())
	} else {
		s.d.Log.Error("mail delivery failed; giving up", attrs...)
		err = s.d.Outbox.GiveUp(ctx, m.ID, err.Error())
	}
	if err != nil {
		s.d.Log.Warn("mail outbox update failed", slog.String("messageId", m.ID), slog.String("error", err.Error()))
	}
	return false
}

// render turns a claimed message into the mail to send: notices as they
// are, requests for a link (or a sign-in code) into a mail with a newly
// issued one. A nil mail means there is nothing to send; undo withdraws
// what was issued when the mail does not go out.
func (s *Deliverer) render(ctx context.Context, m outbox.Message) (*outbox.Message, func(context.Context), error) {
	if m.Kind == outbox.KindEmailCodeRequested {
		if s.d.Codes == nil {
			return nil, nil, nil
		}
		out, undo, err := s.d.Codes.IssueEmailCode(ctx, m)
		if undo == nil {
			undo = func(context.Context) {}
		}
		return out, undo, err
	}
	out, tok, err := s.renderLink(ctx, m)
	return out, func(ctx context.Context) { s.unissue(ctx, tok) }, err
}

// renderLink is render for everything but sign-in codes.
func (s *Deliverer) renderLink(ctx context.Context, m outbox.Message) (*outbox.Message, *[32]byte, error) {
	var (
		p    emailtoken.Purpose
		kind outbox.Kind
		ok   func(user.User) bool
	)
	switch m.Kind {
	case outbox.KindVerifyRequested, outbox.KindVerifyEmail:
		p, kind = emailtoken.PurposeVerifyEmail, outbox.KindVerifyEmail
		// Only while the account still has the address, unproven.
		ok = func(u user.User) bool { return u.Email == m.To && !u.EmailVerified }
	case outbox.KindResetRequested, outbox.KindPasswordReset:
		p, kind = emailtoken.PurposePasswordReset, outbox.KindPasswordReset
		// A disabled account gets no reset link: a reset must not undo an
		// administrator's decision.
		ok = func(u user.User) bool { return u.Email == m.To && u.CanSignIn() == nil }
	case outbox.KindEmailChangeRequested:
		p, kind = emailtoken.PurposeChangeEmail, outbox.KindConfirmEmailChange
		ok = func(u user.User) bool { return u.Email != m.To }
	default:
		return &m, nil, nil
	}
	out := m
	var tok *[32]byte
	err := s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		u, err := s.recipient(ctx, m)
		if errors.Is(err, user.ErrNotFound) || err == nil && !ok(u) {
			return errNothingToSend
		}
		if err != nil {
			return err
		}
		// In the account's language (a forgot-password request does not
		// know the account when it is queued).
		out.Locale = u.Locale
		if p == emailtoken.PurposeChangeEmail {
			// Another account has the address: its owner hears of the
			// attempt, and the requester learns nothing.
			switch owner, err := s.d.Users.ByEmail(ctx, m.To); {
			case err == nil && owner.ID != u.ID:
				out.Kind, out.Locale = outbox.KindEmailInUse, owner.Locale
				return nil
			case err != nil && !errors.Is(err, user.ErrNotFound):
				return err
			}
		}
		raw, hash := emailtoken.NewSecret()
		now, ttl, link := s.now(), s.cfg.VerifyTTL, s.cfg.VerifyLink
		if p == emailtoken.PurposePasswordReset {
			ttl, link = s.cfg.ResetTTL, s.cfg.ResetLink
		}
		if err := s.d.Tokens.Insert(ctx, emailtoken.Issue(hash, p, u, m.To, now, ttl)); err != nil {
			return err
		}
		// A newer reset (or email-change) link replaces the older ones the
		// moment it is made, so they are dead before it arrives.
		if emailtoken.Supersedes(p) {
			if err := s.d.Tokens.Supersede(ctx, u.ID, p, hash); err != nil {
				return err
			}
		}
		out.Kind, out.Link, out.TTL = kind, strings.ReplaceAll(link, "{token}", raw), ttl
		tok = &hash
		return nil
	})
	if errors.Is(err, errNothingToSend) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return &out, tok, nil
}

// errNothingToSend ends render's transaction when the request is void.
var errNothingToSend = errors.New("nothing to send")

// recipient is the account a link request is for: by its ID when the
// request names one, else by the address (forgot-password requests, and
// rows queued before requests named their account).
func (s *Deliverer) recipient(ctx context.Context, m outbox.Message) (user.User, error) {
	if m.UserID != "" {
		return s.d.Users.ByID(ctx, m.UserID)
	}
	return s.d.Users.ByEmail(ctx, m.To)
}

// unissue deletes the token (by its hash) of a mail that did not go out.
// Best effort: a token left behind is a hash nobody holds the secret of,
// and expires.
func (s *Deliverer) unissue(ctx context.Context, tok *[32]byte) {
	if tok == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unissueTimeout)
	defer cancel()
	_, _ = s.d.Tokens.Take(ctx, *tok)
}

// unissueTimeout bounds unissue.
const unissueTimeout = 2 * time.Second

// TokenPurger deletes expired emailed tokens.
type TokenPurger struct {
	tokens LinkPurger
	clock  Clock
}

// NewTokenPurger returns a TokenPurger.
func NewTokenPurger(tokens LinkPurger, clock Clock) *TokenPurger {
	return &TokenPurger{tokens: tokens, clock: clock}
}

// PurgeExpiredTokens deletes emailed tokens that expired before now and
// returns how many; safe on several instances at once.
func (p *TokenPurger) PurgeExpiredTokens(ctx context.Context) (int, error) {
	return p.tokens.PurgeExpired(ctx, p.clock.Now().UTC())
}
