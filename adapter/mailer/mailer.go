// Package mailer is the mail transport: it renders outbox messages from the
// mail templates (multipart text and HTML, by kind and locale: the bundled
// ones, or an operator's MAIL_TEMPLATES_DIR over them) and sends them over SMTP
// with github.com/wneessen/go-mail, or writes them to the log in
// development.
//
// MAIL_URL selects the transport: smtp://[user:pass@]host[:port] (STARTTLS
// when the server offers it; port 587 by default), smtps://... (TLS from the
// first byte; port 465 by default), or log: (no delivery: the message,
// links included, goes to the log, for development only).
package mailer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"net/url"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/gatehouse/gatehouse/domain/outbox"
	"github.com/gatehouse/gatehouse/usecase/recovery"
)

// Options configure a Sender.
type Options struct {
	// URL is MAIL_URL; it must not be empty.
	URL string
	// From is the sender, "Name <addr>" or a bare address.
	From string
	// Product names the service in the mails.
	Product string
	// Timeout bounds connecting and each SMTP command.
	Timeout time.Duration
	// RootCAs, when set, replaces the system roots for checking the
	// server's certificate (tests, private CAs).
	RootCAs *x509.CertPool
	// Log receives the messages of the log: transport.
	Log *slog.Logger
	// Templates render the mails; nil means the bundled ones.
	Templates *Templates
}

// Sender renders and sends outbox messages.
type Sender struct {
	templates *Templates
	product   string
	from      *netmail.Address
	send      func(ctx context.Context, msg *gomail.Msg, r Rendered, to string) error
}

var _ recovery.MailSender = (*Sender)(nil)

// ErrBadURL is a MAIL_URL this package cannot use.
var ErrBadURL = errors.New("mailer: MAIL_URL must be an smtp, smtps or log URL")

// New returns a Sender for o.URL.
func New(o Options) (*Sender, error) {
	from, err := netmail.ParseAddress(o.From)
	if err != nil {
		return nil, fmt.Errorf("mailer: MAIL_FROM: %w", err)
	}
	if o.Product == "" {
		o.Product = "Gatehouse"
	}
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Second
	}
	if o.Templates == nil {
		t, err := LoadTemplates("")
		if err != nil {
			return nil, err
		}
		o.Templates = t
	}
	s := &Sender{templates: o.Templates, product: o.Product, from: from}
	u, err := url.Parse(o.URL)
	if err != nil {
		return nil, ErrBadURL
	}
	switch u.Scheme {
	case "log":
		log := o.Log
		if log == nil {
			log = slog.Default()
		}
		s.send = func(ctx context.Context, _ *gomail.Msg, r Rendered, to string) error {
			// Development only: the text, links included, goes to the log so
			// a newcomer can follow them without a mail server.
			log.InfoContext(ctx, "mail (log transport, not delivered)",
				slog.String("to", to), slog.String("subject", r.Subject), slog.String("text", r.Text))
			return nil
		}
	case "smtp", "smtps":
		opts, err := clientOptions(u, o)
		if err != nil {
			return nil, err
		}
		host := u.Hostname()
		s.send = func(ctx context.Context, msg *gomail.Msg, _ Rendered, _ string) error {
			c, err := gomail.NewClient(host, opts...)
			if err != nil {
				return fmt.Errorf("mailer: %w", err)
			}
			if err := c.DialAndSendWithContext(ctx, msg); err != nil {
				return fmt.Errorf("mailer: send: %w", err)
			}
			return nil
		}
	default:
		return nil, ErrBadURL
	}
	return s, nil
}

// clientOptions turns an smtp(s) URL into go-mail client options.
func clientOptions(u *url.URL, o Options) ([]gomail.Option, error) {
	if u.Hostname() == "" {
		return nil, fmt.Errorf("mailer: MAIL_URL has no host")
	}
	port := 587
	if u.Scheme == "smtps" {
		port = 465
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("mailer: MAIL_URL port %q", p)
		}
		port = n
	}
	tlsConf := &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	if o.RootCAs != nil {
		tlsConf.RootCAs = o.RootCAs
	}
	opts := []gomail.Option{gomail.WithPort(port), gomail.WithTimeout(o.Timeout), gomail.WithTLSConfig(tlsConf)}
	if u.Scheme == "smtps" {
		opts = append(opts, gomail.WithSSL())
	} else {
		// STARTTLS when the server offers it, plain otherwise (Mailpit,
		// a local relay).
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if u.User != nil {
		pass, _ := u.User.Password()
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(u.User.Username()), gomail.WithPassword(pass))
	}
	return opts, nil
}

// Render builds the subject, text and HTML of m, in m's locale.
func (s *Sender) Render(m outbox.Message) (Rendered, error) { return s.templates.Render(m, s.product) }

// Send implements recovery.MailSender.
func (s *Sender) Send(ctx context.Context, m outbox.Message) error {
	r, err := s.Render(m)
	if err != nil {
		return err
	}
	msg := gomail.NewMsg()
	if err := msg.FromFormat(s.from.Name, s.from.Address); err != nil {
		return fmt.Errorf("mailer: from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("mailer: recipient: %w", err)
	}
	msg.Subject(r.Subject)
	msg.SetDate()
	msg.SetMessageID()
	// RFC 3834: an automated message; auto-responders should not answer.
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	msg.SetBodyString(gomail.TypeTextPlain, r.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, r.HTML)
	return s.send(ctx, msg, r, m.To)
}
