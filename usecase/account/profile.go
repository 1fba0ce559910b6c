package account

import (
	"context"
	"errors"

	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/domain/webhook"
)

// ProfileReader returns the caller's account.
type ProfileReader struct{ users UserReader }

// NewProfileReader returns a ProfileReader.
func NewProfileReader(users UserReader) *ProfileReader { return &ProfileReader{users: users} }

// Me returns the caller's account: as loaded with the session check when
// it was, which saves a query on the most frequent authenticated call;
// auth.ErrSessionRevoked when the account is gone.
func (r *ProfileReader) Me(ctx context.Context, p auth.Principal) (user.User, error) {
	if p.User.ID == p.UserID() && p.User.ID != "" {
		return p.User, nil
	}
	return caller(ctx, r.users, p)
}

// ProfileInput is what a user changes of their profile; a nil field stays
// as it is.
type ProfileInput struct {
	Name *string
	// Locale is the language of the account's mails, one of the editor's
	// locales.
	Locale *string
}

// ProfileEditor changes the caller's display name and mail language.
type ProfileEditor struct {
	users   ProfileWriter
	tx      Transactor
	clock   Clock
	locales []string
	events  publisher
}

// WithEvents makes the editor publish user.updated (webhooks).
func (e *ProfileEditor) WithEvents(ev Events) *ProfileEditor {
	e.events = publisher{ev}
	return e
}

// NewProfileEditor returns a ProfileEditor. locales are the mail languages
// a user may choose (the mail templates'); empty means only
// user.DefaultLocale.
func NewProfileEditor(users ProfileWriter, tx Transactor, clock Clock, locales []string) *ProfileEditor {
	if len(locales) == 0 {
		locales = []string{user.DefaultLocale}
	}
	return &ProfileEditor{users: users, tx: tx, clock: clock, locales: locales}
}

// UpdateProfile changes the caller's display name and mail language. Only
// those columns are written, so it cannot undo a password, email or role
// change that commits meanwhile. Every invalid field is reported at once
// (user.ValidationError).
func (e *ProfileEditor) UpdateProfile(ctx context.Context, p auth.Principal, in ProfileInput) (user.User, error) {
	ch := ProfileChange{UpdatedAt: e.clock.Now().UTC()}
	var invalid user.ValidationError
	if in.Name != nil {
		n, err := user.NormalizeName(*in.Name)
		if !collect(&invalid, err) {
			return user.User{}, err
		}
		ch.Name = &n
	}
	if in.Locale != nil {
		l, err := user.CheckLocale("locale", *in.Locale, e.locales)
		if !collect(&invalid, err) {
			return user.User{}, err
		}
		ch.Locale = &l
	}
	if len(invalid.Fields) > 0 {
		return user.User{}, &invalid
	}
	if ch.Name == nil && ch.Locale == nil {
		return user.User{}, user.Invalid("name", "is required (or locale)")
	}
	var out user.User
	err := e.tx.WithinTx(ctx, func(ctx context.Context) error {
		if err := e.users.UpdateProfile(ctx, p.UserID(), ch); err != nil {
			if errors.Is(err, user.ErrNotFound) {
				return auth.ErrSessionRevoked
			}
			return err
		}
		var err error
		if out, err = caller(ctx, e.users, p); err != nil {
			return err
		}
		var changed []string
		if ch.Name != nil {
			changed = append(changed, "name")
		}
		if ch.Locale != nil {
			changed = append(changed, "locale")
		}
		return e.events.publish(ctx, webhook.NewUserUpdated(id.New(), out, changed, ch.UpdatedAt))
	})
	return out, err
}

// collect adds the fields of a validation error to into and reports true;
// any other error (or none) reports whether err is nil.
func collect(into *user.ValidationError, err error) bool {
	var ve *user.ValidationError
	if errors.As(err, &ve) {
		into.Fields = append(into.Fields, ve.Fields...)
		return true
	}
	return err == nil
}
