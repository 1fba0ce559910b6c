// Package otpauth implements TOTP (RFC 6238) for the second-factor use
// cases with github.com/pquerna/otp: secrets, otpauth:// URIs with their QR
// codes, and code checks that say which time step matched, so the use case
// can refuse a replay.
package otpauth

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"image/png"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/gatehouse/gatehouse/usecase/factors"
)

// The contract's parameters: SHA-1, 6 digits, 30-second steps, what every
// authenticator app supports.
const (
	period     = 30
	digits     = otp.DigitsSix
	secretSize = 20 // 160 bits, RFC 4226's recommended length
	qrSize     = 256
)

// TOTP is the OTP port on pquerna/otp.
type TOTP struct{}

var _ factors.OTP = TOTP{}

var validateOpts = totp.ValidateOpts{Period: period, Digits: digits, Algorithm: otp.AlgorithmSHA1}

// NewKey implements factors.OTP.
func (TOTP) NewKey(issuer, account string) (factors.OTPKey, error) {
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: issuer, AccountName: account, Period: period,
		SecretSize: secretSize, Digits: digits, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return factors.OTPKey{}, fmt.Errorf("otpauth: generate: %w", err)
	}
	img, err := key.Image(qrSize, qrSize)
	if err != nil {
		return factors.OTPKey{}, fmt.Errorf("otpauth: qr code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return factors.OTPKey{}, fmt.Errorf("otpauth: png: %w", err)
	}
	return factors.OTPKey{Secret: key.Secret(), URI: key.URL(), QRPNG: buf.Bytes()}, nil
}

// Match implements factors.OTP. Every step of the window is computed and
// compared in constant time, so the answer's timing says nothing about
// which step (if any) matched. When a code matches more than one step (a
// one-in-a-million coincidence), the latest wins, which only makes replay
// refusal stricter.
func (TOTP) Match(secret, code string, now time.Time) (int64, bool) {
	if len(code) != int(digits) || !allDigits(code) {
		return 0, false
	}
	cur := now.Unix() / period
	var matched int64
	ok := false
	for _, step := range []int64{cur - 1, cur, cur + 1} {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*period, 0), validateOpts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			matched, ok = step, true
		}
	}
	return matched, ok
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
