package persistence

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/domain/webhook"
	"github.com/gatehouse/gatehouse/usecase/account"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

// SessionStore stores sessions and their refresh state.
type SessionStore struct {
	db *gorm.DB
	// events, when set, receives session.created and session.revoked in
	// the transaction of each write: every path that starts or ends a
	// session goes through these methods, so none can forget the event.
	events *WebhookOutbox
}

var (
	_ authn.SessionStore     = (*SessionStore)(nil)
	_ account.SessionRevoker = (*SessionStore)(nil)
)

// NewSessionStore returns a SessionStore on db.
func NewSessionStore(db *gorm.DB) *SessionStore { return &SessionStore{db: db} }

// Publishing makes the store report its session starts and ends to o.
func (s *SessionStore) Publishing(o *WebhookOutbox) *SessionStore {
	s.events = o
	return s
}

// revoked reports userID's sessions ids revoked with reason (the stored
// one) at now.
func (s *SessionStore) revoked(ctx context.Context, userID string, ids []string, reason string, now time.Time) error {
	owned := make([]ownedSession, len(ids))
	for i, sid := range ids {
		owned[i] = ownedSession{ID: sid, UserID: userID}
	}
	return publishRevoked(ctx, s.events, owned, reason, now)
}

// ownedSession is a session's ID with its account's.
type ownedSession struct{ ID, UserID string }

// publishRevoked puts one session.revoked event per session into events
// (nil or off: nothing), in the caller's transaction.
func publishRevoked(ctx context.Context, events *WebhookOutbox, sessions []ownedSession, reason string, now time.Time) error {
	if !events.Enabled() {
		return nil
	}
	r, ok := webhook.RevokeReason(reason)
	if !ok {
		return nil
	}
	for _, s := range sessions {
		if err := events.Publish(ctx, webhook.NewSessionRevoked(id.New(), s.UserID, s.ID, r, now)); err != nil {
			return err
		}
	}
	return nil
}

// Create inserts a session with its first token's hash: one row.
// user.ErrNotFound if the session's user does not exist (deleted while
// logging in).
func (s *SessionStore) Create(ctx context.Context, sess session.Session) error {
	if !id.Valid(sess.ID) || !id.Valid(sess.UserID) {
		return fmt.Errorf("persistence: create session: invalid session or user id")
	}
	if sess.TokenHash == ([32]byte{}) {
		return fmt.Errorf("persistence: create session: no refresh token hash")
	}
	rec := sessionFromDomain(sess)
	insert := func(db *gorm.DB) error {
		if err := db.Create(&rec).Error; err != nil {
			if isForeignKeyViolation(err, pgSessionsUserFK) {
				return user.ErrNotFound
			}
			return wrapErr("create session", err)
		}
		return nil
	}
	// Without webhooks the insert is one statement, outside any
	// transaction the caller does not already hold.
	if !s.events.Enabled() {
		return insert(conn(ctx, s.db))
	}
	return inTx(ctx, s.db, func(db *gorm.DB) error {
		if err := insert(db); err != nil {
			return err
		}
		return s.events.Publish(withTx(ctx, db), webhook.NewSessionCreated(id.New(), sess.UserID, sess.ID,
			webhook.SessionMethod(sess.Methods), sess.IP, sess.UserAgent, sess.CreatedAt))
	})
}

// ByID finds a session, revoked or not; session.ErrNotFound if none.
func (s *SessionStore) ByID(ctx context.Context, sessionID string) (session.Session, error) {
	if !id.Valid(sessionID) {
		return session.Session{}, session.ErrNotFound
	}
	var rec sessionRecord
	err := conn(ctx, s.db).Raw("SELECT "+sessionSelect+" FROM sessions WHERE id = ?", sessionID).Row().Scan(rec.targets()...)
	if errors.Is(err, sql.ErrNoRows) {
		return session.Session{}, session.ErrNotFound
	}
	if err != nil {
		return session.Session{}, wrapErr("session by id", err)
	}
	return rec.toDomain(), nil
}

