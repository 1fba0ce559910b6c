// Package webhooksender posts Gatehouse's events and before-signup hook
// requests over HTTP in the Standard Webhooks format: webhook-id,
// webhook-timestamp and webhook-signature ("v1," and the base64
// HMAC-SHA256 of "{id}.{timestamp}.{body}", one per secret while
// rotating), signed with the Standard Webhooks Go library.
package webhooksender

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/gatehouse/gatehouse/usecase/delivery"
)

// DeliveryTimeout is the contract's bound on a receiver's answer.
const DeliveryTimeout = 10 * time.Second

// maxAnswer bounds what is read of an answer (the rest is dropped).
const maxAnswer = 64 << 10

// userAgent names the sender to receivers.
const userAgent = "Gatehouse-Webhooks/1"

// Signer signs with one or two secrets (rotation).
type Signer struct{ keys []*standardwebhooks.Webhook }

// NewSigner reads "whsec_..." secrets (checked by the configuration).
func NewSigner(secrets []string) (*Signer, error) {
	if len(secrets) == 0 {
		return nil, errors.New("webhooks: no secret")
	}
	s := &Signer{}
	for i, sec := range secrets {
		k, err := standardwebhooks.NewWebhook(sec)
		if err != nil {
			// The library's error does not echo the secret; say which.
			return nil, fmt.Errorf("webhooks: secret %d is not a whsec_ secret", i+1)
		}
		s.keys = append(s.keys, k)
	}
	return s, nil
}

// Sign returns the webhook-signature header for msgID, at and body: one
// "v1,..." per secret, separated by a space.
func (s *Signer) Sign(msgID string, at time.Time, body []byte) (string, error) {
	sigs := make([]string, 0, len(s.keys))
	for _, k := range s.keys {
		sig, err := k.Sign(msgID, at, body)
		if err != nil {
			return "", err
		}
		sigs = append(sigs, sig)
	}
	return strings.Join(sigs, " "), nil
}

// post sends one signed request and returns the answer's status and at
// most maxAnswer bytes of its body.
func post(ctx context.Context, client *http.Client, url string, signer *Signer, msgID string, now time.Time, body []byte) (int, []byte, error) {
	sig, err := signer.Sign(msgID, now, body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("webhook-id", msgID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return resp.StatusCode, nil, err
	}
	return resp.StatusCode, answer, nil
}

// newClient is an HTTP client that follows no redirect: a receiver that
// moved must be reconfigured, not followed wherever it points.
func newClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Sender posts events to WEBHOOK_URL.
type Sender struct {
	url    string
	signer *Signer
	client *http.Client
	now    func() time.Time
}

var _ delivery.Sender = (*Sender)(nil)

// NewSender returns a Sender posting to url, signed with secrets.
func NewSender(url string, secrets []string) (*Sender, error) {
	signer, err := NewSigner(secrets)
	if err != nil {
		return nil, err
	}
	return &Sender{url: url, signer: signer, client: newClient(DeliveryTimeout), now: time.Now}, nil
}

// Send implements delivery.Sender: a 2xx answer within DeliveryTimeout
// delivers; anything else is an error (its text goes to the log and the
// delivery's lastError, so it never holds the body).
func (s *Sender) Send(ctx context.Context, eventID string, body []byte) error {
	status, _, err := post(ctx, s.client, s.url, s.signer, eventID, s.now(), body)
	if err != nil {
		return fmt.Errorf("post: %w", withoutURL(err))
	}
	if status < 200 || status > 299 {
		return fmt.Errorf("receiver answered %d", status)
	}
	return nil
}

// withoutURL drops the URL net/http puts in its errors: WEBHOOK_URL may
// carry a token in its query, and the error goes to logs and to the
// delivery's lastError.
func withoutURL(err error) error {
	var ue *neturl.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
