package httpadapter

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/admin"
)

// adminHandlers serve /admin. The use case checks the admin role (against
// the caller's current account, not the token's claims) and the rule of
// writes; the routes declare that rule too (fresh, then the use case's
// AuthorizeWrite: aal2 once the administrator has a second factor), so a
// refusal comes with its RFC 9470 challenge before any body is read.
type adminHandlers struct {
	admin AdminInteractors
	// grants names the OpenID clients of sessions; nil without the provider.
	grants UserGrants
	bind   *binder
}

func registerAdmin(e *echo.Echo, a AdminInteractors, grants UserGrants, bind *binder, authed, fresh echo.MiddlewareFunc) {
	h := &adminHandlers{admin: a, grants: grants, bind: bind}
	write := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := a.Guard.AuthorizeWrite(c.Request().Context(), actor(c)); err != nil {
				return err
			}
			return next(c)
		}
	}
	get(e, "/admin/users", h.search, authed)
	get(e, "/admin/users/:id", forUser(h.get), authed)
	e.PATCH("/admin/users/:id", forUser(h.update), authed, fresh, write)
	e.POST("/admin/users/:id/revoke-sessions", forUser(h.revokeSessions), authed, fresh, write)
	e.DELETE("/admin/users/:id", forUser(h.delete), authed, fresh, write)
	get(e, "/admin/users/:id/security-events", forUser(h.events), authed)
	if a.Sessions != nil {
		get(e, "/admin/users/:id/sessions", forUser(h.sessions), authed)
	}
	if a.SessionEnder != nil {
		e.DELETE("/admin/users/:id/sessions/:sessionId", forUser(h.revokeSession), authed, fresh, write)
	}
	if a.Factors != nil {
		get(e, "/admin/users/:id/factors", forUser(h.factors), authed)
	}
	if a.Identities != nil {
		get(e, "/admin/users/:id/identities", forUser(h.identities), authed)
	}
	get(e, "/admin/keys", h.keys, authed)
	e.POST("/admin/keys/rotate", h.rotate, authed, fresh, write)
}

func actor(c echo.Context) admin.Actor {
	return admin.Actor{Principal: principal(c), IP: c.RealIP(), UserAgent: c.Request().UserAgent()}
}

// forUser hands next the account id of the route's :id, after answering
// 404 for one that is malformed (it names no account).
func forUser(next func(c echo.Context, uid string) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		uid, err := userParam(c)
		if err != nil {
			return err
		}
		return next(c, uid)
	}
}

// userParam is the :id of the route; a malformed one names no account.
func userParam(c echo.Context) (string, error) {
	uid := c.Param("id")
	if !id.Valid(uid) {
		return "", newAPIError(http.StatusNotFound, CodeNotFound, "Not found")
	}
	return uid, nil
}

func (h *adminHandlers) search(c echo.Context) error {
	limit, err := queryLimit(c, admin.MaxPage)
	if err != nil {
		return err
	}
	page, err := h.admin.Search.Search(c.Request().Context(), actor(c), c.QueryParam("q"), c.QueryParam("cursor"), limit)
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, "Users", newPage(page.Items, page.NextCursor, toAdminUserDTO))
}

func (h *adminHandlers) get(c echo.Context, uid string) error {
	v, err := h.admin.Reader.Get(c.Request().Context(), actor(c), uid)
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, "User", toAdminUserDTO(v))
}

func (h *adminHandlers) update(c echo.Context, uid string) error {
	var req adminPatchRequest
	if err := h.bind.bind(c, &req); err != nil {
		return err
	}
	meta, err := appMetadataPatch(req.AppMetadata)
	if err != nil {
		return err
	}
	v, err := h.admin.Updater.Update(c.Request().Context(), actor(c), uid, admin.Patch{
		Name: req.Name, Roles: req.Roles, Disabled: req.Disabled, EmailVerified: req.EmailVerified,
		AppMetadata: meta,
	})
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, "User updated", toAdminUserDTO(v))
}

func (h *adminHandlers) revokeSessions(c echo.Context, uid string) error {
	if err := h.admin.Revoker.RevokeSessions(c.Request().Context(), actor(c), uid); err != nil {
		return err
	}
	return ok(c, http.StatusOK, "Sessions revoked", nil)
}

func (h *adminHandlers) delete(c echo.Context, uid string) error {
	if err := h.admin.Deleter.Delete(c.Request().Context(), actor(c), uid); err != nil {
		return err
	}
	return ok(c, http.StatusOK, "User deleted", nil)
}

func (h *adminHandlers) events(c echo.Context, uid string) error {
	limit, err := queryLimit(c, admin.MaxPage)
	if err != nil {
		return err
	}
	page, err := h.admin.Events.SecurityEvents(c.Request().Context(), actor(c), uid, c.QueryParam("cursor"), limit)
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, "Security events", toSecurityEventsDTO(page))
}

