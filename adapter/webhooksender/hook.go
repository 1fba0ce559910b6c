package webhooksender

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/webhook"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

// maxMessage bounds the refusal message shown to the client.
const maxMessage = 200

// defaultRefusal is shown when the hook refuses without a message.
const defaultRefusal = "Sign-up is not allowed"

// SignupHook calls HOOK_BEFORE_SIGNUP_URL.
type SignupHook struct {
	url     string
	signer  *Signer
	client  *http.Client
	timeout time.Duration
	now     func() time.Time
}

var _ authn.SignupHook = (*SignupHook)(nil)

// NewSignupHook returns a SignupHook posting to url, signed with secrets,
// waiting at most timeout.
func NewSignupHook(url string, secrets []string, timeout time.Duration) (*SignupHook, error) {
	signer, err := NewSigner(secrets)
	if err != nil {
		return nil, err
	}
	return &SignupHook{url: url, signer: signer, client: newClient(timeout), timeout: timeout, now: time.Now}, nil
}

// hookRequest is the body posted: {type, timestamp, data}.
type hookRequest struct {
	Type      string     `json:"type"`
	Timestamp string     `json:"timestamp"`
	Data      signupData `json:"data"`
}

type signupData struct {
	Email    string `json:"email"`
	Name     string `json:"name"`
	Method   string `json:"method"`
	Provider string `json:"provider"`
	IP       string `json:"ip"`
}

// hookAnswer is the answer the contract defines; Allow must be present.
type hookAnswer struct {
	Allow   *bool  `json:"allow"`
	Message string `json:"message"`
}

// BeforeSignup implements authn.SignupHook: 200 {"allow": true} goes on,
// 200 {"allow": false, "message"} refuses with that message, and anything
// else (another status, another body, a timeout, a transport error) is
// webhook.ErrHookUnavailable: the signup fails closed.
func (h *SignupHook) BeforeSignup(ctx context.Context, s authn.SignupAttempt) error {
	now := h.now()
	body, err := json.Marshal(hookRequest{
		Type: "before_signup", Timestamp: now.UTC().Format(time.RFC3339Nano),
		Data: signupData{Email: s.Email, Name: s.Name, Method: s.Method, Provider: s.Provider, IP: s.IP},
	})
	if err != nil {
		return fmt.Errorf("%w: %v", webhook.ErrHookUnavailable, err)
	}
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	status, answer, err := post(ctx, h.client, h.url, h.signer, "hook_"+id.New(), now, body)
	if err != nil {
		return fmt.Errorf("%w: %v", webhook.ErrHookUnavailable, withoutURL(err))
	}
	if status != http.StatusOK {
		return fmt.Errorf("%w: answered %d", webhook.ErrHookUnavailable, status)
	}
	var a hookAnswer
	if err := json.Unmarshal(answer, &a); err != nil || a.Allow == nil {
		return fmt.Errorf("%w: answer is not {\"allow\": bool}", webhook.ErrHookUnavailable)
	}
	if *a.Allow {
		return nil
	}
	return &webhook.RejectedError{Message: cleanMessage(a.Message)}
}

// cleanMessage makes the hook's message fit an envelope: printable, one
// line, at most maxMessage characters, a default when empty.
func cleanMessage(m string) string {
	m = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, m)
	m = strings.TrimSpace(m)
	if r := []rune(m); len(r) > maxMessage {
		m = string(r[:maxMessage])
	}
	if m == "" {
		return defaultRefusal
	}
	return m
}
