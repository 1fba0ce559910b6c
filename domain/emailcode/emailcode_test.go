package emailcode_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain/emailcode"
)

func sealer(t *testing.T, b byte) *emailcode.Sealer {
	t.Helper()
	s, err := emailcode.NewSealer(bytes.Repeat([]byte{b}, emailcode.KeyBytes))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCodesAreSixDigitsAndVary(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		c := emailcode.NewCode()
		if !emailcode.WellFormed(c) {
			t.Fatalf("code %q is not six digits", c)
		}
		seen[c] = true
	}
	// 200 draws from a million repeat rarely; a constant or tiny space would.
	if len(seen) < 190 {
		t.Fatalf("only %d distinct codes in 200 draws", len(seen))
	}
}

func TestSealMatchesOnlyItsCodeRecordAndKey(t *testing.T) {
	s := sealer(t, 1)
	p := emailcode.Pending{ID: "rec-1", CodeSeal: s.Seal("rec-1", "123456")}
	if !s.Matches(p, "123456") {
		t.Fatal("the issued code does not match")
	}
	for _, wrong := range []string{"123457", "", "12345", "1234567", "12345a", " 123456"} {
		if s.Matches(p, wrong) {
			t.Errorf("%q matches", wrong)
		}
	}
	moved := emailcode.Pending{ID: "rec-2", CodeSeal: p.CodeSeal}
	if s.Matches(moved, "123456") {
		t.Error("a seal copied to another record matches there")
	}
	if sealer(t, 2).Matches(p, "123456") {
		t.Error("a seal verifies under another key")
	}
	if _, err := emailcode.NewSealer([]byte("short")); err == nil {
		t.Error("a short key is accepted")
	}
}

func TestUsableUntilExpiryAndFiveFailures(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	p := emailcode.Pending{ExpiresAt: now.Add(time.Minute)}
	if !p.Usable(now) {
		t.Fatal("fresh code unusable")
	}
	if p.Usable(now.Add(time.Minute)) {
		t.Error("usable at its expiry")
	}
	p.Failures = emailcode.MaxFailures - 1
	if !p.Usable(now) {
		t.Error("unusable after four failures")
	}
	p.Failures = emailcode.MaxFailures
	if p.Usable(now) {
		t.Error("usable after five failures")
	}
}
