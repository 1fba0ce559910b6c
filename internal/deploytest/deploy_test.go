// Package deploytest checks the deployment files that no engine here can
// run: docker-compose.yml is parsed and its wiring asserted; the Dockerfile
// is read for the properties operators rely on.
package deploytest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type compose struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       any               `yaml:"build"`
		Command     []string          `yaml:"command"`
		Ports       []string          `yaml:"ports"`
		Environment map[string]string `yaml:"environment"`
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
		Healthcheck *struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
		Secrets []string `yaml:"secrets"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
	Secrets map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
}

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestComposeFile(t *testing.T) {
	var c compose
	dec := yaml.NewDecoder(strings.NewReader(string(read(t, "docker-compose.yml"))))
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	pg, ok := c.Services["postgres"]
	if !ok || !strings.HasPrefix(pg.Image, "postgres:") {
		t.Fatalf("no postgres service: %+v", c.Services)
	}
	if pg.Healthcheck == nil || !strings.Contains(strings.Join(pg.Healthcheck.Test, " "), "pg_isready") {
		t.Error("postgres has no pg_isready health check")
	}
	user, db := pg.Environment["POSTGRES_USER"], pg.Environment["POSTGRES_DB"]
	// The password is a secret file read by PostgreSQL and Gatehouse alike,
	// not a literal repeated in the services.
	if pg.Environment["POSTGRES_PASSWORD"] != "" || pg.Environment["POSTGRES_PASSWORD_FILE"] != "/run/secrets/db_password" || !contains(pg.Secrets, "db_password") {
		t.Errorf("postgres password not from the db_password secret: %+v", pg.Environment)
	}
	if c.Secrets["db_password"].File == "" || c.Secrets["data_encryption_key"].File == "" {
		t.Errorf("secrets not declared: %+v", c.Secrets)
	}
	wantURL := "postgres://" + user + "@postgres:5432/" + db

	g, ok := c.Services["gatehouse"]
	if !ok || g.Build == nil {
		t.Fatal("no gatehouse service built from the Dockerfile")
	}
	if !contains(g.Ports, "3000:3000") {
		t.Errorf("gatehouse ports %v, want 3000:3000", g.Ports)
	}
	if !strings.HasPrefix(g.Environment["DATABASE_URL"], wantURL) {
		t.Errorf("gatehouse DATABASE_URL %q does not point at the postgres service (%s)", g.Environment["DATABASE_URL"], wantURL)
	}
	if g.Environment["DATABASE_PASSWORD_FILE"] != "/run/secrets/db_password" || !contains(g.Secrets, "db_password") {
		t.Error("gatehouse does not read the db_password secret")
	}
	if g.Environment["DATA_ENCRYPTION_KEY"] != "file:/run/secrets/data_encryption_key" || !contains(g.Secrets, "data_encryption_key") {
		t.Error("gatehouse does not read the data_encryption_key secret")
	}
	for name, s := range c.Services {
		for k, v := range s.Environment {
			if strings.Contains(v, ":gatehouse@") || (strings.Contains(k, "PASSWORD") && !strings.HasSuffix(k, "_FILE")) {
				t.Errorf("%s: %s holds a literal password", name, k)
			}
		}
	}
	if g.DependsOn["postgres"].Condition != "service_healthy" {
		t.Error("gatehouse does not wait for a healthy postgres")
	}
	if g.DependsOn["migrate"].Condition != "service_completed_successfully" {
		t.Error("gatehouse does not wait for the migrations")
	}
	if g.Healthcheck == nil || !contains(g.Healthcheck.Test, "healthcheck") {
		t.Error("gatehouse has no health check")
	}
	mp, ok := c.Services["mailpit"]
	if !ok || !strings.HasPrefix(mp.Image, "axllent/mailpit:") || !contains(mp.Ports, "8025:8025") {
		t.Errorf("no mailpit service with its web UI on 8025: %+v", mp)
	}
	if g.Environment["MAIL_URL"] != "smtp://mailpit:1025" {
		t.Errorf("gatehouse MAIL_URL %q, want Mailpit's SMTP port (smtp://mailpit:1025)", g.Environment["MAIL_URL"])
	}
	if _, ok := g.DependsOn["mailpit"]; !ok {
		t.Error("gatehouse does not start after mailpit")
	}
	m, ok := c.Services["migrate"]
	if !ok || !contains(m.Command, "migrate") || m.Environment["DATABASE_URL"] != g.Environment["DATABASE_URL"] ||
		m.Environment["DATABASE_PASSWORD_FILE"] != g.Environment["DATABASE_PASSWORD_FILE"] {
		t.Errorf("migrate service: %+v", m)
	}
	for name, s := range c.Services {
		for k, v := range s.Environment {
			if strings.HasPrefix(k, "COOKIE_SAMESITE") && v == "none" {
				t.Errorf("%s: SameSite=none", name)
			}
		}
	}
}

func TestDockerfile(t *testing.T) {
	df := string(read(t, "Dockerfile"))
	if n := len(regexp.MustCompile(`(?m)^FROM `).FindAllString(df, -1)); n < 2 {
		t.Errorf("%d stages, want a multi-stage build", n)
	}
	for _, want := range []string{"CGO_ENABLED=0", "./cmd/gatehouse", "USER 65532", "EXPOSE 3000", `ENTRYPOINT ["/app/gatehouse"]`} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if strings.Contains(df, "USER root") {
		t.Error("runs as root")
	}
	// The Go version of the build stage must be able to build go.mod.
	gomod := string(read(t, "go.mod"))
	goLine := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(gomod)
	img := regexp.MustCompile(`FROM golang:(\d+\.\d+)`).FindStringSubmatch(df)
	if goLine == nil || img == nil || goLine[1] != img[1] {
		t.Errorf("go.mod wants Go %v, build image has %v", goLine, img)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// The repository ships a license and keeps build context small and free of
// local secrets and databases.
func TestLicenseAndDockerignore(t *testing.T) {
	if !strings.Contains(string(read(t, "LICENSE")), "Apache License") {
		t.Error("LICENSE is not the Apache License")
	}
	ignore := string(read(t, ".dockerignore"))
	for _, p := range []string{".git", "secrets", "data", ".env"} {
		if !regexp.MustCompile(`(?m)^/?` + regexp.QuoteMeta(p) + `/?$`).MatchString(ignore) {
			t.Errorf(".dockerignore does not exclude %s", p)
		}
	}
}
