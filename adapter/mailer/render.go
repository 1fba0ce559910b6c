package mailer

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"os"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/gatehouse/gatehouse/domain/outbox"
	"github.com/gatehouse/gatehouse/domain/user"
)

// The bundled templates, laid out as an operator's MAIL_TEMPLATES_DIR is:
//
//	layout.txt.tmpl, layout.html.tmpl         the frame of every mail; it
//	                                          calls {{template "body" .}}
//	{locale}/{kind}.subject.tmpl              one line
//	{locale}/{kind}.txt.tmpl                  the text part's body
//	{locale}/{kind}.html.tmpl                 the HTML part's body
//
// {locale} is a BCP 47 tag (en, de, pt-BR), {kind} an outbox kind
// (verify_email, password_reset, ...).
//
//go:embed templates
var bundledFS embed.FS

// Template file names.
const (
	layoutText = "layout.txt.tmpl"
	layoutHTML = "layout.html.tmpl"
)

// parts are the three files of a mail, in the order they are checked.
var parts = []string{"subject", "txt", "html"}

// Rendered is a message ready to send.
type Rendered struct {
	Subject string
	Text    string
	HTML    string
}

// View is what a template sees.
type View struct {
	// Product names the service ("Gatehouse").
	Product string
	// Email is the recipient's address.
	Email string
	// Link is the mailed link; empty in notices.
	Link string
	// Code is the mailed sign-in code; empty in every other mail.
	Code string
	// Lifetime is how long the link works, in words of the mail's
	// language ("30 minutes", "24 Stunden"; English where the service
	// knows no words for it); Hours and Minutes are the same, for
	// templates that say it their own way.
	Lifetime       string
	Hours, Minutes int
	// Locale is the language the mail is rendered in (the HTML lang).
	Locale string
	// Subject is the rendered subject, for the HTML title.
	Subject string
}

// mailTemplate is one kind of mail in one language.
type mailTemplate struct {
	subject *template.Template
	text    *template.Template
	html    *htmltemplate.Template
}

// Templates are the mail templates by locale and kind: the bundled ones,
// with an operator's directory over them. Any kind with bundled English
// templates can be sent; a new mail plugs in by adding its files under
// templates/{locale}/ (English at least: a kind missing in another locale
// is sent in English). Safe for concurrent use once loaded.
type Templates struct {
	locales []string // user.DefaultLocale first, then sorted
	set     map[string]map[outbox.Kind]mailTemplate
}

// source is one template file: where it came from (for messages) and its
// text.
type source struct {
	name, text string
}

// LoadTemplates returns the bundled templates, with the templates of dir
// (MAIL_TEMPLATES_DIR; "" for none) over them. dir may replace the layouts,
// single files of a bundled locale, and add locales; a new locale needs
// every kind, each with its three files. Everything is checked here, so a
// mistake stops the start instead of a mail: unknown files, templates that
// do not parse, and a sample rendering of every kind in every locale (a
// non-empty one-line subject; the link in both parts of a mail that
// carries one).
func LoadTemplates(dir string) (*Templates, error) {
	files, err := readTree(bundledFS, "templates")
	if err != nil {
		return nil, fmt.Errorf("mailer: bundled templates: %w", err)
	}
	// The kinds are those with a bundled English subject.
	var kinds []outbox.Kind
	for name := range files {
		loc, file, ok := strings.Cut(name, "/")
		if ok && loc == user.DefaultLocale && strings.HasSuffix(file, ".subject.tmpl") {
			kinds = append(kinds, outbox.Kind(strings.TrimSuffix(file, ".subject.tmpl")))
		}
	}
	slices.Sort(kinds)
	bundledLocales := localesOf(files)
	if dir != "" {
		own, err := readTree(os.DirFS(dir), ".")
		if err != nil {
			return nil, err
		}
		if err := checkOwn(own, kinds, bundledLocales); err != nil {
			return nil, err
		}
		for name, s := range own {
			files[name] = s
		}
	}
	t := &Templates{set: map[string]map[outbox.Kind]mailTemplate{}}
	for _, loc := range localesOf(files) {
		t.set[loc] = map[outbox.Kind]mailTemplate{}
		for _, k := range kinds {
			if files[loc+"/"+string(k)+".subject.tmpl"].name == "" {
				continue // a bundled locale without this kind: English is sent
			}
			mt, err := compile(files, loc, k)
			if err != nil {
				return nil, err
			}
			t.set[loc][k] = mt
		}
		t.locales = append(t.locales, loc)
	}
	slices.SortFunc(t.locales, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == user.DefaultLocale:
			return -1
		case b == user.DefaultLocale:
			return 1
		}
		return strings.Compare(a, b)
	})
	if err := t.check(kinds); err != nil {
		return nil, err
	}
	return t, nil
}

