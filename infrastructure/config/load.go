package config

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/gatehouse/gatehouse/internal/sealbox"
	"gopkg.in/yaml.v3"
)

// defaultFile is the YAML file read when CONFIG_FILE is unset. It is
// relative to the working directory, and it is fine for it not to exist.
const defaultFile = "configs/config.yaml"

// Load builds the configuration from lookup (os.LookupEnv in production, a
// map in tests), the YAML file and the defaults, and validates all of it.
//
// CONFIG_FILE names the YAML file; an empty or unset CONFIG_FILE means
// defaultFile if it exists (CONFIG_FILE=/dev/null reads no file at all).
// A named file that is missing or unparsable is an error.
//
// On failure the Config is the zero value and the error is a single line
// starting with "config: " that names every offending variable, e.g.
//
//	config: ACCESS_TOKEN_TTL: invalid duration "abc"
//
// Values taken from the file say so: `... (from configs/config.yaml:7)`.
// Values are trimmed of surrounding white space; an empty value is a value
// (METRICS_ADDR= turns metrics off even if the file sets them), not a
// request for the default.
func Load(lookup func(string) (string, bool)) (Config, error) {
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	path, values, err := readFile(lookup)
	if err != nil {
		return Config{}, oneLine("config: " + err.Error())
	}

	// One map of every setting's value, the environment over the file over
	// the default, is what env reads.
	var c Config
	if values != nil {
		c.file = path
	}
	raw, from := map[string]string{}, map[string]string{}
	var fileProblems []string
	// get is a setting's value, the environment over the file, and takes
	// its key out of values (what is left over at the end is unknown).
	get := func(name string) (string, bool) {
		key := strings.ToLower(name)
		v, inFile := values[key]
		delete(values, key)
		if env, ok := lookup(name); ok {
			return env, true
		}
		if !inFile {
			return "", false
		}
		s, err := scalar(&v)
		if err != nil {
			fileProblems = append(fileProblems, fmt.Sprintf("%s:%d: key %q: %v", path, v.Line, key, err))
		}
		from[name] = fmt.Sprintf(" (from %s:%d)", path, v.Line)
		return s, true
	}
	all := declared()
	for _, s := range all {
		raw[s.name] = s.def
		if v, ok := get(s.name); ok {
			raw[s.name] = v
		}
		raw[s.name] = strings.TrimSpace(raw[s.name])
	}
	problems := fileProblems
	fileProblems = nil

	failed := parse(&c, raw)
	for _, s := range all {
		if err := failed[s.name]; err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v%s", s.name, err, from[s.name]))
		}
	}
	if err := failed[""]; err != nil { // not a value's fault: a tag env cannot use
		problems = append(problems, err.Error())
	}

checks:
	for _, ch := range checks() {
		for _, n := range ch.needs {
			if failed[n] != nil {
				continue checks
			}
		}
		if err := ch.err(&c); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", ch.name, err))
		}
	}

	if failed["OAUTH_PROVIDERS"] == nil && failed["PUBLIC_URL"] == nil && failed["OAUTH_REDIRECT_URLS"] == nil {
		// The provider's variables are named after its ids, so only now
		// can they be looked up.
		provs := loadProviders(&c, get, from)
		problems = append(append(problems, fileProblems...), provs...)
	}
	// Only now is every key a setting took gone from values.
	problems = append(unknownKeys(path, values), problems...)

	if len(problems) > 0 {
		return Config{}, oneLine("config: " + strings.Join(problems, "; "))
	}
	return c, nil
}

// declared lists every setting: the tagged fields, then the compound rows.
func declared() []setting {
	var out []setting
	fields(reflect.ValueOf(&Config{}).Elem(), func(sf reflect.StructField, _ reflect.Value) {
		out = append(out, setting{name: sf.Tag.Get("env"), def: sf.Tag.Get("envDefault")})
	})
	return append(out, compound(&Config{})...)
}

// fields calls fn for every tagged field under v, in declaration order.
func fields(v reflect.Value, fn func(reflect.StructField, reflect.Value)) {
	for i := range v.NumField() {
		sf := v.Type().Field(i)
		switch {
		case sf.Tag.Get("env") != "":
			fn(sf, v.Field(i))
		case sf.IsExported() && sf.Type.Kind() == reflect.Struct:
			fields(v.Field(i), fn)
		}
	}
}

// parse stores raw into c: env converts each tagged field by its type,
// then each field's check tag is applied, then the compound rows parse.
// It returns the error of each variable that failed, by name.
func parse(c *Config, raw map[string]string) map[string]error {
	failed := map[string]error{}
	var key string // the variable env is converting; OnSet names it just before
	conv := converters(func(err error) { failed[key] = err })
	err := env.ParseWithOptions(c, env.Options{
		Environment: raw,
		// raw holds the defaults already; read through env's tag, env would
		// also put the default in place of an empty value.
		DefaultValueTagName: "noDefault",
		OnSet:               func(k string, _ any, _ bool) { key = k },
		FuncMap:             conv,
	})
	if err != nil && len(failed) == 0 {
		failed[""] = err
	}

	fields(reflect.ValueOf(c).Elem(), func(sf reflect.StructField, f reflect.Value) {
		key = sf.Tag.Get("env")
		if failed[key] != nil {
			return
		}
		// env leaves a field alone when its value is empty; here empty is a
		// value, so converters see it too (an empty duration is an error,
		// an empty list is a list).
		if p, ok := conv[f.Type()]; ok && raw[key] == "" {
			if v, err := p(""); err == nil {
				f.Set(reflect.ValueOf(v))
			}
		}
		if err := applyCheck(sf.Tag.Get("check"), raw[key], f); err != nil && failed[key] == nil {
			failed[key] = err
		}
	})
	for _, s := range compound(c) {
		if err := s.set(raw[s.name]); err != nil {
			failed[s.name] = err
		}
	}
	return failed
}

