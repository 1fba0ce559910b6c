package oauthclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/domain/federation"
)

// githubProvider is GitHub or GitHub Enterprise: OAuth 2.0 (no ID token),
// the person read from its API.
type githubProvider struct {
	conf   oauth2.Config
	api    string
	client *http.Client
}

func newGitHub(c Config, client *http.Client) *githubProvider {
	base := strings.TrimRight(c.GitHubURL, "/")
	return &githubProvider{
		conf: oauth2.Config{
			ClientID: c.ClientID, ClientSecret: c.ClientSecret, RedirectURL: c.RedirectURL, Scopes: c.Scopes,
			Endpoint: oauth2.Endpoint{
				AuthURL: base + "/login/oauth/authorize", TokenURL: base + "/login/oauth/access_token",
				// GitHub documents the secret as a form parameter.
				AuthStyle: oauth2.AuthStyleInParams,
			},
		},
		api:    strings.TrimRight(c.GitHubAPIURL, "/"),
		client: client,
	}
}

// AuthURL implements federation.Provider. GitHub has no nonce (no ID
// token); state and PKCE protect the flow.
func (g *githubProvider) AuthURL(_ context.Context, state, _, verifier string) (string, error) {
	return g.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), nil
}

// Identify implements federation.Provider: the code for a token, then
// GET /user (the subject is the numeric id, which never changes, unlike
// the login) and GET /user/emails (the primary address, verified only if
// GitHub says so).
func (g *githubProvider) Identify(ctx context.Context, code, verifier, _ string) (federation.Claims, error) {
	tok, err := g.conf.Exchange(withClient(ctx, g.client), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return federation.Claims{}, fmt.Errorf("%w: code exchange: %v", federation.ErrFailed, err)
	}
	var u struct {
		ID    int64  `json:"id"`
		Login string `json:"login"`
		Name  string `json:"name"`
	}
	if err := g.get(ctx, tok, "/user", &u); err != nil {
		return federation.Claims{}, err
	}
	if u.ID <= 0 {
		return federation.Claims{}, fmt.Errorf("%w: github user without id", federation.ErrFailed)
	}
	var emails []struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	if err := g.get(ctx, tok, "/user/emails", &emails); err != nil {
		return federation.Claims{}, err
	}
	c := federation.Claims{Subject: strconv.FormatInt(u.ID, 10), Name: u.Name}
	if c.Name == "" {
		c.Name = u.Login
	}
	for _, e := range emails {
		if e.Primary {
			c.Email, c.EmailVerified = e.Email, e.Verified
		}
	}
	return c, nil
}

// maxAPIBody bounds what is read of an API answer.
const maxAPIBody = 1 << 20

func (g *githubProvider) get(ctx context.Context, tok *oauth2.Token, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.api+path, nil)
	if err != nil {
		return fmt.Errorf("%w: github %s: %v", federation.ErrFailed, path, err)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := g.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: github %s: %v", federation.ErrFailed, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: github %s: status %d", federation.ErrFailed, path, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAPIBody)).Decode(v); err != nil {
		return fmt.Errorf("%w: github %s: %v", federation.ErrFailed, path, err)
	}
	return nil
}
