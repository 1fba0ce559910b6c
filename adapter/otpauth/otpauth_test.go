package otpauth_test

import (
	"bytes"
	"image/png"
	"net/url"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/gatehouse/gatehouse/adapter/otpauth"
)

func TestNewKey(t *testing.T) {
	k, err := otpauth.TOTP{}.NewKey("Gatehouse", "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(k.URI)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" {
		t.Fatalf("URI %q", k.URI)
	}
	q := u.Query()
	if q.Get("secret") != k.Secret || q.Get("issuer") != "Gatehouse" || q.Get("digits") != "6" || q.Get("period") != "30" || q.Get("algorithm") != "SHA1" {
		t.Errorf("URI parameters %v", q)
	}
	if len(k.Secret) != 32 { // 20 bytes in base32
		t.Errorf("secret %q is not 160 bits", k.Secret)
	}
	img, err := png.Decode(bytes.NewReader(k.QRPNG))
	if err != nil || img.Bounds().Dx() != 256 {
		t.Fatalf("QR code is not a 256px PNG: %v", err)
	}
	k2, _ := otpauth.TOTP{}.NewKey("Gatehouse", "ada@example.com")
	if k2.Secret == k.Secret {
		t.Fatal("two enrolments got one secret")
	}
}

func TestMatch(t *testing.T) {
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	now := time.Date(2026, 12, 1, 1, 0, 15, 0, time.UTC) // mid-step
	step := now.Unix() / 30
	code := func(at time.Time) string {
		c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	o := otpauth.TOTP{}
	for name, tc := range map[string]struct {
		code string
		ok   bool
		step int64
	}{
		"current step":    {code(now), true, step},
		"previous step":   {code(now.Add(-30 * time.Second)), true, step - 1},
		"next step":       {code(now.Add(30 * time.Second)), true, step + 1},
		"two steps ago":   {code(now.Add(-60 * time.Second)), false, 0},
		"two steps ahead": {code(now.Add(60 * time.Second)), false, 0},
		"not digits":      {"12a456", false, 0},
		"too short":       {"12345", false, 0},
		"too long":        {code(now) + "0", false, 0},
		"empty":           {"", false, 0},
		"unicode digits":  {"١٢٣٤٥٦", false, 0},
	} {
		t.Run(name, func(t *testing.T) {
			got, ok := o.Match(secret, tc.code, now)
			if ok != tc.ok || (ok && got != tc.step) {
				t.Fatalf("Match(%q) = %d, %v; want %d, %v", tc.code, got, ok, tc.step, tc.ok)
			}
		})
	}
	if _, ok := o.Match("not base32!", "123456", now); ok {
		t.Fatal("a broken secret matched")
	}
}
