package deploytest

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse/gatehouse/infrastructure/config"
)

// No Docker engine runs here, so the production set-up is checked the way
// compose would read it: docker-compose.yml with docker-compose.prod.yml
// merged over it (Compose's rules for mappings, lists, !reset and
// !override), variables interpolated from configs/compose/production.env.example
// as compose reads .env, and the resulting Gatehouse environment loaded by
// the service's own configuration code.

// prodCompose is the part of the merged file the checks read.
type prodCompose struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Ports       []string          `yaml:"ports"`
		Profiles    []string          `yaml:"profiles"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Secrets     []string          `yaml:"secrets"`
		DependsOn   map[string]any    `yaml:"depends_on"`
		Networks    map[string]struct {
			IPv4 string `yaml:"ipv4_address"`
		} `yaml:"networks"`
	} `yaml:"services"`
	Networks map[string]struct {
		IPAM struct {
			Config []struct {
				Subnet string `yaml:"subnet"`
			} `yaml:"config"`
		} `yaml:"ipam"`
	} `yaml:"networks"`
	Secrets map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
}

func parseNode(t *testing.T, name string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(read(t, name), &doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return doc.Content[0]
}

// merge lays over onto base as Compose does: mappings merge key by key, a
// list is extended by the items it lacks, a scalar is replaced; a value
// tagged !reset or !override replaces whatever was there.
func merge(base, over *yaml.Node) *yaml.Node {
	switch {
	case base == nil || over.Tag == "!reset" || over.Tag == "!override":
		out := *over
		out.Tag = ""
		return &out
	case base.Kind == yaml.MappingNode && over.Kind == yaml.MappingNode:
		out := *base
		out.Content = slices.Clone(base.Content)
		for i := 0; i+1 < len(over.Content); i += 2 {
			k, v := over.Content[i], over.Content[i+1]
			found := false
			for j := 0; j+1 < len(out.Content); j += 2 {
				if out.Content[j].Value == k.Value {
					out.Content[j+1] = merge(out.Content[j+1], v)
					found = true
				}
			}
			if !found {
				out.Content = append(out.Content, k, merge(nil, v))
			}
		}
		return &out
	case base.Kind == yaml.SequenceNode && over.Kind == yaml.SequenceNode:
		out := *base
		out.Content = slices.Clone(base.Content)
		for _, item := range over.Content {
			if !slices.ContainsFunc(out.Content, func(n *yaml.Node) bool { return n.Value == item.Value && n.Kind == yaml.ScalarNode }) {
				out.Content = append(out.Content, item)
			}
		}
		return &out
	}
	return over
}

// dotenv reads a compose .env file.
func dotenv(t *testing.T, name string) map[string]string {
	t.Helper()
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(read(t, name))))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: malformed line %q", name, line)
		}
		out[k] = v
	}
	return out
}

var variable = regexp.MustCompile(`\$\{([A-Z0-9_]+)(?:(:?[-?])([^}]*))?\}`)

// interpolate replaces ${VAR}, ${VAR:-default} and ${VAR:?message} in every
// scalar, as compose does; a required variable that env lacks is an error.
func interpolate(t *testing.T, n *yaml.Node, env map[string]string) {
	t.Helper()
	if n.Kind == yaml.ScalarNode {
		n.Value = variable.ReplaceAllStringFunc(n.Value, func(m string) string {
			p := variable.FindStringSubmatch(m)
			v, set := env[p[1]]
			switch {
			case set && v != "":
				return v
			case strings.HasSuffix(p[2], "?"):
				t.Errorf("required variable %s is not set: %s", p[1], p[3])
			case strings.HasSuffix(p[2], "-"):
				return p[3]
			}
			return v
		})
	}
	for _, c := range n.Content {
		interpolate(t, c, env)
	}
}

// TestProductionCompose: the production override puts a TLS-terminating
// proxy in front (the only published ports), keeps secrets in files, sets
// the settings production needs, turns Mailpit and the example app off, and
// the Gatehouse environment it yields starts: the configuration loads with
// no error and no warning.
func TestProductionCompose(t *testing.T) {
	env := dotenv(t, "configs/compose/production.env.example")
	merged := merge(parseNode(t, "docker-compose.yml"), parseNode(t, "docker-compose.prod.yml"))
	interpolate(t, merged, env)
	var c prodCompose
	if err := merged.Decode(&c); err != nil {
		t.Fatal(err)
	}

	// Only the proxy is published, on 80 and 443.
	var published []string
	for name, s := range c.Services {
		if len(s.Profiles) > 0 {
			continue // not started without its profile
		}
		for _, p := range s.Ports {
			published = append(published, name+" "+p)
		}
	}
	slices.Sort(published)
	if want := []string{"caddy 443:443", "caddy 443:443/udp", "caddy 80:80"}; !slices.Equal(published, want) {
		t.Errorf("published ports %v, want only the proxy's %v", published, want)
	}
	caddy := c.Services["caddy"]
	if !strings.HasPrefix(caddy.Image, "caddy:") || !slices.Contains(caddy.Volumes, "./configs/compose/Caddyfile:/etc/caddy/Caddyfile:ro") {
		t.Errorf("caddy: %+v", caddy)
	}
	caddyfile := string(read(t, "configs/compose/Caddyfile"))
	if !strings.Contains(caddyfile, "{$GATEHOUSE_DOMAIN} {") || !strings.Contains(caddyfile, "reverse_proxy gatehouse:3000") {
		t.Errorf("the Caddyfile does not proxy the domain to gatehouse:3000:\n%s", caddyfile)
	}
	if mp := c.Services["mailpit"]; !slices.Equal(mp.Profiles, []string{"dev"}) {
		t.Errorf("mailpit starts in production: %+v", mp)
	}

	g := c.Services["gatehouse"]
	if _, ok := g.DependsOn["mailpit"]; ok {
		t.Error("gatehouse still waits for mailpit")
	}
	e := g.Environment
	domain := env["GATEHOUSE_DOMAIN"]
	for k, want := range map[string]string{
		"PUBLIC_URL": "https://" + domain, "JWT_ISSUER": "https://" + domain, "COOKIE_SECURE": "true",
		"EXAMPLE_APP_ENABLED": "false", "MAIL_PASSWORD_FILE": "/run/secrets/smtp_password",
		"REFRESH_TOKEN_KEY_FILE": "/run/secrets/refresh_token_key", "DATA_ENCRYPTION_KEY": "file:/run/secrets/data_encryption_key",
		"DATABASE_PASSWORD_FILE": "/run/secrets/db_password",
	} {
		if e[k] != want {
			t.Errorf("gatehouse %s = %q, want %q", k, e[k], want)
		}
	}
	// The proxy's fixed address is the one trusted proxy, inside the network.
	ip := caddy.Networks["default"].IPv4
	subnet := c.Networks["default"].IPAM.Config
	if e["TRUSTED_PROXIES"] != ip+"/32" || len(subnet) != 1 || !netip.MustParsePrefix(subnet[0].Subnet).Contains(netip.MustParseAddr(ip)) {
		t.Errorf("TRUSTED_PROXIES %q, proxy at %q in %+v", e["TRUSTED_PROXIES"], ip, subnet)
	}
	for _, s := range []string{"db_password", "data_encryption_key", "smtp_password", "refresh_token_key"} {
		if !slices.Contains(g.Secrets, s) || c.Secrets[s].File != "./secrets/"+s {
			t.Errorf("secret %s not given to gatehouse from ./secrets/%s", s, s)
		}
	}
	for name, s := range c.Services {
		for k, v := range s.Environment {
			if (strings.Contains(k, "PASSWORD") && !strings.HasSuffix(k, "_FILE") && !strings.HasSuffix(k, "_LINK")) || regexp.MustCompile(`://[^/@]*:[^/@]*@`).MatchString(v) {
				t.Errorf("%s: %s holds a password", name, k)
			}
		}
	}

	// What compose would hand the container starts the service.
	dir := t.TempDir()
	files := map[string]string{
		"db_password": "pw", "smtp_password": "smtp pw",
		"data_encryption_key": base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"refresh_token_key":   base64.StdEncoding.EncodeToString(make([]byte, 32)),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	container := map[string]string{"CONFIG_FILE": "/dev/null", "HTTP_ADDR": ":3000"} // the image's ENV
	for k, v := range e {
		container[k] = strings.ReplaceAll(v, "/run/secrets/", dir+"/")
	}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := container[k]; return v, ok })
	if err != nil {
		t.Fatalf("the production environment does not start: %v", err)
	}
	if w := cfg.Warnings(); len(w) > 0 {
		t.Errorf("warnings at start: %v", w)
	}
	if !cfg.Cookie.Secure || cfg.ExampleApp || !cfg.Mail.Enabled() || cfg.Database.Driver != "postgres" || cfg.JWT.DataKeys == nil ||
		strings.Contains(cfg.Mail.VerifyLink, "/example/") || !strings.HasPrefix(cfg.Mail.URL, "smtp://postmaster%40example.com:smtp%20pw@") {
		t.Errorf("production settings: %+v", fmt.Sprint(cfg.Redacted()))
	}
}

