package deploy

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// envExample is the list of every variable blockd reads, kept in step with
// the code by cmd/blockd's tests.
const envExample = "blockd.env.example"

// exampleLine is a variable's line in blockd.env.example, active or
// commented out: "BLOCKD_X=value" or "# BLOCKD_X=value".
var exampleLine = regexp.MustCompile(`^(?:# )?(BLOCKD_[A-Z0-9_]+)=`)

// knownVariables returns every variable blockd.env.example lists.
func knownVariables(t *testing.T) map[string]bool {
	t.Helper()
	src, err := os.ReadFile(envExample)
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, line := range strings.Split(string(src), "\n") {
		if m := exampleLine.FindStringSubmatch(line); m != nil {
			known[m[1]] = true
		}
	}
	// The file lists some 90; far fewer means the parsing broke.
	if len(known) < 50 || !known["BLOCKD_KAFKA_BROKERS"] || !known["BLOCKD_ADMIN_TOKEN_FILE"] {
		t.Fatalf("%s: read only %d variables: the parsing is broken", envExample, len(known))
	}
	return known
}

// isSecretVariable says whether name is a secret given directly, one that
// blockd.env.example also lists in a _FILE form: such a secret belongs in
// a file, never in a manifest or the compose file.
func isSecretVariable(known map[string]bool, name string) bool {
	return !strings.HasSuffix(name, "_FILE") && known[name+"_FILE"]
}

// providerCredentials are the credentials blockd serve requires of each
// provider BLOCKD_PROVIDERS lists (cmd/blockd/config.go, providerSettings),
// besides its URL; a secret one may come as its _FILE form.
var providerCredentials = map[string][]string{
	"finnotech": {"BLOCKD_FINNOTECH_CLIENT_ID", "BLOCKD_FINNOTECH_CLIENT_SECRET", "BLOCKD_FINNOTECH_TOKEN",
		"BLOCKD_FINNOTECH_REFRESH_TOKEN", "BLOCKD_FINNOTECH_BANK", "BLOCKD_FINNOTECH_NID"},
	"arhivaar": {"BLOCKD_ARHIVAAR_ACC_KEY", "BLOCKD_ARHIVAAR_SECRET"},
	"card":     {"BLOCKD_CARD_CLIENT_ID", "BLOCKD_CARD_CLIENT_SECRET"},
}

// checkServeVariables reports what blockd serve would refuse to start
// without, in the environment env of one deployment (README.md, "Two
// modes"), and every BLOCKD_* name blockd does not know.
func checkServeVariables(t *testing.T, where string, env map[string]string) {
	t.Helper()
	known := knownVariables(t)
	for name := range env {
		if strings.HasPrefix(name, "BLOCKD_") && !known[name] {
			t.Errorf("%s: %s is not a variable of blockd (%s lists none such)", where, name, envExample)
		}
		if isSecretVariable(known, name) {
			t.Errorf("%s: the secret %s is given as a value: give it as a file, %s_FILE", where, name, name)
		}
	}
	set := func(name string) bool { return env[name] != "" || env[name+"_FILE"] != "" }
	for _, name := range []string{"BLOCKD_KAFKA_BROKERS", "BLOCKD_DATABASE_URL", "BLOCKD_PROVIDERS"} {
		if !set(name) {
			t.Errorf("%s: %s is required by blockd serve", where, name)
		}
	}
	if env["BLOCKD_ADMIN_ADDR"] != "off" && !set("BLOCKD_ADMIN_TOKEN") {
		t.Errorf("%s: BLOCKD_ADMIN_TOKEN_FILE is required by blockd serve while BLOCKD_ADMIN_ADDR is on", where)
	}
	providers := strings.Split(env["BLOCKD_PROVIDERS"], ",")
	for _, p := range providers {
		p = strings.TrimSpace(p)
		creds, ok := providerCredentials[p]
		if !ok {
			t.Errorf("%s: BLOCKD_PROVIDERS names %q, not a provider of blockd", where, p)
			continue
		}
		for _, name := range append([]string{"BLOCKD_" + strings.ToUpper(p) + "_URL"}, creds...) {
			if !set(name) {
				t.Errorf("%s: %s is required by blockd serve for %s, which BLOCKD_PROVIDERS lists", where, name, p)
			}
		}
		url := env["BLOCKD_"+strings.ToUpper(p)+"_URL"]
		if strings.HasPrefix(url, "http://") && env["BLOCKD_"+strings.ToUpper(p)+"_ALLOW_HTTP"] != "true" {
			t.Errorf("%s: %s is http://, which blockd serve refuses unless BLOCKD_%s_ALLOW_HTTP=true", where, url, strings.ToUpper(p))
		}
		if p == "finnotech" && !set("BLOCKD_TOKEN_KEY") {
			t.Errorf("%s: BLOCKD_TOKEN_KEY_FILE is required by blockd serve with Finnotech", where)
		}
	}
}
