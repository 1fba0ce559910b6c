package persistence

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/domain/webhook"
	"github.com/gatehouse/gatehouse/usecase/account"
	"github.com/gatehouse/gatehouse/usecase/auth"
)

// sessionRecord is a row of sessions, the refresh state included: only the
// current token's hash and its predecessor's are stored, never a token.
type sessionRecord struct {
	ID                string       `gorm:"column:id;primaryKey"`
	UserID            string       `gorm:"column:user_id"`
	CreatedAt         time.Time    `gorm:"column:created_at;autoCreateTime:false"`
	LastUsedAt        time.Time    `gorm:"column:last_used_at"`
	IdleExpiresAt     time.Time    `gorm:"column:idle_expires_at"`
	AbsoluteExpiresAt time.Time    `gorm:"column:absolute_expires_at"`
	AuthTime          time.Time    `gorm:"column:auth_time"`
	RevokedAt         sql.NullTime `gorm:"column:revoked_at"`
	RevokeReason      string       `gorm:"column:revoke_reason"`
	UserAgent         string       `gorm:"column:user_agent"`
	IP                string       `gorm:"column:ip"`
	Generation        int64        `gorm:"column:generation"`
	TokenHash         []byte       `gorm:"column:token_hash"`
	// Nullable bytes are sql.Null, not nil slices: SQLite would store a nil
	// slice as an empty blob, not NULL.
	PrevTokenHash   sql.Null[[]byte] `gorm:"column:prev_token_hash"`
	RotatedAt       sql.NullTime     `gorm:"column:rotated_at"`
	SuccessorSealed sql.Null[[]byte] `gorm:"column:successor_sealed"`
	AuthMethods     string           `gorm:"column:auth_methods"`
}

// TableName implements gorm's tabler.
func (sessionRecord) TableName() string { return "sessions" }

// sessionField is one column of sessions: its name, where it scans to and
// whether Update writes it.
type sessionField struct {
	col     string
	ptr     func(r *sessionRecord) any
	mutable bool
}

// sessionFields is the one list of the session columns: every read selects
// them (so a query does not change meaning when columns are added), every
// scan follows them and Update writes the mutable ones. Adding a column
// means a field of sessionRecord, its mapping, and a line here.
var sessionFields = []sessionField{
	{"id", func(r *sessionRecord) any { return &r.ID }, false},
	{"user_id", func(r *sessionRecord) any { return &r.UserID }, false},
	{"created_at", func(r *sessionRecord) any { return &r.CreatedAt }, false},
	{"last_used_at", func(r *sessionRecord) any { return &r.LastUsedAt }, true},
	{"idle_expires_at", func(r *sessionRecord) any { return &r.IdleExpiresAt }, true},
	{"absolute_expires_at", func(r *sessionRecord) any { return &r.AbsoluteExpiresAt }, true},
	{"auth_time", func(r *sessionRecord) any { return &r.AuthTime }, true},
	{"revoked_at", func(r *sessionRecord) any { return &r.RevokedAt }, true},
	{"revoke_reason", func(r *sessionRecord) any { return &r.RevokeReason }, true},
	{"user_agent", func(r *sessionRecord) any { return &r.UserAgent }, true},
	{"ip", func(r *sessionRecord) any { return &r.IP }, true},
	{"generation", func(r *sessionRecord) any { return &r.Generation }, true},
	{"token_hash", func(r *sessionRecord) any { return &r.TokenHash }, true},
	{"prev_token_hash", func(r *sessionRecord) any { return &r.PrevTokenHash }, true},
	{"rotated_at", func(r *sessionRecord) any { return &r.RotatedAt }, true},
	{"successor_sealed", func(r *sessionRecord) any { return &r.SuccessorSealed }, true},
	{"auth_methods", func(r *sessionRecord) any { return &r.AuthMethods }, true},
}