// Redacted returns every setting for a startup log line, keyed by variable
// name, plus CONFIG_FILE (the file read, "" when none). Durations and sizes
// are rendered as strings ("15m0s", "64KiB"), the passwords in DATABASE_URL
// (user info or a password query parameter) and MAIL_URL as "xxxxx", and
// DATA_ENCRYPTION_KEY as whether it is set and its public key ID.
func (c Config) Redacted() map[string]any {
	out := map[string]any{"CONFIG_FILE": c.file}
	fields(reflect.ValueOf(&c).Elem(), func(sf reflect.StructField, f reflect.Value) {
		out[sf.Tag.Get("env")] = display(sf.Tag.Get("check"), f.Interface())
	})
	for _, s := range compound(&c) {
		out[s.name] = s.show()
	}
	return out
}

// display turns a stored value into something that logs readably and
// holds no secret: slog's JSON handler would print a Duration as nanoseconds.
func display(check string, v any) any {
	switch v := v.(type) {
	case time.Duration:
		return v.String()
	case int64: // BODY_LIMIT, the one size field
		return formatSize(v)
	case []netip.Prefix:
		out := make([]string, len(v))
		for i, p := range v {
			out[i] = p.String()
		}
		return out
	case []string:
		return append([]string{}, v...)
	case *sealbox.Keyring:
		if v == nil {
			return "unset"
		}
		return "set (key id " + v.KeyID() + ")"
	case string:
		switch check {
		case "dburl":
			return redactURL(v)
		case "mailurl":
			return redactMailURL(v)
		case "whsec":
			// Webhook secrets: whether set, never what.
			if v == "" {
				return "unset"
			}
			return "set"
		}
	}
	return v
}

// readFile reads the YAML file chosen by CONFIG_FILE: a flat mapping of
// setting names to values. values is nil when no file was read; err is a
// file that cannot be used at all (yaml.v3 also refuses duplicate keys).
func readFile(lookup func(string) (string, bool)) (path string, values map[string]yaml.Node, err error) {
	path, _ = lookup("CONFIG_FILE")
	path = strings.TrimSpace(path)
	explicit := path != ""
	if !explicit {
		path = defaultFile
	}
	data, err := os.ReadFile(path)
	switch {
	case err != nil && !explicit && errors.Is(err, fs.ErrNotExist):
		return path, nil, nil
	case err != nil && explicit:
		return path, nil, fmt.Errorf("CONFIG_FILE: %w", err)
	case err != nil:
		return path, nil, err
	}
	values = map[string]yaml.Node{}
	if err := yaml.Unmarshal(data, &values); err != nil {
		if strings.Contains(err.Error(), "cannot unmarshal") { // a list or a scalar at the top
			err = fmt.Errorf("%w (want a flat mapping of setting names to values, e.g. http_addr: \":3000\")", err)
		}
		return path, nil, fmt.Errorf("%s: %w", path, err)
	}
	return path, values, nil
}

// scalar renders a YAML value as the string an environment variable would
// hold: the scalar's text as written (so 010 stays 010 and 1e3 stays 1e3),
// "" for null, and a list as its items joined by commas (handy for
// cors_allowed_origins and trusted_proxies).
func scalar(n *yaml.Node) (string, error) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		return "", nil
	case n.Kind == yaml.ScalarNode:
		return n.Value, nil
	case n.Kind != yaml.SequenceNode:
		return "", errors.New("value must be a plain value or a list")
	}
	items := make([]string, len(n.Content))
	for i, item := range n.Content {
		if item.Kind == yaml.AliasNode {
			item = item.Alias
		}
		if item.Kind != yaml.ScalarNode {
			return "", errors.New("list items must be plain values")
		}
		items[i] = item.Value
	}
	return strings.Join(items, ","), nil
}

// unknownKeys reports keys left over after every setting took its own, in
// file order. A key that is only wrongly cased gets a hint.
func unknownKeys(path string, left map[string]yaml.Node) []string {
	keys := slices.SortedFunc(maps.Keys(left), func(a, b string) int { return left[a].Line - left[b].Line })
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		msg := fmt.Sprintf("%s:%d: unknown key %q", path, left[k].Line, k)
		if slices.ContainsFunc(declared(), func(s setting) bool { return strings.EqualFold(s.name, k) }) {
			msg += fmt.Sprintf(" (keys are lower case: %q)", strings.ToLower(k))
		}
		out = append(out, msg)
	}
	return out
}

// oneLine makes an error out of msg with any line breaks flattened: the
// service prints it as its single last log line, and a multi-line message
// (from a YAML or OS error) would be split or truncated by log collectors.
func oneLine(msg string) error {
	return errors.New(strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(msg))
}
