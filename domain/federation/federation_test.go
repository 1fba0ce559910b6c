package federation_test

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	fed "github.com/gatehouse/gatehouse/domain/federation"
)

// TestDecide is the linking rule as a table: automatic linking only when
// both sides proved the address.
func TestDecide(t *testing.T) {
	verified := fed.Claims{Subject: "s", Email: "a@b.co", EmailVerified: true}
	unverified := fed.Claims{Subject: "s", Email: "a@b.co"}
	for _, tc := range []struct {
		name string
		s    fed.Situation
		want fed.Decision
	}{
		{"linked identity signs in, whatever the address", fed.Situation{Linked: true, Claims: fed.Claims{Subject: "s"}}, fed.SignIn},
		{"no address", fed.Situation{Claims: fed.Claims{Subject: "s", Email: "  "}}, fed.EmailRequired},
		{"new address, verified", fed.Situation{Claims: verified}, fed.SignUp},
		{"new address, unverified", fed.Situation{Claims: unverified}, fed.SignUp},
		{"both verified", fed.Situation{Claims: verified, AccountExists: true, AccountVerified: true}, fed.LinkAndSignIn},
		{"provider unverified", fed.Situation{Claims: unverified, AccountExists: true, AccountVerified: true}, fed.AccountExists},
		{"account unverified", fed.Situation{Claims: verified, AccountExists: true}, fed.AccountExists},
		{"neither verified", fed.Situation{Claims: unverified, AccountExists: true}, fed.AccountExists},
	} {
		if got := fed.Decide(tc.s); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestRedirectPolicy(t *testing.T) {
	p := fed.NewRedirectPolicy([]string{"https://app.example.com/*", "myapp://callback"})
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
	if !fed.ValidChallenge(challenge) || fed.ValidChallenge(challenge[:42]) || fed.ValidChallenge(strings.Repeat("!", 43)) {
		t.Fatal("ValidChallenge")
	}
	if !fed.VerifierMatches(verifier, challenge) {
		t.Fatal("the right verifier does not match")
	}
	if fed.VerifierMatches(strings.Repeat("w", 43), challenge) || fed.VerifierMatches("short", challenge) ||
		fed.VerifierMatches(challenge, challenge) {
		t.Fatal("a wrong verifier matches")
	}
}
