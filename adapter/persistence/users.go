package persistence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/account"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

// userRecord is a row of users.
type userRecord struct {
	ID            string `gorm:"column:id;primaryKey"`
	Email         string `gorm:"column:email"`
	Name          string `gorm:"column:name"`
	Roles         string `gorm:"column:roles"` // comma-separated
	PasswordHash  string `gorm:"column:password_hash"`
	Disabled      bool   `gorm:"column:disabled"`
	EmailVerified bool   `gorm:"column:email_verified"`
	Locale        string `gorm:"column:locale"`
	// AppMetadata is compact JSON, '' when empty.
	AppMetadata string `gorm:"column:app_metadata"`
	// CredentialVersion is written only by SetPassword and the admin
	// update (a disable).
	CredentialVersion int64     `gorm:"column:credential_version;->"`
	CreatedAt         time.Time `gorm:"column:created_at;autoCreateTime:false"`
	UpdatedAt         time.Time `gorm:"column:updated_at;autoUpdateTime:false"`
	// PasswordSet is read by the reads that leave the hash out.
	PasswordSet bool `gorm:"-"`
}

// TableName implements gorm's tabler.
func (userRecord) TableName() string { return "users" }

func userFromDomain(u user.User) (userRecord, error) {
	for _, r := range u.Roles {
		// Roles are stored comma-separated; a comma inside one would split it.
		if r == "" || strings.ContainsRune(r, ',') {
			return userRecord{}, fmt.Errorf("persistence: invalid role %q", r)
		}
	}
	return userRecord{
		AppMetadata:   string(u.AppMetadata), // made by user.NewAppMetadata: checked, compact
		ID:            u.ID,
		Email:         u.Email,
		Name:          u.Name,
		Roles:         strings.Join(u.Roles, ","),
		PasswordHash:  u.PasswordHash,
		Disabled:      u.Disabled,
		EmailVerified: u.EmailVerified,
		Locale:        u.Locale,
		CreatedAt:     toDB(u.CreatedAt),
		UpdatedAt:     toDB(u.UpdatedAt),
	}, nil
}

// appMetadataOf is the stored appMetadata as it is (it goes into tokens
// without being parsed). Only user.NewAppMetadata's output is written; a row
// edited by hand to anything but a JSON object reads as none rather than
// failing every token of the account.
func appMetadataOf(s string) user.AppMetadata {
	if s == "" || s == "{}" || s[0] != '{' || !json.Valid([]byte(s)) {
		return ""
	}
	return user.AppMetadata(s)
}

func (r userRecord) toDomain() user.User {
	var roles []string
	if r.Roles != "" {
		roles = strings.Split(r.Roles, ",")
	}
	return user.User{
		AppMetadata:       appMetadataOf(r.AppMetadata),
		ID:                r.ID,
		Email:             r.Email,
		Name:              r.Name,
		Roles:             roles,
		PasswordHash:      r.PasswordHash,
		CredentialVersion: r.CredentialVersion,
		Disabled:          r.Disabled,
		EmailVerified:     r.EmailVerified,
		Locale:            r.Locale,
		CreatedAt:         fromDB(r.CreatedAt),
		UpdatedAt:         fromDB(r.UpdatedAt),
		PasswordSet:       r.PasswordSet && r.PasswordHash == "",
	}
}

// UserRepository stores accounts in users.
type UserRepository struct {
	db *gorm.DB
}

var (
	_ authn.UserRepository   = (*UserRepository)(nil)
	_ account.UserRepository = (*UserRepository)(nil)
)

// NewUserRepository returns a UserRepository on db.
func NewUserRepository(db *gorm.DB) *UserRepository { return &UserRepository{db: db} }

