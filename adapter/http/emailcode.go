package httpadapter

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/domain/emailcode"
	"github.com/gatehouse/gatehouse/domain/user"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

// Sign in with an emailed code: the request (202 for every address) and
// the code or link that signs in.

// emailCodeVerifyRequest is {email, code} or {token}, never both.
type emailCodeVerifyRequest struct {
	Email                 string `json:"email" validate:"required_without=Token,excluded_with=Token,max=254"`
	Code                  string `json:"code" validate:"required_with=Email,excluded_with=Token"`
	Token                 string `json:"token" validate:"max=256"`
	RefreshTokenTransport string `json:"refreshTokenTransport" validate:"omitempty,oneof=cookie body"`
}

// requestEmailCode answers 202 whether or not the address has an account.
func (h *handlers) requestEmailCode(c echo.Context, req *emailRequest) error {
	if err := h.auth.EmailCode.Request(c.Request().Context(), req.Email, meta(c)); err != nil {
		return err
	}
	return ok(c, http.StatusAccepted, "If the address may sign in, a code is on its way", nil)
}

// verifyEmailCode signs in with a code or link; with TOTP active it stops
// at the second factor, as a password login does.
func (h *handlers) verifyEmailCode(c echo.Context, req *emailCodeVerifyRequest) error {
	if req.Code != "" && !emailcode.WellFormed(req.Code) {
		return user.Invalid("code", "must be six digits")
	}
	p, err := h.auth.EmailCodeLogin.Verify(c.Request().Context(),
		authn.EmailCodeInput{Email: req.Email, Code: req.Code, Token: req.Token}, meta(c))
	if err != nil {
		return err
	}
	return h.respondLogin(c, p, req.RefreshTokenTransport)
}
