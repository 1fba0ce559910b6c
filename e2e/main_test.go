package e2e

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/pgtest"
)

// Set once by TestMain, read-only afterwards.
var (
	// moduleRoot is the directory of go.mod.
	moduleRoot string
	// gatehouseBin is the binary built from ./cmd/gatehouse; "" when not built.
	gatehouseBin string
	// browserPath is the Chromium binary; "" when none was found.
	browserPath string
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	root, err := findModuleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	moduleRoot = root
	browserPath = findBrowser()
	if browserPath == "" || testing.Short() {
		// Every test skips (or fails under REQUIRE_BROWSER): no need to build.
		return pgtest.Main(m)
	}

	if bin := os.Getenv("E2E_GATEHOUSE_BIN"); bin != "" {
		// A binary built beforehand (make build, say): test that one.
		gatehouseBin = bin
		return pgtest.Main(m)
	}
	dir, err := os.MkdirTemp("", "gatehouse-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "gatehouse")
	start := time.Now()
	if err := build(root, bin); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building ./cmd/gatehouse:", err)
		return 1
	}
	if testing.Verbose() {
		fmt.Printf("e2e: built gatehouse in %s; browser %s\n", time.Since(start).Round(time.Millisecond), browserPath)
	}
	gatehouseBin = bin
	return pgtest.Main(m)
}

// build compiles the service once for all tests, as a user would run it.
func build(root, out string) error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return err
	}
	cmd := exec.Command(goTool, "build", "-o", out, "./cmd/gatehouse")
	cmd.Dir = root
	output, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w\n%s", err, output)
	}
	return nil
}

// findModuleRoot walks up from the working directory (the package directory under
// go test) to the directory with go.mod.
func findModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// browserCandidates are the names tried in $PATH, Debian's first.
var browserCandidates = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// findBrowser returns E2E_BROWSER when set, else the first Chromium found.
func findBrowser() string {
	if p := os.Getenv("E2E_BROWSER"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
		return ""
	}
	for _, name := range browserCandidates {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browserRequired reports whether REQUIRE_BROWSER asks for the browser tests.
func browserRequired() bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv("REQUIRE_BROWSER"))) {
	case "", "0", "false", "no":
		return false
	}
	return true
}

// requireBrowser skips the test when there is no browser, or fails it when
// REQUIRE_BROWSER is set.
func requireBrowser(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test: skipped in -short mode")
	}
	if browserPath == "" {
		msg := fmt.Sprintf("no Chromium found (tried %s in PATH); install it with `apt-get install chromium`",
			strings.Join(browserCandidates, ", "))
		if p := os.Getenv("E2E_BROWSER"); p != "" {
			msg = fmt.Sprintf("E2E_BROWSER=%s does not exist", p)
		}
		if browserRequired() {
			t.Fatal("REQUIRE_BROWSER is set and " + msg)
		}
		t.Skip(msg)
	}
	if gatehouseBin == "" {
		t.Fatal("the gatehouse binary was not built")
	}
}
