package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/gatehouse/gatehouse/internal/oidctest"
	"github.com/gatehouse/gatehouse/internal/smtptest"
	"github.com/gatehouse/gatehouse/usecase/admin"
)

// tsClientDir holds the TypeScript client: package.json pins openapi-typescript,
// openapi-fetch and typescript; src/ has the wrapper and the flow test.
const tsClientDir = "../../clients/ts"

// TestTypeScriptClient generates the TypeScript types from the spec
// (openapi-typescript), compiles the openapi-fetch client and its flow test
// under tsc --strict, and runs the flow with node against a real instance.
// It needs node and npm: without them it is skipped, unless REQUIRE_NODE is
// set (CI sets it).
func TestTypeScriptClient(t *testing.T) {
	t.Parallel() // mostly waiting on node; the other tests need not wait for it
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("REQUIRE_NODE") != "" {
				t.Fatalf("%s not found and REQUIRE_NODE is set", tool)
			}
			t.Skipf("%s not found (set REQUIRE_NODE=1 to make this a failure)", tool)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	run := func(env []string, name string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = tsClientDir
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if stale(t, filepath.Join(tsClientDir, "node_modules", ".package-lock.json"), filepath.Join(tsClientDir, "package-lock.json")) {
		run(nil, "npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error")
	}
	t.Logf("openapi-typescript: %s", strings.TrimSpace(run(nil, "npm", "run", "--silent", "generate")))
	build := run(nil, "npm", "run", "--silent", "build")
	t.Logf("tsc --strict printed %d bytes: %q", len(build), build)

	var adm *admin.AccountCreator
	gh := oidctest.StartGitHub(t, "ts-gh", "ts-gh-secret", oidctest.GitHubUser{
		ID: 31337, Login: "ts-user", Name: "TS User",
		Emails: []oidctest.GitHubEmail{{Email: "ts-gh@example.com", Primary: true, Verified: true}},
	})
	env := testEnv("sqlite::memory:")
	env["OAUTH_PROVIDERS"] = "github"
	env["OAUTH_GITHUB_CLIENT_ID"], env["OAUTH_GITHUB_CLIENT_SECRET"] = gh.ClientID, gh.ClientSecret
	env["OAUTH_GITHUB_URL"], env["OAUTH_GITHUB_API_URL"] = gh.URL, gh.APIURL
	s := startServerWith(t, env, fx.Populate(&adm))
	const adminEmail, adminPassword = "ts-admin@example.com", "typescript admin password"
	if _, err := adm.Create(ctx, admin.CLIActor, admin.CreateInput{Email: adminEmail, Password: adminPassword, Name: "Root", Roles: []string{"admin", "user"}}); err != nil {
		t.Fatal(err)
	}
	// Sign-in by emailed code needs mail: an instance of its own with the
	// SMTP test server, whose newest code per address the flow reads from a
	// small mailbox endpoint.
	mail := smtptest.Start(t, smtptest.Options{})
	withMail := startServer(t, mailEnv("sqlite::memory:", mail))
	mailbox := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, newestCode(mail, r.URL.Query().Get("to")))
	}))
	t.Cleanup(mailbox.Close)
	out := run([]string{"GATEHOUSE_URL=" + s.base, "GATEHOUSE_ADMIN_EMAIL=" + adminEmail, "GATEHOUSE_ADMIN_PASSWORD=" + adminPassword,
		"GATEHOUSE_MAIL_URL=" + withMail.base, "GATEHOUSE_MAILBOX_URL=" + mailbox.URL},
		"node", "--test", "dist/flow.test.js")
	if !strings.Contains(out, "# pass 4") || !strings.Contains(out, "# fail 0") {
		t.Fatalf("node --test:\n%s", out)
	}
}

// stale reports whether target is missing or older than source.
func stale(t *testing.T, target, source string) bool {
	t.Helper()
	ti, err := os.Stat(target)
	if err != nil {
		return true
	}
	si, err := os.Stat(source)
	if err != nil {
		t.Fatal(err)
	}
	return ti.ModTime().Before(si.ModTime())
}

// newestCode is the code of the newest sign-in code mail to addr, "" when
// none has arrived.
func newestCode(mail *smtptest.Server, addr string) string {
	msgs := mail.Messages()
	for i := len(msgs) - 1; i >= 0; i-- {
		p, err := smtptest.Parse(msgs[i].Data)
		if err != nil || !slices.Contains(msgs[i].To, addr) || !strings.Contains(p.Subject, "sign-in code") {
			continue
		}
		if m := codeInText.FindStringSubmatch(p.Text); m != nil {
			return m[1]
		}
	}
	return ""
}
