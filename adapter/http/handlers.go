package httpadapter

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/throttle"
	"github.com/gatehouse/gatehouse/usecase/account"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

// refreshCookieName is the refresh cookie's name, part of the contract.
const refreshCookieName = "refresh_token"

// refreshCookiePath scopes the cookie to the auth endpoints, so it is never
// sent with ordinary API calls.
const refreshCookiePath = "/auth"

// CookieOptions are the refresh cookie's configurable attributes.
type CookieOptions struct {
	Secure   bool
	SameSite http.SameSite
	// MaxAge is the session idle lifetime.
	MaxAge time.Duration
}

type handlers struct {
	auth     AuthInteractors
	account  AccountInteractors
	recovery RecoveryInteractors
	bind     *binder
	cookie   CookieOptions
	origins  originPolicy
	jwks     func() []byte
	ready    func(context.Context) error
	issuer   string
	// publicURL is PUBLIC_URL: the base of every URL the service writes.
	publicURL string
	// jwksMaxAge fits the key rotation's publish-ahead time.
	jwksMaxAge time.Duration
	mfa        FactorInteractors
	locales    localeMatcher
	// oidc and grants are set when the OpenID provider is served.
	oidc   *OIDCProvider
	grants UserGrants
}

func meta(c echo.Context) authn.Meta {
	m := authn.Meta{IP: c.RealIP(), UserAgent: c.Request().UserAgent()}
	for _, ck := range c.Request().Cookies() {
		if ck.Name == deviceCookieName && ck.Value != "" {
			m.Devices = append(m.Devices, ck.Value)
		}
	}
	return m
}

// deviceCookieName is the known-device cookie: proof that this browser
// signed in to an account before, which exempts it from the account-wide
// login back-off other clients cause (see authn.PasswordGate). It grants
// nothing by itself.
const deviceCookieName = "known_device"

// setDeviceCookie keeps a sign-in's device proof for a year (the proof's
// own lifetime), on the auth routes only, out of scripts' reach.
func (h *handlers) setDeviceCookie(c echo.Context, proof string) {
	c.SetCookie(&http.Cookie{
		Name: deviceCookieName, Value: proof, Path: refreshCookiePath,
		MaxAge: int(throttle.DeviceLifetime / time.Second), HttpOnly: true,
		Secure: h.cookie.Secure, SameSite: h.cookie.SameSite,
	})
}

func accountMeta(c echo.Context) account.Meta {
	return account.Meta{IP: c.RealIP(), UserAgent: c.Request().UserAgent()}
}

func (h *handlers) setRefreshCookie(c echo.Context, token string) {
	c.SetCookie(&http.Cookie{
		Name: refreshCookieName, Value: token, Path: refreshCookiePath,
		MaxAge: int(h.cookie.MaxAge / time.Second), HttpOnly: true,
		Secure: h.cookie.Secure, SameSite: h.cookie.SameSite,
	})
}

func (h *handlers) clearRefreshCookie(c echo.Context) {
	c.SetCookie(&http.Cookie{
		Name: refreshCookieName, Value: "", Path: refreshCookiePath,
		MaxAge: -1, HttpOnly: true, Secure: h.cookie.Secure, SameSite: h.cookie.SameSite,
	})
}

// respondPair answers a credential or refresh exchange: the refresh token
// goes to the cookie or into the body, never both.
func (h *handlers) respondPair(c echo.Context, status int, message string, p authn.TokenPair, transport string) error {
	noStore(c)
	body := transport == transportBody
	if !body && p.RefreshToken != "" {
		h.setRefreshCookie(c, p.RefreshToken)
	}
	if p.Device != "" {
		// With either transport: a native client keeping cookies is a
		// known device too.
		h.setDeviceCookie(c, p.Device)
	}
	return ok(c, status, message, toTokenPairDTO(p, body))
}

func (h *handlers) register(c echo.Context, req *registerRequest) error {
	in := authn.RegisterInput{
		Credentials: authn.Credentials{Email: req.Email, Password: req.Password}, Name: req.Name,
		// The language of the account's mails, until the user picks one.
		Locale: h.locales.match(c.Request().Header.Get("Accept-Language")),
	}
	if h.auth.Registrar.VerificationRequired() {
		// The same answer for a new and an existing address: the account
		// is usable once its address is verified.
		if err := h.auth.Registrar.RegisterPending(c.Request().Context(), in, meta(c)); err != nil {
			return err
		}
		return ok(c, http.StatusAccepted, "Check your mail to finish registration", nil)
	}
	p, err := h.auth.Registrar.Register(c.Request().Context(), in, meta(c))
	if err != nil {
		return err
	}
	return h.respondPair(c, http.StatusCreated, "Registered", p, req.RefreshTokenTransport)
}

