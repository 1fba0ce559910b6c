package httpadapter

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"unicode"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/domain/auth"
	"github.com/gatehouse/gatehouse/domain/mfa"
	"github.com/gatehouse/gatehouse/usecase/authn"
	"github.com/gatehouse/gatehouse/usecase/factors"
)

// The second-factor routes: TOTP enrolment and removal, recovery codes,
// the second step of a login, and passkeys. The step-up rule for changing
// factors (fresh, and aal2 once a factor is active) lives in the use case.

type totpConfirmRequest struct {
	Code string `json:"code" validate:"required,max=64"`
	// SignOutOtherSessions ends every other session of the account with
	// the new factor, as a password change does.
	SignOutOtherSessions bool `json:"signOutOtherSessions"`
}

type mfaVerifyRequest struct {
	MFAToken              string `json:"mfaToken" validate:"required,max=128"`
	Code                  string `json:"code" validate:"required_without=RecoveryCode,excluded_with=RecoveryCode,max=64"`
	RecoveryCode          string `json:"recoveryCode" validate:"max=64"`
	RefreshTokenTransport string `json:"refreshTokenTransport" validate:"omitempty,oneof=cookie body"`
}

type totpEnrollmentDTO struct {
	Secret     string `json:"secret"`
	OTPAuthURI string `json:"otpauthUri"`
	QRCode     string `json:"qrCode"`
}

type recoveryCodesDTO struct {
	RecoveryCodes []string `json:"recoveryCodes"`
}

type mfaRequiredDTO struct {
	MFARequired bool     `json:"mfaRequired"`
	MFAToken    string   `json:"mfaToken"`
	Methods     []string `json:"methods"`
}

func mfaMeta(c echo.Context) factors.Meta {
	return factors.Meta{IP: c.RealIP(), UserAgent: c.Request().UserAgent()}
}

// respondLogin answers a credential exchange that may stop at the second
// factor: then no token, no cookie and no session, only the mfaToken.
func (h *handlers) respondLogin(c echo.Context, p authn.TokenPair, transport string) error {
	if p.MFA != nil {
		noStore(c)
		return ok(c, http.StatusOK, "Second factor required", mfaRequiredDTO{
			MFARequired: true, MFAToken: p.MFA.Token, Methods: p.MFA.Methods,
		})
	}
	return h.respondPair(c, http.StatusOK, "Logged in", p, transport)
}

func (h *handlers) enrollTOTP(c echo.Context) error {
	k, err := h.mfa.TOTPEnroll.EnrollTOTP(c.Request().Context(), principal(c))
	if err != nil {
		return err
	}
	noStore(c)
	return ok(c, http.StatusOK, "Scan the QR code, then confirm with a code", totpEnrollmentDTO{
		Secret: k.Secret, OTPAuthURI: k.URI,
		QRCode: "data:image/png;base64," + base64.StdEncoding.EncodeToString(k.QRPNG),
	})
}

func (h *handlers) confirmTOTP(c echo.Context, req *totpConfirmRequest) error {
	codes, err := h.mfa.TOTPConfirm.ConfirmTOTP(c.Request().Context(), principal(c), req.Code,
		factors.Enrolment{SignOutOthers: req.SignOutOtherSessions}, mfaMeta(c))
	if err != nil {
		return err
	}
	noStore(c)
	return ok(c, http.StatusOK, "Two-step verification on; keep these recovery codes", recoveryCodesDTO{RecoveryCodes: codes})
}

func (h *handlers) disableTOTP(c echo.Context) error {
	if err := h.mfa.TOTPDisable.DisableTOTP(c.Request().Context(), principal(c), mfaMeta(c)); err != nil {
		return err
	}
	return ok(c, http.StatusOK, "Two-step verification off", nil)
}

func (h *handlers) regenerateRecoveryCodes(c echo.Context) error {
	codes, err := h.mfa.Codes.RegenerateRecoveryCodes(c.Request().Context(), principal(c), mfaMeta(c))
	if err != nil {
		return err
	}
	noStore(c)
	return ok(c, http.StatusOK, "New recovery codes; the old ones no longer work", recoveryCodesDTO{RecoveryCodes: codes})
}

func (h *handlers) verifyMFA(c echo.Context, req *mfaVerifyRequest) error {
	p, err := h.auth.MFA.VerifyMFA(c.Request().Context(), authn.MFAVerifyInput{
		Token: req.MFAToken, Code: req.Code, RecoveryCode: req.RecoveryCode,
	}, meta(c))
	if err != nil {
		return err
	}
	return h.respondPair(c, http.StatusOK, "Logged in", p, req.RefreshTokenTransport)
}

// aal2Challenge is the RFC 9470 challenge of an operation that needs a
// second factor: the client steps up with a code (reauthenticate) or a
// passkey login.
const aal2Challenge = `Bearer error="insufficient_user_authentication", error_description="A second factor is required", acr_values="aal2"`

