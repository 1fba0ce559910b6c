package httpadapter

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// requestTypes are every request DTO the API decodes.
func requestTypes() map[string]func() any {
	return map[string]func() any{
		"register":       func() any { return &registerRequest{} },
		"login":          func() any { return &loginRequest{} },
		"refresh":        func() any { return &refreshRequest{} },
		"reauthenticate": func() any { return &reauthenticateRequest{} },
		"updateMe":       func() any { return &updateMeRequest{} },
		"changePassword": func() any { return &changePasswordRequest{} },
		"changeEmail":    func() any { return &emailRequest{} },
	}
}

// FuzzBind feeds arbitrary bodies to the strict decoder of every request
// type: it must never panic, and every failure must be a contract error
// (400, 413 or 415), never something that would become a 500.
func FuzzBind(f *testing.F) {
	for _, seed := range []string{
		`{"email":"a@b.co","password":"correct horse"}`,
		`{"email":"a@b.co","password":"xxxxxxxx","name":"Ada","refreshTokenTransport":"body"}`,
		`{"refreshToken":"abc"}`, `{"name":null}`, `{}`, `[]`, `null`, `"s"`, `{"a":1,"b":2}`,
		`{"email":1}`, "{\"email\":\"\xff\"}", `{"email":"a@b.co"} {}`, `{"newPassword":"` + strings.Repeat("é", 200) + `"}`,
	} {
		f.Add(seed)
	}
	e := echo.New()
	b := newBinder(64 << 10)
	types := requestTypes()
	f.Fuzz(func(t *testing.T, body string) {
		for name, mk := range types {
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			c := e.NewContext(req, httptest.NewRecorder())
			err := b.bind(c, mk())
			if err == nil {
				continue
			}
			var ae *apiError
			if !errors.As(err, &ae) {
				t.Fatalf("%s: %q gave a non-contract error %v", name, body, err)
			}
			switch ae.Code {
			case CodeValidationFailed, CodeMalformedJSON, CodePayloadTooLarge, CodeUnsupportedMediaType:
			default:
				t.Fatalf("%s: %q gave code %s", name, body, ae.Code)
			}
		}
	})
}

// FuzzBearerToken: the Authorization parser never panics, and what it
// returns is either nothing or one token without spaces.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"", "Bearer abc", "bearer abc", "Bearer", "Bearer ", "Basic abc", "Bearer a b", "Bearer  abc", "Bearer\tabc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, present := bearerToken(h)
		if h == "" && present {
			t.Fatal("empty header reported present")
		}
		if tok != "" && (strings.ContainsAny(tok, " \t") || !present) {
			t.Fatalf("header %q gave token %q", h, tok)
		}
	})
}

func TestBearerToken(t *testing.T) {
	cases := []struct {
		h       string
		tok     string
		present bool
	}{
		{"", "", false},
		{"Bearer abc", "abc", true},
		{"bEaReR abc", "abc", true},
		{"Basic abc", "", true},
		{"Bearer", "", true},
		{"Bearer a b", "", true},
	}
	for _, c := range cases {
		tok, present := bearerToken(c.h)
		if tok != c.tok || present != c.present {
			t.Errorf("%q: got %q %v", c.h, tok, present)
		}
	}
}
