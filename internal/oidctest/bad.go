package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Defect is what a BadOP gets wrong.
type Defect string

// The defects a relying party must notice.
const (
	// None issues correct ID tokens: the control case.
	None          Defect = ""
	WrongNonce    Defect = "wrong nonce"
	WrongAudience Defect = "wrong audience"
	WrongIssuer   Defect = "wrong issuer"
	BadSignature  Defect = "bad signature"
	Expired       Defect = "expired"
	// Denied answers the authorization request with error=access_denied.
	Denied Defect = "access_denied"
)

// BadOP is an OpenID provider that signs ID tokens with its published key
// (RS256) but gets one thing wrong on purpose. It is hand-written so that
// each defect is exactly one: the real provider (StartOP) never makes them.
type BadOP struct {
	Issuer, ClientID, ClientSecret string

	mu     sync.Mutex
	defect Defect
	codes  map[string]string // code -> nonce
	key    *rsa.PrivateKey
	other  *rsa.PrivateKey
}

// SetDefect chooses what the next flows get wrong.
func (b *BadOP) SetDefect(d Defect) {
	b.mu.Lock()
	b.defect = d
	b.mu.Unlock()
}

// StartBadOP starts a BadOP for client id/secret.
func StartBadOP(t testing.TB, clientID, secret string) *BadOP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b := &BadOP{ClientID: clientID, ClientSecret: secret, codes: map[string]string{}, key: key, other: other}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	b.Issuer = srv.URL
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]any{
			"issuer": b.Issuer, "authorization_endpoint": b.Issuer + "/authorize",
			"token_endpoint": b.Issuer + "/token", "jwks_uri": b.Issuer + "/keys",
			"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &b.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		back, _ := url.Parse(q.Get("redirect_uri"))
		v := url.Values{"state": {q.Get("state")}}
		b.mu.Lock()
		if b.defect == Denied {
			v.Set("error", "access_denied")
		} else {
			code := randomString()
			b.codes[code] = q.Get("nonce")
			v.Set("code", code)
		}
		b.mu.Unlock()
		back.RawQuery = v.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		id, sec, ok := r.BasicAuth()
		if !ok || id != b.ClientID || sec != b.ClientSecret {
			w.WriteHeader(http.StatusUnauthorized)
			writeJSON(w, map[string]string{"error": "invalid_client"})
			return
		}
		b.mu.Lock()
		nonce, known := b.codes[r.FormValue("code")]
		delete(b.codes, r.FormValue("code"))
		defect := b.defect
		b.mu.Unlock()
		if !known {
			w.WriteHeader(http.StatusBadRequest)
			writeJSON(w, map[string]string{"error": "invalid_grant"})
			return
		}
		now := time.Now()
		claims := map[string]any{
			"iss": b.Issuer, "sub": "bad-op-user", "aud": b.ClientID, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
			"nonce": nonce, "email": "bad-op-user@example.com", "email_verified": true,
		}
		signer := b.key
		switch defect {
		case WrongNonce:
			claims["nonce"] = "another-nonce"
		case WrongAudience:
			claims["aud"] = "some-other-client"
		case WrongIssuer:
			claims["iss"] = "https://evil.example.com"
		case BadSignature:
			signer = b.other
		case Expired:
			claims["iat"], claims["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
		}
		writeJSON(w, map[string]any{"access_token": randomString(), "token_type": "Bearer", "expires_in": 300,
			"id_token": sign(signer, claims)})
	})
	return b
}

// sign makes a compact RS256 JWS of claims with key (kid k1).
func sign(key *rsa.PrivateKey, claims map[string]any) string {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		panic(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := s.Sign(payload)
	if err != nil {
		panic(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

func randomString() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
