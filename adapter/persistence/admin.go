package persistence

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/admin"
)

// AdminDirectory is the administrators' view of the accounts.
type AdminDirectory struct {
	*UserRepository
}

var _ admin.Directory = (*AdminDirectory)(nil)

// NewAdminDirectory returns an AdminDirectory on db.
func NewAdminDirectory(db *gorm.DB) *AdminDirectory {
	return &AdminDirectory{UserRepository: NewUserRepository(db)}
}

// likeEscape makes q match itself literally inside a LIKE pattern.
var likeEscape = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// Search implements admin.Directory: newest accounts first, paged by keyset
// (created_at, id) like the event list. A term matches a substring of the
// email or of the lower-cased name; on PostgreSQL trigram indexes find the
// matches (migration 00013), on SQLite the accounts are read newest first
// until the page is full.
func (d *AdminDirectory) Search(ctx context.Context, q, cursor string, limit int) ([]user.User, string, error) {
	var where []clause.Expr
	if q != "" {
		pat := "%" + likeEscape.Replace(strings.ToLower(q)) + "%"
		where = append(where, gorm.Expr(`(email LIKE ? ESCAPE '\' OR lower(name) LIKE ? ESCAPE '\')`, pat, pat))
	}
	if cursor != "" {
		at, afterID, err := decodeCursor(cursor)
		if err != nil {
			return nil, "", audit.ErrInvalidCursor
		}
		where = append(where, gorm.Expr(keysetAfter, toDB(at), toDB(at), afterID))
	}
	var recs []userRecord
	find := func(db *gorm.DB) error {
		db = db.Model(&userRecord{})
		for _, w := range where {
			db = db.Where(w)
		}
		return db.Order("created_at DESC, id DESC").Limit(limit + 1).Find(&recs).Error
	}
	var err error
	if q != "" && isPostgres(d.db) {
		// A term is planned with its value every time. Which plan is
		// right depends on it: a rare term reads the trigram indexes, a
		// common one the accounts newest first until the page is full.
		// A prepared statement's generic plan, which PostgreSQL settles
		// on after five runs, cannot tell them apart and took 1.7 s for a
		// rare term at a million accounts.
		err = inTx(ctx, d.db, func(tx *gorm.DB) error {
			if err := tx.Exec("SET LOCAL plan_cache_mode = force_custom_plan").Error; err != nil {
				return err
			}
			return find(tx)
		})
	} else {
		err = find(conn(ctx, d.db))
	}
	if err != nil {
		return nil, "", wrapErr("search users", err)
	}
	out := make([]user.User, 0, min(len(recs), limit))
	next := ""
	for i, r := range recs {
		if i == limit {
			last := out[limit-1]
			next = encodeCursor(last.CreatedAt, last.ID)
			break
		}
		out = append(out, r.toDomain())
	}
	return out, next, nil
}

// UpdateAdmin implements admin.Directory: name, roles, disabled, verified
// flag and updatedAt, the fields administrators change.
func (d *AdminDirectory) UpdateAdmin(ctx context.Context, u user.User) error {
	if !id.Valid(u.ID) {
		return user.ErrNotFound
	}
	rec, err := userFromDomain(u)
	if err != nil {
		return err
	}
	res := conn(ctx, d.db).Exec(
		// Disabling bumps the credential version in the same statement, so a
		// login that proved the password before the disable committed
		// starts no session after it (the re-check at session start).
		"UPDATE users SET credential_version = credential_version + CASE WHEN ? AND NOT disabled THEN 1 ELSE 0 END, "+
			"name = ?, roles = ?, disabled = ?, email_verified = ?, updated_at = ? WHERE id = ?",
		rec.Disabled, rec.Name, rec.Roles, rec.Disabled, rec.EmailVerified, rec.UpdatedAt, rec.ID)
	if res.Error != nil {
		return wrapErr("update user", res.Error)
	}
	if res.RowsAffected == 0 {
		return user.ErrNotFound
	}
	return nil
}

// Facts implements admin.Directory in four grouped queries for a whole
// page: active sessions, the last login, whether a TOTP second factor is
// confirmed, and how many passkeys are registered.
func (d *AdminDirectory) Facts(ctx context.Context, ids []string, now time.Time) (map[string]admin.Facts, error) {
	out := make(map[string]admin.Facts, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	db := conn(ctx, d.db)
	t := toDB(now)
	err := countPerUser(db, out, "count sessions", func(f *admin.Facts, n int) { f.ActiveSessions = n },
		`SELECT user_id, count(*) AS n FROM sessions
		WHERE user_id IN ? AND revoked_at IS NULL AND idle_expires_at > ? AND absolute_expires_at > ?
		GROUP BY user_id`, ids, t, t)
	if err != nil {
		return nil, err
	}
	var logins []securityEventRecord
	// The newest login per account, without an aggregate: SQLite returns
	// aggregates of DATETIME columns as text the driver cannot scan.
	err = db.Raw(`SELECT e.user_id, e.created_at FROM security_events e
		WHERE e.user_id IN ? AND e.type = ? AND NOT EXISTS (
			SELECT 1 FROM security_events f
			WHERE f.user_id = e.user_id AND f.type = e.type AND f.created_at > e.created_at)`,
		ids, string(audit.LoginSucceeded)).Scan(&logins).Error
	if err != nil {
		return nil, wrapErr("last logins", err)
	}
	for _, l := range logins {
		f := out[l.UserID]
		f.LastLoginAt = fromDB(l.CreatedAt)
		out[l.UserID] = f
	}
	// A factor counts once confirmed with a first code; a pending
	// enrollment (secret shown, never confirmed) does not guard the account.
	var totp []string
	err = db.Raw(`SELECT user_id FROM totp_factors
		WHERE user_id IN ? AND confirmed_at IS NOT NULL AND secret IS NOT NULL`, ids).Scan(&totp).Error
	if err != nil {
		return nil, wrapErr("confirmed second factors", err)
	}
	for _, userID := range totp {
		f := out[userID]
		f.MFAEnabled = true
		out[userID] = f
	}
	err = countPerUser(db, out, "count passkeys", func(f *admin.Facts, n int) { f.Passkeys = n },
		`SELECT user_id, count(*) AS n FROM passkeys WHERE user_id IN ? GROUP BY user_id`, ids)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// countPerUser runs a grouped count (columns user_id and n) and hands each
// account's count to set.
func countPerUser(db *gorm.DB, out map[string]admin.Facts, what string, set func(*admin.Facts, int), query string, args ...any) error {
	var counts []struct {
		UserID string
		N      int
	}
	if err := db.Raw(query, args...).Scan(&counts).Error; err != nil {
		return wrapErr(what, err)
	}
	for _, c := range counts {
		f := out[c.UserID]
		set(&f, c.N)
		out[c.UserID] = f
	}
	return nil
}
