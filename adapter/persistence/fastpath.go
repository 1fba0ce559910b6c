package persistence

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

// rotateSet is the SET list of the fast rotation: session.Policy.Rotate
// (the current hash becomes the previous one, the successor's hash and
// seal are stored, the generation moves on) and session.Policy.Touch (idle
// expiry restarted but capped by the absolute one; user agent and IP kept
// when the new ones are empty). Every expression reads the row as it was.
// $1 session, $2 presented hash, $3 now, $4 next hash, $5 sealed, $6 idle
// expiry, $7 user agent, $8 IP.
const rotateSet = `
	generation = generation + 1,
	prev_token_hash = token_hash,
	token_hash = $4,
	rotated_at = $3,
	successor_sealed = $5,
	last_used_at = $3,
	idle_expires_at = CASE WHEN $6 < absolute_expires_at THEN $6 ELSE absolute_expires_at END,
	user_agent = CASE WHEN $7 = '' THEN user_agent ELSE $7 END,
	ip = CASE WHEN $8 = '' THEN ip ELSE $8 END`

// rotateWhere is the Rotate case of session.Policy.Decide: the presented
// token is the session's current one, and the session is not revoked and
// before both expiries. Anything else matches no row, and the use case
// takes the locked path, where the domain policy decides. The contract
// suite runs every case of Decide through both paths on every store.
const rotateWhere = `
	sessions.id = $1 AND sessions.token_hash = $2
	AND sessions.revoked_at IS NULL AND sessions.idle_expires_at > $3 AND sessions.absolute_expires_at > $3`

// rotatePostgres is the whole common-case refresh on PostgreSQL: one
// UPDATE of one row, which also returns the session's user (without the
// password hash: a refresh has no use for it, and it was a third of the
// bytes returned). No insert, no second table: the session row carries the
// current token's hash.
//
// Concurrency: the UPDATE takes the row's lock. A second rotation of the
// same token waits for it, re-checks its WHERE against the committed row,
// whose token_hash has moved on, and changes nothing; its caller then takes
// the locked path and gets the grace replay.
var rotatePostgres = `UPDATE sessions SET` + rotateSet + `
FROM users u WHERE` + rotateWhere + ` AND u.id = sessions.user_id
RETURNING ` + sessionColumns("sessions.") + `, ` + userColumnsPublic("u.")

// rotateSQLite is the same statement where SQLite cannot return the joined
// user (RETURNING names only the updated table); the user is read after.
// SQLite takes numbered parameters as ?N ($N would be names, bound in order
// of appearance).
var rotateSQLite = strings.NewReplacer("$1", "?1", "$2", "?2", "$3", "?3", "$4", "?4",
	"$5", "?5", "$6", "?6", "$7", "?7", "$8", "?8").Replace(`UPDATE sessions SET` + rotateSet + `
WHERE` + rotateWhere + `
RETURNING ` + sessionColumns(""))

// userAfterRotateSQL reads the rotated session's user on SQLite.
var userAfterRotateSQL = `SELECT ` + userColumnsPublic("") + ` FROM users WHERE id = $1`

// RotateCurrent implements authn.RefreshRotator with one UPDATE of one row.
// It goes straight to the connection (or the caller's transaction) with
// positional parameters: building the statement through gorm cost more CPU
// than anything else in the service's part of a refresh. It still reports
// to gorm's logger, so a slow rotation shows in the slow-query log.
func (s *SessionStore) RotateCurrent(ctx context.Context, in authn.RotateInput) (session.Session, user.User, bool, error) {
	if !id.Valid(in.Token.SessionID) {
		return session.Session{}, user.User{}, false, nil
	}
	db := rawConn(ctx, s.db)
	pg := isPostgres(db)
	query := rotateSQLite
	if pg {
		query = rotatePostgres
	}
	args := []any{in.Token.SessionID, in.Token.Hash[:], toDB(in.Now), in.Next[:], in.SuccessorSealed,
		toDB(in.Now.Add(in.Policy.IdleTTL)), in.UserAgent, in.IP}
	ctx, span := startStatement(ctx, "db.rotate_current sessions", db.Dialector.Name(), query)
	defer span.End()
	var (
		srec sessionRecord
		urec userRecord
	)
	dest := srec.targets()
	if pg {
		dest = append(dest, urec.targetsPublic()...)
	}
	err := runRow(ctx, db, query, args, dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return session.Session{}, user.User{}, false, nil
	}
	if err != nil {
		return session.Session{}, user.User{}, false, wrapErr("rotate current token", err)
	}
	sess := srec.toDomain()
	if !pg {
		// Straight to the connection too: on SQLite every statement is
		// compiled again at each run, and gorm's reflective Take cost
		// more than the rotation itself.
		err = runRow(ctx, db, userAfterRotateSQL, []any{srec.UserID}, urec.targetsPublic()...)
		if errors.Is(err, sql.ErrNoRows) {
			return session.Session{}, user.User{}, false, user.ErrNotFound
		}
		if err != nil {
			return session.Session{}, user.User{}, false, wrapErr("user of rotated session", err)
		}
	}
	urec.ID = srec.UserID
	return sess, urec.toDomain(), true, nil
}

