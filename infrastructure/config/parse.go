package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	netmail "net/mail"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// The parsers below turn one raw, already trimmed value into a typed one.
// Their errors never repeat the variable name (Load adds it) and quote the
// offending value with %q, so a stray newline cannot split the log line.

// noMax marks a range without an upper bound.
const noMax = time.Duration(math.MaxInt64)

// duration parses a Go duration and checks lo <= d <= hi. Negative values are
// always rejected, whatever lo is.
func duration(lo, hi time.Duration) func(string) (time.Duration, error) {
	return func(s string) (time.Duration, error) {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		switch {
		case d < 0:
			return 0, fmt.Errorf("negative duration %q", s)
		case d < lo && lo == 1:
			return 0, fmt.Errorf("must be greater than 0, got %q", s)
		case d < lo:
			return 0, fmt.Errorf("must be at least %s, got %q", lo, s)
		case d > hi:
			return 0, fmt.Errorf("must be at most %s, got %q", hi, s)
		}
		return d, nil
	}
}

// integer is the set of field types integer settings are stored in.
type integer interface {
	~int | ~int64 | ~uint8 | ~uint32
}

// intIn parses a base-10 integer and checks lo <= n <= hi.
func intIn[T integer](lo, hi T) func(string) (T, error) {
	return func(s string) (T, error) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid integer %q", s)
		}
		if n < int64(lo) || n > int64(hi) {
			return 0, fmt.Errorf("must be between %d and %d, got %d", lo, hi, n)
		}
		return T(n), nil
	}
}

// hashConcurrency parses PASSWORD_HASH_CONCURRENCY and resolves 0 to the
// number of usable CPUs, so consumers never have to special-case 0 (a
// semaphore of size 0 would block every login forever).
func hashConcurrency(s string) (int, error) {
	n, err := intIn(0, 1024)(s)
	if err == nil && n == 0 {
		n = runtime.GOMAXPROCS(0)
	}
	return n, err
}

// boolean accepts true/false, 1/0 and yes/no, case-insensitively. Anything
// else is an error rather than false, so "ture" cannot turn a flag off.
func boolean(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "1", "yes":
		return true, nil
	case "false", "0", "no":
		return false, nil
	}
	return false, fmt.Errorf("invalid boolean %q (want true/false, 1/0 or yes/no)", s)
}

// sizeUnit returns the multiplier of a size suffix, case-insensitively. KB
// and KiB are the same binary unit on purpose: the contract says 1 KB = 1024.
func sizeUnit(unit string) (int64, bool) {
	switch strings.ToLower(unit) {
	case "b":
		return 1, true
	case "kb", "kib":
		return 1 << 10, true
	case "mb", "mib":
		return 1 << 20, true
	case "gb", "gib":
		return 1 << 30, true
	}
	return 0, false
}

// sizeIn parses a size such as "64KB" or "19MiB" into bytes and checks
// lo <= n <= hi. A unit is required: a bare number is ambiguous (argon2
// memory is natively counted in KiB, bodies in bytes) and misreading it
// would silently weaken or break something.
func sizeIn(lo, hi int64) func(string) (int64, error) {
	return func(s string) (int64, error) {
		i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
		if i <= 0 {
			return 0, fmt.Errorf("invalid size %q (want an integer and a unit B, KB, MB, GB, KiB, MiB or GiB, e.g. \"64KB\")", s)
		}
		mult, ok := sizeUnit(strings.TrimSpace(s[i:]))
		if !ok {
			return 0, fmt.Errorf("invalid size %q (want an integer and a unit B, KB, MB, GB, KiB, MiB or GiB, e.g. \"64KB\")", s)
		}
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil || n > math.MaxInt64/mult {
			return 0, fmt.Errorf("size %q is too large", s)
		}
		n *= mult
		if n < lo || n > hi {
			return 0, fmt.Errorf("must be between %s and %s, got %q", formatSize(lo), formatSize(hi), s)
		}
		return n, nil
	}
}

// kibIn parses a size into whole KiB, for the argon2 memory cost.
func kibIn(lo, hi int64) func(string) (uint32, error) {
	return func(s string) (uint32, error) {
		n, err := sizeIn(lo, hi)(s)
		if err != nil {
			return 0, err
		}
		if n%1024 != 0 {
			return 0, fmt.Errorf("must be a whole number of KiB, got %q", s)
		}
		return uint32(n / 1024), nil
	}
}

