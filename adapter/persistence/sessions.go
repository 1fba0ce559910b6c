package persistence

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/account"
	"github.com/gatehouse/gatehouse/usecase/auth"
)

// sessionRecord is a row of sessions.
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
}

// TableName implements gorm's tabler.
func (sessionRecord) TableName() string { return "sessions" }

// sessionColumns lists what a session read selects: every column, named, so
// the query does not change meaning when columns are added.
const sessionColumns = "id, user_id, created_at, last_used_at, idle_expires_at, absolute_expires_at, " +
	"auth_time, revoked_at, revoke_reason, user_agent, ip, generation"

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
	}
}

// refreshTokenRecord is a row of refresh_tokens. Only the SHA-256 of a
// token is stored, and its successor only sealed under a key derived from
// the token itself.
type refreshTokenRecord struct {
	TokenHash       []byte       `gorm:"column:token_hash;primaryKey"`
	SessionID       string       `gorm:"column:session_id"`
	Generation      int64        `gorm:"column:generation"`
	CreatedAt       time.Time    `gorm:"column:created_at;autoCreateTime:false"`
	RotatedAt       sql.NullTime `gorm:"column:rotated_at"`
	SuccessorSealed []byte       `gorm:"column:successor_sealed"`
}

// TableName implements gorm's tabler.
func (refreshTokenRecord) TableName() string { return "refresh_tokens" }

const tokenColumns = "token_hash, session_id, generation, created_at, rotated_at, successor_sealed"

func tokenFromDomain(t session.RefreshToken) refreshTokenRecord {
	return refreshTokenRecord{
		TokenHash:       t.Hash[:],
		SessionID:       t.SessionID,
		Generation:      t.Generation,
		CreatedAt:       toDB(t.CreatedAt),
		RotatedAt:       toDBNull(t.RotatedAt),
		SuccessorSealed: nilIfEmpty(t.SuccessorSealed),
	}
}

func (r refreshTokenRecord) toDomain() (session.RefreshToken, error) {
	t := session.RefreshToken{
		SessionID:       r.SessionID,
		Generation:      r.Generation,
		CreatedAt:       fromDB(r.CreatedAt),
		RotatedAt:       fromDBNull(r.RotatedAt),
		SuccessorSealed: r.SuccessorSealed,
	}
	if len(r.TokenHash) != len(t.Hash) {
		return session.RefreshToken{}, fmt.Errorf("persistence: stored token hash has %d bytes", len(r.TokenHash))
	}
	copy(t.Hash[:], r.TokenHash)
	return t, nil
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// SessionStore stores sessions and their refresh-token families.
type SessionStore struct {
	db *gorm.DB
}

var (
	_ auth.SessionStore      = (*SessionStore)(nil)
	_ account.SessionRevoker = (*SessionStore)(nil)
)

// NewSessionStore returns a SessionStore on db.
func NewSessionStore(db *gorm.DB) *SessionStore { return &SessionStore{db: db} }

// Create inserts a session and its first refresh token, together.
// user.ErrNotFound if the session's user does not exist (deleted while
// logging in).
func (s *SessionStore) Create(ctx context.Context, sess session.Session, first session.RefreshToken) error {
	if !id.Valid(sess.ID) || !id.Valid(sess.UserID) {
		return fmt.Errorf("persistence: create session: invalid session or user id")
	}
	if first.SessionID != sess.ID || first.Generation != sess.Generation {
		return fmt.Errorf("persistence: create session: first token does not belong to the session")
	}
	srec, trec := sessionFromDomain(sess), tokenFromDomain(first)
	return inTx(ctx, s.db, func(db *gorm.DB) error {
		if err := db.Create(&srec).Error; err != nil {
			if isForeignKeyViolation(err, pgSessionsUserFK) {
				return user.ErrNotFound
			}
			return wrapErr("create session", err)
		}
		if err := db.Create(&trec).Error; err != nil {
			return wrapErr("create session token", err)
		}
		return nil
	})
}

// ByID finds a session, revoked or not; session.ErrNotFound if none. It runs
// on every authenticated request: one primary-key lookup.
func (s *SessionStore) ByID(ctx context.Context, sessionID string) (session.Session, error) {
	if !id.Valid(sessionID) {
		return session.Session{}, session.ErrNotFound
	}
	var rec sessionRecord
	err := conn(ctx, s.db).Select(sessionColumns).Where("id = ?", sessionID).Take(&rec).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return session.Session{}, session.ErrNotFound
	}
	if err != nil {
		return session.Session{}, wrapErr("session by id", err)
	}
	return rec.toDomain(), nil
}