// Update implements authn.SessionUpdater: it locks the session row (SELECT
// ... FOR UPDATE on PostgreSQL; on SQLite a transaction already owns the
// only connection and, begun IMMEDIATE, the write lock), lets fn decide,
// and writes every mutable column in one statement if fn changed
// anything. Under the lock no concurrent change can be undone, so there is
// nothing to retry.
func (s *SessionStore) Update(ctx context.Context, sessionID string, fn func(*session.Session) error) error {
	if !id.Valid(sessionID) {
		return session.ErrNotFound
	}
	return inTx(ctx, s.db, func(db *gorm.DB) error {
		q := "SELECT " + sessionSelect + " FROM sessions WHERE id = ?"
		if isPostgres(db) {
			q += " FOR UPDATE"
		}
		var rec sessionRecord
		err := db.Raw(q, sessionID).Row().Scan(rec.targets()...)
		if errors.Is(err, sql.ErrNoRows) {
			return session.ErrNotFound
		}
		if err != nil {
			return wrapErr("lock session", err)
		}
		before := rec.toDomain()
		after := rec.toDomain()
		if err := fn(&after); err != nil {
			return err
		}
		if after.ID != before.ID || after.UserID != before.UserID || !toDB(after.CreatedAt).Equal(toDB(before.CreatedAt)) {
			return errors.New("persistence: update session: id, user or creation time changed")
		}
		out := sessionFromDomain(after)
		if reflect.DeepEqual(out, sessionFromDomain(before)) {
			return nil
		}
		if err := db.Exec(sessionWrite, out.writeArgs()...).Error; err != nil {
			return wrapErr("update session", err)
		}
		if before.RevokedAt.IsZero() && !after.RevokedAt.IsZero() {
			return s.revoked(withTx(ctx, db), after.UserID, []string{after.ID}, after.RevokeReason, after.RevokedAt)
		}
		return nil
	})
}

// LegacyToken implements authn.RefreshRotator: tokens issued before the
// authenticated format are known by the rows refresh_tokens kept of them.
func (s *SessionStore) LegacyToken(ctx context.Context, hash [32]byte) (string, int64, error) {
	var (
		sid string
		gen int64
	)
	err := conn(ctx, s.db).Raw("SELECT session_id, generation FROM refresh_tokens WHERE token_hash = ?", hash[:]).Row().Scan(&sid, &gen)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, session.ErrRefreshInvalid
	}
	if err != nil {
		return "", 0, wrapErr("find legacy refresh token", err)
	}
	return sid, gen, nil
}

// activeAt is the condition for a session active at a time: not revoked,
// and before both expiries (the same rule as session.Session.Active).
const activeAt = "revoked_at IS NULL AND idle_expires_at > ? AND absolute_expires_at > ?"

// RevokeAllForUser revokes every session of userID active at now, except
// exceptID (may be empty), with reason, and returns the IDs it revoked in
// ascending order. Their sealed successors go with them.
//
// On PostgreSQL the rows are locked first, in ID order, and only then
// updated: two concurrent revoke-alls (or a revoke-all and a rotation)
// take the locks in the same order and cannot deadlock. A session revoked
// by someone else meanwhile is not counted twice.
func (s *SessionStore) RevokeAllForUser(ctx context.Context, userID, exceptID, reason string, now time.Time) ([]string, error) {
	if !id.Valid(userID) {
		return nil, nil
	}
	at := toDB(now)
	return revokeLocked(ctx, s.db, "user sessions", reason, at, func(q *gorm.DB) *gorm.DB {
		q = q.Where("user_id = ? AND "+activeAt, userID, at, at)
		if exceptID != "" && id.Valid(exceptID) {
			q = q.Where("id <> ?", exceptID)
		}
		return q
	}, func(db *gorm.DB, ids []string) error {
		return s.revoked(withTx(ctx, db), userID, ids, reason, at)
	})
}

