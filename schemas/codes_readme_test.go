package schemas

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// errorCodes returns the Code… constants of this package's source, code
// value → constant name, read with go/parser so that a new one is found
// without anyone listing it. It fails a constant that has no doc comment.
func errorCodes(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	codes := map[string]string{}
	isCode := regexp.MustCompile(`^Code[A-Z]`)
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.CONST {
				continue
			}
			for _, spec := range gen.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if !isCode.MatchString(id.Name) || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					value, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					if vs.Doc == nil {
						t.Errorf("%s: %s has no doc comment saying what it means", fset.Position(id.Pos()), id.Name)
					}
					codes[value] = id.Name
				}
			}
		}
	}
	if len(codes) == 0 {
		t.Fatal("found no Code… constants: the search is broken")
	}
	return codes
}

// TestREADMEListsEveryErrorCode checks README.md's error code table
// ("| code | meaning |") against the Code… constants: every code has a row
// with a meaning, and every row is a code.
func TestREADMEListsEveryErrorCode(t *testing.T) {
	codes := errorCodes(t)
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| `([A-Z_]+)` \\|(.*)\\|$")
	listed := map[string]string{}
	inTable := false
	for _, line := range strings.Split(string(raw), "\n") {
		switch {
		case line == "| code | meaning |":
			inTable = true
		case inTable && !strings.HasPrefix(line, "|"):
			inTable = false
		case inTable:
			if m := row.FindStringSubmatch(line); m != nil {
				listed[m[1]] = strings.TrimSpace(m[2])
			}
		}
	}
	if len(listed) == 0 {
		t.Fatal(`README.md has no "| code | meaning |" table of error codes`)
	}
	for code, name := range codes {
		meaning, ok := listed[code]
		switch {
		case !ok:
			t.Errorf("README.md's error code table lacks %s (schemas.%s)", code, name)
		case meaning == "":
			t.Errorf("README.md's error code table gives %s no meaning", code)
		}
	}
	for code := range listed {
		if _, ok := codes[code]; !ok {
			t.Errorf("README.md's error code table lists %s, which is no Code… constant in schemas", code)
		}
	}
}
