package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Webhooks configures the events posted to other systems and the
// before-signup hook.
type Webhooks struct {
	// URL is where events are posted; empty turns webhooks off.
	URL string `env:"WEBHOOK_URL" check:"endpoint"`
	// Secret signs them: "whsec_" + base64 of 24 to 64 bytes; two,
	// comma-separated, while rotating. Required with URL. Log Redacted,
	// never this field.
	Secret string `env:"WEBHOOK_SECRET" check:"whsec"`
	// Events are the types to send, comma-separated (empty: all); the names
	// are checked where they are known.
	Events string `env:"WEBHOOK_EVENTS"`
	// PollInterval is how often each instance looks for due events.
	PollInterval time.Duration `env:"WEBHOOK_POLL_INTERVAL" envDefault:"1s" check:"10ms,1m"`
	// HookURL is the before-signup hook; empty allows every signup.
	HookURL string `env:"HOOK_BEFORE_SIGNUP_URL" check:"endpoint"`
	// HookSecret signs the hook's requests; empty means Secret.
	HookSecret string `env:"HOOK_SECRET" check:"whsec"`
	// HookTimeout bounds the hook's answer (then the signup is refused).
	HookTimeout time.Duration `env:"HOOK_TIMEOUT" envDefault:"2s" check:"100ms,30s"`

	// Secrets and HookSecrets are Secret and HookSecret (or Secret) split,
	// derived by Load.
	Secrets, HookSecrets []string
}

// Enabled reports whether events are posted.
func (w Webhooks) Enabled() bool { return w.URL != "" }

// endpointURL accepts "" or an absolute http(s) URL with a host and no
// user info (a secret in a URL would reach logs).
func endpointURL(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return "", errors.New("want an http:// or https:// URL without user info or fragment")
	}
	return raw, nil
}

// whsecCheck is the "whsec" check: "" or one or two comma-separated
// Standard Webhooks secrets. The error never repeats the value.
func whsecCheck(raw string) (string, error) {
	_, err := splitSecrets(raw)
	return strings.TrimSpace(raw), err
}

// splitSecrets reads "" or one or two comma-separated secrets: "whsec_"
// and the base64 of 24 to 64 bytes.
func splitSecrets(raw string) ([]string, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	parts := strings.Split(raw, ",")
	if len(parts) > 2 {
		return nil, errors.New("want one secret, or two while rotating")
	}
	out := make([]string, 0, len(parts))
	for i, p := range parts {
		p = strings.TrimSpace(p)
		b64, ok := strings.CutPrefix(p, "whsec_")
		if !ok {
			return nil, fmt.Errorf("secret %d: want whsec_ followed by base64", i+1)
		}
		key, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("secret %d: not valid base64", i+1)
		}
		if len(key) < 24 || len(key) > 64 {
			return nil, fmt.Errorf("secret %d: want 24 to 64 random bytes, got %d", i+1, len(key))
		}
		out = append(out, p)
	}
	return out, nil
}

// webhookChecks derive the secret lists and require a secret wherever a
// URL is set.
func webhookChecks() []check {
	return []check{
		{"WEBHOOK_SECRET", []string{"WEBHOOK_URL", "WEBHOOK_SECRET"}, func(c *Config) error {
			c.Webhooks.Secrets, _ = splitSecrets(c.Webhooks.Secret)
			if c.Webhooks.URL != "" && len(c.Webhooks.Secrets) == 0 {
				return errors.New("is required with WEBHOOK_URL")
			}
			return nil
		}},
		{"HOOK_SECRET", []string{"HOOK_BEFORE_SIGNUP_URL", "HOOK_SECRET", "WEBHOOK_SECRET"}, func(c *Config) error {
			c.Webhooks.HookSecrets, _ = splitSecrets(c.Webhooks.HookSecret)
			if len(c.Webhooks.HookSecrets) == 0 {
				c.Webhooks.HookSecrets, _ = splitSecrets(c.Webhooks.Secret)
			}
			if c.Webhooks.HookURL != "" && len(c.Webhooks.HookSecrets) == 0 {
				return errors.New("is required with HOOK_BEFORE_SIGNUP_URL (or WEBHOOK_SECRET)")
			}
			return nil
		}},
	}
}
