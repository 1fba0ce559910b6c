package federation_test

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/domain/federation"
)

// TestDecide is the linking rule as a table: automatic linking only when
// both sides proved the address.
func TestDecide(t *testing.T) {
	verified := federation.Claims{Subject: "s", Email: "a@b.co", EmailVerified: true}
	unverified := federation.Claims{Subject: "s", Email: "a@b.co"}
	for _, tc := range []struct {
		name string
		s    federation.Situation
		want federation.Decision
	}{
		{"linked identity signs in, whatever the address", federation.Situation{Linked: true, Claims: federation.Claims{Subject: "s"}}, federation.SignIn},
		{"no address", federation.Situation{Claims: federation.Claims{Subject: "s", Email: "  "}}, federation.EmailRequired},
		{"new address, verified", federation.Situation{Claims: verified}, federation.SignUp},
		{"new address, unverified", federation.Situation{Claims: unverified}, federation.SignUp},
		{"both verified", federation.Situation{Claims: verified, AccountExists: true, AccountVerified: true}, federation.LinkAndSignIn},
		{"provider unverified", federation.Situation{Claims: unverified, AccountExists: true, AccountVerified: true}, federation.AccountExists},
		{"account unverified", federation.Situation{Claims: verified, AccountExists: true}, federation.AccountExists},
		{"neither verified", federation.Situation{Claims: unverified, AccountExists: true}, federation.AccountExists},
	} {
		if got := federation.Decide(tc.s); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestRedirectPolicy(t *testing.T) {
	p := federation.NewRedirectPolicy([]string{"https://app.example.com/*", "myapp://callback"})
	for u, want := range map[string]bool{
		"https://app.example.com/":                  true,
		"https://app.example.com/auth/cb?x=1":       true,
		"myapp://callback":                          true,
		"myapp://callback/more":                     false,
		"https://app.example.com.evil.com/":         false,
		"https://app.example.com/../x":              false,
		"https://app.example.com/@evil.com":         false,
		"https://app.example.com/#frag":             false,
		"https://app.example.com/\r\nLocation:x":    false,
		"":                                          false,
		"https://evil.com/https://app.example.com/": false,
	} {
		if got := p.Allows(u); got != want {
			t.Errorf("Allows(%q) = %v, want %v", u, got, want)
		}
	}
}

func TestPKCE(t *testing.T) {
	verifier := strings.Repeat("v", 43)
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	if !federation.ValidChallenge(challenge) || federation.ValidChallenge(challenge[:42]) || federation.ValidChallenge(strings.Repeat("!", 43)) {
		t.Fatal("ValidChallenge")
	}
	if !federation.VerifierMatches(verifier, challenge) {
		t.Fatal("the right verifier does not match")
	}
	if federation.VerifierMatches(strings.Repeat("w", 43), challenge) || federation.VerifierMatches("short", challenge) ||
		federation.VerifierMatches(challenge, challenge) {
		t.Fatal("a wrong verifier matches")
	}
}
