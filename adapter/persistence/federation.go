package persistence

import (
	"context"
	"database/sql"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/domain/federation"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/usecase/providers"
)

// Constraint of federated_identities' (provider, subject), as each engine
// names it.
const (
	pgIdentitySubjectKey     = "federated_identities_provider_subject_key"
	sqliteIdentitySubjectKey = "federated_identities.provider, federated_identities.subject"
)

// identityRecord is a row of federated_identities.
type identityRecord struct {
	ID        string    `gorm:"column:id;primaryKey"`
	UserID    string    `gorm:"column:user_id"`
	Provider  string    `gorm:"column:provider"`
	Subject   string    `gorm:"column:subject"`
	Email     string    `gorm:"column:email"`
	CreatedAt time.Time `gorm:"column:created_at;autoCreateTime:false"`
}

// TableName implements gorm's tabler.
func (identityRecord) TableName() string { return "federated_identities" }

func (r identityRecord) toDomain() federation.Identity {
	return federation.Identity{ID: r.ID, UserID: r.UserID, Provider: r.Provider, Subject: r.Subject,
		Email: r.Email, CreatedAt: fromDB(r.CreatedAt)}
}

// flowRecord is a row of federation_flows.
type flowRecord struct {
	StateHash     []byte         `gorm:"column:state_hash;primaryKey"`
	Provider      string         `gorm:"column:provider"`
	Nonce         string         `gorm:"column:nonce"`
	Verifier      string         `gorm:"column:verifier"`
	RedirectTo    string         `gorm:"column:redirect_to"`
	CodeChallenge string         `gorm:"column:code_challenge"`
	LinkUserID    sql.NullString `gorm:"column:link_user_id"`
	CreatedAt     time.Time      `gorm:"column:created_at;autoCreateTime:false"`
	ExpiresAt     time.Time      `gorm:"column:expires_at"`
}

// TableName implements gorm's tabler.
func (flowRecord) TableName() string { return "federation_flows" }

func (r flowRecord) toDomain() federation.Flow {
	f := federation.Flow{Provider: r.Provider, Nonce: r.Nonce, Verifier: r.Verifier, RedirectTo: r.RedirectTo,
		CodeChallenge: r.CodeChallenge, LinkUserID: r.LinkUserID.String,
		CreatedAt: fromDB(r.CreatedAt), ExpiresAt: fromDB(r.ExpiresAt)}
	copy(f.StateHash[:], r.StateHash)
	return f
}

// codeRecord is a row of federation_codes.
type codeRecord struct {
	CodeHash      []byte    `gorm:"column:code_hash;primaryKey"`
	UserID        string    `gorm:"column:user_id"`
	Provider      string    `gorm:"column:provider"`
	CodeChallenge string    `gorm:"column:code_challenge"`
	CreatedAt     time.Time `gorm:"column:created_at;autoCreateTime:false"`
	ExpiresAt     time.Time `gorm:"column:expires_at"`
}

// TableName implements gorm's tabler.
func (codeRecord) TableName() string { return "federation_codes" }

func (r codeRecord) toDomain() federation.AppCode {
	c := federation.AppCode{UserID: r.UserID, Provider: r.Provider, CodeChallenge: r.CodeChallenge,
		CreatedAt: fromDB(r.CreatedAt), ExpiresAt: fromDB(r.ExpiresAt)}
	copy(c.Hash[:], r.CodeHash)
	return c
}

// FederationStore keeps linked identities, flows in progress and the
// app's one-time codes, in the database every instance shares: a flow
// begun on one instance finishes on any other.
type FederationStore struct{ db *gorm.DB }

var (
	_ providers.FlowStore     = (*FederationStore)(nil)
	_ providers.CodeStore     = (*FederationStore)(nil)
	_ providers.IdentityStore = (*FederationStore)(nil)
)

// NewFederationStore returns a FederationStore on db.
func NewFederationStore(db *gorm.DB) *FederationStore { return &FederationStore{db: db} }

// CreateFlow implements providers.FlowStore.
func (s *FederationStore) CreateFlow(ctx context.Context, f federation.Flow) error {
	r := flowRecord{StateHash: f.StateHash[:], Provider: f.Provider, Nonce: f.Nonce, Verifier: f.Verifier,
		RedirectTo: f.RedirectTo, CodeChallenge: f.CodeChallenge,
		LinkUserID: sql.NullString{String: f.LinkUserID, Valid: f.LinkUserID != ""},
		CreatedAt:  toDB(f.CreatedAt), ExpiresAt: toDB(f.ExpiresAt)}
	return stmtErr("create oauth flow", conn(ctx, s.db).Create(&r))
}

// TakeFlow implements providers.FlowStore: one DELETE ... RETURNING, so
// of two callbacks with one state exactly one gets the flow.
func (s *FederationStore) TakeFlow(ctx context.Context, hash [32]byte) (federation.Flow, error) {
	return spendOne("take oauth flow", conn(ctx, s.db).Where("state_hash = ?", hash[:]), federation.ErrFailed, infallible(flowRecord.toDomain))
}

