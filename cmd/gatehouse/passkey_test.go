package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// softAuthenticator is a WebAuthn authenticator in software (a platform
// authenticator with a resident P-256 key, user verification, "none"
// attestation), enough to drive the ceremonies over HTTP on both engines.
// The browser test does the same with Chromium's virtual authenticator.
type softAuthenticator struct {
	t      *testing.T
	origin string
	rpID   string
	key    *ecdsa.PrivateKey
	credID []byte
	user   []byte
	count  uint32
}

var b64 = base64.RawURLEncoding

func newSoftAuthenticator(t *testing.T, origin, rpID string) *softAuthenticator {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	return &softAuthenticator{t: t, origin: origin, rpID: rpID, key: key, credID: id}
}

func (a *softAuthenticator) clientData(typ, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.origin, "crossOrigin": false})
	return b
}

// authData is rpIdHash | flags | signCount [| attested credential data].
func (a *softAuthenticator) authData(flags byte, attested []byte) []byte {
	h := sha256.Sum256([]byte(a.rpID))
	out := append(h[:], flags)
	out = binary.BigEndian.AppendUint32(out, a.count)
	return append(out, attested...)
}

const (
	flagUP = 0x01
	flagUV = 0x04
	flagAT = 0x40
)

// create answers registration options (their JSON form) with a credential.
func (a *softAuthenticator) create(options json.RawMessage) map[string]any {
	var o struct {
		Challenge string `json:"challenge"`
		User      struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		a.t.Fatal(err)
	}
	a.user, _ = b64.DecodeString(o.User.ID)
	cose, err := cbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: a.key.X.FillBytes(make([]byte, 32)), -3: a.key.Y.FillBytes(make([]byte, 32))})
	if err != nil {
		a.t.Fatal(err)
	}
	attested := make([]byte, 16) // AAGUID, zero
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(a.credID)))
	attested = append(append(attested, a.credID...), cose...)
	a.count++
	att, err := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": a.authData(flagUP|flagUV|flagAT, attested)})
	if err != nil {
		a.t.Fatal(err)
	}
	return map[string]any{
		"id": b64.EncodeToString(a.credID), "rawId": b64.EncodeToString(a.credID), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(a.clientData("webauthn.create", o.Challenge)),
			"attestationObject": b64.EncodeToString(att),
		},
		"clientExtensionResults": map[string]any{},
	}
}

