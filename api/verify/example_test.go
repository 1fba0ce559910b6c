package verify_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/api/verify"
)

// A resource server that accepts Gatehouse access tokens offline, and asks
// Gatehouse about the session at most every 5 seconds per session (online
// mode), so a logout is honoured within that time.
func Example() {
	ctx := context.Background()
	v, err := verify.New(ctx, verify.Config{
		JWKSURL:    "https://auth.example.com/.well-known/jwks.json",
		Issuer:     "https://auth.example.com",
		Audience:   "gatehouse",
		Leeway:     2 * time.Second,
		SessionURL: "https://auth.example.com/auth/session",
	})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("GET /notes", v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := verify.FromContext(r.Context())
		fmt.Fprintf(w, "notes of %s", c.Subject)
	})))
	// Deleting everything asks for a password proof of the last 10 minutes;
	// otherwise the client gets Gatehouse's 403 FRESH_AUTH_REQUIRED and calls
	// POST /auth/reauthenticate.
	mux.Handle("DELETE /notes", v.Middleware(v.RequireFresh(10*time.Minute)(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))))
	_ = http.ListenAndServe(":8080", mux)
}

// Verifying a token by hand, for a transport that is not HTTP.
func ExampleVerifier_Verify() {
	v, err := verify.New(context.Background(), verify.Config{
		JWKSURL:  "https://auth.example.com/.well-known/jwks.json",
		Issuer:   "https://auth.example.com",
		Audience: "gatehouse",
	})
	if err != nil {
		log.Fatal(err)
	}
	claims, err := v.Verify(context.Background(), "eyJ...")
	if err != nil {
		e := verify.AsError(err) // Gatehouse's status and code
		log.Printf("refused: %d %s", e.Status, e.Code)
		return
	}
	log.Printf("user %s, session %s, roles %v, aal %s", claims.Subject, claims.SessionID, claims.Roles, claims.AAL)
}