// login ignores any refresh cookie it is sent: a login always starts a new
// session, so a planted cookie cannot fix the victim's session.
func (h *handlers) login(c echo.Context, req *loginRequest) error {
	p, err := h.auth.Login.Login(c.Request().Context(), authn.Credentials{Email: req.Email, Password: req.Password}, meta(c))
	if err != nil {
		return err
	}
	return h.respondLogin(c, p, req.RefreshTokenTransport)
}

// presentedRefresh finds the refresh token in the body or the cookie; the
// body wins. Cookie use is subject to the Origin check.
func (h *handlers) presentedRefresh(c echo.Context) (token, transport string, err error) {
	var req refreshRequest
	if err := h.bind.bind(c, &req); err != nil {
		return "", "", err
	}
	// Two refresh cookies mean one was planted (by a sibling subdomain, say):
	// neither is trusted, whichever the browser listed first.
	if refreshCookies(c) > 1 {
		h.clearRefreshCookie(c)
		return "", "", session.ErrRefreshInvalid
	}
	if req.RefreshToken != nil {
		return *req.RefreshToken, transportBody, nil
	}
	ck, cerr := c.Cookie(refreshCookieName)
	if cerr != nil || ck.Value == "" {
		return "", transportCookie, nil
	}
	if err := h.origins.check(c); err != nil {
		return "", "", err
	}
	return ck.Value, transportCookie, nil
}

func (h *handlers) refresh(c echo.Context) error {
	tok, transport, err := h.presentedRefresh(c)
	if err != nil {
		return err
	}
	if tok == "" {
		return session.ErrRefreshInvalid
	}
	p, err := h.auth.Refresher.Refresh(c.Request().Context(), tok, meta(c))
	if err != nil {
		if transport == transportCookie {
			// A cookie that can never work again is removed, so the browser
			// stops sending it.
			h.clearRefreshCookie(c)
		}
		return err
	}
	return h.respondPair(c, http.StatusOK, "Token refreshed", p, transport)
}

func (h *handlers) logout(c echo.Context) error {
	tok, _, err := h.presentedRefresh(c)
	if err != nil {
		return err
	}
	in := authn.LogoutInput{RefreshToken: tok}
	bearer := c.Request().Header.Get(echo.HeaderAuthorization) != ""
	if tok == "" && !bearer {
		// No credential at all: the same code as a refresh without a token,
		// so a client handles "no refresh token" once for both routes.
		return session.ErrRefreshInvalid
	}
	// The bearer token is the fallback credential. When a refresh token came
	// too, a stale access token must not stop the logout.
	if bearer || tok == "" {
		p, err := authenticate(c, h.auth.Authenticator)
		switch {
		case err == nil:
			in.Principal = &p
		case tok == "":
			return err
		}
	}
	if err := h.auth.Revoker.Logout(c.Request().Context(), in, meta(c)); err != nil {
		return err
	}
	h.clearRefreshCookie(c)
	return ok(c, http.StatusOK, "Logged out", nil)
}

func (h *handlers) logoutAll(c echo.Context) error {
	if err := h.auth.Revoker.LogoutAll(c.Request().Context(), principal(c), meta(c)); err != nil {
		return err
	}
	h.clearRefreshCookie(c)
	return ok(c, http.StatusOK, "Logged out of every session", nil)
}

func (h *handlers) reauthenticate(c echo.Context, req *reauthenticateRequest) error {
	p, err := h.auth.Reauthenticator.Reauthenticate(c.Request().Context(), principal(c), authn.ReauthInput{
		Password: req.Password, Code: req.Code, RecoveryCode: req.RecoveryCode,
	}, meta(c))
	if err != nil {
		return err
	}
	return h.respondPair(c, http.StatusOK, "Reauthenticated", p, transportBody)
}