// get answers login options with an assertion of the resident credential.
func (a *softAuthenticator) get(options json.RawMessage) map[string]any {
	var o struct {
		Challenge string `json:"challenge"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		a.t.Fatal(err)
	}
	a.count++
	ad := a.authData(flagUP|flagUV, nil)
	cd := a.clientData("webauthn.get", o.Challenge)
	sum := sha256.Sum256(append(slices.Clone(ad), func() []byte { h := sha256.Sum256(cd); return h[:] }()...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, sum[:])
	if err != nil {
		a.t.Fatal(err)
	}
	return map[string]any{
		"id": b64.EncodeToString(a.credID), "rawId": b64.EncodeToString(a.credID), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(cd),
			"authenticatorData": b64.EncodeToString(ad),
			"signature":         b64.EncodeToString(sig),
			"userHandle":        b64.EncodeToString(a.user),
		},
		"clientExtensionResults": map[string]any{},
	}
}

type loginOptions struct {
	ChallengeID string          `json:"challengeId"`
	Options     json.RawMessage `json:"options"`
}

// TestPasskeys registers a passkey and logs in with it, each ceremony begun
// on one instance and finished on the other (ceremonies live in the
// database), on both engines.
func TestPasskeys(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		env := testEnv(dbURL(t))
		a, b := startServer(t, env), startServer(t, env)
		key := newSoftAuthenticator(t, "http://localhost:3000", "localhost") // PUBLIC_URL's default

		onA := a.client()
		reg := onA.register("passkey@example.com", "passkey password")
		onB := b.client()
		onB.bearer = reg.AccessToken

		r := onA.do("POST", "/auth/passkeys/registration/options", map[string]any{"name": "Soft key"})
		expect(t, r, 200, "")
		r = onB.do("POST", "/auth/passkeys/registration", map[string]any{"credential": key.create(r.Env.Data)})
		expect(t, r, 201, "")
		var pk struct {
			ID         string  `json:"id"`
			Name       string  `json:"name"`
			LastUsedAt *string `json:"lastUsedAt"`
		}
		r.data(t, &pk)
		if pk.Name != "Soft key" || pk.LastUsedAt != nil {
			t.Fatalf("passkey %s", r.Env.Data)
		}

		// Passwordless login: options on B, answer on A.
		anon := b.client()
		r = anon.do("POST", "/auth/passkeys/login/options", nil)
		expect(t, r, 200, "")
		var lo loginOptions
		r.data(t, &lo)
		assertion := key.get(lo.Options)
		r = a.client().do("POST", "/auth/passkeys/login", map[string]any{"challengeId": lo.ChallengeID, "credential": assertion, "refreshTokenTransport": "body"})
		expect(t, r, 200, "")
		var p tokenPair
		r.data(t, &p)
		aal, amr, fresh := claimsOf(t, p.AccessToken)
		if aal != "aal2" || !slices.Equal(amr, []string{"hwk", "mfa"}) || !fresh || p.Session.ID == reg.Session.ID {
			t.Fatalf("passkey login: aal %q amr %v fresh %v", aal, amr, fresh)
		}
		// The same answer again: the ceremony is used up.
		expect(t, a.client().do("POST", "/auth/passkeys/login", map[string]any{"challengeId": lo.ChallengeID, "credential": assertion}), 401, "PASSKEY_INVALID")
		// A replayed assertion on a new ceremony fails its challenge.
		r = anon.do("POST", "/auth/passkeys/login/options", nil)
		var lo2 loginOptions
		r.data(t, &lo2)
		expect(t, anon.do("POST", "/auth/passkeys/login", map[string]any{"challengeId": lo2.ChallengeID, "credential": assertion}), 401, "PASSKEY_INVALID")

		// A cloned authenticator (sign counter going backwards) is refused.
		r = anon.do("POST", "/auth/passkeys/login/options", nil)
		var lo3 loginOptions
		r.data(t, &lo3)
		key.count = 0
		expect(t, anon.do("POST", "/auth/passkeys/login", map[string]any{"challengeId": lo3.ChallengeID, "credential": key.get(lo3.Options)}), 401, "PASSKEY_INVALID")
		key.count = 10

		// A good passkey of a disabled account starts no session.
		const rootPW = "correct horse battery"
		if code, out, errOut := cli(t, env, rootPW+"\n", "users", "create", "--email", "root@example.com", "--role", "admin", "--role", "user"); code != 0 {
			t.Fatalf("users create: %d %q %q", code, out, errOut)
		}
		root := a.client()
		if _, r := root.login("root@example.com", rootPW, "body"); r.Status != 200 {
			t.Fatalf("root login: %s", r.Body)
		}
		expect(t, root.do("PATCH", "/admin/users/"+reg.User.ID, map[string]any{"disabled": true}), 200, "")
		r = anon.do("POST", "/auth/passkeys/login/options", nil)
		var loOff loginOptions
		r.data(t, &loOff)
		expect(t, anon.do("POST", "/auth/passkeys/login", map[string]any{"challengeId": loOff.ChallengeID, "credential": key.get(loOff.Options)}), 403, "USER_DISABLED")
		expect(t, root.do("PATCH", "/admin/users/"+reg.User.ID, map[string]any{"disabled": false}), 200, "")
		// Disabling revoked every session: sign in with the passkey again.
		r = anon.do("POST", "/auth/passkeys/login/options", nil)
		var loOn loginOptions
		r.data(t, &loOn)
		r = anon.do("POST", "/auth/passkeys/login", map[string]any{"challengeId": loOn.ChallengeID, "credential": key.get(loOn.Options), "refreshTokenTransport": "body"})
		expect(t, r, 200, "")
		r.data(t, &p)
		pwPair, lr := onA.login("passkey@example.com", "passkey password", "body")
		if lr.Status != 200 {
			t.Fatalf("password login after re-enabling: %s", lr.Body)
		}

		// The passkey session is aal2: it can manage factors; the list shows the use.
		c := b.client()
		c.bearer = p.AccessToken
		r = c.do("GET", "/auth/passkeys", nil)
		expect(t, r, 200, "")
		if !strings.Contains(string(r.Env.Data), `"lastUsedAt":"20`) {
			t.Errorf("last use not recorded: %s", r.Env.Data)
		}
		// A passkey does not raise the bar by itself: a refreshed token
		// cannot remove it, a fresh one can (the passkey session's here; a
		// password session's in TestPlantedFactorPreHijacking).
		r = onA.do("POST", "/auth/refresh", map[string]any{"refreshToken": pwPair.RefreshToken})
		expect(t, r, 200, "")
		var refreshed tokenPair
		r.data(t, &refreshed)
		onA.bearer = refreshed.AccessToken
		expect(t, onA.do("DELETE", "/auth/passkeys/"+pk.ID, nil), 403, "FRESH_AUTH_REQUIRED")
		expect(t, c.do("DELETE", "/auth/passkeys/"+pk.ID, nil), 200, "")
		r = anon.do("POST", "/auth/passkeys/login/options", nil)
		var lo4 loginOptions
		r.data(t, &lo4)
		expect(t, anon.do("POST", "/auth/passkeys/login", map[string]any{"challengeId": lo4.ChallengeID, "credential": key.get(lo4.Options)}), 401, "PASSKEY_INVALID")
		ev := c.do("GET", "/users/me/security-events?limit=100", nil)
		for _, want := range []string{"passkey_added", "passkey_removed"} {
			if !strings.Contains(string(ev.Body), want) {
				t.Errorf("security events lack %s", want)
			}
		}
	})
}