// revokeLocked revokes the sessions that filter selects from sessions and
// returns their IDs in ascending order. It locks the rows first, in ID
// order, and only then updates them (see RevokeAllForUser for why). then,
// when not nil, runs in the same transaction with the revoked IDs (the
// webhook events of the revocation).
func revokeLocked(ctx context.Context, pool *gorm.DB, what, reason string, at time.Time, filter func(*gorm.DB) *gorm.DB,
	then func(db *gorm.DB, ids []string) error) ([]string, error) {
	var ids []string
	err := inTx(ctx, pool, func(db *gorm.DB) error {
		q := forUpdate(filter(db.Model(&sessionRecord{})).Order("id"))
		if err := q.Pluck("id", &ids).Error; err != nil {
			return wrapErr("lock "+what, err)
		}
		if len(ids) == 0 {
			return nil
		}
		err := db.Exec("UPDATE sessions SET revoked_at = ?, revoke_reason = ?, successor_sealed = NULL WHERE id IN ? AND revoked_at IS NULL",
			at, reason, ids).Error
		if err != nil {
			return wrapErr("revoke "+what, err)
		}
		if then == nil {
			return nil
		}
		slices.Sort(ids)
		return then(db, ids)
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(ids)
	return ids, nil
}

// ListActive lists userID's sessions active at now, newest first, limit
// per page after cursor. Paging is by keyset (created_at, id), so sessions
// started while a client pages neither shift nor repeat entries.
func (s *SessionStore) ListActive(ctx context.Context, userID string, now time.Time, cursor string, limit int) (session.Page, error) {
	if !id.Valid(userID) || limit < 1 {
		return session.Page{}, nil
	}
	at := toDB(now)
	q := "SELECT " + sessionSelect + " FROM sessions WHERE user_id = ? AND " + activeAt
	args := []any{userID, at, at}
	if cursor != "" {
		c, err := session.ParseCursor(cursor)
		if err != nil {
			return session.Page{}, err
		}
		q += " AND " + keysetAfter
		args = append(args, toDB(c.CreatedAt), toDB(c.CreatedAt), c.ID)
	}
	// One extra row tells whether another page follows.
	q += " ORDER BY created_at DESC, id DESC LIMIT ?"
	args = append(args, limit+1)
	rows, err := conn(ctx, s.db).Raw(q, args...).Rows()
	if err != nil {
		return session.Page{}, wrapErr("list sessions", err)
	}
	defer func() { _ = rows.Close() }()
	var page session.Page
	for rows.Next() {
		var rec sessionRecord
		if err := rows.Scan(rec.targets()...); err != nil {
			return session.Page{}, wrapErr("list sessions", err)
		}
		if len(page.Sessions) == limit {
			page.NextCursor = session.CursorAfter(page.Sessions[limit-1])
			break
		}
		page.Sessions = append(page.Sessions, rec.toDomain())
	}
	if err := rows.Err(); err != nil {
		return session.Page{}, wrapErr("list sessions", err)
	}
	return page, nil
}

// RevokeBeyond implements authn.SessionCapper: the sessions past the keep
// newest active ones are revoked. On PostgreSQL the rows are locked in ID
// order first, as RevokeAllForUser does.
func (s *SessionStore) RevokeBeyond(ctx context.Context, userID string, keep int, reason string, now time.Time) ([]string, error) {
	if !id.Valid(userID) || keep < 0 {
		return nil, nil
	}
	at := toDB(now)
	var ids []string
	err := inTx(ctx, s.db, func(db *gorm.DB) error {
		// SQLite needs a LIMIT before OFFSET (-1: none) and takes no row
		// locks; its transaction holds the write lock.
		q := "SELECT id FROM sessions WHERE user_id = ? AND " + activeAt + " ORDER BY created_at DESC, id DESC LIMIT -1 OFFSET ?"
		if isPostgres(db) {
			q = "SELECT id FROM sessions WHERE id IN (SELECT id FROM sessions WHERE user_id = ? AND " + activeAt +
				" ORDER BY created_at DESC, id DESC OFFSET ?) ORDER BY id FOR UPDATE"
		}
		if err := db.Raw(q, userID, at, at, keep).Scan(&ids).Error; err != nil {
			return wrapErr("find sessions beyond the limit", err)
		}
		if len(ids) == 0 {
			return nil
		}
		err := db.Exec("UPDATE sessions SET revoked_at = ?, revoke_reason = ?, successor_sealed = NULL WHERE id IN ? AND revoked_at IS NULL",
			at, reason, ids).Error
		if err != nil {
			return wrapErr("revoke sessions beyond the limit", err)
		}
		slices.Sort(ids)
		return s.revoked(withTx(ctx, db), userID, ids, reason, at)
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(ids)
	return ids, nil
}
