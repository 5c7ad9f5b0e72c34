package providers

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The provider contracts live in the repository, in each provider's doc.go.
// Notes that pointed outside it (to the research notes, the decisions and the
// provider pages of a shared folder next to the clone) could not be followed
// from a clone. The strings are built from pieces so that this file does not
// match itself.
var outsidePointers = []string{
	".." + "/shared",
	"NOTES" + ".md",
	"DECISIONS" + ".md",
	".seed" + ".txt",
}

// TestNoPointersOutsideRepository fails when any file of the module points to
// the provider documents outside the repository.
func TestNoPointersOutsideRepository(t *testing.T) {
	root := moduleRoot(t)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for i, line := range bytes.Split(data, []byte("\n")) {
			for _, p := range outsidePointers {
				if bytes.Contains(line, []byte(p)) {
					t.Errorf("%s:%d points outside the repository (%q); point to the provider's doc.go instead: %s",
						rel, i+1, p, strings.TrimSpace(string(line)))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", root, err)
	}
}

// contractRef is a citation of a contract section, such as
// (finnotech/doc.go, "Unknown outcomes"), once comment lines are joined.
var contractRef = regexp.MustCompile(`\b(finnotech|arhivaar|card)/doc\.go,\s+"([^"]+)"`)

// commentBreak joins a comment that goes on on the next line.
var commentBreak = regexp.MustCompile(`\n[\t ]*//[\t ]*`)

// TestContractReferencesNameHeadings fails when a code comment or the README
// cites a section of a provider's doc.go that the doc does not have.
func TestContractReferencesNameHeadings(t *testing.T) {
	root := moduleRoot(t)
	headings := make(map[string]map[string]bool)
	for _, prov := range []string{"finnotech", "arhivaar", "card"} {
		data, err := os.ReadFile(filepath.Join(root, "providers", prov, "doc.go"))
		if err != nil {
			t.Fatalf("reading the %s contract: %v", prov, err)
		}
		headings[prov] = make(map[string]bool)
		for _, line := range strings.Split(string(data), "\n") {
			if h, ok := strings.CutPrefix(line, "// # "); ok {
				headings[prov][strings.TrimSpace(h)] = true
			}
		}
		if !headings[prov]["Where the code does not follow this yet"] {
			t.Errorf("providers/%s/doc.go has no heading %q", prov, "Where the code does not follow this yet")
		}
	}

	refs := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(path); ext != ".go" && ext != ".md" {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		text := commentBreak.ReplaceAllString(string(data), " ")
		for _, m := range contractRef.FindAllStringSubmatch(text, -1) {
			prov, heading := m[1], strings.Join(strings.Fields(m[2]), " ")
			if heading == "Heading" { // the docs' and the README's description of the form
				continue
			}
			refs++
			if !headings[prov][heading] {
				t.Errorf("%s cites (%s/doc.go, %q), but providers/%s/doc.go has no such heading", rel, prov, heading, prov)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", root, err)
	}
	if refs == 0 {
		t.Errorf("found no citation of a provider contract; is the pattern %s still the one in use?", contractRef)
	}
}

// moduleRoot returns the directory holding go.mod, above the test's own.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatalf("finding the test directory: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		} else if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("looking for go.mod: %v", err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}
