package main

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/fx"

	"github.com/gatehouse/gatehouse/infrastructure/config"
)

// TestGraphIsValid checks the whole fx graph without running constructors.
func TestGraphIsValid(t *testing.T) {
	if err := fx.ValidateApp(serveOptions(config.Module())); err != nil {
		t.Fatal(err)
	}
}

func TestCommands(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"version"}, &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "gatehouse ") {
		t.Errorf("version: %d %q", code, out.String())
	}
	out.Reset()
	if code := run([]string{"frobnicate"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "unknown command") {
		t.Errorf("unknown: %d %q", code, errOut.String())
	}
}

// TestBadConfigStopsStart: a bad value stops the process at start with one
// line naming the variable.
func TestBadConfigStopsStart(t *testing.T) {
	t.Setenv("ACCESS_TOKEN_TTL", "fifteen minutes")
	var out, errOut bytes.Buffer
	code := run(nil, &out, &errOut)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	msg := strings.TrimSpace(errOut.String())
	if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "ACCESS_TOKEN_TTL") {
		t.Errorf("message %q: want one line naming the variable", msg)
	}
}

func TestMigrateCommand(t *testing.T) {
	t.Setenv("DATABASE_URL", "sqlite://"+t.TempDir()+"/m.db")
	t.Setenv("CONFIG_FILE", "")
	var out, errOut bytes.Buffer
	if code := run([]string{"migrate"}, &out, &errOut); code != 0 {
		t.Fatalf("migrate: %d %s", code, errOut.String())
	}
	// Idempotent.
	if code := run([]string{"migrate"}, &out, &errOut); code != 0 {
		t.Fatalf("second migrate: %d %s", code, errOut.String())
	}
}
