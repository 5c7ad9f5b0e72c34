package main

import (
	"errors"
	"fmt"
	"github.com/blockd/blockd/providers/providertest/testpki"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/blockd/blockd/store/seal"
)

// The configuration documents an operator reads, relative to this package.
const (
	readmePath     = "../../README.md"
	envExamplePath = "../../deploy/blockd.env.example"
)

// noComparableDefault lists the variables whose default cannot be written
// down as a value: empty ones (setting them to "" is the same as not setting
// them, so there is nothing to compare) and computed ones. The documents must
// still name them; only their stated default is not checked.
var noComparableDefault = map[string]string{
	// Empty: in blockd dev the embedded development part runs instead;
	// blockd serve requires them.
	"BLOCKD_KAFKA_BROKERS": "empty: the embedded broker",
	"BLOCKD_FINNOTECH_URL": "empty: the embedded sandbox",
	"BLOCKD_ARHIVAAR_URL":  "empty: the embedded sandbox",
	"BLOCKD_CARD_URL":      "empty: the embedded sandbox",
	// Empty: tracing off (OpenTelemetry's standard variables).
	"OTEL_TRACES_EXPORTER":               "empty: on only with an OTLP endpoint",
	"OTEL_EXPORTER_OTLP_ENDPOINT":        "empty: none",
	"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "empty: none",
	// Empty in blockd dev, which then serves all three; blockd serve
	// requires it.
	"BLOCKD_PROVIDERS": "dev: all three; serve: required",
	// Empty: the system's roots, no client certificate.
	"BLOCKD_FINNOTECH_CA_FILE":   "empty: the system's roots",
	"BLOCKD_ARHIVAAR_CA_FILE":    "empty: the system's roots",
	"BLOCKD_CARD_CA_FILE":        "empty: the system's roots",
	"BLOCKD_FINNOTECH_CERT_FILE": "empty: no client certificate",
	"BLOCKD_ARHIVAAR_CERT_FILE":  "empty: no client certificate",
	"BLOCKD_CARD_CERT_FILE":      "empty: no client certificate",
	"BLOCKD_FINNOTECH_KEY_FILE":  "empty: no client certificate",
	"BLOCKD_ARHIVAAR_KEY_FILE":   "empty: no client certificate",
	"BLOCKD_CARD_KEY_FILE":       "empty: no client certificate",
	// Computed on the host.
	"BLOCKD_DATA_DIR":    "the user's home directory + /.blockd",
	"BLOCKD_INSTANCE_ID": "<host>-<pid>",
	// Credentials: empty unless given; the embedded sandboxes bring their own.
	"BLOCKD_FINNOTECH_CLIENT_ID":          "credential",
	"BLOCKD_FINNOTECH_CLIENT_SECRET":      "secret",
	"BLOCKD_FINNOTECH_CLIENT_SECRET_FILE": "secret file",
	"BLOCKD_FINNOTECH_TOKEN":              "secret",
	"BLOCKD_FINNOTECH_TOKEN_FILE":         "secret file",
	"BLOCKD_FINNOTECH_REFRESH_TOKEN":      "secret",
	"BLOCKD_FINNOTECH_REFRESH_TOKEN_FILE": "secret file",
	"BLOCKD_FINNOTECH_BANK":               "the token's bank code",
	"BLOCKD_FINNOTECH_NID":                "secret (a national code)",
	"BLOCKD_FINNOTECH_NID_FILE":           "secret file",
	"BLOCKD_ARHIVAAR_ACC_KEY":             "credential",
	"BLOCKD_ARHIVAAR_SECRET":              "secret",
	"BLOCKD_ARHIVAAR_SECRET_FILE":         "secret file",
	"BLOCKD_CARD_CLIENT_ID":               "credential",
	"BLOCKD_CARD_CLIENT_SECRET":           "secret",
	"BLOCKD_CARD_CLIENT_SECRET_FILE":      "secret file",
	// Key files: empty unless given; a development run makes its own key.
	"BLOCKD_TOKEN_KEY_FILE":      "empty: a development key in BLOCKD_DATA_DIR",
	"BLOCKD_TOKEN_OLD_KEY_FILES": "empty: no old key",
	// Kafka security: empty unless given (no CA file: the system's roots;
	// no server name: each broker's host; no mechanism: no SASL).
	"BLOCKD_KAFKA_TLS_CA_FILE":        "empty: the system's trusted roots",
	"BLOCKD_KAFKA_TLS_CERT_FILE":      "empty: no client certificate",
	"BLOCKD_KAFKA_TLS_KEY_FILE":       "empty: no client certificate",
	"BLOCKD_KAFKA_TLS_SERVER_NAME":    "empty: each broker's host",
	"BLOCKD_KAFKA_SASL_MECHANISM":     "empty: no SASL",
	"BLOCKD_KAFKA_SASL_USERNAME":      "credential",
	"BLOCKD_KAFKA_SASL_PASSWORD":      "secret",
	"BLOCKD_KAFKA_SASL_PASSWORD_FILE": "secret file",
	"BLOCKD_ADMIN_TOKEN":              "secret: blockd serve requires it while BLOCKD_ADMIN_ADDR is on",
	"BLOCKD_ADMIN_TOKEN_FILE":         "secret file",
	"BLOCKD_METRICS_TOKEN":            "secret: optional",
	"BLOCKD_METRICS_TOKEN_FILE":       "secret file",
	// Per provider, the default is the global BLOCKD_MAX_ATTEMPTS and
	// BLOCKD_RETRY_BUDGET, kept as 0 ("not overridden") in the config.
	"BLOCKD_FINNOTECH_MAX_ATTEMPTS": "the global BLOCKD_MAX_ATTEMPTS",
	"BLOCKD_ARHIVAAR_MAX_ATTEMPTS":  "the global BLOCKD_MAX_ATTEMPTS",
	"BLOCKD_CARD_MAX_ATTEMPTS":      "the global BLOCKD_MAX_ATTEMPTS",
	"BLOCKD_FINNOTECH_RETRY_BUDGET": "the global BLOCKD_RETRY_BUDGET",
	"BLOCKD_ARHIVAAR_RETRY_BUDGET":  "the global BLOCKD_RETRY_BUDGET",
	"BLOCKD_CARD_RETRY_BUDGET":      "the global BLOCKD_RETRY_BUDGET",
}