// secondFactorChallenge reports the WWW-Authenticate header err calls for.
func secondFactorChallenge(err error) (string, bool) {
	if errors.Is(err, auth.ErrSecondFactorRequired) {
		return aal2Challenge, true
	}
	return "", false
}

// passkeyName checks an optional passkey name: 1 to 64 characters without
// control characters.
func passkeyName(raw string) (string, error) {
	n := strings.TrimSpace(raw)
	if n == "" {
		return "", nil
	}
	if len([]rune(n)) > 64 || strings.IndexFunc(n, unicode.IsControl) >= 0 {
		return "", invalidField("name", "must be 1 to 64 characters without control characters")
	}
	return n, nil
}

type passkeyOptionsRequest struct {
	Name string `json:"name" validate:"max=256"`
}

type passkeyRegistrationRequest struct {
	Credential           json.RawMessage `json:"credential" validate:"required"`
	Name                 string          `json:"name" validate:"max=256"`
	SignOutOtherSessions bool            `json:"signOutOtherSessions"`
}

type passkeyLoginRequest struct {
	ChallengeID           string          `json:"challengeId" validate:"required,max=64"`
	Credential            json.RawMessage `json:"credential" validate:"required"`
	RefreshTokenTransport string          `json:"refreshTokenTransport" validate:"omitempty,oneof=cookie body"`
}

type passkeyDTO struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	CreatedAt  string  `json:"createdAt"`
	LastUsedAt *string `json:"lastUsedAt"`
}

type passkeyLoginOptionsDTO struct {
	ChallengeID string          `json:"challengeId"`
	Options     json.RawMessage `json:"options"`
}

func toPasskeyDTO(p mfa.Passkey) passkeyDTO {
	return passkeyDTO{ID: p.ID, Name: p.Name, CreatedAt: rfc3339(p.CreatedAt), LastUsedAt: optTime(p.LastUsedAt)}
}

// credentialObject checks that a WebAuthn answer is a JSON object; what is
// inside is the ceremony's to judge (PASSKEY_INVALID).
func credentialObject(raw json.RawMessage) error {
	if t := strings.TrimSpace(string(raw)); !strings.HasPrefix(t, "{") {
		return invalidField("credential", "must be a PublicKeyCredential as a JSON object")
	}
	return nil
}

func (h *handlers) passkeyRegistrationOptions(c echo.Context, req *passkeyOptionsRequest) error {
	name, err := passkeyName(req.Name)
	if err != nil {
		return err
	}
	opts, err := h.mfa.PasskeyRegister.BeginPasskeyRegistration(c.Request().Context(), principal(c), name)
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, "Passkey registration options", json.RawMessage(opts))
}

func (h *handlers) passkeyRegistration(c echo.Context, req *passkeyRegistrationRequest) error {
	if err := credentialObject(req.Credential); err != nil {
		return err
	}
	name, err := passkeyName(req.Name)
	if err != nil {
		return err
	}
	pk, err := h.mfa.PasskeyRegister.FinishPasskeyRegistration(c.Request().Context(), principal(c), req.Credential, name,
		factors.Enrolment{SignOutOthers: req.SignOutOtherSessions}, mfaMeta(c))
	if err != nil {
		return err
	}
	return ok(c, http.StatusCreated, "Passkey added", toPasskeyDTO(pk))
}

func (h *handlers) listPasskeys(c echo.Context) error {
	list, err := h.mfa.Passkeys.ListPasskeys(c.Request().Context(), principal(c))
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, "Passkeys", mapAll(list, toPasskeyDTO))
}

func (h *handlers) deletePasskey(c echo.Context) error {
	if err := h.mfa.PasskeyRemove.DeletePasskey(c.Request().Context(), principal(c), c.Param("id"), mfaMeta(c)); err != nil {
		return err
	}
	return ok(c, http.StatusOK, "Passkey removed", nil)
}

func (h *handlers) passkeyLoginOptions(c echo.Context, _ *struct{}) error {
	cid, opts, err := h.mfa.PasskeyLogin.BeginPasskeyLogin(c.Request().Context())
	if err != nil {
		return err
	}
	noStore(c)
	return ok(c, http.StatusOK, "Passkey login options", passkeyLoginOptionsDTO{ChallengeID: cid, Options: opts})
}

func (h *handlers) passkeyLogin(c echo.Context, req *passkeyLoginRequest) error {
	if err := credentialObject(req.Credential); err != nil {
		return err
	}
	p, err := h.auth.Passkey.Login(c.Request().Context(), req.ChallengeID, req.Credential, meta(c))
	if err != nil {
		return err
	}
	return h.respondPair(c, http.StatusOK, "Logged in", p, req.RefreshTokenTransport)
}