// sessionColumns returns the column list of sessionFields, each name
// prefixed (a table alias with its dot, or "").
func sessionColumns(prefix string) string {
	names := make([]string, len(sessionFields))
	for i, f := range sessionFields {
		names[i] = prefix + f.col
	}
	return strings.Join(names, ", ")
}

// targets returns scan destinations in the order of sessionFields.
func (r *sessionRecord) targets() []any {
	out := make([]any, len(sessionFields))
	for i, f := range sessionFields {
		out[i] = f.ptr(r)
	}
	return out
}

var (
	sessionSelect = sessionColumns("")
	// sessionWrite is Update's statement: every mutable column.
	sessionWrite = func() string {
		var set []string
		for _, f := range sessionFields {
			if f.mutable {
				set = append(set, f.col+" = ?")
			}
		}
		return "UPDATE sessions SET " + strings.Join(set, ", ") + " WHERE id = ?"
	}()
)

// writeArgs are sessionWrite's arguments for r.
func (r *sessionRecord) writeArgs() []any {
	var args []any
	for _, f := range sessionFields {
		if f.mutable {
			args = append(args, reflect.ValueOf(f.ptr(r)).Elem().Interface())
		}
	}
	return append(args, r.ID)
}

func hashBytes(h [32]byte) sql.Null[[]byte] {
	if h == ([32]byte{}) {
		return sql.Null[[]byte]{}
	}
	return sql.Null[[]byte]{V: h[:], Valid: true}
}

func nullBytes(b []byte) sql.Null[[]byte] {
	if len(b) == 0 {
		return sql.Null[[]byte]{}
	}
	return sql.Null[[]byte]{V: b, Valid: true}
}

func toHash(b []byte) [32]byte {
	var h [32]byte
	if len(b) == len(h) {
		copy(h[:], b)
	}
	return h
}

func sessionFromDomain(s session.Session) sessionRecord {
	return sessionRecord{
		ID:                s.ID,
		UserID:            s.UserID,
		CreatedAt:         toDB(s.CreatedAt),
		LastUsedAt:        toDB(s.LastUsedAt),
		IdleExpiresAt:     toDB(s.IdleExpiresAt),
		AbsoluteExpiresAt: toDB(s.AbsoluteExpiresAt),
		AuthTime:          toDB(s.AuthTime),
		RevokedAt:         toDBNull(s.RevokedAt),
		RevokeReason:      s.RevokeReason,
		UserAgent:         s.UserAgent,
		IP:                s.IP,
		Generation:        s.Generation,
		TokenHash:         hashBytes(s.TokenHash).V,
		PrevTokenHash:     hashBytes(s.PrevTokenHash),
		RotatedAt:         toDBNull(s.RotatedAt),
		SuccessorSealed:   nullBytes(s.SuccessorSealed),
		AuthMethods:       joinMethods(s.Methods),
	}
}

func (r sessionRecord) toDomain() session.Session {
	return session.Session{
		ID:                r.ID,
		UserID:            r.UserID,
		CreatedAt:         fromDB(r.CreatedAt),
		LastUsedAt:        fromDB(r.LastUsedAt),
		IdleExpiresAt:     fromDB(r.IdleExpiresAt),
		AbsoluteExpiresAt: fromDB(r.AbsoluteExpiresAt),
		AuthTime:          fromDB(r.AuthTime),
		RevokedAt:         fromDBNull(r.RevokedAt),
		RevokeReason:      r.RevokeReason,
		UserAgent:         r.UserAgent,
		IP:                r.IP,
		Generation:        r.Generation,
		TokenHash:         toHash(r.TokenHash),
		PrevTokenHash:     toHash(r.PrevTokenHash.V),
		RotatedAt:         fromDBNull(r.RotatedAt),
		SuccessorSealed:   nilIfEmpty(r.SuccessorSealed.V),
		Methods:           splitMethods(r.AuthMethods),
	}
}