// configVars returns every variable loadConfig asks for, found by giving it
// a getenv that records each name: once with nothing set, and once with
// every name seen set, so that a variable read only when another one is set
// is found too.
func configVars(t *testing.T) []string {
	t.Helper()
	asked := map[string]bool{}
	record := func(set map[string]bool) func(string) string {
		return func(name string) string {
			asked[name] = true
			if set[name] {
				return "x"
			}
			return ""
		}
	}
	noFile := func(string) ([]byte, error) { return []byte("x"), nil }
	_, _ = loadConfig(record(nil), noFile)
	set := map[string]bool{}
	for name := range asked {
		set[name] = true
	}
	_, _ = loadConfig(record(set), noFile)
	var names []string
	for name := range asked {
		names = append(names, name)
	}
	slices.Sort(names)
	if len(names) < 40 || !slices.Contains(names, "BLOCKD_LEASE") || !slices.Contains(names, "BLOCKD_CARD_CLIENT_SECRET_FILE") {
		t.Fatalf("recorded only %d variables (%v): the recording getenv is not seeing loadConfig's reads", len(names), names)
	}
	return names
}

// documentedDefault is a variable's default as a document states it.
type documentedDefault struct {
	value   string // the value, when the document gives one
	isValue bool   // false when the document describes it in words or leaves it blank
}

// readmeConfig returns the variables of README.md's configuration table.
// Each row names one variable, or several that share the row's default (a
// secret and its _FILE variant); BLOCKD_<PROVIDER>_X stands for X of every
// provider. The default cell gives the default as a `code` span, optionally
// followed by words; anything else is a default stated in words.
func readmeConfig(t *testing.T, providers []string) map[string]documentedDefault {
	t.Helper()
	lines := sectionLines(t, readmePath, "## Configuration")
	names := regexp.MustCompile("`((?:BLOCKD|OTEL)_[A-Z0-9_<>]+)`")
	value := regexp.MustCompile("^`([^`]*)`")
	out := map[string]documentedDefault{}
	rows := 0
	for _, line := range lines {
		if !strings.HasPrefix(line, "| `BLOCKD_") && !strings.HasPrefix(line, "| `OTEL_") {
			continue
		}
		rows++
		cells := strings.Split(line, "|")
		if len(cells) < 4 {
			t.Fatalf("README configuration row has %d cells, want 3: %s", len(cells)-2, line)
		}
		def := documentedDefault{}
		if m := value.FindStringSubmatch(strings.TrimSpace(cells[2])); m != nil {
			def = documentedDefault{value: m[1], isValue: true}
		}
		for _, m := range names.FindAllStringSubmatch(cells[1], -1) {
			for _, name := range expandProvider(m[1], providers) {
				if _, dup := out[name]; dup {
					t.Errorf("README's configuration table names %s twice", name)
				}
				out[name] = def
			}
		}
	}
	if rows == 0 {
		t.Fatalf("found no BLOCKD_ rows in README's configuration table")
	}
	return out
}

