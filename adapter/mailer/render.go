package mailer

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strings"
	"text/template"
	"time"

	"github.com/gatehouse/gatehouse/domain/outbox"
)

//go:embed templates/*.tmpl
var templatesFS embed.FS

// content is what differs between kinds of message; the layouts in
// templates/ put it into a text and an HTML part.
type content struct {
	Subject    string
	Paragraphs []string
	Action     string
	Ignore     string
}

// contents are the texts of each kind; {product} is replaced by the product
// name, {email} by the recipient's address.
var contents = map[outbox.Kind]content{
	outbox.KindVerifyEmail: {
		Subject:    "Confirm your email address for {product}",
		Paragraphs: []string{"Please confirm that {email} is your email address for your {product} account."},
		Action:     "Confirm my address",
		Ignore:     "If you did not create an account or change your address, ignore this mail: nothing changes until the link is opened.",
	},
	outbox.KindPasswordReset: {
		Subject:    "Reset your {product} password",
		Paragraphs: []string{"Someone asked to reset the password of the {product} account of {email}. If it was you, choose a new password with the link below; every signed-in device will then be signed out."},
		Action:     "Choose a new password",
		Ignore:     "If you did not ask for this, ignore this mail: your password stays as it is.",
	},
	outbox.KindEmailChanged: {
		Subject: "The email address of your {product} account was changed",
		Paragraphs: []string{
			"The email address of your {product} account is no longer {email}: it was changed to another address, which has to be confirmed.",
			"If you did not make this change, contact support at once: someone else may be using your account.",
		},
	},
	outbox.KindPasswordChanged: {
		Subject: "Your {product} password was reset",
		Paragraphs: []string{
			"The password of the {product} account of {email} was just reset with a link sent to this address, and every signed-in device was signed out.",
			"If you did not do this, reset your password again at once and contact support.",
		},
	},
	outbox.KindConfirmEmailChange: {
		Subject:    "Confirm the new email address of your {product} account",
		Paragraphs: []string{"Someone signed in to a {product} account asked to change its email address to {email}. If it was you, confirm with the link below: the account then uses this address."},
		Action:     "Confirm the new address",
		Ignore:     "If you did not ask for this, ignore this mail: nothing changes until the link is opened.",
	},
	outbox.KindEmailInUse: {
		Subject: "Someone tried to use your address for another {product} account",
		Paragraphs: []string{
			"Someone signed in to a {product} account asked to change its email address to {email}, which already belongs to your account. Nothing was changed, and your account is as it was.",
		},
		Ignore: "If it was you, sign in to the account that has this address instead.",
	},
	outbox.KindAccountExists: {
		Subject: "You already have a {product} account",
		Paragraphs: []string{
			"Someone tried to create a {product} account for {email}, but this address already has one. You can sign in with it, or use \"Forgot password\" if you no longer know the password.",
		},
		Ignore: "If it was not you, ignore this mail: nothing was changed.",
	},
}

// Rendered is a message ready to send.
type Rendered struct {
	Subject string
	Text    string
	HTML    string
}

// renderer holds the parsed layouts.
type renderer struct {
	product string
	text    *template.Template
	html    *htmltemplate.Template
}

func newRenderer(product string) (*renderer, error) {
	text, err := template.ParseFS(templatesFS, "templates/mail.txt.tmpl")
	if err != nil {
		return nil, fmt.Errorf("mailer: text template: %w", err)
	}
	html, err := htmltemplate.ParseFS(templatesFS, "templates/mail.html.tmpl")
	if err != nil {
		return nil, fmt.Errorf("mailer: html template: %w", err)
	}
	return &renderer{product: product, text: text, html: html}, nil
}

// view is what the layouts see.
type view struct {
	Subject, Greeting, Action, Ignore, Product, Link, Lifetime string
	Paragraphs                                                 []string
}

// render builds the subject, text and HTML of m.
func (r *renderer) render(m outbox.Message) (Rendered, error) {
	c, ok := contents[m.Kind]
	if !ok {
		return Rendered{}, fmt.Errorf("mailer: no template for %q", m.Kind)
	}
	fill := strings.NewReplacer("{product}", r.product, "{email}", m.To).Replace
	v := view{
		Subject: fill(c.Subject), Greeting: "Hello,", Action: c.Action, Ignore: fill(c.Ignore),
		Product: r.product, Link: m.Link, Lifetime: lifetime(m.TTL),
	}
	for _, p := range c.Paragraphs {
		v.Paragraphs = append(v.Paragraphs, fill(p))
	}
	var text, html bytes.Buffer
	if err := r.text.Execute(&text, v); err != nil {
		return Rendered{}, fmt.Errorf("mailer: render text: %w", err)
	}
	if err := r.html.Execute(&html, v); err != nil {
		return Rendered{}, fmt.Errorf("mailer: render html: %w", err)
	}
	return Rendered{Subject: v.Subject, Text: text.String(), HTML: html.String()}, nil
}

// lifetime says a link's lifetime the way a person would: "30 minutes",
// "24 hours", "1 hour 30 minutes".
func lifetime(d time.Duration) string {
	d = d.Round(time.Minute)
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	var parts []string
	if h > 0 {
		parts = append(parts, plural(h, "hour"))
	}
	if m > 0 || h == 0 {
		parts = append(parts, plural(m, "minute"))
	}
	return strings.Join(parts, " ")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