// listSessions answers one page of the caller's sessions; the data stays
// an array, and X-Next-Cursor carries the cursor of the next page.
func (h *handlers) listSessions(c echo.Context) error {
	limit := authn.MaxSessionPage
	if s := c.QueryParam("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			n = 0 // out of range: the use case says so
		}
		limit = n
	}
	list, err := h.auth.Lister.ListSessions(c.Request().Context(), principal(c), c.QueryParam("cursor"), limit)
	if err != nil {
		return err
	}
	out := mapAll(list.Sessions, func(v authn.SessionView) sessionDTO { return toSessionDTO(v.Session, v.Current) })
	if err := withClients(c.Request().Context(), h.grants, out); err != nil {
		return err
	}
	if list.NextCursor != "" {
		c.Response().Header().Set("X-Next-Cursor", list.NextCursor)
	}
	return ok(c, http.StatusOK, "Sessions", out)
}

func (h *handlers) revokeSession(c echo.Context) error {
	sid := c.Param("id")
	if !id.Valid(sid) {
		return invalidField("id", "must be a UUID")
	}
	if err := h.auth.Revoker.RevokeSession(c.Request().Context(), principal(c), sid, meta(c)); err != nil {
		return err
	}
	if sid == principal(c).SessionID() {
		h.clearRefreshCookie(c)
	}
	return ok(c, http.StatusOK, "Session revoked", nil)
}

func (h *handlers) me(c echo.Context) error {
	u, err := h.account.Profile.Me(c.Request().Context(), principal(c))
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, "User", toUserDTO(u))
}

func (h *handlers) updateMe(c echo.Context, req *updateMeRequest) error {
	u, err := h.account.Editor.UpdateProfile(c.Request().Context(), principal(c), account.ProfileInput{Name: req.Name, Locale: req.Locale})
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, "User updated", toUserDTO(u))
}

func (h *handlers) changePassword(c echo.Context, req *changePasswordRequest) error {
	if err := h.account.Password.ChangePassword(c.Request().Context(), principal(c), req.CurrentPassword, req.NewPassword, accountMeta(c)); err != nil {
		return err
	}
	return ok(c, http.StatusOK, "Password changed", nil)
}

func (h *handlers) changeEmail(c echo.Context, req *emailRequest) error {
	ch, err := h.account.Email.ChangeEmail(c.Request().Context(), principal(c), req.Email, accountMeta(c))
	if err != nil {
		return err
	}
	if ch.Pending {
		// The same answer for every address (REQUIRE_EMAIL_VERIFICATION).
		return ok(c, http.StatusAccepted, "Use the link mailed to the new address to confirm it", nil)
	}
	return ok(c, http.StatusOK, "Email changed", toUserDTO(ch.User))
}

func (h *handlers) deleteMe(c echo.Context) error {
	if err := h.account.Deleter.DeleteAccount(c.Request().Context(), principal(c), accountMeta(c)); err != nil {
		return err
	}
	h.clearRefreshCookie(c)
	return ok(c, http.StatusOK, "Account deleted", nil)
}

// defaultEventPage is the page size of security events when none is asked.
const defaultEventPage = 20

// queryLimit reads the page size of a listing: defaultEventPage when not
// asked, and a validation error for anything but a whole number from 1 to
// most.
func queryLimit(c echo.Context, most int) (int, error) {
	s := c.QueryParam("limit")
	if s == "" {
		return defaultEventPage, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > most {
		return 0, invalidField("limit", "must be an integer between 1 and "+strconv.Itoa(most))
	}
	return n, nil
}

func (h *handlers) securityEvents(c echo.Context) error {
	limit, err := queryLimit(c, account.MaxEventPage)
	if err != nil {
		return err
	}
	page, err := h.account.Events.SecurityEvents(c.Request().Context(), principal(c), c.QueryParam("cursor"), limit)
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, "Security events", toSecurityEventsDTO(page))
}

func (h *handlers) jwksHandler(c echo.Context) error {
	h2 := c.Response().Header()
	if h.jwksMaxAge > 0 {
		h2.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(h.jwksMaxAge/time.Second)))
	} else {
		h2.Set("Cache-Control", "no-cache")
	}
	return c.Blob(http.StatusOK, "application/json; charset=utf-8", h.jwks())
}

func (h *handlers) healthz(c echo.Context) error {
	return ok(c, http.StatusOK, "OK", statusDTO{Status: "ok"})
}

func (h *handlers) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := h.ready(ctx); err != nil {
		return &apiError{Status: http.StatusServiceUnavailable, Code: CodeServiceUnavailable,
			Message: "Database unavailable", RetryAfter: time.Second, Cause: err}
	}
	return ok(c, http.StatusOK, "Ready", statusDTO{Status: "ok"})
}