// expandProvider turns BLOCKD_<PROVIDER>_X into BLOCKD_FINNOTECH_X etc.
func expandProvider(name string, providers []string) []string {
	if !strings.Contains(name, "<PROVIDER>") {
		return []string{name}
	}
	var out []string
	for _, p := range providers {
		out = append(out, strings.ReplaceAll(name, "<PROVIDER>", p))
	}
	return out
}

// sectionLines returns the lines of the markdown file under heading, up to
// the next heading of the same level.
func sectionLines(t *testing.T, path, heading string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	level := heading[:strings.IndexByte(heading, ' ')+1]
	var out []string
	in := false
	for _, line := range strings.Split(string(raw), "\n") {
		switch {
		case line == heading:
			in = true
		case in && strings.HasPrefix(line, level):
			return out
		case in:
			out = append(out, line)
		}
	}
	if !in {
		t.Fatalf("%s has no %q section", path, heading)
	}
	return out
}

// envExample returns the variables of deploy/blockd.env.example with their
// defaults, and the active (uncommented) settings. An active line must
// follow a "# default: X" line; "(words)" there is a default in words.
// A commented "# BLOCKD_X=v" line is a variable left at its default v.
func envExample(t *testing.T) (defaults map[string]documentedDefault, active map[string]string) {
	t.Helper()
	raw, err := os.ReadFile(envExamplePath)
	if err != nil {
		t.Fatal(err)
	}
	commented := regexp.MustCompile(`^#\s*((?:BLOCKD|OTEL)_[A-Z0-9_]+)=(.*)$`)
	setting := regexp.MustCompile(`^((?:BLOCKD|OTEL)_[A-Z0-9_]+)=(.*)$`)
	defaults, active = map[string]documentedDefault{}, map[string]string{}
	add := func(n int, name string, def documentedDefault) {
		if _, dup := defaults[name]; dup {
			t.Errorf("%s:%d: %s appears twice", envExamplePath, n, name)
		}
		defaults[name] = def
	}
	var pending *documentedDefault // from a "# default:" line
	for i, line := range strings.Split(string(raw), "\n") {
		n, line := i+1, strings.TrimSpace(line)
		if pending != nil && !setting.MatchString(line) {
			t.Errorf("%s:%d: a \"# default:\" line must be followed by the setting it describes", envExamplePath, n)
			pending = nil
		}
		if d, ok := strings.CutPrefix(line, "# default:"); ok {
			d = strings.TrimSpace(d)
			isWords := strings.HasPrefix(d, "(") && strings.HasSuffix(d, ")")
			pending = &documentedDefault{value: d, isValue: !isWords}
			continue
		}
		if m := commented.FindStringSubmatch(line); m != nil {
			add(n, m[1], documentedDefault{value: m[2], isValue: true})
			continue
		}
		if m := setting.FindStringSubmatch(line); m != nil {
			if pending == nil {
				t.Errorf("%s:%d: %s is set without a \"# default: …\" line above it", envExamplePath, n, m[1])
				pending = &documentedDefault{}
			}
			add(n, m[1], *pending)
			active[m[1]] = m[2]
			pending = nil
			continue
		}
		if line != "" && !strings.HasPrefix(line, "#") {
			t.Errorf("%s:%d: not a setting, a commented default or a comment: %s", envExamplePath, n, line)
		}
	}
	return defaults, active
}

