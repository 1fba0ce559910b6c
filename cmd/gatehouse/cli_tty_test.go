package main

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// Issue 21 item 12: `users create` reads a password typed on a terminal
// without echoing it; the terminal shows the prompt, never the password.
// (Piped input is read as before: TestAdminAPI.)
func TestCLIPasswordNotEchoedOnTerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer func() { _ = ptmx.Close(); _ = tty.Close() }()
	env := testEnv("sqlite://" + t.TempDir() + "/cli.db")
	s := startServer(t, env)
	for k, v := range env {
		t.Setenv(k, v)
	}
	old := stdin
	stdin = tty
	defer func() { stdin = old }()

	// Everything the terminal shows, read from the master side until the
	// marker written after the command.
	shown := make(chan string, 1)
	go func() {
		var b strings.Builder
		sc := bufio.NewScanner(ptmx)
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "END-OF-TEST") {
				break
			}
		}
		shown <- b.String()
	}()

	const pw = "typed secret passphrase"
	var out, errOut bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run([]string{"users", "create", "--email", "tty@example.com"}, &out, &errOut) }()
	// Type only once the command has turned echo off, as a person would
	// after the prompt; the state is polled. A command that never turns it
	// off gets the password typed after a while all the same, and the check
	// below sees the echo.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatal(err)
		}
		if tio.Lflag&unix.ECHO == 0 {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("the command ended (%d, %q) without turning echo off", code, errOut.String())
		default:
		}
	}
	if _, err := ptmx.Write([]byte(pw + "\r")); err != nil {
		t.Fatal(err)
	}
	if code := <-done; code != 0 {
		t.Fatalf("users create from a terminal: %d %q", code, errOut.String())
	}
	if _, err := tty.Write([]byte("END-OF-TEST\n")); err != nil {
		t.Fatal(err)
	}
	screen := <-shown
	if strings.Contains(screen, "typed secret") {
		t.Errorf("the password was echoed to the terminal: %q", screen)
	}
	if !strings.Contains(errOut.String(), "Password: ") {
		t.Errorf("no prompt: %q", errOut.String())
	}
	if _, r := s.client().login("tty@example.com", pw, ""); r.Status != 200 {
		t.Errorf("login with the password typed on the terminal: %d %s", r.Status, r.Body)
	}
}
