package recovery

import (
	"context"
	"errors"
	"log/slog"

	"github.com/gatehouse/gatehouse/domain/outbox"
	"github.com/gatehouse/gatehouse/domain/recovery"
	"github.com/gatehouse/gatehouse/domain/user"
)

// deliverBatch bounds the messages one instance claims per run.
const deliverBatch = 20

// DeliverDue sends the due messages of the outbox and returns how many
// went out. Every instance runs it: a claim makes a message this
// instance's for the lease, so two instances never send one message at
// once; a crash mid-send leaves the claim to expire and the message is
// tried again (delivery is at least once). A failed attempt is retried with
// back-off and logged, without the message's link.
func (s *Service) DeliverDue(ctx context.Context) (int, error) {
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
func (s *Service) deliver(ctx context.Context, m outbox.Message) bool {
	var err error
	if m.Kind == outbox.KindResetRequested {
		err = s.resolveResetRequest(ctx, m)
		if err == nil {
			return false
		}
	} else {
		// One attempt may take at most half the lease, so the claim always
		// outlives it.
		sendCtx, cancel := context.WithTimeout(ctx, s.cfg.Lease/2)
		err = s.d.Sender.Send(sendCtx, m)
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

// resolveResetRequest turns a forgot-password request into a reset mail
// when the address has an account, and drops it otherwise, in one
// transaction with the removal of the request.
func (s *Service) resolveResetRequest(ctx context.Context, m outbox.Message) error {
	now := s.now()
	return s.d.Tx.WithinTx(ctx, func(ctx context.Context) error {
		u, err := s.d.Users.ByEmail(ctx, m.To)
		switch {
		case errors.Is(err, user.ErrNotFound):
		case err != nil:
			return err
		case u.CanSignIn() != nil:
			// A disabled account gets no reset link: a reset must not
			// undo an administrator's decision.
		default:
			if err := s.queueLink(ctx, u, recovery.PurposePasswordReset, now); err != nil {
				return err
			}
		}
		return s.d.Outbox.Delivered(ctx, m.ID)
	})
}

// PurgeExpiredTokens deletes emailed tokens that expired before now.
func (s *Service) PurgeExpiredTokens(ctx context.Context) (int, error) {
	return s.d.Tokens.PurgeExpired(ctx, s.now())
}
