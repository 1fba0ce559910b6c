package persistence

import (
	"context"
	"database/sql"
	"errors"

	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/auth"
)

// rotateCurrentSQL is the whole common-case refresh as one PostgreSQL
// statement (one round trip, no explicit transaction).
//
// Its WHERE clauses are the Rotate case of session.Policy.Decide (the token
// is the session's current generation and unrotated; the session is not
// revoked and before both expiries) and its SET list is session.Policy.Touch
// (idle expiry restarted but capped by the absolute one; user agent and IP
// kept when the new ones are empty). The persistence suite checks that this
// path and the locked one agree; any other case returns no row and the use
// case falls back to the locked path, where the domain policy decides.
//
// Concurrency: the UPDATE of sessions takes the session row's lock. A
// second statement racing on the same token waits for it, then re-checks
// its WHERE against the committed row, whose generation has moved on, and
// so changes nothing. The token's UPDATE and the INSERT run only when the
// session's UPDATE matched, so the three writes happen together or not at
// all.
const rotateCurrentSQL = `
WITH cur AS (
	SELECT session_id, generation FROM refresh_tokens
	WHERE token_hash = $1 AND rotated_at IS NULL
), sess AS (
	UPDATE sessions s SET
		generation = s.generation + 1,
		last_used_at = $2,
		idle_expires_at = LEAST($3, s.absolute_expires_at),
		user_agent = CASE WHEN $4 = '' THEN s.user_agent ELSE $4 END,
		ip = CASE WHEN $5 = '' THEN s.ip ELSE $5 END
	FROM cur
	WHERE s.id = cur.session_id AND s.generation = cur.generation
		AND s.revoked_at IS NULL AND s.idle_expires_at > $2 AND s.absolute_expires_at > $2
	RETURNING s.id, s.user_id, s.created_at, s.last_used_at, s.idle_expires_at, s.absolute_expires_at,
		s.auth_time, s.revoked_at, s.revoke_reason, s.user_agent, s.ip, s.generation
), used AS (
	UPDATE refresh_tokens t SET rotated_at = $2, successor_sealed = $6
	FROM sess WHERE t.token_hash = $1 AND t.rotated_at IS NULL
	RETURNING t.token_hash
), ins AS (
	INSERT INTO refresh_tokens (token_hash, session_id, generation, created_at)
	SELECT $7, sess.id, sess.generation, $2 FROM sess
	RETURNING token_hash
)
SELECT sess.id, sess.user_id, sess.created_at, sess.last_used_at, sess.idle_expires_at, sess.absolute_expires_at,
	sess.auth_time, sess.revoked_at, sess.revoke_reason, sess.user_agent, sess.ip, sess.generation,
	u.email, u.name, u.roles, u.password_hash, u.email_verified, u.created_at, u.updated_at,
	(SELECT count(*) FROM used), (SELECT count(*) FROM ins)
FROM sess JOIN users u ON u.id = sess.user_id`

// RotateCurrent implements auth.SessionStore. On PostgreSQL it is one
// statement (see rotateCurrentSQL); on SQLite, where a transaction already
// owns the only connection and statements cost no network round trip, it
// declines and the locked path does the work.
func (s *SessionStore) RotateCurrent(ctx context.Context, in auth.RotateInput) (session.Session, user.User, bool, error) {
	db := conn(ctx, s.db)
	if !isPostgres(db) {
		return session.Session{}, user.User{}, false, nil
	}
	// Straight to the connection (or the caller's transaction), with
	// PostgreSQL's own placeholders: building the statement through gorm
	// cost more CPU than anything else in the service's part of a refresh.
	ctx, span := startStatement(ctx, "db.rotate_current refresh_tokens", "postgres", rotateCurrentSQL)
	defer span.End()
	row := db.Statement.ConnPool.QueryRowContext(ctx, rotateCurrentSQL,
		in.Hash[:], toDB(in.Now), toDB(in.Now.Add(in.IdleTTL)),
		in.UserAgent, in.IP, in.SuccessorSealed, in.Next[:])
	var (
		srec      sessionRecord
		urec      userRecord
		used, ins int64
	)
	err := row.Scan(&srec.ID, &srec.UserID, &srec.CreatedAt, &srec.LastUsedAt, &srec.IdleExpiresAt, &srec.AbsoluteExpiresAt,
		&srec.AuthTime, &srec.RevokedAt, &srec.RevokeReason, &srec.UserAgent, &srec.IP, &srec.Generation,
		&urec.Email, &urec.Name, &urec.Roles, &urec.PasswordHash, &urec.EmailVerified, &urec.CreatedAt, &urec.UpdatedAt,
		&used, &ins)
	if errors.Is(err, sql.ErrNoRows) {
		return session.Session{}, user.User{}, false, nil
	}
	if err != nil {
		if isUniqueViolation(err, pgTokenGenerationKey, "") || isUniqueViolation(err, pgTokenPrimaryKey, "") {
			// Only a broken invariant or a colliding random token gets here;
			// the locked path will sort it out.
			return session.Session{}, user.User{}, false, nil
		}
		return session.Session{}, user.User{}, false, wrapErr("rotate current token", err)
	}
	if used != 1 || ins != 1 {
		// Cannot happen while the session row lock serializes rotations; if
		// it did, the statement's writes would be inconsistent, so say so.
		return session.Session{}, user.User{}, false, wrapErr("rotate current token",
			errors.New("fast rotation wrote an inconsistent token family"))
	}
	urec.ID = srec.UserID
	return srec.toDomain(), urec.toDomain(), true, nil
}

// withUserSQL is the per-request liveness check: the session and its user
// by the session's primary key, one indexed lookup.
const withUserSQL = `SELECT s.id, s.user_id, s.created_at, s.last_used_at, s.idle_expires_at, s.absolute_expires_at,
	s.auth_time, s.revoked_at, s.revoke_reason, s.user_agent, s.ip, s.generation,
	u.email, u.name, u.roles, u.password_hash, u.email_verified, u.created_at, u.updated_at
FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?`

// WithUser implements auth.SessionStore. It runs on every authenticated
// request, so it scans into the records directly rather than through
// gorm's reflective mapping.
func (s *SessionStore) WithUser(ctx context.Context, sessionID string) (session.Session, user.User, error) {
	if !id.Valid(sessionID) {
		return session.Session{}, user.User{}, session.ErrNotFound
	}
	var (
		srec sessionRecord
		urec userRecord
	)
	err := conn(ctx, s.db).Raw(withUserSQL, sessionID).Row().Scan(
		&srec.ID, &srec.UserID, &srec.CreatedAt, &srec.LastUsedAt, &srec.IdleExpiresAt, &srec.AbsoluteExpiresAt,
		&srec.AuthTime, &srec.RevokedAt, &srec.RevokeReason, &srec.UserAgent, &srec.IP, &srec.Generation,
		&urec.Email, &urec.Name, &urec.Roles, &urec.PasswordHash, &urec.EmailVerified, &urec.CreatedAt, &urec.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return session.Session{}, user.User{}, session.ErrNotFound
	}
	if err != nil {
		return session.Session{}, user.User{}, wrapErr("session with user", err)
	}
	urec.ID = srec.UserID
	return srec.toDomain(), urec.toDomain(), nil
}
