package session_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/session"
)

var testKey = bytes.Repeat([]byte{7}, session.RefreshKeyBytes)

func codec(t testing.TB, key []byte) *session.RefreshCodec {
	t.Helper()
	c, err := session.NewRefreshCodec(key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRefreshCodecIssueAndParse(t *testing.T) {
	c := codec(t, testKey)
	sid := id.New()
	seen := map[string]bool{}
	for gen := int64(1); gen <= 1000; gen++ {
		raw, hash, err := c.Issue(sid, gen)
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) != session.RefreshTokenLength || hash != sha256.Sum256([]byte(raw)) {
			t.Fatalf("token %q: length %d, hash %x", raw, len(raw), hash)
		}
		if seen[raw] {
			t.Fatalf("token %q issued twice", raw)
		}
		seen[raw] = true
		p, err := c.Parse(raw)
		if err != nil || p != (session.Presented{Hash: hash, SessionID: sid, Generation: gen}) {
			t.Fatalf("Parse = %+v, %v", p, err)
		}
	}
	if _, _, err := c.Issue("not-a-uuid", 1); err == nil {
		t.Fatal("Issue accepted an invalid session id")
	}
	if _, _, err := c.Issue(sid, 0); err == nil {
		t.Fatal("Issue accepted generation 0")
	}
	if _, err := session.NewRefreshCodec(testKey[:16]); !errors.Is(err, session.ErrRefreshKey) {
		t.Fatalf("a 16-byte key: %v", err)
	}
}

func TestRefreshCodecRejectsWhatItDidNotIssue(t *testing.T) {
	c := codec(t, testKey)
	valid, _, _ := c.Issue(id.New(), 5)
	other, _, _ := codec(t, bytes.Repeat([]byte{8}, 32)).Issue(id.New(), 5)
	b, _ := base64.RawURLEncoding.DecodeString(valid)
	flip := func(i int) string {
		x := bytes.Clone(b)
		x[i] ^= 0x01
		return base64.RawURLEncoding.EncodeToString(x)
	}
	lastChar := valid[len(valid)-1]
	// The final character carries 4 unused bits: a changed one must not be
	// a second spelling of the same token.
	var noncanonical string
	for _, alt := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
		cand := valid[:len(valid)-1] + string(alt)
		if byte(alt) == lastChar {
			continue
		}
		if d, err := base64.RawURLEncoding.DecodeString(cand); err == nil && bytes.Equal(d, b) {
			noncanonical = cand
			break
		}
	}
	tests := []struct{ name, raw string }{
		{"empty", ""},
		{"truncated", valid[:len(valid)-1]},
		{"one long", valid + "A"},
		{"another key", other},
		{"tampered version", flip(0)},
		{"tampered session", flip(3)},
		{"tampered generation", flip(20)},
		{"tampered random", flip(40)},
		{"tampered MAC", flip(len(b) - 1)},
		{"standard base64", strings.ReplaceAll(strings.ReplaceAll(valid, "-", "+"), "_", "/") + strings.Repeat("+", 0)},
		{"padded", valid[:len(valid)-1] + "="},
		{"a JWT", "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"},
		{"very long", strings.Repeat("A", 10000)},
		{"legacy length, bad alphabet", strings.Repeat("+", 43)},
	}
	if noncanonical != "" {
		tests = append(tests, struct{ name, raw string }{"non-canonical last character", noncanonical})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.raw == valid {
				t.Skip("the mutation produced the valid token")
			}
			p, err := c.Parse(tc.raw)
			if !errors.Is(err, session.ErrRefreshInvalid) {
				t.Fatalf("Parse(%q) = %+v, %v; want ErrRefreshInvalid", tc.raw, p, err)
			}
		})
	}
}

func TestLegacyTokensParseByShape(t *testing.T) {
	c := codec(t, testKey)
	raw, hash := session.NewLegacyRefreshSecret()
	p, err := c.Parse(raw)
	if err != nil || p != (session.Presented{Hash: hash, Legacy: true}) {
		t.Fatalf("Parse(legacy) = %+v, %v", p, err)
	}
	for _, bad := range []string{raw[:42] + "=", "+" + raw[1:], "é" + raw[2:]} {
		if _, err := c.Parse(bad); !errors.Is(err, session.ErrRefreshInvalid) {
			t.Errorf("Parse(%q) = %v; want ErrRefreshInvalid", bad, err)
		}
	}
}

func TestSealAndOpenSuccessor(t *testing.T) {
	current, currentHash := session.NewLegacyRefreshSecret()
	next, _ := session.NewLegacyRefreshSecret()
	other, _ := session.NewLegacyRefreshSecret()
	const sid = "0b6f6c1e-4c7a-4f1e-9a53-2c1d0e6b7a10"

	sealed := session.SealSuccessor(current, next, sid)
	if bytes.Contains(sealed, []byte(next)) {
		t.Fatal("sealed successor contains the successor in clear")
	}
	got, err := session.OpenSuccessor(current, sealed, sid)
	if err != nil || got != next {
		t.Fatalf("OpenSuccessor = %q, %v; want %q, nil", got, err, next)
	}
	if again := session.SealSuccessor(current, next, sid); bytes.Equal(again, sealed) {
		t.Fatal("two seals of the same successor are identical; the nonce is not random")
	}

	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 0x01
	tamperedNonce := bytes.Clone(sealed)
	tamperedNonce[0] ^= 0x80

	failures := []struct {
		name    string
		current string
		sealed  []byte
		sid     string
	}{
		{"wrong token", other, sealed, sid},
		{"the stored hash as key", string(currentHash[:]), sealed, sid},
		{"wrong session id", current, sealed, "1b6f6c1e-4c7a-4f1e-9a53-2c1d0e6b7a10"},
		{"empty session id", current, sealed, ""},
		{"tampered ciphertext", current, tampered, sid},
		{"tampered nonce", current, tamperedNonce, sid},
		{"truncated", current, sealed[:len(sealed)-1], sid},
		{"shorter than a nonce", current, sealed[:5], sid},
		{"empty", current, nil, sid},
	}
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			got, err := session.OpenSuccessor(tc.current, tc.sealed, tc.sid)
			if err == nil {
				t.Fatalf("OpenSuccessor = %q, nil; want an error", got)
			}
			if got != "" {
				t.Fatalf("failed OpenSuccessor returned %q", got)
			}
		})
	}
}

func TestClientCodecIsDistinct(t *testing.T) {
	app, err := session.NewRefreshCodec(session.NewRefreshKey())
	if err != nil {
		t.Fatal(err)
	}
	cli := app.ForClients()
	sid := "0b6f6c1e-4c7a-4f1e-9a53-2c1d0e6b7a10"
	appTok, _, _ := app.Issue(sid, 1)
	cliTok, _, _ := cli.Issue(sid, 1)
	if _, err := cli.Parse(appTok); !errors.Is(err, session.ErrRefreshInvalid) {
		t.Errorf("client codec took an app token: %v", err)
	}
	if _, err := app.Parse(cliTok); !errors.Is(err, session.ErrRefreshInvalid) {
		t.Errorf("app codec took a client token: %v", err)
	}
	if p, err := cli.Parse(cliTok); err != nil || p.SessionID != sid || p.Generation != 1 {
		t.Errorf("client codec refused its own token: %+v %v", p, err)
	}
	legacy, _ := session.NewLegacyRefreshSecret()
	if _, err := cli.Parse(legacy); !errors.Is(err, session.ErrRefreshInvalid) {
		t.Errorf("client codec took a legacy token: %v", err)
	}
}