// formatSize renders a byte count with the largest exact binary unit.
func formatSize(n int64) string {
	for _, u := range []struct {
		name string
		mult int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

// nonEmpty accepts any string but the empty one.
func nonEmpty(s string) (string, error) {
	if s == "" {
		return "", errors.New("must not be empty")
	}
	return s, nil
}

// printable accepts any text without control characters, "" included.
func printable(s string) (string, error) {
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "", errors.New("must not contain control characters")
	}
	return s, nil
}

// oneOf returns a parser accepting one of names, case-insensitively, and
// yielding it in lower case.
func oneOf(names ...string) func(string) (string, error) {
	return func(s string) (string, error) {
		l := strings.ToLower(s)
		for _, n := range names {
			if l == n {
				return n, nil
			}
		}
		return "", fmt.Errorf("invalid value %q (want one of %s)", s, strings.Join(names, ", "))
	}
}

// listenAddr checks a host:port listen address with a numeric port (0 picks
// a free port, which tests use). With optional, "" is accepted and means off.
func listenAddr(optional bool) func(string) (string, error) {
	return func(s string) (string, error) {
		if s == "" && optional {
			return "", nil
		}
		_, port, err := net.SplitHostPort(s)
		if err != nil {
			return "", fmt.Errorf("invalid listen address %q (want host:port, e.g. \":3000\")", s)
		}
		if p, err := strconv.ParseUint(port, 10, 16); err != nil || (p == 0 && port != "0") {
			return "", fmt.Errorf("invalid port in listen address %q", s)
		}
		return s, nil
	}
}

// directory accepts "" (unset) or the path of an existing directory.
func directory(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	fi, err := os.Stat(s)
	if err != nil {
		return "", fmt.Errorf("cannot use %q: %v", s, errors.Unwrap(err))
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%q is not a directory", s)
	}
	return s, nil
}

// regularFile accepts "" (unset) or the path of an existing regular file.
// Checking at start turns a typo in a mounted secret's path into a clear
// message naming the variable instead of a failure deep in key loading.
func regularFile(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	fi, err := os.Stat(s)
	if err != nil {
		return "", fmt.Errorf("cannot use %q: %v", s, errors.Unwrap(err))
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%q is not a regular file", s)
	}
	return s, nil
}

// splitList splits a comma-separated list, trimming items and dropping empty
// ones, so "a, b," and "a,b" mean the same.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// prefixes parses comma-separated CIDRs; a bare IP is a single-host prefix.
// A CIDR with host bits set ("10.0.0.1/8") is rejected rather than masked:
// it is as likely a typo for a /32 as for the network.
func prefixes(s string) ([]netip.Prefix, error) {
	out := []netip.Prefix{}
	for _, item := range splitList(s) {
		if !strings.Contains(item, "/") {
			a, err := netip.ParseAddr(item)
			if err != nil || a.Zone() != "" {
				return nil, fmt.Errorf("invalid IP or CIDR %q", item)
			}
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(item)
		if err != nil {
			return nil, fmt.Errorf("invalid CIDR %q", item)
		}
		if p.Masked() != p {
			return nil, fmt.Errorf("CIDR %q has host bits set (did you mean %s?)", item, p.Masked())
		}
		out = append(out, p)
	}
	return out, nil
}

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

// rate is the parsed form of RATE_LIMIT_PER_IP.
type rate struct {
	n      int
	window time.Duration
}

// parseRate parses "N/WINDOW" (N >= 1, WINDOW a positive Go duration) or
// "0", which turns the limit off.
func parseRate(s string) (rate, error) {
	if s == "0" {
		return rate{}, nil
	}
	bad := fmt.Errorf(`invalid rate %q (want REQUESTS/WINDOW such as "600/1m", or "0" to turn the limit off)`, s)
	count, win, ok := strings.Cut(s, "/")
	if !ok {
		return rate{}, bad
	}
	n, err := strconv.Atoi(strings.TrimSpace(count))
	if err != nil || n < 0 {
		return rate{}, bad
	}
	if n == 0 {
		return rate{}, fmt.Errorf(`invalid rate %q (use "0" to turn the limit off)`, s)
	}
	d, err := time.ParseDuration(strings.TrimSpace(win))
	if err != nil || d <= 0 {
		return rate{}, bad
	}
	return rate{n: n, window: d}, nil
}

// sameSite parses COOKIE_SAMESITE, case-insensitively, into the
// attribute and its normalized name.
func sameSite(s string) (http.SameSite, string, error) {
	switch name := strings.ToLower(s); name {
	case "strict":
		return http.SameSiteStrictMode, name, nil
	case "lax":
		return http.SameSiteLaxMode, name, nil
	case "none":
		return http.SameSiteNoneMode, name, nil
	}
	return 0, "", fmt.Errorf("invalid value %q (want strict, lax or none)", s)
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

// linkTemplate checks EMAIL_VERIFY_LINK and PASSWORD_RESET_LINK: empty (the
// default, derived from PUBLIC_URL) or an absolute http(s) URL with {token}.
func linkTemplate(s string) (string, error) {
	if s == "" {
		return s, nil
	}
	u, err := url.Parse(strings.ReplaceAll(s, "{token}", "t"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("invalid link %q (want an absolute http(s) URL)", s)
	}
	if !strings.Contains(s, "{token}") {
		return "", fmt.Errorf("link %q has no {token}", s)
	}
	return s, nil
}

// loginURLTemplate checks OIDC_LOGIN_URL: empty (the default, derived from
// PUBLIC_URL) or an absolute http(s) URL with {id}.
func loginURLTemplate(s string) (string, error) {
	if s == "" {
		return s, nil
	}
	u, err := url.Parse(strings.ReplaceAll(s, "{id}", "i"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("invalid URL %q (want an absolute http(s) URL)", s)
	}
	if !strings.Contains(s, "{id}") {
		return "", fmt.Errorf("URL %q has no {id}", s)
	}
	return s, nil
}