// CreateCode implements providers.CodeStore.
func (s *FederationStore) CreateCode(ctx context.Context, c federation.AppCode) error {
	r := codeRecord{CodeHash: c.Hash[:], UserID: c.UserID, Provider: c.Provider, CodeChallenge: c.CodeChallenge,
		CreatedAt: toDB(c.CreatedAt), ExpiresAt: toDB(c.ExpiresAt)}
	return stmtErr("create oauth code", conn(ctx, s.db).Create(&r))
}

// TakeCode implements providers.CodeStore, single use like TakeFlow.
func (s *FederationStore) TakeCode(ctx context.Context, hash [32]byte) (federation.AppCode, error) {
	return spendOne("take oauth code", conn(ctx, s.db).Where("code_hash = ?", hash[:]), federation.ErrFailed, infallible(codeRecord.toDomain))
}

// PurgeExpired deletes flows and codes that expired before before and
// returns how many.
func (s *FederationStore) PurgeExpired(ctx context.Context, before time.Time) (int, error) {
	db := conn(ctx, s.db)
	a := db.Where("expires_at < ?", toDB(before)).Delete(&flowRecord{})
	if a.Error != nil {
		return 0, wrapErr("purge oauth flows", a.Error)
	}
	b := db.Where("expires_at < ?", toDB(before)).Delete(&codeRecord{})
	if b.Error != nil {
		return 0, wrapErr("purge oauth codes", b.Error)
	}
	return int(a.RowsAffected + b.RowsAffected), nil
}

// BySubject implements providers.IdentityStore.
func (s *FederationStore) BySubject(ctx context.Context, provider, subject string) (federation.Identity, error) {
	return takeOne("identity by subject", conn(ctx, s.db).Where("provider = ? AND subject = ?", provider, subject),
		federation.ErrIdentityNotFound, identityRecord.toDomain)
}

// Link implements providers.IdentityStore.
func (s *FederationStore) Link(ctx context.Context, i federation.Identity) error {
	r := identityRecord{ID: i.ID, UserID: i.UserID, Provider: i.Provider, Subject: i.Subject, Email: i.Email,
		CreatedAt: toDB(i.CreatedAt)}
	res := conn(ctx, s.db).Create(&r)
	if isUniqueViolation(res.Error, pgIdentitySubjectKey, sqliteIdentitySubjectKey) {
		return federation.ErrIdentityTaken
	}
	return stmtErr("link identity", res)
}

// ListByUser implements providers.IdentityStore.
func (s *FederationStore) ListByUser(ctx context.Context, userID string) ([]federation.Identity, error) {
	return findAll("list identities", conn(ctx, s.db).Where("user_id = ?", userID).Order("created_at, id"), identityRecord.toDomain)
}

// Unlink implements providers.IdentityStore. The account's row is locked
// first (PostgreSQL; SQLite has one writer), so two unlinks of one
// account run one after the other and the second counts what the first
// left.
func (s *FederationStore) Unlink(ctx context.Context, userID, identityID string) (federation.Identity, error) {
	if !id.Valid(identityID) {
		return federation.Identity{}, federation.ErrIdentityNotFound
	}
	if err := s.LockAccount(ctx, userID); err != nil {
		return federation.Identity{}, err
	}
	db := conn(ctx, s.db)
	i, err := takeOne("find identity", db.Where("id = ? AND user_id = ?", identityID, userID), federation.ErrIdentityNotFound, identityRecord.toDomain)
	if err != nil {
		return federation.Identity{}, err
	}
	if err := stmtErr("unlink identity", db.Where("id = ?", identityID).Delete(&identityRecord{})); err != nil {
		return federation.Identity{}, err
	}
	return i, nil
}

// CountPasskeys implements providers.SignInMethods.
func (s *FederationStore) CountPasskeys(ctx context.Context, userID string) (int, error) {
	var n int64
	if err := conn(ctx, s.db).Table("passkeys").Where("user_id = ?", userID).Count(&n).Error; err != nil {
		return 0, wrapErr("count passkeys", err)
	}
	return int(n), nil
}

// CountIdentities counts userID's linked identities.
func (s *FederationStore) CountIdentities(ctx context.Context, userID string) (int, error) {
	var n int64
	if err := conn(ctx, s.db).Model(&identityRecord{}).Where("user_id = ?", userID).Count(&n).Error; err != nil {
		return 0, wrapErr("count identities", err)
	}
	return int(n), nil
}

// LockAccount locks userID's row until the transaction ends (PostgreSQL;
// SQLite has one writer at a time), so the checks that keep an account a
// way to sign in run one after the other.
func (s *FederationStore) LockAccount(ctx context.Context, userID string) error {
	db := conn(ctx, s.db)
	if !isPostgres(db) {
		return nil
	}
	return stmtErr("lock account", db.Exec("SELECT 1 FROM users WHERE id = ? FOR UPDATE", userID))
}
