package mailer_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/adapter/mailer"
	"github.com/gatehouse/gatehouse/domain/outbox"
	"github.com/gatehouse/gatehouse/internal/smtptest"
)

const link = "http://localhost:3000/example/#/verify-email?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

func verifyMsg(to string) outbox.Message {
	return outbox.Message{ID: "m1", Kind: outbox.KindVerifyEmail, To: to, Link: link, TTL: 24 * time.Hour}
}

func send(t *testing.T, srv *smtptest.Server, to string) {
	t.Helper()
	s, err := mailer.New(mailer.Options{URL: srv.URL(), From: "Gatehouse <no-reply@example.com>", Product: "Acme ID",
		Timeout: 5 * time.Second, RootCAs: srv.RootCAs()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), verifyMsg(to)); err != nil {
		t.Fatalf("send: %v", err)
	}
}

// Every transport the README names delivers a multipart message with the
// product name, the link and its lifetime.
func TestSendOverSMTP(t *testing.T) {
	cases := []struct {
		name string
		opts smtptest.Options
	}{
		{"plain", smtptest.Options{}},
		{"starttls with auth", smtptest.Options{TLS: smtptest.StartTLS, Username: "gh", Password: "s3cret"}},
		{"implicit tls (smtps) with auth", smtptest.Options{TLS: smtptest.Implicit, Username: "gh", Password: "s3cret"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := smtptest.Start(t, c.opts)
			send(t, srv, "ada@example.com")
			got := srv.WaitFor(t, "ada@example.com", "", 5*time.Second)
			if got.Subject != "Confirm your email address for Acme ID" {
				t.Fatalf("subject %q", got.Subject)
			}
			if from := got.Header.Get("From"); !strings.Contains(from, "no-reply@example.com") || !strings.Contains(from, "Gatehouse") {
				t.Fatalf("From %q", from)
			}
			if !strings.HasPrefix(got.Header.Get("Content-Type"), "multipart/alternative") {
				t.Fatalf("Content-Type %q, want multipart/alternative", got.Header.Get("Content-Type"))
			}
			if got.Header.Get("Message-Id") == "" || got.Header.Get("Date") == "" || got.Header.Get("Auto-Submitted") != "auto-generated" {
				t.Fatalf("headers %v", got.Header)
			}
			for _, want := range []string{link, "24 hours", "Acme ID", "ada@example.com"} {
				if !strings.Contains(got.Text, want) {
					t.Fatalf("text part lacks %q:\n%s", want, got.Text)
				}
			}
			if !strings.Contains(got.HTML, `href="`+strings.ReplaceAll(link, "&", "&amp;")+`"`) || !strings.Contains(got.HTML, "24 hours") {
				t.Fatalf("html part lacks the link or lifetime:\n%s", got.HTML)
			}
			if got.Token() != "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" {
				t.Fatalf("token %q", got.Token())
			}
		})
	}
}

func TestWrongPasswordAndDownServerFail(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{TLS: smtptest.StartTLS, Username: "gh", Password: "right"})
	s, err := mailer.New(mailer.Options{URL: "smtp://gh:wrong@" + srv.Addr(), From: "no-reply@example.com",
		Timeout: 3 * time.Second, RootCAs: srv.RootCAs()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), verifyMsg("a@example.com")); err == nil {
		t.Fatal("a wrong SMTP password sent the mail")
	}
	srv.Stop()
	s2, _ := mailer.New(mailer.Options{URL: srv.URL(), From: "no-reply@example.com", Timeout: 3 * time.Second, RootCAs: srv.RootCAs()})
	err = s2.Send(context.Background(), verifyMsg("a@example.com"))
	if err == nil {
		t.Fatal("sending to a stopped server succeeded")
	}
	if strings.Contains(err.Error(), "token=") {
		t.Fatalf("the error carries the link: %v", err)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("server got %d messages", n)
	}
}

// Every kind renders, notices without a link, links with their lifetime.
func TestEveryKindRenders(t *testing.T) {
	s, err := mailer.New(mailer.Options{URL: "log:", From: "no-reply@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []outbox.Kind{outbox.KindVerifyEmail, outbox.KindPasswordReset, outbox.KindEmailChanged, outbox.KindPasswordChanged, outbox.KindAccountExists,
		outbox.KindTOTPEnabled, outbox.KindTOTPDisabled, outbox.KindRecoveryCodesRegenerated, outbox.KindPasskeyAdded, outbox.KindPasskeyRemoved, outbox.KindMFALocked} {
		m := outbox.Message{Kind: k, To: "ada@example.com"}
		if k == outbox.KindVerifyEmail || k == outbox.KindPasswordReset {
			m.Link, m.TTL = "http://x/#/t?token=abc", 30*time.Minute
		}
		r, err := s.Render(m)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if r.Subject == "" || !strings.Contains(r.Text, "Gatehouse") || !strings.Contains(r.HTML, "Gatehouse") {
			t.Fatalf("%s: %+v", k, r)
		}
		if strings.Contains(r.Text, "%!") || strings.Contains(r.Text, "{product}") || strings.Contains(r.Text, "{email}") {
			t.Fatalf("%s: unfilled placeholder:\n%s", k, r.Text)
		}
		if hasLink := strings.Contains(r.Text, "http://"); hasLink != (m.Link != "") {
			t.Fatalf("%s: link in text = %v:\n%s", k, hasLink, r.Text)
		}
		if m.Link != "" && !strings.Contains(r.Text, "30 minutes") {
			t.Fatalf("%s: lifetime missing:\n%s", k, r.Text)
		}
	}
	if _, err := s.Render(outbox.Message{Kind: "nope"}); err == nil {
		t.Fatal("an unknown kind rendered")
	}
}

func TestLogTransportWritesTheMail(t *testing.T) {
	var buf bytes.Buffer
	s, err := mailer.New(mailer.Options{URL: "log:", From: "no-reply@example.com", Log: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), verifyMsg("ada@example.com")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "ada@example.com") || !strings.Contains(buf.String(), "token=AAAA") {
		t.Fatalf("log transport wrote %q", buf.String())
	}
}

func TestBadSettings(t *testing.T) {
	for _, u := range []string{"http://x", "smtp://", "smtp://host:99999", "mailto:x@y", "%zz"} {
		if _, err := mailer.New(mailer.Options{URL: u, From: "a@b.co"}); err == nil {
			t.Errorf("MAIL_URL %q accepted", u)
		}
	}
	if _, err := mailer.New(mailer.Options{URL: "log:", From: "not an address"}); err == nil {
		t.Error("a bad MAIL_FROM was accepted")
	}
	_, err := mailer.New(mailer.Options{URL: "ftp://x", From: "a@b.co"})
	if !errors.Is(err, mailer.ErrBadURL) {
		t.Errorf("ftp: %v", err)
	}
}
