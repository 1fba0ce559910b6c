package httpadapter

import (
	"time"

	"github.com/gatehouse/gatehouse/domain/audit"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

// Transports for the refresh token.
const (
	transportCookie = "cookie"
	transportBody   = "body"
)

type registerRequest struct {
	Email                 string `json:"email" validate:"required,max=254"`
	Password              string `json:"password" validate:"required,min=8,max=128"`
	Name                  string `json:"name" validate:"omitempty,max=100"`
	RefreshTokenTransport string `json:"refreshTokenTransport" validate:"omitempty,oneof=cookie body"`
}

type loginRequest struct {
	Email string `json:"email" validate:"required,max=254"`
	// Only the contract's bounds are checked: a short password is simply
	// wrong (INVALID_CREDENTIALS), and a login must not teach the rules.
	Password              string `json:"password" validate:"required,max=128"`
	RefreshTokenTransport string `json:"refreshTokenTransport" validate:"omitempty,oneof=cookie body"`
}

// refreshRequest is the optional body of refresh and logout. A present but
// empty token is a validation error, not "use the cookie"; a token of the
// wrong shape or length is REFRESH_TOKEN_INVALID (the body limit bounds it).
type refreshRequest struct {
	RefreshToken *string `json:"refreshToken" validate:"omitnil,min=1"`
}

type reauthenticateRequest struct {
	Password     string `json:"password" validate:"required,max=128"`
	Code         string `json:"code" validate:"excluded_with=RecoveryCode,max=64"`
	RecoveryCode string `json:"recoveryCode" validate:"max=64"`
}

type updateMeRequest struct {
	Name   *string `json:"name" validate:"required_without=Locale"`
	Locale *string `json:"locale" validate:"required_without=Name,omitempty,max=35"`
}

type changePasswordRequest struct {
	CurrentPassword string `json:"currentPassword" validate:"required,max=128"`
	NewPassword     string `json:"newPassword" validate:"required,min=8,max=128"`
}

// emailRequest is a body of one address: a new address for the account,
// or the address a reset link or a sign-in code goes to.
type emailRequest struct {
	Email string `json:"email" validate:"required,max=254"`
}

type userDTO struct {
	ID            string   `json:"id"`
	Email         string   `json:"email"`
	Name          string   `json:"name"`
	Roles         []string `json:"roles"`
	EmailVerified bool     `json:"emailVerified"`
	Locale        string   `json:"locale"`
	HasPassword   bool     `json:"hasPassword"`
	// AppMetadata is the administrators' object, {} when none.
	AppMetadata user.AppMetadata `json:"appMetadata"`
	CreatedAt   string           `json:"createdAt"`
	UpdatedAt   string           `json:"updatedAt"`
}

type sessionRefDTO struct {
	ID        string `json:"id"`
	ExpiresAt string `json:"expiresAt"`
}

type tokenPairDTO struct {
	AccessToken  string        `json:"accessToken"`
	TokenType    string        `json:"tokenType"`
	ExpiresIn    int64         `json:"expiresIn"`
	RefreshToken string        `json:"refreshToken,omitempty"`
	User         userDTO       `json:"user"`
	Session      sessionRefDTO `json:"session"`
}

type sessionDTO struct {
	ID         string `json:"id"`
	CreatedAt  string `json:"createdAt"`
	LastUsedAt string `json:"lastUsedAt"`
	ExpiresAt  string `json:"expiresAt"`
	UserAgent  string `json:"userAgent"`
	IP         string `json:"ip"`
	Current    bool   `json:"current"`
	// Client names the OpenID client a session belongs to; absent for the
	// app's own sessions.
	Client *clientRefDTO `json:"client,omitempty"`
}

type securityEventDTO struct {
	ID        string  `json:"id"`
	Type      string  `json:"type"`
	CreatedAt string  `json:"createdAt"`
	SessionID *string `json:"sessionId"`
	IP        string  `json:"ip"`
	UserAgent string  `json:"userAgent"`
	// ActorID names the administrator (or "cli") who acted on the account.
	ActorID *string `json:"actorId,omitempty"`
	// Suppressed, on an events_suppressed marker, counts the routine events
	// its window did not record.
	Suppressed int `json:"suppressed,omitempty"`
	// Method and Provider describe a federated sign-in, or the provider of
	// a linked or unlinked identity.
	Method   string `json:"method,omitempty"`
	Provider string `json:"provider,omitempty"`
}

// pageDTO is one page of a listing: its items and the cursor of the next
// page, null on the last.
type pageDTO[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"nextCursor"`
}

// newPage shapes a page of items, each through conv; no items is [].
func newPage[S, T any](items []S, next string, conv func(S) T) pageDTO[T] {
	out := pageDTO[T]{Items: mapAll(items, conv)}
	if next != "" {
		out.NextCursor = &next
	}
	return out
}

// mapAll shapes every item through conv; no items is [] (never null).
func mapAll[S, T any](items []S, conv func(S) T) []T {
	out := make([]T, len(items))
	for i, v := range items {
		out[i] = conv(v)
	}
	return out
}

type statusDTO struct {
	Status string `json:"status"`
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func toUserDTO(u user.User) userDTO {
	roles := u.Roles
	if roles == nil {
		roles = []string{}
	}
	return userDTO{
		ID: u.ID, Email: u.Email, Name: u.Name, Roles: roles, EmailVerified: u.EmailVerified, Locale: locale(u),
		HasPassword: u.HasPassword(), AppMetadata: u.AppMetadata,
		CreatedAt: rfc3339(u.CreatedAt), UpdatedAt: rfc3339(u.UpdatedAt),
	}
}

// locale is the account's mail language; an account read before it was
// stored (in a test's fake) has the default.
func locale(u user.User) string {
	if u.Locale == "" {
		return user.DefaultLocale
	}
	return u.Locale
}

// toTokenPairDTO shapes a pair; the refresh token is included only for body
// transport (includeRefresh).
func toTokenPairDTO(p authn.TokenPair, includeRefresh bool) tokenPairDTO {
	out := tokenPairDTO{
		AccessToken: p.AccessToken,
		TokenType:   "Bearer",
		ExpiresIn:   int64(p.ExpiresIn / time.Second),
		User:        toUserDTO(p.User),
		Session:     sessionRefDTO{ID: p.Session.ID, ExpiresAt: rfc3339(p.Session.ExpiresAt())},
	}
	if includeRefresh {
		out.RefreshToken = p.RefreshToken
	}
	return out
}

// toSessionDTO shapes a session of a listing; current marks the caller's own.
func toSessionDTO(s session.Session, current bool) sessionDTO {
	return sessionDTO{
		ID: s.ID, CreatedAt: rfc3339(s.CreatedAt), LastUsedAt: rfc3339(s.LastUsedAt),
		ExpiresAt: rfc3339(s.ExpiresAt()), UserAgent: s.UserAgent, IP: s.IP, Current: current,
	}
}

func toSecurityEventsDTO(p audit.Page) pageDTO[securityEventDTO] {
	return newPage(p.Events, p.NextCursor, toSecurityEventDTO)
}

func toSecurityEventDTO(e audit.Event) securityEventDTO {
	d := securityEventDTO{ID: e.ID, Type: string(e.Type), CreatedAt: rfc3339(e.CreatedAt), IP: e.IP, UserAgent: e.UserAgent,
		Suppressed: e.Suppressed, Method: e.Method, Provider: e.Provider}
	if e.SessionID != "" {
		d.SessionID = &e.SessionID
	}
	if e.ActorID != "" {
		d.ActorID = &e.ActorID
	}
	return d
}
