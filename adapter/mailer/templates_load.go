package mailer

// Reading, checking and compiling template trees: the bundled ones and an
// operator's MAIL_TEMPLATES_DIR, checked once at start.

import (
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"slices"
	"strings"
	"text/template"
	"time"

	"golang.org/x/text/language"

	"github.com/gatehouse/gatehouse/domain/outbox"
)

// readTree reads every template file under root of fsys, keyed by its path
// below root ("layout.txt.tmpl", "de/verify_email.txt.tmpl"). Dot files
// are skipped; anything nested deeper than a locale directory is an error.
func readTree(fsys fs.FS, root string) (map[string]source, error) {
	out := map[string]source{}
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
		if rel == "" {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if strings.Count(rel, "/") > 1 || (d.IsDir() && strings.Contains(rel, "/")) {
			return fmt.Errorf("%s: unexpected here (want LOCALE/KIND.PART.tmpl or layout files)", rel)
		}
		if d.IsDir() {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		out[rel] = source{name: rel, text: string(b)}
		return nil
	})
	return out, err
}

// localesOf lists the locale directories among files.
func localesOf(files map[string]source) []string {
	var out []string
	for name := range files {
		if loc, _, ok := strings.Cut(name, "/"); ok && !slices.Contains(out, loc) {
			out = append(out, loc)
		}
	}
	slices.Sort(out)
	return out
}

// checkOwn checks the names in an operator's directory: only layouts at
// the top, locale directories named by a canonical BCP 47 tag, only known
// kinds and parts in them, and a new locale complete.
func checkOwn(own map[string]source, kinds []outbox.Kind, bundled []string) error {
	names := make([]string, 0, len(own))
	for name := range own {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		loc, file, nested := strings.Cut(name, "/")
		if !nested {
			if name != layoutText && name != layoutHTML {
				return fmt.Errorf("%s: unknown file (top-level files are %s and %s)", name, layoutText, layoutHTML)
			}
			continue
		}
		tag, err := language.Parse(loc)
		if err != nil || tag.String() != loc {
			return fmt.Errorf("%s: %q is not a BCP 47 language tag as written canonically (e.g. en, de, pt-BR)", name, loc)
		}
		kind, part, _ := strings.Cut(strings.TrimSuffix(file, ".tmpl"), ".")
		if !strings.HasSuffix(file, ".tmpl") || !slices.Contains(kinds, outbox.Kind(kind)) || !slices.Contains(parts, part) {
			return fmt.Errorf("%s: unknown file (want KIND.{subject,txt,html}.tmpl, KIND one of %s)", name, kindList(kinds))
		}
	}
	for _, loc := range localesOf(own) {
		if slices.Contains(bundled, loc) {
			continue
		}
		for _, k := range kinds {
			for _, part := range parts {
				if name := loc + "/" + string(k) + "." + part + ".tmpl"; own[name].name == "" {
					return fmt.Errorf("%s: missing (a new locale needs every kind: %s)", name, kindList(kinds))
				}
			}
		}
	}
	return nil
}

func kindList(kinds []outbox.Kind) string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// compile parses the three templates of kind k in locale loc, the bodies
// inside their layouts.
func compile(files map[string]source, loc string, k outbox.Kind) (mailTemplate, error) {
	base := loc + "/" + string(k) + "."
	get := func(name string) (source, error) {
		s := files[name]
		if s.name == "" {
			return s, fmt.Errorf("%s: missing", name)
		}
		return s, nil
	}
	var mt mailTemplate
	subj, err := get(base + "subject.tmpl")
	if err != nil {
		return mt, err
	}
	if mt.subject, err = template.New(subj.name).Option("missingkey=error").Parse(subj.text); err != nil {
		return mt, err
	}
	lt, err := get(layoutText)
	if err != nil {
		return mt, err
	}
	body, err := get(base + "txt.tmpl")
	if err != nil {
		return mt, err
	}
	if mt.text, err = template.New(lt.name).Option("missingkey=error").Parse(lt.text); err != nil {
		return mt, err
	}
	if _, err = mt.text.New("body").Parse(body.text); err != nil {
		return mt, fmt.Errorf("%s: %w", body.name, err)
	}
	lh, err := get(layoutHTML)
	if err != nil {
		return mt, err
	}
	if body, err = get(base + "html.tmpl"); err != nil {
		return mt, err
	}
	if mt.html, err = htmltemplate.New(lh.name).Option("missingkey=error").Parse(lh.text); err != nil {
		return mt, err
	}
	if _, err = mt.html.New("body").Parse(body.text); err != nil {
		return mt, fmt.Errorf("%s: %w", body.name, err)
	}
	return mt, nil
}

// linkKinds are the kinds whose mail carries a link.
var linkKinds = []outbox.Kind{outbox.KindVerifyEmail, outbox.KindPasswordReset, outbox.KindEmailCode}

// codeKinds are the kinds whose mail carries a sign-in code.
var codeKinds = []outbox.Kind{outbox.KindEmailCode}

// sampleCode is what the start-up check renders as a sign-in code.
const sampleCode = "493817"

// sampleLink is what the start-up check renders; it has no character the
// HTML escaper would change, so it must appear as is.
const sampleLink = "https://app.example.invalid/#/check?token=SAMPLE0123456789"

// check renders every kind in every locale once.
func (t *Templates) check(kinds []outbox.Kind) error {
	for _, loc := range t.locales {
		for _, k := range kinds {
			mt, ok := t.set[loc][k]
			if !ok {
				continue
			}
			m := outbox.Message{Kind: k, To: "ada@example.com", Locale: loc}
			if slices.Contains(linkKinds, k) {
				m.Link, m.TTL = sampleLink, 90*time.Minute
			}
			if slices.Contains(codeKinds, k) {
				m.Code = sampleCode
			}
			r, part, err := execute(mt, view(m, loc, "Gatehouse"))
			file := func(part string) string { return loc + "/" + string(k) + "." + part + ".tmpl" }
			switch {
			case err != nil:
				return fmt.Errorf("%s: %w", file(part), err)
			case r.Subject == "":
				return fmt.Errorf("%s: renders an empty subject", file("subject"))
			case m.Link != "" && !strings.Contains(r.Text, m.Link):
				return fmt.Errorf("%s: the text part lacks the link ({{.Link}})", file("txt"))
			case m.Link != "" && !strings.Contains(r.HTML, m.Link):
				return fmt.Errorf("%s: the HTML part lacks the link ({{.Link}})", file("html"))
			case m.Code != "" && !strings.Contains(r.Text, m.Code):
				return fmt.Errorf("%s: the text part lacks the code ({{.Code}})", file("txt"))
			case m.Code != "" && !strings.Contains(r.HTML, m.Code):
				return fmt.Errorf("%s: the HTML part lacks the code ({{.Code}})", file("html"))
			}
		}
	}
	return nil
}
