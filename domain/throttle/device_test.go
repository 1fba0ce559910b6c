package throttle

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestDeviceProof(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	c, err := NewDeviceCodec(bytes.Repeat([]byte{3}, DeviceKeyBytes))
	if err != nil {
		t.Fatal(err)
	}
	const uid = "0b7e7a52-3c1f-4e8a-9d2b-6f4c1a8e5d33"
	raw := c.Issue(uid, 7, now)
	if len(raw) != DeviceProofLength {
		t.Fatalf("length %d", len(raw))
	}
	d, ok := c.Open(raw, now.Add(364*24*time.Hour))
	if !ok || d.UserID != uid || d.CredentialVersion != 7 || !d.IssuedAt.Equal(now) || len(d.ID) != 32 {
		t.Fatalf("open: %+v %v", d, ok)
	}
	if other := c.Issue(uid, 7, now); other == raw {
		t.Error("two proofs alike")
	}
	if _, ok := c.Open(raw, now.Add(DeviceLifetime+time.Second)); ok {
		t.Error("an expired proof opened")
	}
	otherKey, _ := NewDeviceCodec(bytes.Repeat([]byte{4}, DeviceKeyBytes))
	if _, ok := otherKey.Open(raw, now); ok {
		t.Error("a proof opened under another key")
	}
	for i := range raw {
		flipped := []byte(raw)
		flipped[i] ^= 1
		if _, ok := c.Open(string(flipped), now); ok && string(flipped) != raw {
			t.Errorf("a proof with byte %d changed opened", i)
		}
	}
	for _, bad := range []string{"", "x", strings.Repeat("A", DeviceProofLength), raw + "A", raw[1:]} {
		if _, ok := c.Open(bad, now); ok {
			t.Errorf("%q opened", bad)
		}
	}
	if c.Issue("not an id", 1, now) != "" {
		t.Error("issued for a malformed user ID")
	}
	if _, err := NewDeviceCodec([]byte("short")); err == nil {
		t.Error("short key accepted")
	}
}
