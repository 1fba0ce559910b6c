package mailer_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/adapter/mailer"
	"github.com/gatehouse/gatehouse/domain/outbox"
)

// kinds are the mails the service sends.
// kinds are the bundled kinds, every one of which a new locale must cover.
var kinds = func() []outbox.Kind {
	tpl, err := mailer.LoadTemplates("")
	if err != nil {
		panic(err)
	}
	return tpl.Kinds()
}()

// bundled loads the bundled templates, failing the test if they do not.
func bundled(t *testing.T) *mailer.Templates {
	t.Helper()
	tpl, err := mailer.LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// render renders m for product, failing the test on an error.
func render(t *testing.T, tpl *mailer.Templates, m outbox.Message, product string) mailer.Rendered {
	t.Helper()
	r, err := tpl.Render(m, product)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Every kind is bundled in every bundled language, so a new mail that
// comes only in English fails here until it is translated.
func TestBundledLocalesAreComplete(t *testing.T) {
	tpl := bundled(t)
	if got := tpl.Locales(); !slices.Equal(got, []string{"en", "de"}) {
		t.Fatalf("locales %v, want [en de] (the default first)", got)
	}
	entries, err := os.ReadDir("templates/en")
	if err != nil {
		t.Fatal(err)
	}
	for _, loc := range tpl.Locales() {
		for _, e := range entries {
			if _, err := os.Stat(filepath.Join("templates", loc, e.Name())); err != nil {
				t.Errorf("templates/%s lacks %s", loc, e.Name())
			}
		}
	}
	for _, k := range kinds {
		en, _ := tpl.Render(outbox.Message{Kind: k, To: "ada@example.com", Locale: "en"}, "Acme")
		de, err := tpl.Render(outbox.Message{Kind: k, To: "ada@example.com", Locale: "de"}, "Acme")
		if err != nil || de.Subject == en.Subject || de.Text == en.Text || !strings.Contains(de.HTML, `lang="de"`) {
			t.Errorf("%s: German not different from English: %q / %q, %v", k, de.Subject, en.Subject, err)
		}
	}
}

// A mail is rendered in the account's language: the locale, its base
// language, or English.
func TestMailInTheAccountsLanguage(t *testing.T) {
	tpl := bundled(t)
	m := outbox.Message{Kind: outbox.KindPasswordReset, To: "ada@example.com", Link: link, TTL: 90 * time.Minute}
	for locale, want := range map[string][2]string{
		"de":    {"Setzen Sie Ihr Acme-Passwort zurück", "1 Stunde 30 Minuten"},
		"de-AT": {"Setzen Sie Ihr Acme-Passwort zurück", "1 Stunde 30 Minuten"},
		"en":    {"Reset your Acme password", "1 hour 30 minutes"},
		"fr":    {"Reset your Acme password", "1 hour 30 minutes"},
		"":      {"Reset your Acme password", "1 hour 30 minutes"},
	} {
		m.Locale = locale
		r := render(t, tpl, m, "Acme")
		if r.Subject != want[0] || !strings.Contains(r.Text, want[1]) || !strings.Contains(r.HTML, want[1]) ||
			!strings.Contains(r.Text, link) || !strings.Contains(r.HTML, link) {
			t.Errorf("%q: %q\n%s", locale, r.Subject, r.Text)
		}
	}
	m.TTL = 24 * time.Hour
	m.Locale = "de"
	if r, _ := tpl.Render(m, "Acme"); !strings.Contains(r.Text, "läuft in 24 Stunden ab") {
		t.Errorf("German lifetime:\n%s", r.Text)
	}
}

// write creates the files of a MAIL_TEMPLATES_DIR.
func write(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// frenchSet is a complete new locale.
func frenchSet() map[string]string {
	files := map[string]string{}
	for _, k := range kinds {
		files["fr/"+string(k)+".subject.tmpl"] = "Objet " + string(k) + " {{.Product}}\n"
		body := "Bonjour {{.Email}}, " + string(k) + ".{{if .Link}} {{.Link}} ({{.Hours}} h {{.Minutes}} min){{end}}{{if .Code}} {{.Code}}{{end}}\n"
		files["fr/"+string(k)+".txt.tmpl"] = body
		files["fr/"+string(k)+".html.tmpl"] = "<p>" + body + "</p>"
	}
	return files
}

// An operator's directory replaces the layouts (branding), single files of
// a bundled language, and adds a language; the rest stays bundled.
func TestTemplatesDirectory(t *testing.T) {
	files := frenchSet()
	files["layout.html.tmpl"] = `<html lang="{{.Locale}}"><body><img alt="ACME"><h1>{{.Subject}}</h1>{{template "body" .}}<footer>Acme Corp</footer></body></html>`
	files["en/verify_email.subject.tmpl"] = "Welcome to Acme, {{.Email}}: confirm your address"
	files[".DS_Store"] = "junk"
	tpl, err := mailer.LoadTemplates(write(t, files))
	if err != nil {
		t.Fatal(err)
	}
	if got := tpl.Locales(); !slices.Equal(got, []string{"en", "de", "fr"}) {
		t.Fatalf("locales %v", got)
	}
	r := render(t, tpl, outbox.Message{Kind: outbox.KindVerifyEmail, To: "ada@example.com", Locale: "en", Link: link, TTL: time.Hour}, "Gatehouse")
	if r.Subject != "Welcome to Acme, ada@example.com: confirm your address" ||
		!strings.Contains(r.HTML, "<h1>Welcome to Acme") || !strings.Contains(r.HTML, "Acme Corp") || !strings.Contains(r.HTML, "Confirm my address") ||
		!strings.Contains(r.Text, "Please confirm that ada@example.com") {
		t.Fatalf("override not applied: %+v", r)
	}
	r, err = tpl.Render(outbox.Message{Kind: outbox.KindPasswordReset, To: "ada@example.com", Locale: "fr", Link: link, TTL: 30 * time.Minute}, "Gatehouse")
	if err != nil || r.Subject != "Objet password_reset Gatehouse" || !strings.Contains(r.Text, link+" (0 h 30 min)") || !strings.Contains(r.HTML, `lang="fr"`) {
		t.Fatalf("French: %+v %v", r, err)
	}
	// German keeps its bundled text inside the operator's frame.
	r, _ = tpl.Render(outbox.Message{Kind: outbox.KindEmailChanged, To: "ada@example.com", Locale: "de"}, "Gatehouse")
	if !strings.Contains(r.HTML, "Acme Corp") || !strings.Contains(r.HTML, "nicht mehr ada@example.com") {
		t.Fatalf("German in the new layout: %s", r.HTML)
	}
}

// Every mistake in the directory stops the start with a message naming the
// file; none waits for the first mail.
func TestTemplatesDirectoryChecked(t *testing.T) {
	incomplete := frenchSet()
	delete(incomplete, "fr/account_exists.html.tmpl")
	for name, c := range map[string]struct {
		files map[string]string
		want  string
	}{
		"unknown top-level file":    {map[string]string{"mail.html.tmpl": "x"}, "mail.html.tmpl: unknown file"},
		"misspelt kind":             {map[string]string{"en/verfy_email.html.tmpl": "x"}, "en/verfy_email.html.tmpl: unknown file"},
		"unknown part":              {map[string]string{"en/verify_email.body.tmpl": "x"}, "en/verify_email.body.tmpl: unknown file"},
		"not a language tag":        {map[string]string{"english/verify_email.txt.tmpl": "x"}, `"english" is not a BCP 47`},
		"not canonical":             {map[string]string{"DE/verify_email.txt.tmpl": "x"}, `"DE" is not a BCP 47`},
		"nested directory":          {map[string]string{"en/old/verify_email.txt.tmpl": "x"}, "en/old"},
		"new locale incomplete":     {incomplete, "fr/account_exists.html.tmpl: missing"},
		"does not parse":            {map[string]string{"de/verify_email.txt.tmpl": "{{.Link"}, "de/verify_email.txt.tmpl"},
		"unknown field":             {map[string]string{"en/password_changed.html.tmpl": "<p>{{.Password}}</p>"}, "en/password_changed.html.tmpl"},
		"link left out of the text": {map[string]string{"en/password_reset.txt.tmpl": "Reset it.\n"}, "en/password_reset.txt.tmpl: the text part lacks the link"},
		"link left out of the HTML": {map[string]string{"de/verify_email.html.tmpl": "<p>Klicken</p>"}, "de/verify_email.html.tmpl: the HTML part lacks the link"},
		"layout without the body":   {map[string]string{"layout.txt.tmpl": "{{.Product}}\n"}, "the text part lacks the link"},
		"empty subject":             {map[string]string{"en/account_exists.subject.tmpl": "{{/* nothing */}}\n"}, "en/account_exists.subject.tmpl: renders an empty subject"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := mailer.LoadTemplates(write(t, c.files))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error with %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("not one line: %q", err)
			}
			t.Log(err)
		})
	}
	if _, err := mailer.LoadTemplates(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("a missing directory loaded")
	}
}

// A sign-in code mail carries the code and the link in both parts, in
// either bundled language.
func TestEmailCodeMail(t *testing.T) {
	tpl := bundled(t)
	m := outbox.Message{Kind: outbox.KindEmailCode, To: "ada@example.com", Link: link, Code: "045311", TTL: 10 * time.Minute}
	for locale, want := range map[string][2]string{
		"en": {"Your Acme sign-in code", "10 minutes"},
		"de": {"Ihr Acme-Anmeldecode", "10 Minuten"},
	} {
		m.Locale = locale
		r := render(t, tpl, m, "Acme")
		for _, part := range []string{r.Text, r.HTML} {
			if !strings.Contains(part, "045311") || !strings.Contains(part, link) || !strings.Contains(part, want[1]) {
				t.Errorf("%s: code, link or lifetime missing:\n%s", locale, part)
			}
		}
		if r.Subject != want[0] || strings.Contains(r.Subject, "045311") {
			t.Errorf("%s: subject %q", locale, r.Subject)
		}
	}
	// Without EMAIL_CODE_LINK (and the example app off) the mail carries
	// the code alone, no dead link.
	m.Link, m.Locale = "", "en"
	r := render(t, tpl, m, "Acme")
	if !strings.Contains(r.Text, "045311") || strings.Contains(r.Text, "link") || strings.Contains(r.HTML, "href") {
		t.Errorf("code-only mail:\n%s\n%s", r.Text, r.HTML)
	}
}
