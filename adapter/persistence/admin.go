package persistence

import (
	"context"
	"errors"
	"slices"
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

var (
	_ admin.Directory = (*AdminDirectory)(nil)
	_ admin.Factors   = (*AdminDirectory)(nil)
)

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

// UpdateAdmin implements admin.Directory: a locked read-modify-write in
// the caller's transaction (or one of its own). The account is read under
// its row lock (PostgreSQL: FOR UPDATE; SQLite: the write transaction
// already excludes every other writer), fn changes it, and the fields
// administrators change (name, roles, disabled, emailVerified, updatedAt)
// are written when fn changed any of them. So two administrators' patches
// never overwrite each other with what they read before the other's commit
// (a name change cannot re-enable an account disabled meanwhile), and the
// columns other operations own (password hash, email) are never written.
func (d *AdminDirectory) UpdateAdmin(ctx context.Context, userID string, fn func(*user.User) error) (user.User, error) {
	if !id.Valid(userID) {
		return user.User{}, user.ErrNotFound
	}
	var out user.User
	err := inTx(ctx, d.db, func(db *gorm.DB) error {
		q := db.Where("id = ?", userID)
		if isPostgres(db) {
			q = q.Clauses(clause.Locking{Strength: "UPDATE"})
		}
		var rec userRecord
		if err := q.Take(&rec).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return user.ErrNotFound
			}
			return wrapErr("lock user", err)
		}
		before := rec.toDomain()
		u := before
		u.Roles = slices.Clone(before.Roles)
		if err := fn(&u); err != nil {
			return err
		}
		out = u
		if u.Name == before.Name && slices.Equal(u.Roles, before.Roles) &&
			u.Disabled == before.Disabled && u.EmailVerified == before.EmailVerified &&
			u.AppMetadata == before.AppMetadata {
			out = before
			return nil
		}
		after, err := userFromDomain(u)
		if err != nil {
			return err
		}
		// Disabling bumps the credential version in the same statement, so
		// a login that proved the password before the disable committed
		// starts no session after it (the re-check at session start).
		bump := u.Disabled && !before.Disabled
		if bump {
			out.CredentialVersion++
		}
		err = db.Exec("UPDATE users SET credential_version = credential_version + ?, "+
			"name = ?, roles = ?, disabled = ?, email_verified = ?, app_metadata = ?, updated_at = ? WHERE id = ?",
			boolInt(bump), after.Name, after.Roles, after.Disabled, after.EmailVerified, after.AppMetadata, after.UpdatedAt, userID).Error
		if err != nil {
			return wrapErr("update user", err)
		}
		return nil
	})
	return out, err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// adminPredicate selects the accounts holding the admin role (roles are
// stored comma-separated). Written exactly as the partial index
// users_admins_idx (migration 00010) is, so both engines use it.
const adminPredicate = `(',' || roles || ',') LIKE '%,admin,%'`

// LockAdmins implements admin.Directory: the IDs of the enabled accounts
// holding the admin role, locked until the caller's transaction ends. On
// PostgreSQL FOR UPDATE in id order, so two callers never deadlock and one
// that waited sees the other's commit (a row it waited for that no longer
// qualifies is left out); on SQLite the write transaction already excludes
// every other writer. It must run inside a transaction.
func (d *AdminDirectory) LockAdmins(ctx context.Context) ([]string, error) {
	db := conn(ctx, d.db)
	q := "SELECT id FROM users WHERE " + adminPredicate + " AND NOT disabled ORDER BY id"
	if isPostgres(db) {
		q += " FOR UPDATE"
	}
	var ids []string
	if err := db.Raw(q).Scan(&ids).Error; err != nil {
		return nil, wrapErr("lock admins", err)
	}
	return ids, nil
}

// HasSecondFactor implements admin.Factors: whether the account has a
// confirmed TOTP factor, the factor whose code makes a token aal2.
func (d *AdminDirectory) HasSecondFactor(ctx context.Context, userID string) (bool, error) {
	if !id.Valid(userID) {
		return false, nil
	}
	var n []int
	err := conn(ctx, d.db).Raw(`SELECT 1 FROM totp_factors
		WHERE user_id = ? AND confirmed_at IS NOT NULL AND secret IS NOT NULL`, userID).Scan(&n).Error
	if err != nil {
		return false, wrapErr("second factor", err)
	}
	return len(n) > 0, nil
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