func providerNames(t *testing.T) []string {
	t.Helper()
	c, err := loadConfig(envOf(nil), os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for p := range c.Policies {
		out = append(out, strings.ToUpper(p))
	}
	slices.Sort(out)
	return out
}

// configDocs are the two documents that must describe every variable.
func configDocs(t *testing.T) map[string]map[string]documentedDefault {
	t.Helper()
	example, _ := envExample(t)
	return map[string]map[string]documentedDefault{
		"README.md's configuration table": readmeConfig(t, providerNames(t)),
		"deploy/blockd.env.example":       example,
	}
}

func TestConfigDocsNameEveryVariable(t *testing.T) {
	vars := configVars(t)
	for doc, documented := range configDocs(t) {
		t.Run(doc, func(t *testing.T) {
			for _, name := range vars {
				if _, ok := documented[name]; !ok {
					t.Errorf("%s does not name %s, which loadConfig reads", doc, name)
				}
			}
			for name := range documented {
				if !slices.Contains(vars, name) {
					t.Errorf("%s names %s, which loadConfig never reads", doc, name)
				}
			}
		})
	}
	for name := range noComparableDefault {
		if !slices.Contains(vars, name) {
			t.Errorf("noComparableDefault lists %s, which loadConfig never reads", name)
		}
	}
}

// TestConfigDocsGiveTheDefaults sets each variable to the default a
// document states and expects the same config as with nothing set; then all
// of them at once.
func TestConfigDocsGiveTheDefaults(t *testing.T) {
	want, err := loadConfig(envOf(nil), os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	vars := configVars(t)
	for doc, documented := range configDocs(t) {
		t.Run(doc, func(t *testing.T) {
			all := map[string]string{}
			for _, name := range vars {
				def, ok := documented[name]
				if !ok {
					continue // TestConfigDocsNameEveryVariable reports it
				}
				if _, skip := noComparableDefault[name]; skip {
					continue
				}
				if !def.isValue {
					t.Errorf("%s gives no value as %s's default (only words); give it, or list %s in noComparableDefault with the reason", doc, name, name)
					continue
				}
				all[name] = def.value
				got, err := loadConfig(envOf(map[string]string{name: def.value}), os.ReadFile)
				if err != nil {
					t.Errorf("%s says %s defaults to %q, but loadConfig refuses that value: %v", doc, name, def.value, err)
					continue
				}
				if diff := configDiff(got, want); diff != "" {
					t.Errorf("%s says %s defaults to %q, but setting it so changes the config: %s", doc, name, def.value, diff)
				}
			}
			got, err := loadConfig(envOf(all), os.ReadFile)
			if err != nil {
				t.Fatalf("every default %s states, set at once: %v", doc, err)
			}
			if diff := configDiff(got, want); diff != "" {
				t.Errorf("every default %s states, set at once, changes the config: %s", doc, diff)
			}
		})
	}
}

// configDiff names the fields of got that differ from want ("" if none).
func configDiff(got, want config) string {
	var diffs []string
	g, w := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := range g.NumField() {
		if !reflect.DeepEqual(g.Field(i).Interface(), w.Field(i).Interface()) {
			diffs = append(diffs, fmt.Sprintf("%s: got %+v, want %+v", g.Type().Field(i).Name, g.Field(i).Interface(), w.Field(i).Interface()))
		}
	}
	return strings.Join(diffs, "; ")
}

// TestEnvExampleIsAValidConfig loads the example's active settings, with
// its secret files stubbed, the way a production host would.
func TestEnvExampleIsAValidConfig(t *testing.T) {
	_, active := envExample(t)
	if len(active) == 0 {
		t.Fatalf("%s sets nothing", envExamplePath)
	}
	caPEM := testpki.NewCA(t, "example CA").PEM
	readFile := func(path string) ([]byte, error) {
		if !strings.HasPrefix(path, "/") {
			return nil, errors.New("a secret file path should be absolute: " + path)
		}
		if strings.HasSuffix(path, ".key") { // a key file holds a key
			return seal.NewKeyText()
		}
		if strings.HasSuffix(path, "ca.pem") {
			return caPEM, nil
		}
		return []byte("secret from " + filepath.Base(path) + "\n"), nil
	}
	c, err := loadConfig(envOf(active), readFile)
	if err != nil {
		t.Fatalf("%s: %v", envExamplePath, err)
	}
	// A production host runs no embedded part.
	if len(c.KafkaBrokers) == 0 || c.FinnotechURL == "" || c.ArhivaarURL == "" || c.CardURL == "" {
		t.Errorf("%s leaves an embedded development part running: brokers %v, Finnotech %q, Arhivaar %q, card %q",
			envExamplePath, c.KafkaBrokers, c.FinnotechURL, c.ArhivaarURL, c.CardURL)
	}
}

// TestOnlyLoadConfigReadsTheEnvironment keeps configVars honest: it finds
// what loadConfig reads, so nothing else in the binary may read the
// environment (main hands os.Getenv to run, which hands it to loadConfig).
func TestOnlyLoadConfigReadsTheEnvironment(t *testing.T) {
	readers := []string{"Getenv", "LookupEnv", "Environ"}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if ok && fn.Name.Name == "main" && fn.Recv == nil {
				continue
			}
			ast.Inspect(decl, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if pkg, ok := sel.X.(*ast.Ident); ok && (pkg.Name == "os" || pkg.Name == "syscall") && slices.Contains(readers, sel.Sel.Name) {
					t.Errorf("%s: %s.%s outside main: read configuration in loadConfig only", fset.Position(sel.Pos()), pkg.Name, sel.Sel.Name)
				}
				return true
			})
		}
	}
}
