// Package user holds the account entity and its invariants: normalized
// email addresses, password and name rules, and the sentinel errors of the
// account store.
package user

import (
	"errors"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/domain/user/breached"
)

// RoleUser is the role every account starts with.
const RoleUser = "user"

// RoleAdmin grants the administration API.
const RoleAdmin = "admin"

// Limits of the account fields, as published in the API contract.
const (
	MinPasswordLength = 8
	MaxPasswordLength = 128
	MaxNameLength     = 100
	MaxEmailLength    = 254
)

// Sentinel errors of the account store.
var (
	ErrNotFound   = errors.New("user not found")
	ErrEmailTaken = errors.New("email already in use")
	// ErrDisabled means an administrator disabled the account; it is
	// reported only after the password was proven.
	ErrDisabled = errors.New("user disabled")
	// ErrCredentialChanged means a password write found the account's
	// credential changed since the caller proved it (another password
	// change or reset committed meanwhile): nothing was written.
	ErrCredentialChanged = errors.New("credential changed meanwhile")
)

// User is an account. PasswordHash is an encoded argon2id hash and never
// leaves the service.
type User struct {
	ID           string
	Email        string
	Name         string
	Roles        []string
	PasswordHash string
	// CredentialVersion counts credential changes (password change, and
	// whatever else must end every session proven before it): a session is
	// started only if it is still the version the password was checked
	// against.
	CredentialVersion int64
	// Disabled accounts cannot sign in; an administrator sets it.
	Disabled bool
	// EmailVerified records that the address was proven (or an
	// administrator said so).
	EmailVerified bool
	// Locale is the language of the account's mails: a BCP 47 tag among
	// the locales the service has templates for (DefaultLocale unless the
	// user chose, or registration's Accept-Language named, another).
	Locale string
	// AppMetadata is the administrators' JSON object about the account
	// (roles, tenant ids of the app built on Gatehouse), copied into every
	// access token as app_metadata; "" when empty.
	AppMetadata AppMetadata
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// PasswordSet records that the account has a password when a store
	// read it without the hash (reads that never need the hash); false
	// whenever PasswordHash was read.
	PasswordSet bool
}

// HasPassword reports whether the account has a password: accounts made
// by a sign-in through another provider have none until a reset sets one.
func (u User) HasPassword() bool { return u.PasswordHash != "" || u.PasswordSet }

// CanSignIn is the rule checked after a credential was proven: a disabled
// account gets ErrDisabled, so only someone who knows the password learns
// that the account exists and is disabled.
func (u User) CanSignIn() error {
	if u.Disabled {
		return ErrDisabled
	}
	return nil
}

// ActiveAdmin reports whether u is an enabled administrator: one who can
// sign in and use the administration API.
func (u User) ActiveAdmin() bool { return u.HasRole(RoleAdmin) && !u.Disabled }

