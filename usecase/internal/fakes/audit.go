package fakes

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/account"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

var (
	_ authn.AuditLog   = (*Audit)(nil)
	_ account.AuditLog = (*Audit)(nil)
)

// Audit is the security-event log of a Store.
type Audit struct{ s *Store }

// FailAppend makes every later Append fail with err (nil restores success),
// to test that an interactor's transaction rolls back as a whole.
func (a *Audit) FailAppend(err error) {
	if err == nil {
		a.s.appendErr.Store(nil)
		return
	}
	a.s.appendErr.Store(&err)
}

// Append records e.
func (a *Audit) Append(ctx context.Context, e audit.Event) error {
	s := a.s
	defer s.access(ctx)()
	if p := s.appendErr.Load(); p != nil {
		return *p
	}
	if e.ID == "" || e.UserID == "" || e.Type == "" || e.CreatedAt.IsZero() {
		return fmt.Errorf("%w: incomplete event %+v", ErrConstraint, e)
	}
	for _, se := range s.st.events {
		if se.e.ID == e.ID {
			return fmt.Errorf("%w: event id %q", ErrConstraint, e.ID)
		}
	}
	s.st.events = append(s.st.events, storedEvent{e: e, seq: s.nextSeq()})
	return nil
}

// cursorPrefix makes the cursor opaque yet recognisable.
const cursorPrefix = "ev1:"

// ErrBadCursor is the cause inside the validation error for a cursor this log
// never issued.
var ErrBadCursor = errors.New("fakes: bad cursor")

func encodeCursor(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatInt(seq, 10)))
}

func decodeCursor(c string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(b), cursorPrefix) {
		return 0, ErrBadCursor
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(string(b), cursorPrefix), 10, 64)
	if err != nil || n <= 0 {
		return 0, ErrBadCursor
	}
	return n, nil
}

// ListByUser returns up to limit events of userID, newest first, starting
// after cursor (empty for the first page). An unknown cursor is a
// *user.ValidationError on field "cursor".
func (a *Audit) ListByUser(ctx context.Context, userID, cursor string, limit int) (audit.Page, error) {
	s := a.s
	defer s.access(ctx)()
	if limit < 1 {
		return audit.Page{}, fmt.Errorf("fakes: ListByUser limit %d", limit)
	}
	var after int64 = -1
	if cursor != "" {
		n, err := decodeCursor(cursor)
		if err != nil {
			return audit.Page{}, user.Invalid("cursor", "is not a valid cursor")
		}
		after = n
	}
	var list []storedEvent
	for _, se := range s.st.events {
		if se.e.UserID == userID {
			list = append(list, se)
		}
	}
	// Newest first: by creation time, then by insertion order.
	slices.SortFunc(list, func(x, y storedEvent) int {
		if c := y.e.CreatedAt.Compare(x.e.CreatedAt); c != 0 {
			return c
		}
		return int(y.seq - x.seq)
	})
	start := 0
	if after >= 0 {
		start = len(list)
		for i, se := range list {
			if se.seq == after {
				start = i + 1
				break
			}
		}
	}
	end := min(start+limit, len(list))
	page := audit.Page{Events: make([]audit.Event, 0, end-start)}
	for _, se := range list[start:end] {
		page.Events = append(page.Events, se.e)
	}
	if end < len(list) {
		page.NextCursor = encodeCursor(list[end-1].seq)
	}
	return page, nil
}

// ScrubUser removes the IP and user agent from userID's events.
func (a *Audit) ScrubUser(ctx context.Context, userID string) error {
	s := a.s
	defer s.access(ctx)()
	for i := range s.st.events {
		if s.st.events[i].e.UserID == userID {
			s.st.events[i].e.IP = ""
			s.st.events[i].e.UserAgent = ""
		}
	}
	return nil
}

// PurgeBefore deletes events created before before.
func (a *Audit) PurgeBefore(ctx context.Context, before time.Time, _ int) (int, error) {
	s := a.s
	defer s.access(ctx)()
	kept := s.st.events[:0]
	n := 0
	for _, se := range s.st.events {
		if se.e.CreatedAt.Before(before) {
			n++
			continue
		}
		kept = append(kept, se)
	}
	s.st.events = kept
	return n, nil
}
