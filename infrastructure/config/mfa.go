package config

import (
	"fmt"
	"net/url"
	"strings"
)

// rpID checks WEBAUTHN_RP_ID: a bare domain (no scheme, port or path), as
// WebAuthn requires; empty means "the host of PUBLIC_URL".
func rpID(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if strings.ContainsAny(s, ":/ ") || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") {
		return "", fmt.Errorf("invalid relying party ID %q (want a domain such as example.com)", s)
	}
	return strings.ToLower(s), nil
}

// deriveWebAuthn fills the WebAuthn defaults from PUBLIC_URL and checks
// that the relying party ID suits every origin: each origin's host must be
// the ID or a subdomain of it, or browsers refuse every ceremony.
func (c *Config) deriveWebAuthn() error {
	pub, err := url.Parse(c.Mail.PublicURL)
	if err != nil {
		return fmt.Errorf("PUBLIC_URL %q: %v", c.Mail.PublicURL, err)
	}
	if c.MFA.RPID == "" {
		c.MFA.RPID = strings.ToLower(pub.Hostname())
	}
	if len(c.MFA.Origins) == 0 {
		// Derived origins are not checked against the ID: CORS origins on
		// other sites were fine before passkeys existed and must not stop
		// the start; browsers simply refuse ceremonies from them.
		own, err := origin(pub.Scheme + "://" + pub.Host)
		if err != nil {
			return fmt.Errorf("PUBLIC_URL: %v", err)
		}
		c.MFA.Origins = append([]string{own}, c.HTTP.CORSAllowedOrigins...)
		return checkRPID(c.MFA.RPID, own)
	}
	for _, o := range c.MFA.Origins {
		if err := checkRPID(c.MFA.RPID, o); err != nil {
			return err
		}
	}
	return nil
}

// checkRPID checks that origin o may use relying party ID id: its host
// must be the ID or a subdomain of it, or browsers refuse every ceremony.
func checkRPID(id, o string) error {
	u, err := url.Parse(o)
	if err != nil {
		return fmt.Errorf("origin %q: %v", o, err)
	}
	h := strings.ToLower(u.Hostname())
	if h != id && !strings.HasSuffix(h, "."+id) {
		return fmt.Errorf("%q is not a registrable suffix of origin %q", id, o)
	}
	return nil
}
