package config

import (
	"errors"
	"fmt"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
)

// origins parses comma-separated browser origins; see origin.
func origins(s string) ([]string, error) {
	out := []string{}
	seen := map[string]bool{}
	for _, item := range splitList(s) {
		o, err := origin(item)
		if err != nil {
			return nil, err
		}
		if !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	return out, nil
}

// origin checks one origin, scheme://host[:port], and normalizes it to the
// form a browser sends in the Origin header (lower case, no default port),
// so that a configured "https://App.example.com:443" still matches.
// "*" and "null" are refused: with credentials they would let any site, or
// any sandboxed document, act as the user.
func origin(s string) (string, error) {
	switch {
	case s == "*":
		return "", errors.New(`"*" is not allowed (credentials are sent); list each origin`)
	case strings.EqualFold(s, "null"):
		return "", errors.New(`"null" is not allowed as an origin`)
	case strings.Contains(s, "*"):
		return "", fmt.Errorf("invalid origin %q (wildcards are not supported)", s)
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Opaque != "" || u.Hostname() == "" {
		return "", fmt.Errorf("invalid origin %q (want scheme://host[:port])", s)
	}
	switch {
	case u.User != nil:
		return "", fmt.Errorf("invalid origin %q (no user info allowed)", s)
	case u.Path == "/" && u.RawQuery == "" && !u.ForceQuery && u.Fragment == "":
		return "", fmt.Errorf("invalid origin %q (no trailing slash)", s)
	case u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", fmt.Errorf("invalid origin %q (no path, query or fragment)", s)
	}
	for _, r := range u.Host {
		if r > 127 {
			return "", fmt.Errorf("invalid origin %q (use the punycode form of the host)", s)
		}
	}
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if port != "" {
		if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
			return "", fmt.Errorf("invalid port in origin %q", s)
		}
	}
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, nil
}

// database is the parsed form of DATABASE_URL.
type database struct {
	driver, dsn string
}

// parseDatabaseURL derives the driver and DSN from DATABASE_URL. Its errors
// never quote the URL: it may hold a password, and errors end up in logs.
func parseDatabaseURL(s string) (database, error) {
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok || scheme == "" {
		return database{}, errors.New("invalid database URL (want postgres://..., postgresql://..., sqlite://PATH or sqlite::memory:)")
	}
	switch strings.ToLower(scheme) {
	case "sqlite":
		// Not parsed with url.Parse: "sqlite://./data/x.db" would make "."
		// the host. Everything after "sqlite://" is the path, with any
		// driver query string such as "?_pragma=busy_timeout(5000)".
		if rest == ":memory:" {
			return database{driver: "sqlite", dsn: ":memory:"}, nil
		}
		path, ok := strings.CutPrefix(rest, "//")
		if !ok || path == "" || strings.HasPrefix(path, "?") {
			return database{}, errors.New("invalid sqlite URL (want sqlite://PATH or sqlite::memory:)")
		}
		return database{driver: "sqlite", dsn: path}, nil
	case "postgres", "postgresql":
		u, err := url.Parse(s)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // url.Error repeats the URL, password included
			}
			return database{}, fmt.Errorf("invalid postgres URL: %v", err)
		}
		if u.Opaque != "" {
			return database{}, errors.New("invalid postgres URL (want postgres://[user[:password]@]host[:port]/dbname)")
		}
		if u.Host == "" && u.Query().Get("host") == "" {
			return database{}, errors.New("postgres URL has no host (set one, or host=/socket/dir in the query)")
		}
		if p := u.Port(); p != "" {
			if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
				return database{}, errors.New("invalid port in postgres URL")
			}
		}
		return database{driver: "postgres", dsn: s}, nil
	}
	return database{}, fmt.Errorf("unsupported database scheme %q (want postgres, postgresql or sqlite)", scheme)
}

// redactURL hides the passwords in a database URL, in the user info and in
// any password-like query parameter (password, sslpassword).
func redactURL(s string) string {
	if !strings.HasPrefix(strings.ToLower(s), "postgres") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "xxxxx" // not expected after Load; never risk printing it
	}
	q := u.Query()
	changed := false
	for k := range q {
		if strings.Contains(strings.ToLower(k), "password") {
			q.Set(k, "xxxxx")
			changed = true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// publicURL checks PUBLIC_URL: an absolute http(s) URL without query or
// fragment; a trailing slash is dropped so links can be appended.
func publicURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", fmt.Errorf("invalid URL %q (want http(s)://host[:port][/path])", s)
	}
	return strings.TrimSuffix(s, "/"), nil
}

// mailURL checks MAIL_URL: empty (mail off), "log:", or smtp(s)://host[:port]
// with optional user info. The transport adapter reads it again; this is
// the early, one-line check at start.
func mailURL(s string) (string, error) {
	if s == "" || s == "log:" {
		return s, nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" || u.Opaque != "" {
		return "", fmt.Errorf("invalid mail URL %q (want smtp://[user:pass@]host[:port], smtps://... or log:)", redactMailURL(s))
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return "", fmt.Errorf("invalid port in mail URL %q", redactMailURL(s))
		}
	}
	return s, nil
}

// redactMailURL hides the password of an SMTP URL.
func redactMailURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if strings.Contains(s, "@") {
			return "xxxxx"
		}
		return s
	}
	return u.Redacted()
}

// mailFrom checks MAIL_FROM: one address, with or without a display name.
func mailFrom(s string) (string, error) {
	if _, err := netmail.ParseAddress(s); err != nil {
		return "", fmt.Errorf("invalid address %q (want \"Name <addr@host>\" or addr@host)", s)
	}
	return s, nil
}

// link checks a link template such as EMAIL_VERIFY_LINK: empty (the
// default, derived from PUBLIC_URL) or an absolute http(s) URL with the
// placeholder ph ({token} or {id}).
func link(ph string) func(string) (string, error) {
	return func(s string) (string, error) {
		if s == "" {
			return s, nil
		}
		u, err := url.Parse(strings.ReplaceAll(s, ph, "x"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", fmt.Errorf("invalid link %q (want an absolute http(s) URL)", s)
		}
		if !strings.Contains(s, ph) {
			return "", fmt.Errorf("link %q has no %s", s, ph)
		}
		return s, nil
	}
}

// httpURL accepts "" or an absolute http(s) URL with a host.
func httpURL(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", errors.New("want an http:// or https:// URL, e.g. http://collector:4318")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		// The exporter keeps only scheme, host and path: a query would be
		// dropped without a word.
		return "", errors.New("want a URL without a query or fragment")
	}
	return raw, nil
}