// Create inserts u. The unique index on the (already normalized) email makes
// concurrent registrations of one address end with exactly one account;
// the others get user.ErrEmailTaken.
func (r *UserRepository) Create(ctx context.Context, u user.User) error {
	if !id.Valid(u.ID) {
		return fmt.Errorf("persistence: create user: invalid id %q", u.ID)
	}
	rec, err := userFromDomain(u)
	if err != nil {
		return err
	}
	if rec.Locale == "" {
		rec.Locale = user.DefaultLocale
	}
	res := conn(ctx, r.db).Create(&rec)
	if isUniqueViolation(res.Error, pgUsersEmailKey, sqliteUsersEmailKey) {
		return user.ErrEmailTaken
	}
	return stmtErr("create user", res)
}

// ByEmail finds an account by normalized email; user.ErrNotFound if none.
func (r *UserRepository) ByEmail(ctx context.Context, email string) (user.User, error) {
	return takeOne("user by email", conn(ctx, r.db).Where("email = ?", email), user.ErrNotFound, userRecord.toDomain)
}

// ByID finds an account; user.ErrNotFound if none (or if userID is not an
// ID at all).
func (r *UserRepository) ByID(ctx context.Context, userID string) (user.User, error) {
	if !id.Valid(userID) {
		return user.User{}, user.ErrNotFound
	}
	return takeOne("user by id", conn(ctx, r.db).Where("id = ?", userID), user.ErrNotFound, userRecord.toDomain)
}

// The writes below each change only what their operation changes (issue 21
// item 2): a statement that wrote every column back would undo whatever
// another request committed between the caller's read and its write, such
// as an administrator's role change during a password change's hashing.

// SetPassword stores a new password hash and bumps the credential version
// in one statement, only while the version is still proven, the one the
// caller checked the old credential (or the reset link) against: after a
// password change that committed meanwhile it changes nothing and returns
// user.ErrCredentialChanged. Bumping the version ends every session proven
// with the old password and every link bound to it.
func (r *UserRepository) SetPassword(ctx context.Context, userID, hash string, proven int64, now time.Time) error {
	err := r.exec(ctx, "set password", userID,
		"UPDATE users SET password_hash = ?, credential_version = credential_version + 1, updated_at = ? WHERE id = ? AND credential_version = ?",
		hash, toDB(now), userID, proven)
	if errors.Is(err, user.ErrNotFound) {
		if _, err := r.ByID(ctx, userID); err != nil {
			return err
		}
		return user.ErrCredentialChanged
	}
	return err
}

// UpgradeHash replaces the stored hash of the same password (new hashing
// parameters) while the credential version is still proven; otherwise it
// does nothing. Not a credential change: no version bump, no updatedAt.
func (r *UserRepository) UpgradeHash(ctx context.Context, userID, hash string, proven int64) error {
	err := r.exec(ctx, "upgrade hash", userID, "UPDATE users SET password_hash = ? WHERE id = ? AND credential_version = ?",
		hash, userID, proven)
	if errors.Is(err, user.ErrNotFound) {
		return nil
	}
	return err
}

// SetEmail moves the account to a (normalized) address and sets whether it
// is verified; user.ErrEmailTaken when another account has it.
func (r *UserRepository) SetEmail(ctx context.Context, userID, email string, verified bool, now time.Time) error {
	return r.exec(ctx, "set email", userID, "UPDATE users SET email = ?, email_verified = ?, updated_at = ? WHERE id = ?",
		email, verified, toDB(now), userID)
}

// MarkEmailVerified records that the account's address email is proven,
// only while the account still has that address: user.ErrNotFound when no
// account with this ID has it (any more).
func (r *UserRepository) MarkEmailVerified(ctx context.Context, userID, email string, now time.Time) error {
	return r.exec(ctx, "mark email verified", userID,
		"UPDATE users SET email_verified = TRUE, updated_at = CASE WHEN email_verified THEN updated_at ELSE ? END WHERE id = ? AND email = ?",
		toDB(now), userID, email)
}

