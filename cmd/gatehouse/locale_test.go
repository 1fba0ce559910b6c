package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/adapter/mailer"
	"github.com/gatehouse/gatehouse/internal/smtptest"
)

// Issue 24 item 8: an account's mails come in its language, taken from
// Accept-Language at registration and changed with PATCH /users/me; the
// notice to an address the account left speaks the owner's language too.
// The locale lives in the account and in each queued mail: both engines.
func TestMailInTheAccountsLanguage(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		mail := smtptest.Start(t, smtptest.Options{})
		s := startServer(t, mailEnv(dbURL(t), mail))

		greta := s.client()
		r := greta.do("POST", "/auth/register", map[string]any{"email": "greta@example.com", "password": "greta's long password"},
			withHeader("Accept-Language", "fr-FR, de-CH;q=0.8, en;q=0.5"))
		expect(t, r, 201, "")
		var p tokenPair
		r.data(t, &p)
		greta.bearer = p.AccessToken
		if p.User.Locale != "de" {
			t.Fatalf("locale %q from fr-FR, de-CH;q=0.8, en;q=0.5; want de (no French templates)", p.User.Locale)
		}
		vm := mail.WaitFor(t, "greta@example.com", "Bestätigen Sie Ihre E-Mail-Adresse für Gatehouse", mailWait)
		if !strings.Contains(vm.Text, "läuft in 24 Stunden ab") || !strings.Contains(vm.HTML, `lang="de"`) || vm.Token() == "" {
			t.Fatalf("German verification mail:\n%s", vm.Text)
		}

		// No header, or one the service cannot serve: English.
		ada := s.client()
		ada.register("ada@example.com", "ada's long password")
		mail.WaitFor(t, "ada@example.com", "Confirm your email address", mailWait)
		r = s.client().do("POST", "/auth/register", map[string]any{"email": "li@example.com", "password": "li's long password"},
			withHeader("Accept-Language", "zh-CN"))
		expect(t, r, 201, "")
		r.data(t, &p)
		if p.User.Locale != "en" {
			t.Fatalf("zh-CN gave %q", p.User.Locale)
		}

		// The user switches; the next mail follows, and so does a notice to
		// the old address after an email change (it is sent to the address
		// the account left, in the account's language).
		r = greta.do("PATCH", "/users/me", map[string]any{"locale": "EN"})
		expect(t, r, 200, "")
		var u userData
		r.data(t, &u)
		if me := greta.me(); me.Locale != "en" || u.Locale != "en" {
			t.Fatalf("after PATCH: %+v, then %+v", u, me)
		}
		expect(t, greta.do("POST", "/auth/email/verification", nil), 202, "")
		mail.WaitFor(t, "greta@example.com", "Confirm your email address", mailWait)
		expect(t, greta.do("PATCH", "/users/me", map[string]any{"locale": "de", "name": "Greta"}), 200, "")
		r = greta.do("POST", "/auth/reauthenticate", map[string]any{"password": "greta's long password"})
		expect(t, r, 200, "")
		r.data(t, &p)
		greta.bearer = p.AccessToken
		expect(t, greta.do("PUT", "/users/me/email", map[string]any{"email": "greta.neu@example.com"}), 200, "")
		mail.WaitFor(t, "greta@example.com", "Die E-Mail-Adresse Ihres Gatehouse-Kontos wurde geändert", mailWait)
		mail.WaitFor(t, "greta.neu@example.com", "Bestätigen Sie", mailWait)

		// Only a locale with templates; nothing at all is refused too.
		r = greta.do("PATCH", "/users/me", map[string]any{"locale": "fr"})
		expect(t, r, 400, "VALIDATION_FAILED")
		if d := r.Env.Error.Details; len(d) != 1 || d[0].Field != "locale" || d[0].Message != "must be one of: en, de" {
			t.Fatalf("details %+v", d)
		}
		expect(t, greta.do("PATCH", "/users/me", map[string]any{}), 400, "VALIDATION_FAILED")
		if me := greta.me(); me.Locale != "de" || me.Name != "Greta" {
			t.Fatalf("after refused changes: %+v", me)
		}
	})
}

// MAIL_TEMPLATES_DIR brands and translates the mails; a mistake in it stops
// the start with one line naming the setting and the file.
func TestMailTemplatesDir(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"layout.html.tmpl":             `<html lang="{{.Locale}}"><body><img alt="Acme">{{template "body" .}}<p>Acme Corp.</p></body></html>`,
		"en/verify_email.subject.tmpl": "Acme: one click to confirm {{.Email}}",
	}
	bundled, err := mailer.LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range bundled.Kinds() {
		k := string(kind)
		files["fr/"+k+".subject.tmpl"] = "Acme : " + k
		files["fr/"+k+".txt.tmpl"] = "Bonjour. {{.Link}}{{if .Code}} {{.Code}}{{end}}\n"
		files["fr/"+k+".html.tmpl"] = `<p>Bonjour. <a href="{{.Link}}">{{.Link}}</a>{{if .Code}} {{.Code}}{{end}}</p>`
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mail := smtptest.Start(t, smtptest.Options{})
	env := mailEnv("sqlite::memory:", mail)
	env["MAIL_TEMPLATES_DIR"] = dir
	s := startServer(t, env)
	s.client().register("ada@example.com", "ada's long password")
	m := mail.WaitFor(t, "ada@example.com", "Acme: one click to confirm ada@example.com", mailWait)
	if !strings.Contains(m.HTML, "Acme Corp.") || !strings.Contains(m.HTML, "Confirm my address") || !strings.Contains(m.Text, "Please confirm") {
		t.Fatalf("branded mail:\n%s\n%s", m.Text, m.HTML)
	}
	// The operator's language is one users may choose.
	r := s.client().do("POST", "/auth/register", map[string]any{"email": "zoe@example.com", "password": "zoe's long password"},
		withHeader("Accept-Language", "fr-CA"))
	expect(t, r, 201, "")
	m = mail.WaitFor(t, "zoe@example.com", "Acme : verify_email", mailWait)
	if !strings.HasPrefix(m.Text, "Bonjour. http") || m.Token() == "" {
		t.Fatalf("French mail:\n%s", m.Text)
	}

	// A broken template: the start is refused, naming the variable and file.
	if err := os.WriteFile(filepath.Join(dir, "fr", "password_reset.html.tmpl"), []byte("<p>{{.Lien}}</p>"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONFIG_FILE", "")
	t.Setenv("DATABASE_URL", "sqlite::memory:")
	t.Setenv("MAIL_TEMPLATES_DIR", dir)
	t.Setenv("LOG_LEVEL", "error")
	var out, errOut strings.Builder
	code := run(nil, &out, &errOut)
	msg := errOut.String()
	if code != 1 || strings.Count(msg, "\n") != 1 || !strings.Contains(msg, "MAIL_TEMPLATES_DIR: fr/password_reset.html.tmpl") || !strings.Contains(msg, "Lien") {
		t.Fatalf("exit %d, stderr %q", code, msg)
	}
}
