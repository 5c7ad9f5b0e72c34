package main

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// moduleRoot is the directory of go.mod, relative to this package.
const moduleRoot = "../.."

// moduleDirs returns every directory of the module and, among them, those
// holding non-test .go files (packages), slash-separated and relative to
// the module root. Like the go command, it skips testdata and names
// starting with "." or "_", and stops at a nested module.
func moduleDirs(t *testing.T) (dirs, packages []string) {
	t.Helper()
	pkgs := map[string]bool{}
	err := filepath.WalkDir(moduleRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(moduleRoot, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "." {
				return nil
			}
			name := d.Name()
			if name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir
			}
			dirs = append(dirs, rel)
			return nil
		}
		if strings.HasSuffix(rel, ".go") && !strings.HasSuffix(rel, "_test.go") {
			pkgs[path.Dir(rel)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for d := range pkgs {
		packages = append(packages, d)
	}
	slices.Sort(packages)
	if !slices.Contains(packages, "cmd/blockd") || !slices.Contains(packages, "schemas") {
		t.Fatalf("found packages %v, without cmd/blockd and schemas: the walk is broken", packages)
	}
	return dirs, packages
}

// layoutPattern matches a path of README.md's Layout table against a
// directory. Besides plain paths it takes globs (* and ? within one path
// element) and placeholders: <provider> stands for any name, the same
// name wherever it appears, so providers/<provider>/<provider>fake matches
// providers/card/cardfake but not providers/card/finnotechfake.
type layoutPattern struct {
	re           *regexp.Regexp
	placeholders []string // the placeholder of each capture group, in order
}

func compileLayoutPattern(p string) (layoutPattern, error) {
	var b strings.Builder
	var lp layoutPattern
	b.WriteString("^")
	for rest := p; rest != ""; {
		switch rest[0] {
		case '*':
			b.WriteString("[^/]*")
			rest = rest[1:]
		case '?':
			b.WriteString("[^/]")
			rest = rest[1:]
		case '<':
			end := strings.IndexByte(rest, '>')
			if end < 0 {
				return layoutPattern{}, errors.New("a < without its >")
			}
			lp.placeholders = append(lp.placeholders, rest[:end+1])
			b.WriteString("([^/]+)")
			rest = rest[end+1:]
		default:
			n := strings.IndexAny(rest, "*?<")
			if n < 0 {
				n = len(rest)
			}
			b.WriteString(regexp.QuoteMeta(rest[:n]))
			rest = rest[n:]
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return layoutPattern{}, err
	}
	lp.re = re
	return lp, nil
}

func (lp layoutPattern) match(dir string) bool {
	m := lp.re.FindStringSubmatch(dir)
	if m == nil {
		return false
	}
	seen := map[string]string{}
	for i, name := range lp.placeholders {
		if v, ok := seen[name]; ok && v != m[i+1] {
			return false
		}
		seen[name] = m[i+1]
	}
	return true
}

// readmeLayout returns the paths README.md's Layout table names in its
// first column; a path may be a pattern standing for several (see
// layoutPattern).
func readmeLayout(t *testing.T) []string {
	t.Helper()
	var out []string
	cell := regexp.MustCompile("`([^`]+)`")
	for _, line := range sectionLines(t, readmePath, "## Layout") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || !strings.Contains(cells[1], "`") {
			continue
		}
		for _, m := range cell.FindAllStringSubmatch(cells[1], -1) {
			out = append(out, m[1])
		}
	}
	if len(out) == 0 {
		t.Fatal("README.md's Layout table names no path")
	}
	return out
}

func TestREADMELayoutNamesEveryPackage(t *testing.T) {
	dirs, pkgs := moduleDirs(t)
	var patterns []layoutPattern
	for _, p := range readmeLayout(t) {
		lp, err := compileLayoutPattern(p)
		if err != nil {
			t.Errorf("README.md's Layout table names %q, not a path or pattern: %v", p, err)
			continue
		}
		if !slices.ContainsFunc(dirs, lp.match) {
			t.Errorf("README.md's Layout table names %s, which is no directory of the module", p)
		}
		patterns = append(patterns, lp)
	}
	for _, pkg := range pkgs {
		if !slices.ContainsFunc(patterns, func(lp layoutPattern) bool { return lp.match(pkg) }) {
			t.Errorf("package directory %s is not in README.md's Layout table", pkg)
		}
	}
}

func TestLayoutPatterns(t *testing.T) {
	tests := []struct {
		pattern, dir string
		want         bool
	}{
		{"store", "store", true},
		{"store", "store/storetest", false},
		{"providers/*", "providers/card", true},
		{"providers/*", "providers/card/cardfake", false},
		{"providers/<provider>/<provider>fake", "providers/card/cardfake", true},
		{"providers/<provider>/<provider>fake", "providers/card/finnotechfake", false},
		{"providers/<provider>/internal/wire", "providers/finnotech/internal/wire", true},
		{"providers/<provider>", "providers", false},
		{"cmd/blockd", "cmd/blockd-chaos", false},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.dir, func(t *testing.T) {
			lp, err := compileLayoutPattern(tt.pattern)
			if err != nil {
				t.Fatal(err)
			}
			if got := lp.match(tt.dir); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestEverySandboxPackageIsFenced: .golangci.yml's depguard rule lets only
// cmd/, the fakes and tests import a sandbox package, and names each one;
// a new providers/<p>/<p>fake must be added there.
func TestEverySandboxPackageIsFenced(t *testing.T) {
	mod, err := os.ReadFile(filepath.Join(moduleRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	module := regexp.MustCompile(`(?m)^module\s+(\S+)`).FindSubmatch(mod)
	if module == nil {
		t.Fatal("go.mod has no module line")
	}
	lint, err := os.ReadFile(filepath.Join(moduleRoot, ".golangci.yml"))
	if err != nil {
		t.Fatal(err)
	}
	sandboxes := []string{"providers/sandboxfault"}
	_, pkgs := moduleDirs(t)
	for _, pkg := range pkgs {
		if ok, _ := path.Match("providers/*/*fake", pkg); ok {
			sandboxes = append(sandboxes, pkg)
		}
	}
	for _, pkg := range sandboxes {
		deny := "- pkg: " + string(module[1]) + "/" + pkg + "\n"
		if !strings.Contains(string(lint), deny) {
			t.Errorf(".golangci.yml's depguard rule sandboxes-only-in-wiring-and-tests lacks %q", strings.TrimSpace(deny))
		}
	}
}
