package persistence

import (
	"database/sql"
	"reflect"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/domain/session"
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
	IdP             string           `gorm:"column:idp"`
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
	{"idp", func(r *sessionRecord) any { return &r.IdP }, true},
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
		IdP:               s.IdP,
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
		IdP:               r.IdP,
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
