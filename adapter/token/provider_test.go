package token

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"
)

// TestLazyRSAKeySet: the OpenID provider's set starts empty (no RSA key is
// generated at start), gets an RS256 key on Ensure, and another instance on
// the same store finds it when a token names its kid.
func TestLazyRSAKeySet(t *testing.T) {
	store := &rotStore{}
	cfg := testConfig()
	cfg.Algorithm, cfg.Lazy = AlgRS256, true
	a := newStoreService(t, cfg, store, testNow())
	b := newStoreService(t, cfg, store, testNow())
	if _, ok := a.SignerAt(testNow()); ok || string(a.JWKS()) != `{"keys":[]}` || len(store.keys) != 0 {
		t.Fatalf("a lazy set made a key at start: %s", a.JWKS())
	}
	if k, err := a.RotateIfDue(context.Background()); k != nil || err != nil {
		t.Fatalf("an empty lazy set rotated: %v %v", k, err)
	}
	if err := a.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	k, ok := a.SignerAt(testNow())
	if _, isRSA := k.Key.(*rsa.PrivateKey); !ok || k.Alg != "RS256" || !isRSA {
		t.Fatalf("signer %+v %v", k, ok)
	}
	if !strings.Contains(string(a.JWKS()), `"kty":"RSA"`) || strings.Contains(string(a.JWKS()), `"d":`) {
		t.Errorf("JWKS %s", a.JWKS())
	}
	// b has not reloaded: the kid makes it look.
	if p, ok := b.PublicKeyByKID(k.KID); !ok || p.Alg != "RS256" {
		t.Errorf("other instance: %+v %v", p, ok)
	}
	if err := a.Ensure(context.Background()); err != nil || len(store.keys) != 1 {
		t.Errorf("a second Ensure added a key: %d %v", len(store.keys), err)
	}
}

// TestRSAKeyRefusedForAccessTokens: an RSA key in JWT_PRIVATE_KEY_FILE is
// refused, so the app's tokens stay on the algorithms the verifier pins.
func TestRSAKeyRefusedForAccessTokens(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.PrivateKeyFile = writeFile(t, pemPKCS8(t, k))
	if _, err := NewService(context.Background(), cfg, nil, nil); err == nil || !strings.Contains(err.Error(), "RSA keys sign only") {
		t.Errorf("RSA access-token key: %v", err)
	}
}