// exec runs an UPDATE of the one account userID: user.ErrNotFound when it
// matched no row, user.ErrEmailTaken when it would give the account an
// address another has.
func (r *UserRepository) exec(ctx context.Context, what, userID, query string, args ...any) error {
	if !id.Valid(userID) {
		return user.ErrNotFound
	}
	res := conn(ctx, r.db).Exec(query, args...)
	if isUniqueViolation(res.Error, pgUsersEmailKey, sqliteUsersEmailKey) {
		return user.ErrEmailTaken
	}
	return oneRow(what, res, user.ErrNotFound)
}

// UpdateProfile implements account.UserRepository: one statement that
// sets only the columns ch names, and updated_at.
func (r *UserRepository) UpdateProfile(ctx context.Context, userID string, ch account.ProfileChange) error {
	if !id.Valid(userID) {
		return user.ErrNotFound
	}
	set, args := "updated_at = ?", []any{toDB(ch.UpdatedAt)}
	if ch.Name != nil {
		set, args = set+", name = ?", append(args, *ch.Name)
	}
	if ch.Locale != nil {
		set, args = set+", locale = ?", append(args, *ch.Locale)
	}
	return oneRow("update profile", conn(ctx, r.db).Exec("UPDATE users SET "+set+" WHERE id = ?", append(args, userID)...), user.ErrNotFound)
}

// Delete removes the account with this ID; the database cascades to its
// sessions and their refresh tokens. Security events are kept (see
// AuditLog.ScrubUser). user.ErrNotFound if there is no such account.
func (r *UserRepository) Delete(ctx context.Context, userID string) error {
	if !id.Valid(userID) {
		return user.ErrNotFound
	}
	return oneRow("delete user", conn(ctx, r.db).Exec("DELETE FROM users WHERE id = ?", userID), user.ErrNotFound)
}

// LockCredential implements authn.UserRepository: the account's credential
// version, read under a share lock on PostgreSQL, so that a concurrent
// credential change waits for the caller's transaction (and then revokes
// the session it made) or has committed before (and is seen). SQLite runs
// one transaction at a time.
func (r *UserRepository) LockCredential(ctx context.Context, userID string) (int64, error) {
	if !id.Valid(userID) {
		return 0, user.ErrNotFound
	}
	db := conn(ctx, r.db)
	q := "SELECT credential_version FROM users WHERE id = ?"
	if isPostgres(db) {
		q += " FOR SHARE"
	}
	var v []int64
	if err := db.Raw(q, userID).Scan(&v).Error; err != nil {
		return 0, wrapErr("lock credential", err)
	}
	if len(v) == 0 {
		return 0, user.ErrNotFound
	}
	return v[0], nil
}

// userColumnsPublic lists the user columns other than id (joined reads
// take it from the session) and the password hash, prefixed, in the order
// of targetsPublic: what reads whose user never needs the hash take.
func userColumnsPublic(prefix string) string {
	return prefix + "email, " + prefix + "name, " + prefix + "roles, " +
		prefix + "email_verified, " + prefix + "disabled, " + prefix + "locale, " + prefix + "created_at, " + prefix + "updated_at, " +
		"(" + prefix + "password_hash <> ''), " + prefix + "app_metadata"
}

// targetsPublic are the scan destinations of userColumnsPublic.
func (r *userRecord) targetsPublic() []any {
	return []any{&r.Email, &r.Name, &r.Roles, &r.EmailVerified, &r.Disabled, &r.Locale, &r.CreatedAt, &r.UpdatedAt, &r.PasswordSet, &r.AppMetadata}
}

// userColumnsAfterID is userColumnsPublic and the password hash, in the
// order of targetsAfterID.
func userColumnsAfterID(prefix string) string {
	return userColumnsPublic(prefix) + ", " + prefix + "password_hash"
}

// targetsAfterID are the scan destinations of userColumnsAfterID.
func (r *userRecord) targetsAfterID() []any {
	return append(r.targetsPublic(), &r.PasswordHash)
}
