// Package smtptest runs a real SMTP server in-process (github.com/emersion/
// go-smtp) for tests: it records every message it accepts, can be stopped
// and started again on the same port, and offers STARTTLS, implicit TLS and
// AUTH PLAIN with a throwaway certificate.
package smtptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// TLSMode says how the server offers TLS.
type TLSMode int

// The TLS modes.
const (
	NoTLS    TLSMode = iota // plain SMTP, no STARTTLS
	StartTLS                // STARTTLS offered
	Implicit                // TLS from the first byte (smtps)
)

// Options configure a Server.
type Options struct {
	TLS TLSMode
	// Username and Password, when set, are required (AUTH PLAIN).
	Username, Password string
}

// Message is one accepted message.
type Message struct {
	From string
	To   []string
	Data []byte
}

// Server is an in-process SMTP server.
type Server struct {
	opts Options
	addr string
	cert *x509.Certificate
	tls  *tls.Config

	mu       sync.Mutex
	srv      *smtp.Server
	ln       net.Listener
	messages []Message
	changed  chan struct{}
}

// Start starts a server on a free loopback port; it stops with the test.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s := &Server{opts: o, changed: make(chan struct{})}
	if o.TLS != NoTLS {
		s.tls, s.cert = selfSigned(t)
	}
	l, err := s.listen("127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	s.addr = l.Addr().String()
	s.serve(l)
	t.Cleanup(s.Stop)
	return s
}

// Addr is host:port.
func (s *Server) Addr() string { return s.addr }

// URL is the MAIL_URL that reaches this server.
func (s *Server) URL() string {
	scheme := "smtp"
	if s.opts.TLS == Implicit {
		scheme = "smtps"
	}
	user := ""
	if s.opts.Username != "" {
		user = s.opts.Username + ":" + s.opts.Password + "@"
	}
	return scheme + "://" + user + s.addr
}

// RootCAs trusts the server's certificate (nil without TLS).
func (s *Server) RootCAs() *x509.CertPool {
	if s.cert == nil {
		return nil
	}
	p := x509.NewCertPool()
	p.AddCert(s.cert)
	return p
}

func (s *Server) listen(addr string) (net.Listener, error) {
	if s.opts.TLS == Implicit {
		return tls.Listen("tcp", addr, s.tls)
	}
	return net.Listen("tcp", addr)
}

func (s *Server) serve(l net.Listener) {
	srv := smtp.NewServer(backend{s})
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.AllowInsecureAuth = s.opts.TLS == NoTLS
	if s.opts.TLS == StartTLS {
		srv.TLSConfig = s.tls
	}
	srv.ErrorLog = quietLog{}
	s.mu.Lock()
	s.srv, s.ln = srv, l
	s.mu.Unlock()
	go func() { _ = srv.Serve(l) }()
}

// Stop closes the listener and every connection; messages stay recorded.
func (s *Server) Stop() {
	s.mu.Lock()
	srv, ln := s.srv, s.ln
	s.srv, s.ln = nil, nil
	s.mu.Unlock()
	// The listener is closed here too: Close may run before Serve has
	// registered it with the server.
	if ln != nil {
		_ = ln.Close()
	}
	if srv != nil {
		_ = srv.Close()
	}
}

// Restart listens again on the same port after Stop.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	var l net.Listener
	var err error
	// The port was just released; another process could take it, but on
	// loopback in a test that is rare enough to retry briefly.
	for range 50 {
		if l, err = s.listen(s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("smtptest: listen again on %s: %v", s.addr, err)
	}
	s.serve(l)
}

// Messages returns what the server accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// WaitFor waits until a message to rcpt matching subject (a substring; ""
// for any) arrived and returns the newest such one; it fails the test after
// timeout.
func (s *Server) WaitFor(t testing.TB, rcpt, subject string, timeout time.Duration) Parsed {
	t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		ch := s.changed
		for i := len(s.messages) - 1; i >= 0; i-- {
			m := s.messages[i]
			if !contains(m.To, rcpt) {
				continue
			}
			p, err := Parse(m.Data)
			if err != nil {
				s.mu.Unlock()
				t.Fatalf("smtptest: %v", err)
			}
			if strings.Contains(p.Subject, subject) {
				s.mu.Unlock()
				return p
			}
		}
		s.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("smtptest: no message to %s with subject %q within %s (got %d messages)", rcpt, subject, timeout, len(s.Messages()))
		}
	}
}

// Count counts the messages accepted for rcpt.
func (s *Server) Count(rcpt string) int {
	n := 0
	for _, m := range s.Messages() {
		if contains(m.To, rcpt) {
			n++
		}
	}
	return n
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

func (s *Server) record(m Message) {
	s.mu.Lock()
	s.messages = append(s.messages, m)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// Parsed is a received message taken apart.
type Parsed struct {
	Header  netmail.Header
	Subject string
	Text    string
	HTML    string
}

var tokenRE = regexp.MustCompile(`token=([A-Za-z0-9_-]+)`)

// Token is the token of the first link in the text part ("" if none).
func (p Parsed) Token() string {
	m := tokenRE.FindStringSubmatch(p.Text)
	if m == nil {
		return ""
	}
	return m[1]
}

// Link is the first http(s) URL in the text part ("" if none).
func (p Parsed) Link() string {
	for _, f := range strings.Fields(p.Text) {
		if strings.HasPrefix(f, "http://") || strings.HasPrefix(f, "https://") {
			return f
		}
	}
	return ""
}

// Parse takes a raw message apart: headers, and the decoded text and HTML
// parts of a multipart/alternative body (or a single-part body).
func Parse(raw []byte) (Parsed, error) {
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Parsed{}, fmt.Errorf("parse message: %w", err)
	}
	dec := new(mime.WordDecoder)
	subj, err := dec.DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		return Parsed{}, fmt.Errorf("subject: %w", err)
	}
	p := Parsed{Header: m.Header, Subject: subj}
	err = walk(m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Body, &p)
	return p, err
}

func walk(ctype, cte string, body io.Reader, p *Parsed) error {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return fmt.Errorf("content type %q: %w", ctype, err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		r := multipart.NewReader(body, params["boundary"])
		for {
			part, err := r.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := walk(part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part, p); err != nil {
				return err
			}
		}
	}
	r := io.Reader(body)
	switch strings.ToLower(cte) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = newBase64Reader(body)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	switch mt {
	case "text/plain":
		p.Text = strings.ReplaceAll(string(b), "\r\n", "\n")
	case "text/html":
		p.HTML = string(b)
	}
	return nil
}

type backend struct{ s *Server }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: b.s}, nil }

type session struct {
	s      *Server
	authed bool
	from   string
	to     []string
}

func (se *session) AuthMechanisms() []string {
	if se.s.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (se *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != se.s.opts.Username || pass != se.s.opts.Password {
			return errors.New("invalid credentials")
		}
		se.authed = true
		return nil
	}), nil
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	if se.s.opts.Username != "" && !se.authed {
		return smtp.ErrAuthRequired
	}
	se.from = from
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	se.to = append(se.to, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	se.s.record(Message{From: se.from, To: append([]string(nil), se.to...), Data: b})
	return nil
}

func (se *session) Reset()        { se.from, se.to = "", nil }
func (se *session) Logout() error { return nil }

type quietLog struct{}

func (quietLog) Printf(string, ...any) {}
func (quietLog) Println(...any)        {}

// selfSigned makes a certificate for 127.0.0.1 and localhost.
func selfSigned(t testing.TB) (*tls.Config, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtptest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		MinVersion:   tls.VersionTLS12,
	}, cert
}
