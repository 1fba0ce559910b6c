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
			"Passkeys and two-step verification were kept, as a reset never removes them. Sign in and look at them: remove any you did not add yourself.",
			"If you did not do this, reset your password again at once and contact support.",
		},
	},
	outbox.KindTOTPEnabled: {
		Subject: "Two-step verification was turned on for your {product} account",
		Paragraphs: []string{
			"An authenticator app was just set up for two-step verification on the {product} account of {email}: signing in with the password now also takes a code from that app.",
			factorNotYou,
		},
	},
	outbox.KindTOTPDisabled: {
		Subject: "Two-step verification was turned off for your {product} account",
		Paragraphs: []string{
			"Two-step verification with an authenticator app was just turned off on the {product} account of {email}, and its recovery codes no longer work.",
			factorNotYou,
		},
	},
	outbox.KindRecoveryCodesRegenerated: {
		Subject: "New recovery codes for your {product} account",
		Paragraphs: []string{
			"A new set of recovery codes was just made for the {product} account of {email}; the earlier codes no longer work.",
			factorNotYou,
		},
	},
	outbox.KindPasskeyAdded: {
		Subject: "A passkey was added to your {product} account",
		Paragraphs: []string{
			"A passkey was just added to the {product} account of {email}: whoever holds it can sign in without the password.",
			factorNotYou,
		},
	},
	outbox.KindPasskeyRemoved: {
		Subject: "A passkey was removed from your {product} account",
		Paragraphs: []string{
			"A passkey was just removed from the {product} account of {email}.",
			factorNotYou,
		},
	},
	outbox.KindMFALocked: {
		Subject: "Someone is guessing your {product} verification codes",
		Paragraphs: []string{
			"Too many wrong two-step verification codes in a row were entered for the {product} account of {email}, after its password. Codes from your authenticator app are no longer accepted, so the guessing is over.",
			"To sign in, use one of your recovery codes, or reset your password with \"Forgot password\": either makes your app's codes work again.",
			"Whoever entered them knows your password: if it was not you, reset it at once.",
		},
	},
	outbox.KindAccountExists: {
		Subject: "You already have a {product} account",
		Paragraphs: []string{
			"Someone tried to create a {product} account for {email}, but this address already has one. You can sign in with it, or use \"Forgot password\" if you no longer know the password.",
		},
		Ignore: "If it was not you, ignore this mail: nothing was changed.",
	},
}

// factorNotYou closes every notice of a factor change.
const factorNotYou = "If you did not do this, someone else is using your account: sign in, remove any passkey or authenticator you do not recognise in your account's security settings and change your password, or contact support if you cannot."

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
