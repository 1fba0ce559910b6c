package persistence

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/usecase/account"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

// ErrInvalidCursor means a page cursor that ListByUser did not issue. It is
// the domain's sentinel, so the use cases can recognise it.
var ErrInvalidCursor = audit.ErrInvalidCursor

// Page sizes of ListByUser.
const (
	DefaultEventPageSize = 50
	MaxEventPageSize     = 100
)

// securityEventRecord is a row of security_events.
type securityEventRecord struct {
	ID        string         `gorm:"column:id;primaryKey"`
	UserID    string         `gorm:"column:user_id"`
	SessionID sql.NullString `gorm:"column:session_id"`
	Type      string         `gorm:"column:type"`
	IP        string         `gorm:"column:ip"`
	UserAgent string         `gorm:"column:user_agent"`
	CreatedAt time.Time      `gorm:"column:created_at;autoCreateTime:false"`
	ActorID   sql.NullString `gorm:"column:actor_id"`
	// Suppressed is set on events_suppressed markers only.
	Suppressed sql.NullInt64 `gorm:"column:suppressed"`
	Method     string        `gorm:"column:method"`
	Provider   string        `gorm:"column:provider"`
}

// TableName implements gorm's tabler.
func (securityEventRecord) TableName() string { return "security_events" }

const eventColumns = "id, user_id, session_id, type, ip, user_agent, created_at, actor_id, suppressed, method, provider"

func eventFromDomain(e audit.Event) securityEventRecord {
	return securityEventRecord{
		ID:         e.ID,
		UserID:     e.UserID,
		SessionID:  sql.NullString{String: e.SessionID, Valid: e.SessionID != ""},
		Type:       string(e.Type),
		IP:         e.IP,
		UserAgent:  e.UserAgent,
		CreatedAt:  toDB(e.CreatedAt),
		ActorID:    sql.NullString{String: e.ActorID, Valid: e.ActorID != ""},
		Suppressed: sql.NullInt64{Int64: int64(e.Suppressed), Valid: e.Suppressed > 0},
		Method:     e.Method,
		Provider:   e.Provider,
	}
}

func (r securityEventRecord) toDomain() audit.Event {
	return audit.Event{
		ID:         r.ID,
		UserID:     r.UserID,
		SessionID:  r.SessionID.String,
		Type:       audit.Type(r.Type),
		IP:         r.IP,
		UserAgent:  r.UserAgent,
		CreatedAt:  fromDB(r.CreatedAt),
		ActorID:    r.ActorID.String,
		Suppressed: int(r.Suppressed.Int64),
		Method:     r.Method,
		Provider:   r.Provider,
	}
}

// AuditLog stores security events.
type AuditLog struct {
	db *gorm.DB
	// perUser and window bound the routine events one account adds (see
	// Limit); zero means no bound.
	perUser int
	window  time.Duration
	// dropped counts the routine events the bound dropped, until
	// FlushSuppressed writes them to their markers.
	dropped *suppressions
}

var (
	_ authn.AuditLog   = (*AuditLog)(nil)
	_ account.AuditLog = (*AuditLog)(nil)
)

// NewAuditLog returns an AuditLog on db.
func NewAuditLog(db *gorm.DB) *AuditLog { return &AuditLog{db: db} }

// Append records e, in the caller's transaction if there is one, so an
// event is stored if and only if what it reports is. An empty ID is
// filled in with a new one.
func (a *AuditLog) Append(ctx context.Context, e audit.Event) error {
	if e.ID == "" {
		e.ID = id.New()
	}
	if !id.Valid(e.ID) {
		return fmt.Errorf("persistence: append event: invalid id %q", e.ID)
	}
	if e.UserID == "" || e.Type == "" {
		return errors.New("persistence: append event: user ID and type are required")
	}
	if a.perUser > 0 && e.Type.Routine() {
		full, err := a.full(ctx, e)
		if err != nil {
			return err
		}
		if full {
			a.dropped.add(a.markerID(e), e)
			return nil
		}
	}
	rec := eventFromDomain(e)
	return stmtErr("append event", conn(ctx, a.db).Create(&rec))
}

// Limit returns the log bounding how many routine events (audit.Type's
// Routine: logins, failed attempts, revocations, reauthentications, wrong
// codes) one account adds: at most perUser within window. Past it they are
// not recorded, so a flood of attempts cannot grow the table at the
// attacker's pace; one events_suppressed marker per account and window
// counts what was dropped. Every other event is always recorded (bounded by
// its own throttle or step-up), and never counts toward the bound, so
// filling it hides nothing that changed the account.
func (a *AuditLog) Limit(perUser int, window time.Duration) *AuditLog {
	if window <= 0 {
		perUser = 0
	}
	return &AuditLog{db: a.db, perUser: perUser, window: window, dropped: &suppressions{m: map[string]*suppressed{}}}
}

