package httpadapter

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/oauth"
	"github.com/gatehouse/gatehouse/internal/reqctx"
	"github.com/gatehouse/gatehouse/usecase/oidcprovider"
)

// The OpenID provider. Its protocol endpoints (/oauth2/authorize, token,
// userinfo, revoke, logout) are a library's handler and answer plain
// OAuth/OIDC JSON, never the envelope; the routes here are Gatehouse's own
// API around them, in the envelope: the login hand-off (the app's login
// page reads, accepts or rejects a request with the user's token), clients
// for administrators, and the consents users gave.

// OIDCProvider is what the HTTP layer serves of the OpenID provider.
type OIDCProvider struct {
	// Protocol serves the protocol endpoints (protocolRoutes).
	Protocol http.Handler
	Requests LoginHandoff
	Clients  ClientAdmin
	Grants   UserGrants
	// Issuer is the iss of ID tokens, added to the code's redirect (RFC
	// 9207) and published by the discovery document.
	Issuer string
}

// LoginHandoff serves /oauth2/requests/{id}.
type LoginHandoff interface {
	Show(ctx context.Context, requestID, userID string) (oidcprovider.RequestView, error)
	Accept(ctx context.Context, requestID string, p oauth.Proof, scopes []string, ip, userAgent string) (oidcprovider.Answer, error)
	Reject(ctx context.Context, requestID string) (oidcprovider.Answer, error)
}

// ClientAdmin serves /admin/oauth-clients.
type ClientAdmin interface {
	Register(ctx context.Context, act oidcprovider.Actor, reg oauth.Registration) (oauth.Client, string, error)
	List(ctx context.Context, act oidcprovider.Actor) ([]oauth.Client, error)
	Delete(ctx context.Context, act oidcprovider.Actor, clientID string) error
}

// UserGrants serves /users/me/grants and names sessions' clients.
type UserGrants interface {
	List(ctx context.Context, userID string) ([]oauth.Grant, error)
	Revoke(ctx context.Context, p auth.Principal, clientID, ip, userAgent string) error
	SessionClients(ctx context.Context, sessionIDs []string) (map[string]oauth.Ref, error)
}

var (
	_ LoginHandoff = (*oidcprovider.Authorizer)(nil)
	_ ClientAdmin  = (*oidcprovider.ClientAdmin)(nil)
	_ UserGrants   = (*oidcprovider.Grants)(nil)
)

type oidcHandlers struct {
	p    *OIDCProvider
	bind *binder
}

func registerOIDC(e *echo.Echo, p *OIDCProvider, bind *binder, authed, fresh echo.MiddlewareFunc) {
	h := &oidcHandlers{p: p, bind: bind}
	proto := protocolHandler(p.Protocol)
	for path, methods := range protocolRoutes {
		e.Match(methods, path, proto)
	}
	get(e, "/oauth2/requests/:id", h.showRequest, authed)
	e.POST("/oauth2/requests/:id/accept", withBody(h.bind, h.accept), authed)
	e.POST("/oauth2/requests/:id/reject", h.reject, authed)
	e.POST("/admin/oauth-clients", withBody(h.bind, h.createClient), authed, fresh)
	get(e, "/admin/oauth-clients", h.listClients, authed)
	e.DELETE("/admin/oauth-clients/:clientId", h.deleteClient, authed, fresh)
	get(e, "/users/me/grants", h.listGrants, authed)
	e.DELETE("/users/me/grants/:clientId", h.revokeGrant, authed, fresh)
}

// protocolRoutes are the protocol endpoints and the methods their
// standards name (OIDC Core 3.1.2.1 and RP-Initiated Logout 2: GET and
// POST; OPTIONS for browsers' CORS preflight of the back-channel calls a
// single-page app makes).
var protocolRoutes = map[string][]string{
	"/oauth2/authorize": {http.MethodGet, http.MethodPost},
	"/oauth2/token":     {http.MethodPost, http.MethodOptions},
	"/oauth2/userinfo":  {http.MethodGet, http.MethodPost, http.MethodOptions},
	"/oauth2/revoke":    {http.MethodPost, http.MethodOptions},
	"/oauth2/logout":    {http.MethodGet, http.MethodPost},
}

