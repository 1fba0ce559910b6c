package httpadapter

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

// BenchmarkEnvelope measures writing a token-pair success envelope, the
// largest response of the hot paths.
func BenchmarkEnvelope(b *testing.B) {
	e := echo.New()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	pair := authn.TokenPair{
		AccessToken: "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln", ExpiresIn: 15 * time.Minute,
		User:    user.User{ID: "0b6f6c1e-4c7a-4f1e-9a53-2c1d0e6b7a10", Email: "ada@example.com", Name: "Ada", Roles: []string{"user"}, CreatedAt: now, UpdatedAt: now},
		Session: session.Session{ID: "1b6f6c1e-4c7a-4f1e-9a53-2c1d0e6b7a10", IdleExpiresAt: now, AbsoluteExpiresAt: now},
	}
	req := httptest.NewRequest(http.MethodPost, "/auth/refresh", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		c := e.NewContext(req, rec)
		if err := ok(c, http.StatusOK, "Token refreshed", toTokenPairDTO(pair, false)); err != nil {
			b.Fatal(err)
		}
	}
}
