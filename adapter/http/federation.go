package httpadapter

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/domain/federation"
	"github.com/gatehouse/gatehouse/usecase/providers"
)

// Federation serves sign-in through other identity providers.
type Federation struct {
	// Providers lists the enabled providers, in configured order.
	Providers  func() []ProviderInfo
	Starter    *providers.Starter
	Linker     *providers.LinkStarter
	Finisher   *providers.Finisher
	Exchanger  *providers.Exchanger
	Identities *providers.IdentityLister
	Unlinker   *providers.IdentityUnlinker
}

// ProviderInfo is an entry of GET /auth/providers.
type ProviderInfo struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type federationHandlers struct {
	f    *Federation
	h    *handlers
	bind *binder
}

func registerFederation(e *echo.Echo, f *Federation, h *handlers, authed, fresh echo.MiddlewareFunc) {
	fh := &federationHandlers{f: f, h: h, bind: h.bind}
	get(e, "/auth/providers", fh.providers)
	get(e, "/auth/oauth/:provider/authorize", fh.authorize)
	get(e, "/auth/oauth/:provider/callback", fh.callback)
	e.POST("/auth/oauth/token", withBody(fh.bind, fh.token))
	e.POST("/auth/identities/:id", withBody(fh.bind, fh.link), authed, fresh)
	get(e, "/auth/identities", fh.identities, authed)
	e.DELETE("/auth/identities/:id", fh.unlink, authed, fresh)
}

func (fh *federationHandlers) providers(c echo.Context) error {
	list := fh.f.Providers()
	if list == nil {
		list = []ProviderInfo{}
	}
	return ok(c, http.StatusOK, "Providers", list)
}

// authorize sends the browser to the provider: a 302, or an envelope for
// anything wrong with the request (never a redirect to an unchecked URL).
func (fh *federationHandlers) authorize(c echo.Context) error {
	u, err := fh.f.Starter.Start(c.Request().Context(), c.Param("provider"),
		c.QueryParam("redirectTo"), c.QueryParam("codeChallenge"))
	if err != nil {
		return err
	}
	noStore(c)
	return c.Redirect(http.StatusFound, u)
}

func (fh *federationHandlers) callback(c echo.Context) error {
	q := c.QueryParams()
	to, err := fh.f.Finisher.Finish(c.Request().Context(), providers.Callback{
		Provider: c.Param("provider"), State: q.Get("state"), Code: q.Get("code"), Error: q.Get("error"),
		IP: c.RealIP(), UserAgent: c.Request().UserAgent(),
	})
	if err != nil {
		return err
	}
	noStore(c)
	// The app's code is in the fragment: keep it out of any Referer.
	c.Response().Header().Set("Referrer-Policy", "no-referrer")
	return c.Redirect(http.StatusFound, to)
}

type oauthTokenRequest struct {
	Code                  string `json:"code" validate:"required,max=256"`
	CodeVerifier          string `json:"codeVerifier" validate:"required,min=43,max=128"`
	RefreshTokenTransport string `json:"refreshTokenTransport" validate:"omitempty,oneof=cookie body"`
}

func (fh *federationHandlers) token(c echo.Context, req *oauthTokenRequest) error {
	p, err := fh.f.Exchanger.Exchange(c.Request().Context(), req.Code, req.CodeVerifier, meta(c))
	if err != nil {
		return err
	}
	return fh.h.respondLogin(c, p, req.RefreshTokenTransport)
}

type linkRequest struct {
	RedirectTo string `json:"redirectTo" validate:"required,max=2048"`
}

type authorizationURLDTO struct {
	AuthorizationURL string `json:"authorizationUrl"`
}

func (fh *federationHandlers) link(c echo.Context, req *linkRequest) error {
	u, err := fh.f.Linker.Start(c.Request().Context(), principal(c), c.Param("id"), req.RedirectTo)
	if err != nil {
		return err
	}
	noStore(c)
	return ok(c, http.StatusOK, "Continue at the provider", authorizationURLDTO{AuthorizationURL: u})
}

type identityDTO struct {
	ID        string `json:"id"`
	Provider  string `json:"provider"`
	Email     string `json:"email"`
	CreatedAt string `json:"createdAt"`
}

func (fh *federationHandlers) identities(c echo.Context) error {
	list, err := fh.f.Identities.List(c.Request().Context(), principal(c))
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, "Identities", mapAll(list, func(v federation.Identity) identityDTO {
		return identityDTO{ID: v.ID, Provider: v.Provider, Email: v.Email, CreatedAt: rfc3339(v.CreatedAt)}
	}))
}

func (fh *federationHandlers) unlink(c echo.Context) error {
	if err := fh.f.Unlinker.Unlink(c.Request().Context(), principal(c), c.Param("id")); err != nil {
		return err
	}
	return ok(c, http.StatusOK, "Identity unlinked", nil)
}

// Error codes of the federation.
const (
	CodeOAuthFailed      = "OAUTH_FAILED"
	CodeLastSignInMethod = "LAST_SIGN_IN_METHOD"
)
