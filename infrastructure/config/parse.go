package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/caarlos0/env/v11"
	"github.com/gatehouse/gatehouse/internal/sealbox"
)

// The parsers below turn one raw, already trimmed value into a typed one.
// Their errors never repeat the variable name (Load adds it) and quote the
// offending value with %q, so a stray newline cannot split the log line.

// converters are how env converts a value by its field's type. Each
// reports its error through fail too, because env's own error names the Go
// field (Issuer is in JWT and MFA), where the operator needs the variable.
func converters(fail func(error)) map[reflect.Type]env.ParserFunc {
	return map[reflect.Type]env.ParserFunc{
		reflect.TypeFor[time.Duration]():  conv(fail, duration(0, noMax)),
		reflect.TypeFor[int]():            conv(fail, parseInt[int]),
		reflect.TypeFor[uint8]():          conv(fail, parseInt[uint8]),
		reflect.TypeFor[uint32]():         conv(fail, parseInt[uint32]),
		reflect.TypeFor[int64]():          conv(fail, sizeIn(0, math.MaxInt64)), // BODY_LIMIT
		reflect.TypeFor[bool]():           conv(fail, boolean),
		reflect.TypeFor[[]netip.Prefix](): conv(fail, prefixes),
		reflect.TypeFor[[]string]():       conv(fail, origins),
		reflect.TypeFor[sealbox.Keyring](): conv(fail, func(s string) (sealbox.Keyring, error) {
			k, err := sealbox.Parse(s)
			if err != nil {
				return sealbox.Keyring{}, err
			}
			return *k, nil
		}),
	}
}

func conv[T any](fail func(error), parse func(string) (T, error)) env.ParserFunc {
	return func(s string) (any, error) {
		v, err := parse(s)
		if err != nil {
			fail(err)
		}
		return v, err
	}
}

// applyCheck applies a field's check tag to its raw value, once env converted
// it: a range "lo,hi" (hi empty for none) in the field's unit, or a named
// check of a string field, which may also normalize it ("oneof:a,b").
func applyCheck(tag, raw string, f reflect.Value) error {
	if tag == "" {
		return nil
	}
	if f.Kind() == reflect.String {
		fn := stringCheck(strings.Cut(tag, ":"))
		if fn == nil {
			return fmt.Errorf("unknown check %q", tag)
		}
		v, err := fn(raw)
		if err == nil {
			f.SetString(v)
		}
		return err
	}
	lo, hi, _ := strings.Cut(tag, ",")
	switch f.Interface().(type) {
	case time.Duration:
		return inRange(lo, hi, noMax, time.ParseDuration, duration, raw)
	case int64:
		return inRange(lo, hi, math.MaxInt64, sizeIn(0, math.MaxInt64), sizeIn, raw)
	}
	return inRange(lo, hi, math.MaxInt64, parseInt[int64], intIn[int64], raw)
}

// inRange checks raw against the bounds lo and hi of a check tag.
func inRange[T any](lo, hi string, none T, parse func(string) (T, error), in func(lo, hi T) func(string) (T, error), raw string) error {
	l, err := parse(lo)
	h := none
	if hi != "" && err == nil {
		h, err = parse(hi)
	}
	if err != nil {
		return fmt.Errorf("bad range %q in the check tag", lo+","+hi)
	}
	_, err = in(l, h)(raw)
	return err
}

// stringCheck is the named check of a string setting (arg for oneof and link).
func stringCheck(name, arg string, _ bool) func(string) (string, error) {
	return map[string]func(string) (string, error){
		"listen": listenAddr(false), "listen?": listenAddr(true), "file": regularFile, "dir": directory,
		"printable": printable, "nonempty": nonEmpty, "publicurl": publicURL, "mailurl": mailURL,
		"from": mailFrom, "httpurl": httpURL, "rpid": rpID, "oneof": oneOf(strings.Split(arg, ",")...),
		"link": link(arg), "dburl": func(s string) (string, error) { _, err := parseDatabaseURL(s); return s, err },
		"endpoint": endpointURL, "whsec": whsecCheck,
	}[name]
}

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

// parseInt parses a base-10 integer; its range is the field's check tag.
func parseInt[T integer](s string) (T, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid integer %q", s)
	}
	return T(n), nil
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

// sizeIn parses a size such as "64KB" or "19MiB" into bytes and checks
// lo <= n <= hi. A unit is required: a bare number is ambiguous (argon2
// memory is natively counted in KiB, bodies in bytes) and misreading it
// would silently weaken or break something.
func sizeIn(lo, hi int64) func(string) (int64, error) {
	return func(s string) (int64, error) {
		// KB and KiB are the same binary unit on purpose: the contract says 1 KB = 1024.
		i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
		mult, ok := map[string]int64{"b": 1, "kb": 1 << 10, "kib": 1 << 10, "mb": 1 << 20, "mib": 1 << 20,
			"gb": 1 << 30, "gib": 1 << 30}[strings.ToLower(strings.TrimSpace(s[max(i, 0):]))]
		if i <= 0 || !ok {
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

// parseRate parses "N/WINDOW" (N >= 1, WINDOW a positive Go duration) or
// "0", which turns the limit off.
func parseRate(s string) (int, time.Duration, error) {
	if s == "0" {
		return 0, 0, nil
	}
	bad := fmt.Errorf(`invalid rate %q (want REQUESTS/WINDOW such as "600/1m", or "0" to turn the limit off)`, s)
	count, win, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, bad
	}
	n, err := strconv.Atoi(strings.TrimSpace(count))
	if err != nil || n < 0 {
		return 0, 0, bad
	}
	if n == 0 {
		return 0, 0, fmt.Errorf(`invalid rate %q (use "0" to turn the limit off)`, s)
	}
	d, err := time.ParseDuration(strings.TrimSpace(win))
	if err != nil || d <= 0 {
		return 0, 0, bad
	}
	return n, d, nil
}
