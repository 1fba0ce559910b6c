// Package archtest enforces the house rule that every import points inward
// (DESIGN.md): domain imports only domain; usecase only domain; an adapter
// imports usecase, domain and its framework, never another adapter or
// infrastructure; infrastructure imports no business code; fx appears only in
// cmd and infrastructure.
package archtest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/gatehouse/gatehouse"

// rule says what a package under prefix may not import.
type rule struct {
	prefix string
	// allowed reports whether the package at dir may import imp.
	allowed func(dir, imp string) bool
}

func ours(imp string) (string, bool) {
	if imp == module {
		return "", true
	}
	rel, ok := strings.CutPrefix(imp, module+"/")
	return rel, ok
}

func under(rel, prefix string) bool {
	return rel == prefix || strings.HasPrefix(rel, prefix+"/")
}

func frameworks(imp string) bool {
	for _, f := range []string{"gorm.io/", "github.com/labstack/echo", "go.uber.org/fx", "github.com/lestrrat-go/jwx", "github.com/prometheus/", "github.com/jackc/"} {
		if strings.HasPrefix(imp, f) {
			return true
		}
	}
	return false
}

var rules = []rule{
	{"domain", func(_, imp string) bool {
		if rel, ok := ours(imp); ok {
			return under(rel, "domain")
		}
		// Standard library only: no dots in the first path element.
		first, _, _ := strings.Cut(imp, "/")
		return !strings.Contains(first, ".")
	}},
	{"usecase", func(_, imp string) bool {
		if rel, ok := ours(imp); ok {
			return under(rel, "domain") || under(rel, "usecase")
		}
		return !frameworks(imp)
	}},
	{"adapter", func(dir, imp string) bool {
		if strings.HasPrefix(imp, "go.uber.org/fx") {
			return false
		}
		rel, ok := ours(imp)
		if !ok {
			return true
		}
		if under(rel, "adapter") {
			// Only its own adapter package tree.
			own := strings.Join(strings.SplitN(dir, "/", 3)[:2], "/")
			return under(rel, own)
		}
		return under(rel, "domain") || under(rel, "usecase") || under(rel, "api") || under(rel, "internal")
	}},
	{"infrastructure", func(_, imp string) bool {
		rel, ok := ours(imp)
		if !ok {
			return true
		}
		return under(rel, "infrastructure") || under(rel, "internal") || under(rel, "api")
	}},
	{"api", func(_, imp string) bool {
		if strings.HasPrefix(imp, "go.uber.org/fx") {
			return false
		}
		rel, ok := ours(imp)
		return !ok || under(rel, "api") || under(rel, "internal")
	}},
}

func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s", dir)
	}
	return dir
}

// imports lists, per package directory (relative), the imports of its
// non-test files.
func imports(t *testing.T, base string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(base, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != base && (strings.HasPrefix(name, ".") || name == "testdata" || name == "data" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(base, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		for _, is := range f.Imports {
			p, _ := strconv.Unquote(is.Path.Value)
			out[rel] = append(out[rel], p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestImportsPointInward(t *testing.T) {
	all := imports(t, root(t))
	if len(all) < 10 {
		t.Fatalf("found only %d packages; is the walk broken?", len(all))
	}
	checked := 0
	for dir, imps := range all {
		for _, r := range rules {
			if !under(dir, r.prefix) {
				continue
			}
			checked++
			for _, imp := range imps {
				if !r.allowed(dir, imp) {
					t.Errorf("%s imports %s: not allowed for %s packages", dir, imp, r.prefix)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no package was checked")
	}
}

// TestRulesCatchViolations proves the rules bite, so the test above cannot
// pass vacuously.
func TestRulesCatchViolations(t *testing.T) {
	bad := []struct{ dir, imp string }{
		{"domain/user", module + "/usecase/authn"},
		{"domain/user", "gorm.io/gorm"},
		{"usecase/authn", module + "/adapter/persistence"},
		{"usecase/authn", module + "/infrastructure/config"},
		{"usecase/authn", "github.com/labstack/echo/v4"},
		{"adapter/http", module + "/adapter/persistence"},
		{"adapter/http", module + "/infrastructure/config"},
		{"adapter/persistence", "go.uber.org/fx"},
		{"infrastructure/database", module + "/adapter/persistence"},
		{"infrastructure/database", module + "/domain/user"},
	}
	for _, b := range bad {
		for _, r := range rules {
			if under(b.dir, r.prefix) && r.allowed(b.dir, b.imp) {
				t.Errorf("rule for %s allows %s -> %s", r.prefix, b.dir, b.imp)
			}
		}
	}
}