// routineTypes are the types the bound counts (audit.RoutineTypes), as
// strings for the query.
var routineTypes = func() []string {
	var out []string
	for _, t := range audit.RoutineTypes() {
		out = append(out, string(t))
	}
	return out
}()

// full reports whether e's account already has its bound of routine events
// in the window before e; the count stops at the bound, on the (user, time)
// index.
func (a *AuditLog) full(ctx context.Context, e audit.Event) (bool, error) {
	var n int64
	err := conn(ctx, a.db).Raw(
		"SELECT count(*) FROM (SELECT 1 FROM security_events WHERE user_id = ? AND created_at > ? AND type IN ? LIMIT ?) recent",
		e.UserID, toDB(e.CreatedAt.Add(-a.window)), routineTypes, a.perUser).Scan(&n).Error
	if err != nil {
		return false, wrapErr("count events", err)
	}
	return n >= int64(a.perUser), nil
}

// markerID is the ID of the events_suppressed marker of e's account for
// the window e falls in (windows are fixed, counted from the Unix epoch):
// derived from the two, so every instance counting drops meets on one row.
func (a *AuditLog) markerID(e audit.Event) string {
	slot := e.CreatedAt.UnixNano() / int64(a.window)
	sum := sha256.Sum256([]byte(string(audit.EventsSuppressed) + "|" + e.UserID + "|" + strconv.FormatInt(slot, 10)))
	var b [16]byte
	copy(b[:], sum[:])
	b[6] = (b[6] & 0x0f) | 0x80 // RFC 9562 version 8: a name-based ID of our own
	b[8] = (b[8] & 0x3f) | 0x80
	return id.FromBytes(b)
}

// suppressions are the drops counted in memory, by marker. A drop writes
// nothing in the request's transaction: one marker row written by every
// request of a flooded account would serialize their transactions (which
// hold the account's credential lock) behind it, and a password change
// behind those. FlushSuppressed writes the counts, each marker in a
// statement of its own, every second (and before a listing reads them).
type suppressions struct {
	mu sync.Mutex
	m  map[string]*suppressed
}

// suppressed is a marker's pending count and the first drop it stands for.
type suppressed struct {
	first audit.Event
	n     int
}

func (s *suppressions) add(marker string, e audit.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.m[marker]; ok {
		p.n++
		return
	}
	s.m[marker] = &suppressed{first: e, n: 1}
}

// take removes and returns the pending counts, of userID's markers only
// when userID is not "".
func (s *suppressions) take(userID string) map[string]*suppressed {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]*suppressed{}
	for k, p := range s.m {
		if userID == "" || p.first.UserID == userID {
			out[k] = p
			delete(s.m, k)
		}
	}
	return out
}

// putBack returns counts a failed flush could not write.
func (s *suppressions) putBack(pending map[string]*suppressed) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, p := range pending {
		if cur, ok := s.m[k]; ok {
			cur.n += p.n
			cur.first = p.first
			continue
		}
		s.m[k] = p
	}
}

// FlushSuppressed writes the drops counted since the last flush to their
// markers: the first drop of a window creates the marker (with that event's
// time and client), later ones add to its count. It returns how many drops
// it wrote; on an error the rest stay pending for the next flush.
func (a *AuditLog) FlushSuppressed(ctx context.Context) (int, error) {
	return a.flush(ctx, "")
}

func (a *AuditLog) flush(ctx context.Context, userID string) (int, error) {
	if a.dropped == nil {
		return 0, nil
	}
	pending := a.dropped.take(userID)
	written := 0
	for marker, p := range pending {
		e := p.first
		err := conn(ctx, a.db).Exec(
			"INSERT INTO security_events (id, user_id, type, ip, user_agent, created_at, suppressed) VALUES (?, ?, ?, ?, ?, ?, ?) "+
				"ON CONFLICT (id) DO UPDATE SET suppressed = security_events.suppressed + excluded.suppressed",
			marker, e.UserID, string(audit.EventsSuppressed), e.IP, e.UserAgent, toDB(e.CreatedAt), p.n).Error
		if err != nil {
			a.dropped.putBack(pending)
			return written, wrapErr("count suppressed events", err)
		}
		written += p.n
		delete(pending, marker)
	}
	return written, nil
}

