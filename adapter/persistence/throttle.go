package persistence

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/gatehouse/gatehouse/domain/throttle"
	"github.com/gatehouse/gatehouse/usecase/account"
	"github.com/gatehouse/gatehouse/usecase/auth"
)

// throttleRecord is a row of login_throttle.
type throttleRecord struct {
	Key         string       `gorm:"column:key;primaryKey"`
	Failures    int          `gorm:"column:failures"`
	WindowStart time.Time    `gorm:"column:window_start"`
	LastFailure time.Time    `gorm:"column:last_failure"`
	LockedUntil sql.NullTime `gorm:"column:locked_until"`
}

func (throttleRecord) TableName() string { return "login_throttle" }

// LoginThrottle stores per-account throttle state.
type LoginThrottle struct {
	db *gorm.DB
}

var (
	_ auth.LoginThrottle = (*LoginThrottle)(nil)
	_ account.Throttle   = (*LoginThrottle)(nil)
)

// NewLoginThrottle returns a LoginThrottle on db.
func NewLoginThrottle(db *gorm.DB) *LoginThrottle { return &LoginThrottle{db: db} }

// Update implements auth.LoginThrottle. On PostgreSQL the row is created if
// missing and then locked (SELECT ... FOR UPDATE), so concurrent attempts on
// one account serialize; on SQLite the transaction's write lock does that.
func (l *LoginThrottle) Update(ctx context.Context, key string, fn func(*throttle.State) error) error {
	err := inTx(ctx, l.db, func(db *gorm.DB) error {
		var rec throttleRecord
		q := db.Where("key = ?", key)
		if isPostgres(db) {
			// Make sure there is a row to lock: without one, two first
			// failures of a key would both read "no failures" and the burst
			// would be under-counted. A zero-failure row means no state.
			now := toDB(time.Now())
			if err := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&throttleRecord{
				Key: key, WindowStart: now, LastFailure: now,
			}).Error; err != nil {
				return err
			}
			q = q.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate})
		}
		err := q.Take(&rec).Error
		exists := err == nil
		if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		st := throttle.State{}
		if exists && (rec.Failures > 0 || rec.LockedUntil.Valid) {
			st = throttle.State{
				Failures: rec.Failures, WindowStart: fromDB(rec.WindowStart),
				LastFailure: fromDB(rec.LastFailure), LockedUntil: fromDBNull(rec.LockedUntil),
			}
		}
		if err := fn(&st); err != nil {
			return err
		}
		if st == (throttle.State{}) {
			if !exists {
				return nil
			}
			return db.Where("key = ?", key).Delete(&throttleRecord{}).Error
		}
		next := throttleRecord{
			Key: key, Failures: st.Failures, WindowStart: toDB(st.WindowStart),
			LastFailure: toDB(st.LastFailure), LockedUntil: toDBNull(st.LockedUntil),
		}
		// An upsert, since on SQLite there may be no row yet (the
		// transaction's write lock already serializes writers there).
		return db.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "key"}},
			DoUpdates: clause.AssignmentColumns([]string{"failures", "window_start", "last_failure", "locked_until"}),
		}).Create(&next).Error
	})
	var limited *throttle.LimitedError
	if err != nil && !errors.As(err, &limited) {
		return wrapErr("login throttle", err)
	}
	return err
}

// PurgeStale implements auth.LoginThrottle.
func (l *LoginThrottle) PurgeStale(ctx context.Context, before time.Time) (int, error) {
	res := conn(ctx, l.db).Where("last_failure < ? AND (locked_until IS NULL OR locked_until < ?)", toDB(before), toDB(before)).
		Delete(&throttleRecord{})
	if res.Error != nil {
		return 0, wrapErr("purge login throttle", res.Error)
	}
	return int(res.RowsAffected), nil
}