// HasRole reports whether u holds role.
func (u User) HasRole(role string) bool {
	for _, r := range u.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Limits of a role list, as published in the API contract.
const (
	MaxRoles      = 16
	MaxRoleLength = 32
)

// CheckRoles applies the role rules: 1 to 16 distinct names of
// [a-z0-9_-]{1,32}. Roles are stored comma-separated, which these rules
// also keep safe.
func CheckRoles(field string, roles []string) error {
	if len(roles) < 1 || len(roles) > MaxRoles {
		return Invalid(field, "must hold 1 to 16 roles")
	}
	seen := make(map[string]bool, len(roles))
	for _, r := range roles {
		if len(r) < 1 || len(r) > MaxRoleLength {
			return Invalid(field, "each role must be 1 to 32 characters of a-z, 0-9, _ and -")
		}
		for i := 0; i < len(r); i++ {
			c := r[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				return Invalid(field, "each role must be 1 to 32 characters of a-z, 0-9, _ and -")
			}
		}
		if seen[r] {
			return Invalid(field, "must not repeat a role")
		}
		seen[r] = true
	}
	return nil
}

// FieldError names one invalid input field (by its public name) and why.
type FieldError struct {
	Field   string
	Message string
}

// ValidationError carries every field that failed a domain rule.
type ValidationError struct {
	Fields []FieldError
}

// Error implements error.
func (e *ValidationError) Error() string {
	parts := make([]string, 0, len(e.Fields))
	for _, f := range e.Fields {
		parts = append(parts, f.Field+": "+f.Message)
	}
	return "validation failed: " + strings.Join(parts, "; ")
}

// Join merges the ValidationErrors among errs into one, so a client sees
// every failing field at once. A non-validation error is returned as is.
func Join(errs ...error) error {
	var out ValidationError
	for _, err := range errs {
		if err == nil {
			continue
		}
		ve, ok := err.(*ValidationError)
		if !ok {
			return err
		}
		out.Fields = append(out.Fields, ve.Fields...)
	}
	if len(out.Fields) == 0 {
		return nil
	}
	return &out
}

// Invalid returns a ValidationError for a single field.
func Invalid(field, message string) error {
	return &ValidationError{Fields: []FieldError{{Field: field, Message: message}}}
}

// NormalizeEmail trims an address and lower-cases it, so that "A@B.co" and
// "a@b.co" name one account, then checks its shape. The check is deliberately
// modest (one "@", a non-empty local part of at most 64 bytes, a dotted
// domain without spaces): deliverability is proven by mail, not by a regexp.
func NormalizeEmail(raw string) (string, bool) {
	// Checked before lower-casing, which would turn invalid bytes into
	// U+FFFD and so map different inputs onto one account.
	if !utf8.ValidString(raw) {
		return "", false
	}
	e := strings.ToLower(strings.TrimSpace(raw))
	if e == "" || len(e) > MaxEmailLength {
		return "", false
	}
	at := strings.LastIndexByte(e, '@')
	if at <= 0 || at > 64 || at == len(e)-1 || strings.Count(e, "@") != 1 {
		return "", false
	}
	domain := e[at+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", false
	}
	for _, r := range e {
		// Format characters (zero-width space and the like) would allow
		// look-alike accounts.
		if unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '<' || r == '>' || r == ',' || r == ';' || r == '"' || r == '\\' {
			return "", false
		}
	}
	return e, true
}

// CheckPassword applies the password rules to a candidate for the account
// with the given (normalized) email. Length counts characters, not bytes, and
// nothing is ever truncated.
func CheckPassword(field, password, email string) error {
	n := utf8.RuneCountInString(password)
	switch {
	case n < MinPasswordLength:
		return Invalid(field, "must be at least 8 characters")
	case n > MaxPasswordLength:
		return Invalid(field, "must be at most 128 characters")
	case email != "" && strings.EqualFold(strings.TrimSpace(password), email):
		return Invalid(field, "must not be the email address")
	case email != "" && strings.EqualFold(strings.TrimSpace(password), localPart(email)):
		return Invalid(field, "must not be the name part of the email address")
	case oneCharacter(password):
		return Invalid(field, "must not be a single character repeated")
	case breached.Contains(password):
		return Invalid(field, "is a commonly used password found in data breaches; choose another")
	}
	return nil
}

// localPart is what comes before the last @ of an email address.
func localPart(email string) string {
	if at := strings.LastIndexByte(email, '@'); at > 0 {
		return email[:at]
	}
	return email
}

// oneCharacter reports whether s repeats one character (eight spaces,
// "aaaaaaaa"), which no list needs to hold to be guessed.
func oneCharacter(s string) bool {
	first, _ := utf8.DecodeRuneInString(s)
	for _, r := range s {
		if r != first {
			return false
		}
	}
	return true
}

// CheckNewAccount checks what a new account is made of: a valid email, a
// password CheckPassword accepts for it, and an optional display name. It
// returns the normalized email and name, or a ValidationError naming every
// failing field at once.
func CheckNewAccount(email, password, name string) (normEmail, normName string, err error) {
	normEmail, ok := NormalizeEmail(email)
	var emailErr, nameErr error
	if !ok {
		emailErr = Invalid("email", "must be a valid email address")
	}
	if name != "" {
		normName, nameErr = NormalizeName(name)
	}
	if err := Join(emailErr, CheckPassword("password", password, normEmail), nameErr); err != nil {
		return "", "", err
	}
	return normEmail, normName, nil
}

// NormalizeName trims a display name and checks it: 1 to 100 characters, no
// control characters.
func NormalizeName(raw string) (string, error) {
	n := strings.TrimSpace(raw)
	count := utf8.RuneCountInString(n)
	if count < 1 || count > MaxNameLength {
		return "", Invalid("name", "must be 1 to 100 characters")
	}
	for _, r := range n {
		if unicode.IsControl(r) {
			return "", Invalid("name", "must not contain control characters")
		}
	}
	return n, nil
}

// DefaultLocale is the language of an account that named none; the bundled
// mail templates always have it.
const DefaultLocale = "en"

// CheckLocale returns raw as the supported locale it names, compared
// case-insensitively ("DE" is "de"), or a validation error on field that
// lists the supported ones.
func CheckLocale(field, raw string, supported []string) (string, error) {
	for _, l := range supported {
		if strings.EqualFold(strings.TrimSpace(raw), l) {
			return l, nil
		}
	}
	return "", Invalid(field, "must be one of: "+strings.Join(supported, ", "))
}