// sessions answers a page of an account's sessions as {items, nextCursor},
// like the other admin listings; each item is what the owner's own listing
// shows, current marking the administrator's own session.
func (h *adminHandlers) sessions(c echo.Context, uid string) error {
	limit, err := queryLimit(c, admin.MaxPage)
	if err != nil {
		return err
	}
	page, err := h.admin.Sessions.Sessions(c.Request().Context(), actor(c), uid, c.QueryParam("cursor"), limit)
	if err != nil {
		return err
	}
	out := newPage(page.Items, page.NextCursor, func(v admin.SessionView) sessionDTO { return toSessionDTO(v.Session, v.Current) })
	if err := withClients(c.Request().Context(), h.grants, out.Items); err != nil {
		return err
	}
	return ok(c, http.StatusOK, "Sessions", out)
}

func (h *adminHandlers) revokeSession(c echo.Context, uid string) error {
	sid := c.Param("sessionId")
	if !id.Valid(sid) {
		return session.ErrNotFound
	}
	if err := h.admin.SessionEnder.RevokeSession(c.Request().Context(), actor(c), uid, sid); err != nil {
		return err
	}
	return ok(c, http.StatusOK, "Session revoked", nil)
}

func (h *adminHandlers) factors(c echo.Context, uid string) error {
	f, err := h.admin.Factors.Factors(c.Request().Context(), actor(c), uid)
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, "Factors", adminFactorsDTO{
		TOTP: adminTOTPDTO{Enabled: f.TOTP.Enabled, EnabledAt: optTime(f.TOTP.EnabledAt)},
		Passkeys: mapAll(f.Passkeys, func(p admin.PasskeyView) passkeyDTO {
			return passkeyDTO{ID: p.ID, Name: p.Name, CreatedAt: rfc3339(p.CreatedAt), LastUsedAt: optTime(p.LastUsedAt)}
		}),
	})
}

// identities answers as GET /auth/identities does, for any account.
func (h *adminHandlers) identities(c echo.Context, uid string) error {
	list, err := h.admin.Identities.Identities(c.Request().Context(), actor(c), uid)
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, "Identities", mapAll(list, func(v admin.IdentityView) identityDTO {
		return identityDTO{ID: v.ID, Provider: v.Provider, Email: v.Email, CreatedAt: rfc3339(v.LinkedAt)}
	}))
}

func (h *adminHandlers) keys(c echo.Context) error {
	list, err := h.admin.Keys.Keys(c.Request().Context(), actor(c))
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, "Signing keys", mapAll(list, toSigningKeyDTO))
}

func (h *adminHandlers) rotate(c echo.Context) error {
	k, err := h.admin.Rotator.RotateKey(c.Request().Context(), actor(c))
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, "Signing key added", toSigningKeyDTO(k))
}

type adminPatchRequest struct {
	Name          *string  `json:"name" validate:"omitnil,max=100"`
	Roles         []string `json:"roles" validate:"omitnil"`
	Disabled      *bool    `json:"disabled"`
	EmailVerified *bool    `json:"emailVerified"`
	// AppMetadata stays raw so absent (unchanged), null (cleared) and an
	// object (replaced) can be told apart.
	AppMetadata json.RawMessage `json:"appMetadata"`
}

// appMetadataPatch reads the patch's appMetadata: nil when absent, a
// pointer to nil for null, the object otherwise; anything else is a
// validation error on the field.
func appMetadataPatch(raw json.RawMessage) (*map[string]any, error) {
	if raw == nil {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, user.Invalid("appMetadata", "must be a JSON object or null")
	}
	return &m, nil
}

type adminUserDTO struct {
	userDTO
	EmailVerified  bool    `json:"emailVerified"`
	Disabled       bool    `json:"disabled"`
	MFAEnabled     bool    `json:"mfaEnabled"`
	Passkeys       int     `json:"passkeys"`
	ActiveSessions int     `json:"activeSessions"`
	LastLoginAt    *string `json:"lastLoginAt"`
}

type adminTOTPDTO struct {
	Enabled   bool    `json:"enabled"`
	EnabledAt *string `json:"enabledAt"`
}

type adminFactorsDTO struct {
	TOTP     adminTOTPDTO `json:"totp"`
	Passkeys []passkeyDTO `json:"passkeys"`
}

type signingKeyDTO struct {
	Kid         string  `json:"kid"`
	Alg         string  `json:"alg"`
	State       string  `json:"state"`
	CreatedAt   *string `json:"createdAt"`
	ActivatesAt *string `json:"activatesAt"`
	RetiresAt   *string `json:"retiresAt"`
}

func optTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := rfc3339(t)
	return &s
}

func toAdminUserDTO(v admin.View) adminUserDTO {
	return adminUserDTO{
		userDTO: toUserDTO(v.User), EmailVerified: v.EmailVerified, Disabled: v.Disabled,
		MFAEnabled: v.MFAEnabled, Passkeys: v.Passkeys, ActiveSessions: v.ActiveSessions,
		LastLoginAt: optTime(v.LastLoginAt),
	}
}

func toSigningKeyDTO(k auth.KeyStatus) signingKeyDTO {
	return signingKeyDTO{
		Kid: k.Key.ID, Alg: k.Key.Algorithm, State: string(k.State),
		CreatedAt: optTime(k.Key.CreatedAt), ActivatesAt: optTime(k.Key.ActivatesAt), RetiresAt: optTime(k.RetiresAt),
	}
}
