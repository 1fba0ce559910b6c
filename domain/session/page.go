package session

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/domain/id"
)

// ErrInvalidCursor means a page cursor that was not issued by a listing.
var ErrInvalidCursor = errors.New("invalid session cursor")

// Page is one page of an account's sessions, newest first.
type Page struct {
	Sessions []Session
	// NextCursor continues the listing after the last session; empty on
	// the last page.
	NextCursor string
}

// Cursor is the keyset position after a session in the listing order
// (creation time, then ID, both descending).
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// CursorAfter is the opaque cursor after s: base64url of
// "<created_at in Unix microseconds>.<session id>".
func CursorAfter(s Session) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(s.CreatedAt.UnixMicro(), 10) + "." + s.ID))
}

// ParseCursor reads a cursor made by CursorAfter; ErrInvalidCursor if it
// is not one.
func ParseCursor(c string) (Cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return Cursor{}, ErrInvalidCursor
	}
	micros, sid, ok := strings.Cut(string(raw), ".")
	us, err := strconv.ParseInt(micros, 10, 64)
	if !ok || err != nil || !id.Valid(sid) {
		return Cursor{}, ErrInvalidCursor
	}
	return Cursor{CreatedAt: time.UnixMicro(us).UTC(), ID: sid}, nil
}

// Before reports whether s comes after the cursor in the listing order.
func (c Cursor) Before(s Session) bool {
	t := s.CreatedAt.Truncate(time.Microsecond)
	return t.Before(c.CreatedAt) || t.Equal(c.CreatedAt) && s.ID < c.ID
}