// Locales are the languages mails can be rendered in, user.DefaultLocale
// first.
func (t *Templates) Locales() []string { return slices.Clone(t.locales) }

// Kinds returns the kinds of mail there are templates for (those bundled
// in English), sorted: what a new locale in MAIL_TEMPLATES_DIR must cover.
func (t *Templates) Kinds() []outbox.Kind {
	out := make([]outbox.Kind, 0, len(t.set[user.DefaultLocale]))
	for k := range t.set[user.DefaultLocale] {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// pick finds the template of kind k for locale: the locale itself, its
// language alone (de-AT is sent in de), else the default locale.
func (t *Templates) pick(k outbox.Kind, locale string) (mailTemplate, string, bool) {
	candidates := []string{locale}
	if base, _, ok := strings.Cut(locale, "-"); ok {
		candidates = append(candidates, base)
	}
	candidates = append(candidates, user.DefaultLocale)
	for _, loc := range candidates {
		if mt, ok := t.set[loc][k]; ok {
			return mt, loc, true
		}
	}
	return mailTemplate{}, "", false
}

// Render builds the subject, text and HTML of m in m's locale.
func (t *Templates) Render(m outbox.Message, product string) (Rendered, error) {
	mt, loc, ok := t.pick(m.Kind, m.Locale)
	if !ok {
		return Rendered{}, fmt.Errorf("mailer: no template for %q", m.Kind)
	}
	r, part, err := execute(mt, view(m, loc, product))
	if err != nil {
		return Rendered{}, fmt.Errorf("mailer: render %s %s: %w", loc, part, err)
	}
	return r, nil
}

// view is what the templates of m in locale see.
func view(m outbox.Message, locale, product string) View {
	d := m.TTL.Round(time.Minute)
	v := View{
		Product: product, Email: m.To, Link: m.Link, Code: m.Code, Locale: locale,
		Hours: int(d / time.Hour), Minutes: int(d % time.Hour / time.Minute),
	}
	v.Lifetime = lifetime(locale, v.Hours, v.Minutes)
	return v
}

// execute renders the three parts; on failure part names the one that
// failed ("subject", "txt" or "html").
func execute(mt mailTemplate, v View) (r Rendered, part string, err error) {
	var subject, text, html bytes.Buffer
	if err := mt.subject.Execute(&subject, v); err != nil {
		return r, "subject", err
	}
	// One line: a template's trailing newline is not part of the subject,
	// and a line break inside would end the header.
	v.Subject = strings.Join(strings.Fields(subject.String()), " ")
	if err := mt.text.Execute(&text, v); err != nil {
		return r, "txt", err
	}
	if err := mt.html.Execute(&html, v); err != nil {
		return r, "html", err
	}
	return Rendered{Subject: v.Subject, Text: text.String(), HTML: html.String()}, "", nil
}

// units are the words of a lifetime per language: hour, hours, minute,
// minutes. A language without an entry says it in English.
var units = map[string][4]string{
	"en": {"hour", "hours", "minute", "minutes"},
	"de": {"Stunde", "Stunden", "Minute", "Minuten"},
}

// lifetime says a link's lifetime the way a person would: "30 minutes",
// "24 hours", "1 hour 30 minutes" ("1 Stunde 30 Minuten").
func lifetime(locale string, h, m int) string {
	base, _, _ := strings.Cut(locale, "-")
	u, ok := units[base]
	if !ok {
		u = units["en"]
	}
	var out []string
	if h > 0 {
		out = append(out, count(h, u[0], u[1]))
	}
	if m > 0 || h == 0 {
		out = append(out, count(m, u[2], u[3]))
	}
	return strings.Join(out, " ")
}

func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
