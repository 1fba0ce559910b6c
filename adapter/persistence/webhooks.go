package persistence

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/webhook"
)

// WebhookOutbox is the transactional outbox of webhook events: Publish
// writes an event's row in the caller's transaction, so the event exists if
// and only if the change it reports committed; the sender claims rows, posts
// them and records the outcome. Publish does nothing until Enable names the
// types to keep (WEBHOOK_URL set), so a service without webhooks stores
// nothing.
type WebhookOutbox struct {
	db    *gorm.DB
	types map[webhook.Type]bool
}

// NewWebhookOutbox returns a WebhookOutbox on db, publishing nothing.
func NewWebhookOutbox(db *gorm.DB) *WebhookOutbox { return &WebhookOutbox{db: db} }

// Enable makes Publish keep events of these types (WEBHOOK_EVENTS).
func (o *WebhookOutbox) Enable(types []webhook.Type) *WebhookOutbox {
	o.types = make(map[webhook.Type]bool, len(types))
	for _, t := range types {
		o.types[t] = true
	}
	return o
}

// Enabled reports whether any event is kept.
func (o *WebhookOutbox) Enabled() bool { return o != nil && len(o.types) > 0 }

// webhookBody is the JSON posted: the contract's {type, timestamp, data}.
type webhookBody struct {
	Type      webhook.Type   `json:"type"`
	Timestamp string         `json:"timestamp"`
	Data      map[string]any `json:"data"`
}

// Publish implements the use cases' event port: it writes e's row, due at
// once, in ctx's transaction. Types not enabled are dropped here.
func (o *WebhookOutbox) Publish(ctx context.Context, e webhook.Event) error {
	if o == nil || !o.types[e.Type] {
		return nil
	}
	if !id.Valid(e.ID) {
		return fmt.Errorf("persistence: publish event: invalid id %q", e.ID)
	}
	at := toDB(e.OccurredAt)
	body, err := json.Marshal(webhookBody{Type: e.Type, Timestamp: at.Format(time.RFC3339Nano), Data: e.Data})
	if err != nil {
		return fmt.Errorf("persistence: publish event: %w", err)
	}
	return stmtErr("publish event", conn(ctx, o.db).Exec(`INSERT INTO webhook_outbox
		(id, type, user_id, body, status, attempts, next_attempt_at, locked_until, window_from, last_error, created_at)
		VALUES (?, ?, ?, ?, 'pending', 0, ?, 0, ?, '', ?)`,
		e.ID, string(e.Type), e.UserID, string(body), at.UnixMilli(), at.UnixMilli(), at))
}

// claimedRecord is what a claim returns of a row.
type claimedRecord struct {
	Seq        int64  `gorm:"column:seq"`
	ID         string `gorm:"column:id"`
	Body       string `gorm:"column:body"`
	Attempts   int    `gorm:"column:attempts"`
	WindowFrom int64  `gorm:"column:window_from"`
}

// Claim takes up to limit due, unclaimed events for lease, in write order,
// and counts the attempt. An event is held back while an earlier event of
// the same user is in flight or due (so one user's events go out in order),
// but not while an earlier one waits out a back-off after failing: order
// is kept while none fails, and one failing event never stalls the rest.
// The statement is claimRows'.
func (o *WebhookOutbox) Claim(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]webhook.Claimed, error) {
	nowMS := now.UnixMilli()
	// 'pending' is written out so the partial indexes serve (see the mail
	// outbox's claim).
	recs, err := claimRows[claimedRecord](ctx, o.db, "claim webhook events", "webhook_outbox", "seq",
		"SELECT o.seq FROM webhook_outbox o WHERE o.status = 'pending' AND o.next_attempt_at <= ? AND o.locked_until <= ?"+
			" AND NOT EXISTS (SELECT 1 FROM webhook_outbox p WHERE p.status = 'pending' AND p.user_id = o.user_id"+
			" AND p.seq < o.seq AND (p.locked_until > ? OR p.next_attempt_at <= ?))"+
			" ORDER BY o.seq LIMIT ?",
		"seq, id, body, attempts, window_from", now.Add(lease).UnixMilli(), nowMS, nowMS, nowMS, nowMS, limit)
	if err != nil {
		return nil, err
	}
	// RETURNING promises no order; the sender posts in write order.
	slices.SortFunc(recs, func(a, b claimedRecord) int { return cmp.Compare(a.Seq, b.Seq) })
	out := make([]webhook.Claimed, len(recs))
	for i, r := range recs {
		out[i] = webhook.Claimed{ID: r.ID, Body: []byte(r.Body), Attempts: r.Attempts,
			WindowFrom: time.UnixMilli(r.WindowFrom).UTC()}
	}
	return out, nil
}