// protocolHandler hands a protocol request to the library with the client
// as this layer sees it (the IP after TRUSTED_PROXIES), for the sessions
// it opens.
func protocolHandler(h http.Handler) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		ctx := reqctx.WithClient(r.Context(), reqctx.Client{IP: c.RealIP(), UserAgent: r.UserAgent()})
		noStore(c)
		h.ServeHTTP(&protocolWriter{ResponseWriter: c.Response()}, r.WithContext(ctx))
		return nil
	}
}

// protocolWriter holds the library's answers to the house rules of the
// wire: JSON is "application/json; charset=utf-8", and a redirect has no
// body (net/http's Redirect would add a small HTML page).
type protocolWriter struct {
	http.ResponseWriter
	wrote, discard bool
}

func (w *protocolWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	h := w.Header()
	if code >= 300 && code < 400 {
		h.Del("Content-Type")
		w.discard = true
	} else if ct := h.Get("Content-Type"); strings.EqualFold(ct, "application/json") {
		h.Set("Content-Type", "application/json; charset=utf-8")
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *protocolWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.discard {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

type clientRefDTO struct {
	ClientID string `json:"clientId"`
	Name     string `json:"name"`
}

func toClientRef(r oauth.Ref) clientRefDTO { return clientRefDTO{ClientID: r.ID, Name: r.Name} }

type requestViewDTO struct {
	Client          clientRefDTO `json:"client"`
	Scopes          []string     `json:"scopes"`
	ConsentRequired bool         `json:"consentRequired"`
	MaxAge          *int64       `json:"maxAge"`
	Prompt          []string     `json:"prompt"`
}

func (h *oidcHandlers) showRequest(c echo.Context) error {
	v, err := h.p.Requests.Show(c.Request().Context(), c.Param("id"), principal(c).UserID())
	if err != nil {
		return err
	}
	prompt := v.Prompt
	if prompt == nil {
		prompt = []string{}
	}
	noStore(c)
	return ok(c, http.StatusOK, "Authorization request", requestViewDTO{
		Client: toClientRef(v.Client), Scopes: v.Scopes, ConsentRequired: v.ConsentRequired,
		MaxAge: v.MaxAge, Prompt: prompt,
	})
}

type acceptRequest struct {
	Scopes *[]string `json:"scopes" validate:"omitempty,max=10,dive,min=1,max=64"`
}

type redirectDTO struct {
	RedirectTo string `json:"redirectTo"`
}

func (h *oidcHandlers) accept(c echo.Context, in *acceptRequest) error {
	var scopes []string
	if in.Scopes != nil {
		scopes = *in.Scopes
	}
	p := principal(c)
	ans, err := h.p.Requests.Accept(c.Request().Context(), c.Param("id"), oauth.Proof{
		UserID: p.UserID(), SessionID: p.SessionID(), AuthTime: p.Claims.AuthTime, Fresh: p.Claims.Fresh,
		Methods: p.Claims.Methods, IssuedAt: p.Claims.IssuedAt,
	}, scopes, c.RealIP(), c.Request().UserAgent())
	if err != nil {
		return err
	}
	noStore(c)
	return ok(c, http.StatusOK, "Authorization accepted", redirectDTO{RedirectTo: h.answerURL(ans)})
}

func (h *oidcHandlers) reject(c echo.Context) error {
	ans, err := h.p.Requests.Reject(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	noStore(c)
	return ok(c, http.StatusOK, "Authorization rejected", redirectDTO{RedirectTo: h.answerURL(ans)})
}

// answerURL is the client's redirect URI with the answer (RFC 6749 4.1.2,
// and iss per RFC 9207), in the query or, for response_mode=fragment, the
// fragment.
func (h *oidcHandlers) answerURL(a oidcprovider.Answer) string {
	v := url.Values{}
	if a.Error != "" {
		v.Set("error", a.Error)
	} else {
		v.Set("code", a.Code)
	}
	if a.State != "" {
		v.Set("state", a.State)
	}
	v.Set("iss", h.p.Issuer)
	u, err := url.Parse(a.RedirectURI)
	if err != nil {
		return a.RedirectURI
	}
	if a.ResponseMode == "fragment" {
		u.Fragment = ""
		return u.String() + "#" + v.Encode()
	}
	q := u.Query()
	for k, vs := range v {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	return u.String()
}

type createClientRequest struct {
	Name                   string    `json:"name" validate:"required"`
	RedirectURIs           []string  `json:"redirectUris" validate:"required"`
	PostLogoutRedirectURIs []string  `json:"postLogoutRedirectUris"`
	Public                 bool      `json:"public"`
	FirstParty             bool      `json:"firstParty"`
	Scopes                 *[]string `json:"scopes"`
	IDTokenAlg             string    `json:"idTokenSignedResponseAlg"`
}

type oauthClientDTO struct {
	ClientID               string   `json:"clientId"`
	ClientSecret           *string  `json:"clientSecret,omitempty"`
	Name                   string   `json:"name"`
	RedirectURIs           []string `json:"redirectUris"`
	PostLogoutRedirectURIs []string `json:"postLogoutRedirectUris"`
	Public                 bool     `json:"public"`
	FirstParty             bool     `json:"firstParty"`
	Scopes                 []string `json:"scopes"`
	IDTokenAlg             string   `json:"idTokenSignedResponseAlg"`
	CreatedAt              string   `json:"createdAt"`
}

func toClientDTO(cl oauth.Client) oauthClientDTO {
	return oauthClientDTO{
		ClientID: cl.ID, Name: cl.Name, RedirectURIs: cl.RedirectURIs, PostLogoutRedirectURIs: cl.PostLogoutRedirectURIs,
		Public: cl.Public, FirstParty: cl.FirstParty, Scopes: cl.Scopes, IDTokenAlg: cl.IDTokenAlg, CreatedAt: rfc3339(cl.CreatedAt),
	}
}

func clientActor(c echo.Context) oidcprovider.Actor {
	return oidcprovider.Actor{Principal: principal(c)}
}

func (h *oidcHandlers) createClient(c echo.Context, in *createClientRequest) error {
	reg := oauth.Registration{
		Name: in.Name, RedirectURIs: in.RedirectURIs, PostLogoutRedirectURIs: in.PostLogoutRedirectURIs,
		Public: in.Public, FirstParty: in.FirstParty, IDTokenAlg: in.IDTokenAlg,
	}
	if in.Scopes != nil {
		reg.Scopes = *in.Scopes
	}
	cl, secret, err := h.p.Clients.Register(c.Request().Context(), clientActor(c), reg)
	if err != nil {
		return err
	}
	out := toClientDTO(cl)
	if secret != "" {
		out.ClientSecret = &secret
	}
	noStore(c)
	return ok(c, http.StatusCreated, "Client registered", out)
}

func (h *oidcHandlers) listClients(c echo.Context) error {
	list, err := h.p.Clients.List(c.Request().Context(), clientActor(c))
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, "Clients", mapAll(list, toClientDTO))
}

func (h *oidcHandlers) deleteClient(c echo.Context) error {
	if err := h.p.Clients.Delete(c.Request().Context(), clientActor(c), c.Param("clientId")); err != nil {
		return err
	}
	return ok(c, http.StatusOK, "Client deleted", nil)
}

type grantDTO struct {
	Client    clientRefDTO `json:"client"`
	Scopes    []string     `json:"scopes"`
	CreatedAt string       `json:"createdAt"`
}

func (h *oidcHandlers) listGrants(c echo.Context) error {
	list, err := h.p.Grants.List(c.Request().Context(), principal(c).UserID())
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, "Grants", mapAll(list, func(g oauth.Grant) grantDTO {
		return grantDTO{Client: toClientRef(g.Client), Scopes: g.Scopes, CreatedAt: rfc3339(g.CreatedAt)}
	}))
}

func (h *oidcHandlers) revokeGrant(c echo.Context) error {
	err := h.p.Grants.Revoke(c.Request().Context(), principal(c), c.Param("clientId"), c.RealIP(), c.Request().UserAgent())
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, "Grant revoked", nil)
}

// withClients names the client of each session that belongs to one, for
// GET /auth/sessions.
func withClients(ctx context.Context, g UserGrants, out []sessionDTO) error {
	if g == nil || len(out) == 0 {
		return nil
	}
	ids := make([]string, len(out))
	for i, s := range out {
		ids[i] = s.ID
	}
	names, err := g.SessionClients(ctx, ids)
	if err != nil {
		return err
	}
	for i := range out {
		if r, ok := names[out[i].ID]; ok {
			ref := toClientRef(r)
			out[i].Client = &ref
		}
	}
	return nil
}

// oauthFieldError turns a registration's or acceptance's field error into
// the envelope's validation answer.
func oauthFieldError(err error) (*apiError, bool) {
	var fe *oauth.FieldError
	if !errors.As(err, &fe) {
		return nil, false
	}
	return invalidField(fe.Field, fe.Message), true
}

// providerMetadata are the discovery fields of the provider (OpenID
// Connect Discovery 1.0 section 3), all derived from the issuer.
type providerMetadata struct {
	AuthorizationEndpoint  string   `json:"authorization_endpoint"`
	TokenEndpoint          string   `json:"token_endpoint"`
	UserinfoEndpoint       string   `json:"userinfo_endpoint"`
	RevocationEndpoint     string   `json:"revocation_endpoint"`
	EndSessionEndpoint     string   `json:"end_session_endpoint"`
	ResponseTypes          []string `json:"response_types_supported"`
	ResponseModes          []string `json:"response_modes_supported"`
	GrantTypes             []string `json:"grant_types_supported"`
	CodeChallengeMethods   []string `json:"code_challenge_methods_supported"`
	Scopes                 []string `json:"scopes_supported"`
	TokenEndpointAuth      []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuth []string `json:"revocation_endpoint_auth_methods_supported"`
	AuthResponseIssParam   bool     `json:"authorization_response_iss_parameter_supported"`
	PromptValues           []string `json:"prompt_values_supported"`
	ClaimsParameter        bool     `json:"claims_parameter_supported"`
	RequestParameter       bool     `json:"request_parameter_supported"`
	RequestURIParameter    bool     `json:"request_uri_parameter_supported"`
	FrontchannelLogout     bool     `json:"frontchannel_logout_supported"`
	BackchannelLogout      bool     `json:"backchannel_logout_supported"`
}

func (p *OIDCProvider) metadata() providerMetadata {
	base := strings.TrimRight(p.Issuer, "/")
	auth := []string{"client_secret_basic", "client_secret_post", "none"}
	return providerMetadata{
		AuthorizationEndpoint: base + "/oauth2/authorize", TokenEndpoint: base + "/oauth2/token",
		UserinfoEndpoint: base + "/oauth2/userinfo", RevocationEndpoint: base + "/oauth2/revoke",
		EndSessionEndpoint: base + "/oauth2/logout",
		ResponseTypes:      []string{"code"}, ResponseModes: []string{"query", "fragment"},
		GrantTypes:           []string{"authorization_code", "refresh_token"},
		CodeChallengeMethods: []string{"S256"}, Scopes: append([]string(nil), oauth.KnownScopes...),
		TokenEndpointAuth: auth, RevocationEndpointAuth: auth, AuthResponseIssParam: true,
		PromptValues: []string{"none", "login", "consent"},
	}
}
