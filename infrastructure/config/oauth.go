package config

import (
	"fmt"
	"net/url"
	"strings"
)

// OAuth configures sign-in through other identity providers.
type OAuth struct {
	// IDs are the enabled providers in order (OAUTH_PROVIDERS).
	IDs []string
	// Providers are their settings, in the order of IDs (read by Load
	// from the OAUTH_{ID}_* variables or the file's oauth_{id}_* keys, the
	// environment winning; their names depend on the ids).
	Providers []Provider
	// RedirectURLs are the allowed redirectTo values (OAUTH_REDIRECT_URLS;
	// empty means {PUBLIC_URL}/*, which Load fills in).
	RedirectURLs []string
	// GitHubURL and GitHubAPIURL are GitHub's (or GitHub Enterprise's)
	// endpoints.
	GitHubURL    string `env:"OAUTH_GITHUB_URL" envDefault:"https://github.com" check:"publicurl"`
	GitHubAPIURL string `env:"OAUTH_GITHUB_API_URL" envDefault:"https://api.github.com" check:"publicurl"`
}

// Provider is one provider's settings.
type Provider struct {
	ID, Name string
	// Issuer is the OpenID Connect issuer; empty for github.
	Issuer       string
	ClientID     string
	ClientSecret string
	Scopes       []string
}

// String keeps the secret out of logs.
func (p Provider) String() string {
	return fmt.Sprintf("%s(issuer=%q client=%q)", p.ID, p.Issuer, p.ClientID)
}

// providerIDs parses OAUTH_PROVIDERS: comma-separated, [a-z0-9-]{1,32},
// no repeats.
func providerIDs(s string) ([]string, error) {
	out := []string{}
	seen := map[string]bool{}
	for _, id := range splitList(s) {
		if len(id) > 32 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			return nil, fmt.Errorf("invalid provider id %q (want [a-z0-9-]{1,32})", id)
		}
		if seen[id] {
			return nil, fmt.Errorf("provider %q listed twice", id)
		}
		seen[id] = true
		out = append(out, id)
	}
	return out, nil
}

// redirectURLs parses OAUTH_REDIRECT_URLS: absolute http(s) URLs without
// a fragment, each optionally ending in "*" (a prefix).
func redirectURLs(s string) ([]string, error) {
	out := []string{}
	for _, item := range splitList(s) {
		u, err := url.Parse(strings.TrimSuffix(item, "*"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
			return nil, fmt.Errorf("invalid redirect URL %q (want http(s)://host/path, optionally ending in *)", item)
		}
		out = append(out, item)
	}
	return out, nil
}

// envName is the variable prefix of provider id: OAUTH_{ID}_.
func envName(id, suffix string) string {
	return "OAUTH_" + strings.ToUpper(strings.ReplaceAll(id, "-", "_")) + "_" + suffix
}

// loadProviders reads every provider's OAUTH_{ID}_* variables through
// lookup and fills in the derived defaults; it returns one problem per bad
// or missing value, with the file line from says a bad value came from.
func loadProviders(c *Config, lookup func(string) (string, bool), from map[string]string) (problems []string) {
	defer func() {
		for i, p := range problems {
			if name, _, ok := strings.Cut(p, ":"); ok {
				problems[i] += from[name]
			}
		}
	}()
	if len(c.OAuth.RedirectURLs) == 0 {
		c.OAuth.RedirectURLs = []string{c.Mail.PublicURL + "/*"}
	}
	get := func(name string) string {
		v, _ := lookup(name)
		return strings.TrimSpace(v)
	}
	c.OAuth.Providers = nil
	for _, id := range c.OAuth.IDs {
		p := Provider{ID: id, Name: get(envName(id, "NAME")), Issuer: get(envName(id, "ISSUER")),
			ClientID: get(envName(id, "CLIENT_ID")), ClientSecret: get(envName(id, "CLIENT_SECRET"))}
		if p.Name == "" {
			p.Name = id
		}
		if file := get(envName(id, "CLIENT_SECRET_FILE")); file != "" {
			var err error
			if p.ClientSecret, err = readSecret(file); err != nil {
				problems = append(problems, envName(id, "CLIENT_SECRET_FILE")+": "+err.Error())
			}
		}
		scopes := get(envName(id, "SCOPES"))
		switch {
		case scopes != "":
			p.Scopes = strings.Fields(strings.ReplaceAll(scopes, ",", " "))
		case id == "github":
			p.Scopes = []string{"read:user", "user:email"}
		default:
			p.Scopes = []string{"openid", "email", "profile"}
		}
		if p.Issuer == "" && id == "google" {
			p.Issuer = "https://accounts.google.com"
		}
		switch {
		case id == "github" && p.Issuer != "":
			problems = append(problems, envName(id, "ISSUER")+": github is not an OpenID Connect issuer; leave it unset")
		case id != "github" && p.Issuer == "":
			problems = append(problems, envName(id, "ISSUER")+": required for provider "+id)
		case p.Issuer != "":
			if _, err := publicURL(p.Issuer); err != nil {
				problems = append(problems, envName(id, "ISSUER")+": "+err.Error())
			}
		}
		if p.ClientID == "" {
			problems = append(problems, envName(id, "CLIENT_ID")+": required for provider "+id)
		}
		if p.ClientSecret == "" {
			problems = append(problems, envName(id, "CLIENT_SECRET")+": required for provider "+id)
		}
		c.OAuth.Providers = append(c.OAuth.Providers, p)
	}
	return problems
}
