package httpadapter

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/usecase/recovery"
)

type verifyEmailRequest struct {
	Token string `json:"token" validate:"required,max=256"`
}

type resetPasswordRequest struct {
	Token       string `json:"token" validate:"required,max=256"`
	NewPassword string `json:"newPassword" validate:"required,min=8,max=128"`
}

func recoveryMeta(c echo.Context) recovery.Meta {
	return recovery.Meta{IP: c.RealIP(), UserAgent: c.Request().UserAgent()}
}

// requestVerification mails a verification link to the caller's address.
func (h *handlers) requestVerification(c echo.Context) error {
	if err := h.recovery.Verification.RequestVerification(c.Request().Context(), principal(c), recoveryMeta(c)); err != nil {
		return err
	}
	return ok(c, http.StatusAccepted, "Verification email queued", nil)
}

func (h *handlers) verifyEmail(c echo.Context, req *verifyEmailRequest) error {
	u, err := h.recovery.Verifier.Verify(c.Request().Context(), req.Token)
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, "Email verified", toUserDTO(u))
}

// forgotPassword answers 202 whether or not the address has an account.
func (h *handlers) forgotPassword(c echo.Context, req *emailRequest) error {
	if err := h.recovery.Forgot.ForgotPassword(c.Request().Context(), req.Email, recoveryMeta(c)); err != nil {
		return err
	}
	return ok(c, http.StatusAccepted, "If the address has an account, a reset link is on its way", nil)
}

func (h *handlers) resetPassword(c echo.Context, req *resetPasswordRequest) error {
	if err := h.recovery.Reset.ResetPassword(c.Request().Context(), req.Token, req.NewPassword, recoveryMeta(c)); err != nil {
		return err
	}
	return ok(c, http.StatusOK, "Password reset; every session was ended", nil)
}