// joinMethods stores a session's authentication methods as one
// comma-separated column. None is stored as "" and read back as none (the
// use case treats that as a password, as rows from before the column hold
// 'pwd'), so a session round-trips unchanged.
func joinMethods(m []string) string { return strings.Join(m, ",") }

func splitMethods(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// SessionStore stores sessions and their refresh state.
type SessionStore struct {
	db *gorm.DB
	// events, when set, receives session.created and session.revoked in
	// the transaction of each write: every path that starts or ends a
	// session goes through these methods, so none can forget the event.
	events *WebhookOutbox
}

var (
	_ auth.SessionStore      = (*SessionStore)(nil)
	_ account.SessionRevoker = (*SessionStore)(nil)
)

// NewSessionStore returns a SessionStore on db.
func NewSessionStore(db *gorm.DB) *SessionStore { return &SessionStore{db: db} }

// Publishing makes the store report its session starts and ends to o.
func (s *SessionStore) Publishing(o *WebhookOutbox) *SessionStore {
	s.events = o
	return s
}

// revoked reports sessions revoked with reason (the stored one) at now.
func (s *SessionStore) revoked(ctx context.Context, userID string, ids []string, reason string, now time.Time) error {
	if !s.events.Enabled() {
		return nil
	}
	r, ok := webhook.RevokeReason(reason)
	if !ok {
		return nil
	}
	for _, sid := range ids {
		if err := s.events.Publish(ctx, webhook.NewSessionRevoked(id.New(), userID, sid, r, now)); err != nil {
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
	if !s.events.Enabled() {
		if err := conn(ctx, s.db).Create(&rec).Error; err != nil {
			if isForeignKeyViolation(err, pgSessionsUserFK) {
				return user.ErrNotFound
			}
			return wrapErr("create session", err)
		}
		return nil
	}
	return inTx(ctx, s.db, func(db *gorm.DB) error {
		if err := db.Create(&rec).Error; err != nil {
			if isForeignKeyViolation(err, pgSessionsUserFK) {
				return user.ErrNotFound
			}
			return wrapErr("create session", err)
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

// Update implements auth.SessionUpdater: it locks the session row (SELECT
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

// LegacyToken implements auth.RefreshRotator: tokens issued before the
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
	var ids []string
	err := inTx(ctx, s.db, func(db *gorm.DB) error {
		q := db.Model(&sessionRecord{}).Where("user_id = ? AND "+activeAt, userID, at, at)
		if exceptID != "" && id.Valid(exceptID) {
			q = q.Where("id <> ?", exceptID)
		}
		q = q.Order("id")
		if isPostgres(db) {
			q = q.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate})
		}
		if err := q.Pluck("id", &ids).Error; err != nil {
			return wrapErr("lock user sessions", err)
		}
		if len(ids) == 0 {
			return nil
		}
		err := db.Exec("UPDATE sessions SET revoked_at = ?, revoke_reason = ?, successor_sealed = NULL WHERE id IN ? AND revoked_at IS NULL",
			at, reason, ids).Error
		if err != nil {
			return wrapErr("revoke user sessions", err)
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

// RevokeBeyond implements auth.SessionCapper: the sessions past the keep
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

// defaultPurgeBatch is PurgeExpired's batch size when the caller gives none.
const defaultPurgeBatch = 500

// PurgeExpired deletes the sessions (and, by cascade, their legacy token
// rows) that were revoked, or passed either expiry, more than retention
// before now, and returns how many it deleted.
//
// It walks the table in primary-key order, batch rows at a time (see
// sweep): each statement reads and deletes at most batch rows, so it holds
// few locks briefly, and the walk reads the table once however many rows
// it deletes. A scan for "the next batch of ended sessions" would start
// over at every batch and, on PostgreSQL, step over every row the previous
// batches deleted (dead until vacuumed): quadratic at a million sessions.
// No index can find idle-expired sessions instead: one on idle_expires_at
// would cost every rotation a non-HOT update (see migration 00004).
//
// On PostgreSQL rows locked by others are skipped (FOR UPDATE SKIP
// LOCKED): instances purging at the same time share the work instead of
// queueing on each other or on a refresh in progress.
func (s *SessionStore) PurgeExpired(ctx context.Context, now time.Time, retention time.Duration, batch int) (int, error) {
	cutoff := toDB(now.Add(-max(retention, 0)))
	return s.sweep(ctx, batch, "purge sessions",
		"DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE id > ? AND id <= ?"+
			" AND (revoked_at < ? OR idle_expires_at < ? OR absolute_expires_at < ?)%s)",
		cutoff, cutoff, cutoff)
}

// EraseSealed implements auth.SessionPurger. A rotation stores the sealed
// successor; once the grace interval has passed nothing may open it again,
// so it goes (the next rotation overwrites it too). No index serves this
// either (one would cost every rotation its maintenance): it walks the
// table like PurgeExpired.
func (s *SessionStore) EraseSealed(ctx context.Context, before time.Time, batch int) (int, error) {
	return s.sweep(ctx, batch, "erase sealed successors",
		"UPDATE sessions SET successor_sealed = NULL WHERE id IN (SELECT id FROM sessions WHERE id > ? AND id <= ?"+
			" AND successor_sealed IS NOT NULL AND rotated_at < ?%s)",
		toDB(before))
}

// The bounds of a sweep: no version 4 UUID is the nil UUID, and every one
// sorts at or below the max UUID, as text (SQLite) and as uuid (PostgreSQL).
const (
	sweepStart = "00000000-0000-0000-0000-000000000000"
	sweepEnd   = "ffffffff-ffff-ffff-ffff-ffffffffffff"
)

// sweep walks sessions in primary-key order, batch rows at a time: it finds
// the batch-th id after the last one (an index-only walk of the primary
// key) and runs query on the rows in between. query has the range's two
// bounds as its first arguments, then args, and %s where the row-lock
// clause goes. It returns the rows query affected in all.
func (s *SessionStore) sweep(ctx context.Context, batch int, op, query string, args ...any) (int, error) {
	if batch <= 0 {
		batch = defaultPurgeBatch
	}
	lock := ""
	if isPostgres(s.db) {
		lock = " FOR UPDATE SKIP LOCKED"
	} else {
		batch = min(batch, sqlitePurgeBatch)
	}
	query = fmt.Sprintf(query, lock)
	total := 0
	for lo := sweepStart; ; {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		hi, last := "", false
		err := conn(ctx, s.db).Raw("SELECT id FROM sessions WHERE id > ? ORDER BY id LIMIT 1 OFFSET ?", lo, batch-1).Row().Scan(&hi)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			hi, last = sweepEnd, true
		case err != nil:
			return total, wrapErr(op, err)
		}
		began := time.Now()
		res := conn(ctx, s.db).Exec(query, append([]any{lo, hi}, args...)...)
		if res.Error != nil {
			return total, wrapErr(op, res.Error)
		}
		total += int(res.RowsAffected)
		if last {
			return total, nil
		}
		lo = hi
		if err := yieldWriter(ctx, s.db, began); err != nil {
			return total, err
		}
	}
}

// sqlitePurgeBatch caps a purge batch on SQLite, whose one writer runs
// every write of the instance: a batch holds it for its whole statement
// and every refresh waits behind it. At 500 sessions a batch took tens of
// milliseconds on a million-account file and the refresh p99 went from 23
// to 199 ms during the purge.
const sqlitePurgeBatch = 50

// yieldWriter gives SQLite's writer back between purge batches: it waits as
// long as the batch begun at began took, so the purge holds the writer at
// most half the time. PostgreSQL's batches lock only their rows, skip those
// a request holds, and do not wait.
func yieldWriter(ctx context.Context, db *gorm.DB, began time.Time) error {
	if isPostgres(db) {
		return ctx.Err()
	}
	t := time.NewTimer(min(time.Since(began), time.Second))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