// LockByID is ByID that also locks the session until the caller's
// transaction ends (it must run inside Transactor.WithinTx), for
// read-modify-write such as revocation or reauthentication that must not
// undo a rotation committed meanwhile. session.ErrNotFound if none.
func (s *SessionStore) LockByID(ctx context.Context, sessionID string) (session.Session, error) {
	if _, ok := txFrom(ctx); !ok {
		return session.Session{}, errors.New("persistence: LockByID outside a transaction (use Transactor.WithinTx)")
	}
	if !id.Valid(sessionID) {
		return session.Session{}, session.ErrNotFound
	}
	srec, err := lockSession(conn(ctx, s.db), sessionID)
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return session.Session{}, session.ErrNotFound
	}
	if err != nil {
		return session.Session{}, wrapErr("lock session", err)
	}
	return srec.toDomain(), nil
}

// lockSession reads a session row and, on PostgreSQL, locks it FOR UPDATE.
// SQLite needs no row lock: a transaction there owns the only connection
// and, begun IMMEDIATE, the database's write lock.
func lockSession(db *gorm.DB, sessionID string) (sessionRecord, error) {
	q := db.Select(sessionColumns).Where("id = ?", sessionID)
	if isPostgres(db) {
		q = q.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate})
	}
	var rec sessionRecord
	err := q.Take(&rec).Error
	return rec, err
}

// LockByRefreshHash finds the token with this hash and its session, and
// locks the session until the caller's transaction ends; it must run inside
// Transactor.WithinTx. session.ErrRefreshInvalid if no token has this hash.
//
// The order matters: find the session, lock it, and only then read the
// token. A request that waited for the lock therefore sees the rotation the
// winner committed, and is answered as a replay (or reuse), never as a
// second rotation. On PostgreSQL the lock is SELECT ... FOR UPDATE on the
// session row; on SQLite the transaction already owns the only connection
// and the database's write lock (BEGIN IMMEDIATE).
func (s *SessionStore) LockByRefreshHash(ctx context.Context, hash [32]byte) (session.Session, session.RefreshToken, error) {
	if _, ok := txFrom(ctx); !ok {
		return session.Session{}, session.RefreshToken{}, errors.New("persistence: LockByRefreshHash outside a transaction (use Transactor.WithinTx)")
	}
	db := conn(ctx, s.db)
	var ref refreshTokenRecord
	err := db.Select("session_id").Where("token_hash = ?", hash[:]).Take(&ref).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return session.Session{}, session.RefreshToken{}, session.ErrRefreshInvalid
	}
	if err != nil {
		return session.Session{}, session.RefreshToken{}, wrapErr("find refresh token", err)
	}

	srec, err := lockSession(db, ref.SessionID)
	if errors.Is(err, gorm.ErrRecordNotFound) {
		// Deleted (with its tokens) since the first read.
		return session.Session{}, session.RefreshToken{}, session.ErrRefreshInvalid
	}
	if err != nil {
		return session.Session{}, session.RefreshToken{}, wrapErr("lock session", err)
	}

	var trec refreshTokenRecord
	err = db.Select(tokenColumns).Where("token_hash = ?", hash[:]).Take(&trec).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return session.Session{}, session.RefreshToken{}, session.ErrRefreshInvalid
	}
	if err != nil {
		return session.Session{}, session.RefreshToken{}, wrapErr("read refresh token", err)
	}
	tok, err := trec.toDomain()
	if err != nil {
		return session.Session{}, session.RefreshToken{}, err
	}
	return srec.toDomain(), tok, nil
}

// Rotate saves sess, marks used as rotated (its RotatedAt and
// SuccessorSealed) and inserts next, together. session.ErrConflict if used
// was already rotated, or next's generation already exists: a concurrent
// rotation won, and nothing is written.
func (s *SessionStore) Rotate(ctx context.Context, sess session.Session, used, next session.RefreshToken) error {
	switch {
	case used.RotatedAt.IsZero():
		return errors.New("persistence: rotate: used token has no rotation time")
	case used.SessionID != sess.ID || next.SessionID != sess.ID || next.Generation != sess.Generation:
		return errors.New("persistence: rotate: tokens do not belong to the session's current generation")
	}
	nrec := tokenFromDomain(next)
	return inTx(ctx, s.db, func(db *gorm.DB) error {
		// The rotated_at IS NULL guard makes the mark-as-used a
		// compare-and-set: of two rotations of one token, one updates a row.
		res := db.Exec("UPDATE refresh_tokens SET rotated_at = ?, successor_sealed = ? WHERE token_hash = ? AND rotated_at IS NULL",
			toDB(used.RotatedAt), nilIfEmpty(used.SuccessorSealed), used.Hash[:])
		if res.Error != nil {
			return wrapErr("mark refresh token rotated", res.Error)
		}
		if res.RowsAffected == 0 {
			return session.ErrConflict
		}
		if err := db.Create(&nrec).Error; err != nil {
			if isUniqueViolation(err, pgTokenGenerationKey, sqliteTokenGeneration) ||
				isUniqueViolation(err, pgTokenPrimaryKey, sqliteTokenPrimaryKey) {
				return session.ErrConflict
			}
			return wrapErr("insert refresh token", err)
		}
		return save(db, sess)
	})
}