// The development file reads no variables (so no .env is needed for it),
// and the compose variables the production override reads are all in its
// example, which says what it is.
func TestComposeVariablesAreDocumented(t *testing.T) {
	if strings.Contains(string(read(t, "docker-compose.yml")), "${") {
		t.Error("docker-compose.yml reads variables: document them or drop them")
	}
	example := dotenv(t, "configs/compose/production.env.example")
	for _, m := range variable.FindAllStringSubmatch(string(read(t, "docker-compose.prod.yml")), -1) {
		if _, ok := example[m[1]]; !ok {
			t.Errorf("docker-compose.prod.yml reads %s, which configs/compose/production.env.example lacks", m[1])
		}
	}
	// configs/.env.example holds Gatehouse settings, which compose's
	// --env-file would not hand to the container.
	if strings.Contains(string(read(t, "configs/.env.example")), "--env-file") && !strings.Contains(string(read(t, "configs/.env.example")), "docker run --env-file") {
		t.Error("configs/.env.example advises compose's --env-file, which only feeds variables to the compose file")
	}
}

// The README tells a newcomer the secret files before `docker compose up`,
// and an operator the production checklist before the architecture.
func TestReadmeOrder(t *testing.T) {
	readme := string(read(t, "README.md"))
	secrets, up := strings.Index(readme, "openssl rand"), strings.Index(readme, "docker compose up")
	if secrets < 0 || up < 0 || secrets > up {
		t.Errorf("the secret files (at %d) come after the first `docker compose up` (at %d)", secrets, up)
	}
	checklist, arch := strings.Index(readme, "\n## Production checklist"), strings.Index(readme, "\n## Architecture")
	if checklist < 0 || checklist > arch {
		t.Errorf("no Production checklist before the architecture (%d, %d)", checklist, arch)
	}
	for _, s := range []string{"PUBLIC_URL", "TRUSTED_PROXIES", "DATA_ENCRYPTION_KEY", "REFRESH_TOKEN_KEY_FILE", "MAIL_URL",
		"EMAIL_VERIFY_LINK", "COOKIE_SECURE", "CORS_ALLOWED_ORIGINS", "REQUIRE_EMAIL_VERIFICATION", "docker-compose.prod.yml"} {
		if !strings.Contains(readme[checklist:arch], s) {
			t.Errorf("the checklist does not mention %s", s)
		}
	}
}