// PurgeBefore implements account.AuditLog: it walks the events older than
// before in time order, batch at a time, each batch a range (lo, hi] of
// creation times whose upper end is the batch-th event after lo. A batch
// never starts over at the oldest event, whose index entries on
// PostgreSQL stay until vacuum after their rows are deleted: starting over
// would step over every deleted one, batch after batch. On PostgreSQL
// rows another instance is deleting are skipped.
func (a *AuditLog) PurgeBefore(ctx context.Context, before time.Time, batch int) (int, error) {
	if batch <= 0 {
		batch = 1000
	}
	lock := ""
	if isPostgres(a.db) {
		lock = " FOR UPDATE SKIP LOCKED"
	} else {
		// SQLite's one writer: small batches, and yieldWriter between them.
		batch = min(batch, 2*sqlitePurgeBatch)
	}
	query := "DELETE FROM security_events WHERE id IN (SELECT id FROM security_events WHERE created_at > ? AND created_at <= ?" + lock + ")"
	cutoff := toDB(before)
	total := 0
	for lo := toDB(time.Unix(0, 0)); ; {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		var hi time.Time
		err := conn(ctx, a.db).Raw("SELECT created_at FROM security_events WHERE created_at > ? AND created_at < ? ORDER BY created_at LIMIT 1 OFFSET ?",
			lo, cutoff, batch-1).Row().Scan(&hi)
		last := errors.Is(err, sql.ErrNoRows)
		if err != nil && !last {
			return total, wrapErr("purge events", err)
		}
		if last {
			// The rest: up to, not including, the cutoff.
			query = strings.Replace(query, "created_at <= ?", "created_at < ?", 1)
			hi = cutoff
		}
		began := time.Now()
		res := conn(ctx, a.db).Exec(query, lo, toDB(hi))
		if res.Error != nil {
			return total, wrapErr("purge events", res.Error)
		}
		total += int(res.RowsAffected)
		if last {
			return total, nil
		}
		lo = toDB(hi)
		if err := yieldWriter(ctx, a.db, began); err != nil {
			return total, err
		}
	}
}

// ListByUser returns userID's events newest first, limit per page (default
// DefaultEventPageSize, at most MaxEventPageSize), starting after cursor
// ("" for the first page). The page's NextCursor is empty on the last page.
// A cursor that was not issued here is an error wrapping ErrInvalidCursor.
//
// Paging is by keyset (created_at, id), not offset: events appended while a
// client pages do not shift or repeat entries, and events sharing a
// timestamp are still ordered and never skipped.
func (a *AuditLog) ListByUser(ctx context.Context, userID, cursor string, limit int) (audit.Page, error) {
	// The drops this instance counted show at once; other instances'
	// within their next flush.
	if _, err := a.flush(ctx, userID); err != nil {
		return audit.Page{}, err
	}
	if limit <= 0 {
		limit = DefaultEventPageSize
	}
	limit = min(limit, MaxEventPageSize)
	q := conn(ctx, a.db).Select(eventColumns).Where("user_id = ?", userID)
	if cursor != "" {
		at, afterID, err := decodeCursor(cursor)
		if err != nil {
			return audit.Page{}, err
		}
		q = q.Where(keysetAfter, at, at, afterID)
	}
	var recs []securityEventRecord
	// One extra row tells whether another page follows.
	err := q.Order("created_at DESC, id DESC").Limit(limit + 1).Find(&recs).Error
	if err != nil {
		return audit.Page{}, wrapErr("list events", err)
	}
	page := audit.Page{Events: make([]audit.Event, 0, min(len(recs), limit))}
	for i, r := range recs {
		if i == limit {
			last := page.Events[limit-1]
			page.NextCursor = encodeCursor(last.CreatedAt, last.ID)
			break
		}
		page.Events = append(page.Events, r.toDomain())
	}
	return page, nil
}

// ScrubUser blanks the IP address and user agent of userID's events, for
// account deletion: the events stay, carrying no personal data beyond the
// (now dangling) user ID.
func (a *AuditLog) ScrubUser(ctx context.Context, userID string) error {
	return stmtErr("scrub events", conn(ctx, a.db).Exec("UPDATE security_events SET ip = '', user_agent = '' WHERE user_id = ?", userID))
}

// keysetAfter is the condition for rows after a keyset cursor (created_at,
// id), newest first: "(created_at, id) < (at, id)", spelled so that both
// engines start an index range at the cursor (created_at <= at) and filter
// only the rows sharing its timestamp. Spelled as "created_at < at OR
// (created_at = at AND id < id)", neither engine bounds the range: a page
// deep in a list of a million read every newer row first. Arguments: at,
// at, id.
const keysetAfter = "created_at <= ? AND (created_at < ? OR id < ?)"

// encodeCursor makes the opaque cursor after an event: base64url of
// "<created_at in Unix microseconds>.<event id>".
func encodeCursor(at time.Time, eventID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixMicro(), 10) + "." + eventID))
}

func decodeCursor(cursor string) (time.Time, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return time.Time{}, "", fmt.Errorf("persistence: %w", ErrInvalidCursor)
	}
	micros, eventID, ok := strings.Cut(string(raw), ".")
	us, err := strconv.ParseInt(micros, 10, 64)
	if !ok || err != nil || !id.Valid(eventID) {
		return time.Time{}, "", fmt.Errorf("persistence: %w", ErrInvalidCursor)
	}
	return time.UnixMicro(us).UTC(), eventID, nil
}