// Save writes the mutable fields of sess: last use, expiries, auth time,
// revocation, user agent, IP and generation. session.ErrNotFound if it does
// not exist. Callers read sess with a lock (LockByID, LockByRefreshHash)
// in the same transaction.
//
// As a safety net two fields only move forward, whatever the caller read: a revoked session
// stays revoked with its first time and reason, and the generation never
// decreases. A Save built from a read that predates a concurrent logout or
// rotation therefore cannot bring a session back or rewind its token
// family.
func (s *SessionStore) Save(ctx context.Context, sess session.Session) error {
	if !id.Valid(sess.ID) {
		return session.ErrNotFound
	}
	return save(conn(ctx, s.db), sess)
}

func save(db *gorm.DB, sess session.Session) error {
	rec := sessionFromDomain(sess)
	res := db.Exec(`UPDATE sessions SET
			last_used_at = ?, idle_expires_at = ?, absolute_expires_at = ?, auth_time = ?,
			revoked_at = COALESCE(revoked_at, ?),
			revoke_reason = CASE WHEN revoked_at IS NULL THEN ? ELSE revoke_reason END,
			user_agent = ?, ip = ?,
			generation = CASE WHEN generation > ? THEN generation ELSE ? END
		WHERE id = ?`,
		rec.LastUsedAt, rec.IdleExpiresAt, rec.AbsoluteExpiresAt, rec.AuthTime,
		rec.RevokedAt, rec.RevokeReason, rec.UserAgent, rec.IP,
		rec.Generation, rec.Generation, rec.ID)
	if res.Error != nil {
		return wrapErr("save session", res.Error)
	}
	if res.RowsAffected == 0 {
		return session.ErrNotFound
	}
	return nil
}

// activeAt is the condition for a session active at a time: not revoked,
// and before both expiries (the same rule as session.Session.Active).
const activeAt = "revoked_at IS NULL AND idle_expires_at > ? AND absolute_expires_at > ?"

// RevokeAllForUser revokes every session of userID active at now, except
// exceptID (may be empty), with reason, and returns the IDs it revoked in
// ascending order.
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
		err := db.Exec("UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE id IN ? AND revoked_at IS NULL",
			at, reason, ids).Error
		if err != nil {
			return wrapErr("revoke user sessions", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(ids)
	return ids, nil
}

// ListActive lists userID's sessions active at now, newest first.
func (s *SessionStore) ListActive(ctx context.Context, userID string, now time.Time) ([]session.Session, error) {
	if !id.Valid(userID) {
		return nil, nil
	}
	at := toDB(now)
	var recs []sessionRecord
	err := conn(ctx, s.db).Select(sessionColumns).
		Where("user_id = ? AND "+activeAt, userID, at, at).
		Order("created_at DESC, id DESC").
		Find(&recs).Error
	if err != nil {
		return nil, wrapErr("list sessions", err)
	}
	out := make([]session.Session, len(recs))
	for i, r := range recs {
		out[i] = r.toDomain()
	}
	return out, nil
}

// defaultPurgeBatch is PurgeExpired's batch size when the caller gives none.
const defaultPurgeBatch = 500

// PurgeExpired deletes the sessions (and, by cascade, their refresh tokens)
// that were revoked, or passed either expiry, more than retention before
// now, batch rows per statement, and returns how many it deleted.
//
// Each batch is its own short statement, so the purge never holds many
// locks at once. On PostgreSQL it skips rows locked by others (FOR UPDATE
// SKIP LOCKED): instances purging at the same time share the work instead
// of queueing on each other or on a refresh in progress.
func (s *SessionStore) PurgeExpired(ctx context.Context, now time.Time, retention time.Duration, batch int) (int, error) {
	if batch <= 0 {
		batch = defaultPurgeBatch
	}
	cutoff := toDB(now.Add(-max(retention, 0)))
	lock := ""
	if isPostgres(s.db) {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	query := "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions" +
		" WHERE revoked_at < ? OR idle_expires_at < ? OR absolute_expires_at < ? LIMIT ?" + lock + ")"
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		res := conn(ctx, s.db).Exec(query, cutoff, cutoff, cutoff, batch)
		if res.Error != nil {
			return total, wrapErr("purge sessions", res.Error)
		}
		total += int(res.RowsAffected)
		if res.RowsAffected < int64(batch) {
			return total, nil
		}
	}
}
