package deploytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// serviceOnly are modules of the service that a resource server must not
// get by requiring the verifier.
var serviceOnly = []string{
	"gorm.io/", "go.uber.org/fx", "github.com/jackc/pgx", "github.com/glebarez/sqlite", "modernc.org/sqlite",
	"go.opentelemetry.io/", "github.com/prometheus/", "github.com/getkin/kin-openapi", "github.com/wneessen/go-mail",
	"github.com/go-webauthn/", "github.com/pressly/goose", "github.com/chromedp/",
}

// goCmd runs the go command in dir, outside any workspace, without
// changing go.mod or go.sum.
func goCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	// The go command that runs this test, when it says (go test sets
	// GOROOT for its children); else the one on PATH.
	bin := "go"
	if root := os.Getenv("GOROOT"); root != "" {
		if _, err := os.Stat(filepath.Join(root, "bin", "go")); err == nil {
			bin = filepath.Join(root, "bin", "go")
		}
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	// Only standard output is the answer: on a cold module cache the go
	// command reports its downloads on standard error.
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s in %s: %v\n%s%s", strings.Join(args, " "), dir, err, out, stderr.String())
	}
	return string(out)
}

// Issue 24 item 5: the verifier is published as modules of their own, whose
// go.mod and go.sum are complete and tidy (what `go get` reads), and whose
// build lists hold none of the service's dependencies: net/http users get
// jwx alone, Echo users jwx and Echo.
func TestVerifierModulesStandAlone(t *testing.T) {
	root := filepath.Join("..", "..")
	for _, m := range []struct {
		dir, path string
		forbidden []string
	}{
		{"api/verify", "github.com/gatehouse/gatehouse/api/verify", append([]string{"github.com/labstack/echo"}, serviceOnly...)},
		{"api/verify/verifyecho", "github.com/gatehouse/gatehouse/api/verify/verifyecho", serviceOnly},
	} {
		t.Run(m.dir, func(t *testing.T) {
			dir := filepath.Join(root, filepath.FromSlash(m.dir))
			if got := strings.TrimSpace(goCmd(t, dir, "list", "-m")); got != m.path {
				t.Fatalf("module %q, want %q", got, m.path)
			}
			all := goCmd(t, dir, "list", "-m", "all")
			for _, line := range strings.Split(strings.TrimSpace(all), "\n")[1:] {
				for _, f := range m.forbidden {
					if strings.HasPrefix(line, f) {
						t.Errorf("the module's build list holds %s", line)
					}
				}
			}
			if !strings.Contains(all, "github.com/lestrrat-go/jwx/v2 ") {
				t.Errorf("no jwx in:\n%s", all)
			}
			if diff := goCmd(t, dir, "mod", "tidy", "-diff"); diff != "" {
				t.Errorf("go.mod or go.sum is not tidy:\n%s", diff)
			}
			goCmd(t, dir, "build", "./...")
		})
	}
	// The service builds the verifier from this tree.
	gomod := string(read(t, "go.mod"))
	if !strings.Contains(gomod, "replace github.com/gatehouse/gatehouse/api/verify => ./api/verify") {
		t.Error("go.mod does not build the verifier from ./api/verify")
	}
	df := string(read(t, "Dockerfile"))
	if !strings.Contains(df, "COPY api/verify/go.mod api/verify/go.sum ./api/verify/") {
		t.Error("the Dockerfile's go mod download cannot see the verifier's go.mod")
	}
}