// runRow runs one hand-written single-row statement (see queryRow) and
// reports it to gorm's logger, which logs it when slow (or failed), as it
// does every statement built through gorm. No row is sql.ErrNoRows.
func runRow(ctx context.Context, db *gorm.DB, query string, args []any, dest ...any) error {
	begin := time.Now()
	err := queryRow(ctx, db, query, args, dest...)
	rows, logged := int64(1), err
	if err != nil {
		rows = 0
		if errors.Is(err, sql.ErrNoRows) {
			logged = nil
		}
	}
	db.Logger.Trace(ctx, begin, func() (string, int64) { return query, rows }, logged)
	return err
}

// withUserSQL reads a session whole and its user by the session's primary
// key, one indexed lookup. SQLite reads $1 as a named parameter, bound by
// position like ?1.
var withUserSQL = `SELECT ` + sessionColumns("s.") + `, ` + userColumnsAfterID("u.") + `
FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1`

// livenessSQL is the per-request access check: what decides whether the
// session's tokens still work, and its user (without the password hash),
// by the session's primary key. Narrower than withUserSQL because on SQLite
// every statement is compiled again at each run, and its cost grows with
// the column list (its 11 columns measured 30 % cheaper than its 25; the
// account's locale, which GET /users/me shows, whether it has a password
// and its appMetadata made them 14).
var livenessSQL = `SELECT s.user_id, s.revoked_at, s.idle_expires_at, s.absolute_expires_at, ` +
	userColumnsPublic("u.") + `
FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1`

// Liveness implements authn.SessionLivenessReader, the statement every
// authenticated request runs; like the rotation it goes straight to the
// connection and reports to gorm's logger.
func (s *SessionStore) Liveness(ctx context.Context, sessionID string) (session.Liveness, user.User, error) {
	if !id.Valid(sessionID) {
		return session.Liveness{}, user.User{}, session.ErrNotFound
	}
	var (
		l    = session.Liveness{ID: sessionID}
		rec  userRecord
		rev  sql.NullTime
		idle time.Time
		abs  time.Time
	)
	err := runRow(ctx, rawConn(ctx, s.db), livenessSQL, []any{sessionID}, append([]any{&rec.ID, &rev, &idle, &abs}, rec.targetsPublic()...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return session.Liveness{}, user.User{}, session.ErrNotFound
	}
	if err != nil {
		return session.Liveness{}, user.User{}, wrapErr("session liveness", err)
	}
	l.UserID, l.RevokedAt, l.IdleExpiresAt, l.AbsoluteExpiresAt = rec.ID, fromDBNull(rev), fromDB(idle), fromDB(abs)
	return l, rec.toDomain(), nil
}

// WithUser implements authn.SessionAuthenticator (the locked refresh path
// and the contract suite read sessions whole through it), hand-run like
// Liveness.
func (s *SessionStore) WithUser(ctx context.Context, sessionID string) (session.Session, user.User, error) {
	if !id.Valid(sessionID) {
		return session.Session{}, user.User{}, session.ErrNotFound
	}
	var (
		srec sessionRecord
		urec userRecord
	)
	err := runRow(ctx, rawConn(ctx, s.db), withUserSQL, []any{sessionID}, append(srec.targets(), urec.targetsAfterID()...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return session.Session{}, user.User{}, session.ErrNotFound
	}
	if err != nil {
		return session.Session{}, user.User{}, wrapErr("session with user", err)
	}
	urec.ID = srec.UserID
	return srec.toDomain(), urec.toDomain(), nil
}
