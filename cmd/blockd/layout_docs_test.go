package main

import (
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

// packageDirs returns every directory of the module holding non-test .go
// files, slash-separated and relative to the module root. Like the go
// command, it skips testdata and names starting with "." or "_", and stops
// at a nested module.
func packageDirs(t *testing.T) []string {
	t.Helper()
	dirs := map[string]bool{}
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
			name := d.Name()
			if rel != "." && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); rel != "." && err == nil {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(rel, ".go") && !strings.HasSuffix(rel, "_test.go") {
			dirs[path.Dir(rel)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for d := range dirs {
		out = append(out, d)
	}
	slices.Sort(out)
	if !slices.Contains(out, "cmd/blockd") || !slices.Contains(out, "schemas") {
		t.Fatalf("found packages %v, without cmd/blockd and schemas: the walk is broken", out)
	}
	return out
}

// readmeLayout returns the paths README.md's Layout table names in its
// first column; a path may be a glob (path.Match) standing for several.
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
	pkgs := packageDirs(t)
	named := readmeLayout(t)
	for _, pkg := range pkgs {
		if !slices.ContainsFunc(named, func(p string) bool { ok, _ := path.Match(p, pkg); return ok }) {
			t.Errorf("package directory %s is not in README.md's Layout table", pkg)
		}
	}
	for _, p := range named {
		if _, err := path.Match(p, ""); err != nil {
			t.Errorf("README.md's Layout table names %q, not a valid path or glob: %v", p, err)
			continue
		}
		matches, err := filepath.Glob(filepath.Join(moduleRoot, filepath.FromSlash(p)))
		if err != nil {
			t.Fatal(err)
		}
		dirs := slices.DeleteFunc(matches, func(m string) bool { st, err := os.Stat(m); return err != nil || !st.IsDir() })
		if len(dirs) == 0 {
			t.Errorf("README.md's Layout table names %s, which is no directory of the module", p)
		}
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
	for _, pkg := range packageDirs(t) {
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
