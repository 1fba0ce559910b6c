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
	// URL is where events are posted (WEBHOOK_URL, default "": off).
	URL string
	// Secrets sign them (WEBHOOK_SECRET): "whsec_" + base64 of 24 to 64
	// bytes; two, comma-separated, while rotating. Required with URL.
	Secrets []string
	// Events are the types to send (WEBHOOK_EVENTS, default all),
	// comma-separated; the names are checked where they are known.
	Events string
	// HookURL is the before-signup hook (HOOK_BEFORE_SIGNUP_URL, default
	// "": every signup allowed).
	HookURL string
	// HookSecrets sign the hook's requests (HOOK_SECRET, default the
	// webhook secrets).
	HookSecrets []string
	// HookTimeout bounds the hook's answer (HOOK_TIMEOUT, default 2s).
	HookTimeout time.Duration
	// PollInterval is how often each instance looks for due events
	// (WEBHOOK_POLL_INTERVAL, default 1s).
	PollInterval time.Duration
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

// webhookSecrets accepts "" or one or two comma-separated Standard Webhooks
// secrets: "whsec_" and the base64 of 24 to 64 bytes. The error never
// repeats the value.
func webhookSecrets(raw string) ([]string, error) {
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

// secretCount shows secrets in the startup log without their values.
func secretCount(s []string) any {
	if len(s) == 0 {
		return "unset"
	}
	return fmt.Sprintf("(%d set)", len(s))
}