// Delivered marks an event delivered; the row stays for operators until
// PurgeDelivered.
func (o *WebhookOutbox) Delivered(ctx context.Context, eventID string) error {
	return stmtErr("webhook delivered", conn(ctx, o.db).Exec(
		"UPDATE webhook_outbox SET status = 'delivered', locked_until = 0, last_error = '' WHERE id = ?", eventID))
}

// Retry releases a claimed event to be tried again at at.
func (o *WebhookOutbox) Retry(ctx context.Context, eventID string, at time.Time, reason string) error {
	return stmtErr("webhook retry", conn(ctx, o.db).Exec(
		"UPDATE webhook_outbox SET locked_until = 0, next_attempt_at = ?, last_error = ? WHERE id = ?", at.UnixMilli(), clip(reason), eventID))
}

// GiveUp keeps an event as failed.
func (o *WebhookOutbox) GiveUp(ctx context.Context, eventID, reason string) error {
	return stmtErr("webhook give up", conn(ctx, o.db).Exec(
		"UPDATE webhook_outbox SET status = 'failed', locked_until = 0, last_error = ? WHERE id = ?", clip(reason), eventID))
}

// RetryNow makes a delivery pending and due at now, with a new 24-hour
// window (an operator's retry); webhook.ErrNotFound if none. A claim in
// flight keeps its lease, so the retry never makes two senders of it.
func (o *WebhookOutbox) RetryNow(ctx context.Context, eventID string, now time.Time) error {
	return oneRow("webhook retry now", conn(ctx, o.db).Exec(
		"UPDATE webhook_outbox SET status = 'pending', next_attempt_at = ?, window_from = ? WHERE id = ?",
		now.UnixMilli(), now.UnixMilli(), eventID), webhook.ErrNotFound)
}

// PurgeDelivered deletes delivered events written before before, at most
// batch of them, and returns how many.
func (o *WebhookOutbox) PurgeDelivered(ctx context.Context, before time.Time, batch int) (int, error) {
	return rowCount("purge webhook events", conn(ctx, o.db).Exec("DELETE FROM webhook_outbox WHERE seq IN (SELECT seq FROM webhook_outbox"+
		" WHERE status = 'delivered' AND created_at < ? ORDER BY seq LIMIT ?)", toDB(before), batch))
}

// Pending counts the events waiting to be delivered.
func (o *WebhookOutbox) Pending(ctx context.Context) (int, error) {
	var n int64
	if err := conn(ctx, o.db).Raw("SELECT count(*) FROM webhook_outbox WHERE status = 'pending'").Scan(&n).Error; err != nil {
		return 0, wrapErr("count webhook events", err)
	}
	return int(n), nil
}

// deliveryRecord is a row as the admin list reads it.
type deliveryRecord struct {
	Seq           int64     `gorm:"column:seq"`
	ID            string    `gorm:"column:id"`
	Type          string    `gorm:"column:type"`
	Status        string    `gorm:"column:status"`
	Attempts      int       `gorm:"column:attempts"`
	LastError     string    `gorm:"column:last_error"`
	NextAttemptAt int64     `gorm:"column:next_attempt_at"`
	CreatedAt     time.Time `gorm:"column:created_at"`
}

// List pages deliveries newest first, of one status or all (status
// empty), limit per page after cursor; webhook.ErrInvalidCursor for a
// cursor it did not issue.
func (o *WebhookOutbox) List(ctx context.Context, status, cursor string, limit int) (webhook.DeliveryPage, error) {
	q := conn(ctx, o.db).Table("webhook_outbox").
		Select("seq, id, type, status, attempts, last_error, next_attempt_at, created_at")
	if status != "" {
		q = q.Where("status = ?", status)
	}
	if cursor != "" {
		seq, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil || seq < 1 {
			return webhook.DeliveryPage{}, webhook.ErrInvalidCursor
		}
		q = q.Where("seq < ?", seq)
	}
	var recs []deliveryRecord
	if err := q.Order("seq DESC").Limit(limit + 1).Find(&recs).Error; err != nil {
		return webhook.DeliveryPage{}, wrapErr("list webhook deliveries", err)
	}
	var page webhook.DeliveryPage
	for i, r := range recs {
		if i == limit {
			page.NextCursor = strconv.FormatInt(recs[i-1].Seq, 10)
			break
		}
		d := webhook.Delivery{ID: r.ID, Type: webhook.Type(r.Type), Status: r.Status, Attempts: r.Attempts,
			LastError: r.LastError, CreatedAt: fromDB(r.CreatedAt)}
		if r.Status == webhook.StatusPending {
			d.NextAttemptAt = time.UnixMilli(r.NextAttemptAt).UTC()
		}
		page.Items = append(page.Items, d)
	}
	return page, nil
}
