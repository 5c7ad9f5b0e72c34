package main

import (
	"errors"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/blockd/blockd/providers/providertest/testpki"
	"github.com/blockd/blockd/store/seal"
)

// serveEnv is a complete serve configuration for all three providers, with
// secrets given inline (no files).
func serveEnv(t *testing.T) map[string]string {
	t.Helper()
	return map[string]string{
		"BLOCKD_TOKEN_KEY_FILE":          writeKeyFile(t, "token.key"),
		"BLOCKD_KAFKA_BROKERS":           "kafka-1:9092",
		"BLOCKD_DATABASE_URL":            "postgres://blockd@db:5432/blockd?sslmode=verify-full",
		"BLOCKD_PROVIDERS":               "finnotech,arhivaar,card",
		"BLOCKD_ADMIN_TOKEN":             "an-operator-token-of-32-characters",
		"BLOCKD_FINNOTECH_URL":           "https://apibeta.finnotech.ir",
		"BLOCKD_FINNOTECH_CLIENT_ID":     "app",
		"BLOCKD_FINNOTECH_CLIENT_SECRET": "s",
		"BLOCKD_FINNOTECH_TOKEN":         "t",
		"BLOCKD_FINNOTECH_REFRESH_TOKEN": "r",
		"BLOCKD_FINNOTECH_BANK":          "062",
		"BLOCKD_FINNOTECH_NID":           "0012345678",
		"BLOCKD_ARHIVAAR_URL":            "https://api.arhivaar.ee",
		"BLOCKD_ARHIVAAR_ACC_KEY":        "k",
		"BLOCKD_ARHIVAAR_SECRET":         "s",
		"BLOCKD_CARD_URL":                "https://cards.example",
		"BLOCKD_CARD_CLIENT_ID":          "c",
		"BLOCKD_CARD_CLIENT_SECRET":      "s",
	}
}

func with(env map[string]string, kv ...string) map[string]string {
	out := maps.Clone(env)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
			continue
		}
		out[kv[i]] = kv[i+1]
	}
	return out
}

func wantNamed(t *testing.T, err error, names ...string) {
	t.Helper()
	var ce *configError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want a configuration error", err)
	}
	for _, name := range names {
		if !strings.Contains(err.Error(), name+":") {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
}

func TestServeConfigAccepted(t *testing.T) {
	c, err := loadServeConfig(envOf(serveEnv(t)), os.ReadFile)
	if err != nil {
		t.Fatalf("loadServeConfig: %v", err)
	}
	if c.Mode != modeServe || len(c.Providers) != 3 || c.DatabaseCreate {
		t.Fatalf("got mode %s, providers %v, create database %v; want serve, all three, false", c.Mode, c.Providers, c.DatabaseCreate)
	}
}

// With nothing set, blockd serve names every variable it needs, at once.
func TestServeConfigWithAnEmptyEnvironmentNamesEveryRequiredVariable(t *testing.T) {
	_, err := loadServeConfig(envOf(nil), os.ReadFile)
	wantNamed(t, err, "BLOCKD_KAFKA_BROKERS", "BLOCKD_DATABASE_URL", "BLOCKD_PROVIDERS", "BLOCKD_ADMIN_TOKEN")
	t.Logf("blockd serve with an empty environment:\n%v", err)
}

func TestServeConfigNamesEveryMissingProviderVariableAtOnce(t *testing.T) {
	env := map[string]string{"BLOCKD_KAFKA_BROKERS": "k:9092", "BLOCKD_DATABASE_URL": "postgres://db/blockd",
		"BLOCKD_PROVIDERS": "finnotech,arhivaar,card", "BLOCKD_ADMIN_ADDR": "off"}
	_, err := loadServeConfig(envOf(env), os.ReadFile)
	wantNamed(t, err, "BLOCKD_FINNOTECH_URL", "BLOCKD_FINNOTECH_CLIENT_ID", "BLOCKD_FINNOTECH_CLIENT_SECRET",
		"BLOCKD_FINNOTECH_TOKEN", "BLOCKD_FINNOTECH_REFRESH_TOKEN", "BLOCKD_FINNOTECH_BANK", "BLOCKD_FINNOTECH_NID",
		"BLOCKD_ARHIVAAR_URL", "BLOCKD_ARHIVAAR_ACC_KEY", "BLOCKD_ARHIVAAR_SECRET",
		"BLOCKD_CARD_URL", "BLOCKD_CARD_CLIENT_ID", "BLOCKD_CARD_CLIENT_SECRET")
}

// A provider left out of BLOCKD_PROVIDERS needs nothing: its commands are
// REJECTED PROVIDER_UNSUPPORTED.
func TestServeConfigNeedsOnlyTheListedProviders(t *testing.T) {
	env := serveEnv(t)
	for k := range env {
		if strings.HasPrefix(k, "BLOCKD_ARHIVAAR_") || strings.HasPrefix(k, "BLOCKD_CARD_") {
			delete(env, k)
		}
	}
	env["BLOCKD_PROVIDERS"] = " finnotech "
	c, err := loadServeConfig(envOf(env), os.ReadFile)
	if err != nil {
		t.Fatalf("loadServeConfig: %v", err)
	}
	if len(c.Providers) != 1 || c.Providers[0] != "finnotech" {
		t.Fatalf("got providers %v, want [finnotech]", c.Providers)
	}
}

func TestServeConfigProblems(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, "provider CA")
	certPEM, keyPEM := ca.Client(t, "blockd")
	caFile := testpki.WriteFile(t, "ca.pem", ca.PEM)
	certFile, keyFile := testpki.WriteFile(t, "cert.pem", certPEM), testpki.WriteFile(t, "key.pem", keyPEM)
	notPEM := testpki.WriteFile(t, "not.pem", []byte("hello"))
	tests := []struct {
		name    string
		env     map[string]string
		wantVar string // "" when the configuration is accepted
	}{
		{"http:// refused", with(serveEnv(t), "BLOCKD_CARD_URL", "http://cards.example"), "BLOCKD_CARD_URL"},
		{"http:// on purpose", with(serveEnv(t), "BLOCKD_CARD_URL", "http://cards.example", "BLOCKD_CARD_ALLOW_HTTP", "true"), ""},
		{"not a URL", with(serveEnv(t), "BLOCKD_ARHIVAAR_URL", "api.arhivaar.ee"), "BLOCKD_ARHIVAAR_URL"},
		{"unknown provider", with(serveEnv(t), "BLOCKD_PROVIDERS", "finnotech,acme"), "BLOCKD_PROVIDERS"},
		{"empty provider list", with(serveEnv(t), "BLOCKD_PROVIDERS", " , "), "BLOCKD_PROVIDERS"},
		{"a private CA", with(serveEnv(t), "BLOCKD_CARD_CA_FILE", caFile), ""},
		{"a CA file without a certificate", with(serveEnv(t), "BLOCKD_CARD_CA_FILE", notPEM), "BLOCKD_CARD_CA_FILE"},
		{"a CA file that is not there", with(serveEnv(t), "BLOCKD_FINNOTECH_CA_FILE", dir+"/none.pem"), "BLOCKD_FINNOTECH_CA_FILE"},
		{"a client pair", with(serveEnv(t), "BLOCKD_CARD_CERT_FILE", certFile, "BLOCKD_CARD_KEY_FILE", keyFile), ""},
		{"a certificate without its key", with(serveEnv(t), "BLOCKD_CARD_CERT_FILE", certFile), "BLOCKD_CARD_KEY_FILE"},
		{"a key that is not the certificate's", with(serveEnv(t), "BLOCKD_ARHIVAAR_CERT_FILE", certFile, "BLOCKD_ARHIVAAR_KEY_FILE", notPEM), "BLOCKD_ARHIVAAR_CERT_FILE"},
		{"no admin token", with(serveEnv(t), "BLOCKD_ADMIN_TOKEN", ""), "BLOCKD_ADMIN_TOKEN"},
		{"no admin token, admin listener off", with(serveEnv(t), "BLOCKD_ADMIN_TOKEN", "", "BLOCKD_ADMIN_ADDR", "off"), ""},
		{"a short admin token", with(serveEnv(t), "BLOCKD_ADMIN_TOKEN", "letmein"), "BLOCKD_ADMIN_TOKEN"},
		{"admin and probes on one address", with(serveEnv(t), "BLOCKD_ADMIN_ADDR", "127.0.0.1:8080"), "BLOCKD_ADMIN_ADDR"},
		{"admin address not host:port", with(serveEnv(t), "BLOCKD_ADMIN_ADDR", "8081"), "BLOCKD_ADMIN_ADDR"},
		{"create the database", with(serveEnv(t), "BLOCKD_DATABASE_CREATE", "true"), ""},
		{"create flag not a boolean", with(serveEnv(t), "BLOCKD_DATABASE_CREATE", "please"), "BLOCKD_DATABASE_CREATE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadServeConfig(envOf(tt.env), os.ReadFile)
			if tt.wantVar == "" {
				if err != nil {
					t.Fatalf("got %v, want the configuration accepted", err)
				}
				return
			}
			wantNamed(t, err, tt.wantVar)
		})
	}
}

// blockd dev needs nothing, serves every provider by default (each without
// a URL from its sandbox), and takes http:// provider URLs.
func TestDevConfig(t *testing.T) {
	c, err := loadConfig(envOf(map[string]string{"BLOCKD_CARD_URL": "http://127.0.0.1:9", "BLOCKD_CARD_CLIENT_ID": "c", "BLOCKD_CARD_CLIENT_SECRET": "s"}), os.ReadFile)
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	if c.Mode != modeDev || strings.Join(c.Providers, ",") != "finnotech,arhivaar,card" || c.AdminAddr != "127.0.0.1:8081" || c.AdminToken != "" {
		t.Fatalf("got mode %s, providers %v, admin %s (token set: %v); want dev, all three, 127.0.0.1:8081 without a token",
			c.Mode, c.Providers, c.AdminAddr, c.AdminToken != "")
	}
}

// exampleServeRequired are the active settings of deploy/blockd.env.example
// without which blockd serve refuses to start; every other active setting
// may be left out.
var exampleServeRequired = []string{
	"BLOCKD_KAFKA_BROKERS", "BLOCKD_DATABASE_URL", "BLOCKD_PROVIDERS", "BLOCKD_ADMIN_TOKEN_FILE", "BLOCKD_TOKEN_KEY_FILE",
	"BLOCKD_FINNOTECH_URL", "BLOCKD_FINNOTECH_CLIENT_ID", "BLOCKD_FINNOTECH_CLIENT_SECRET_FILE", "BLOCKD_FINNOTECH_TOKEN_FILE",
	"BLOCKD_FINNOTECH_REFRESH_TOKEN_FILE", "BLOCKD_FINNOTECH_BANK", "BLOCKD_FINNOTECH_NID_FILE",
	"BLOCKD_ARHIVAAR_URL", "BLOCKD_ARHIVAAR_ACC_KEY", "BLOCKD_ARHIVAAR_SECRET_FILE",
	"BLOCKD_CARD_URL", "BLOCKD_CARD_CLIENT_ID", "BLOCKD_CARD_CLIENT_SECRET_FILE",
}

// exampleServeCoupled are active settings of the example that go together:
// without one of them the others are refused, naming a setting of the group.
var exampleServeCoupled = [][]string{
	{"BLOCKD_KAFKA_TLS"}, // the CA file is refused without TLS; TLS without it uses the system roots
	{"BLOCKD_KAFKA_SASL_MECHANISM", "BLOCKD_KAFKA_SASL_USERNAME", "BLOCKD_KAFKA_SASL_PASSWORD"},
}

// coupledWith is the group of name in exampleServeCoupled, or nil.
func coupledWith(name string) []string {
	for _, g := range exampleServeCoupled {
		for _, n := range g {
			if n == name || n+"_FILE" == name {
				return g
			}
		}
	}
	return nil
}

// exampleWithFiles is the example's active settings with each *_FILE path
// replaced by a file generated for the test: a CA for _CA_FILE, a client
// pair for a _CERT_FILE with its _KEY_FILE, a secret otherwise.
func exampleWithFiles(t *testing.T) map[string]string {
	t.Helper()
	_, active := envExample(t)
	env := maps.Clone(active)
	ca := testpki.NewCA(t, "example CA")
	for name, path := range active {
		if !strings.HasSuffix(name, "_FILE") {
			continue
		}
		if !strings.HasPrefix(path, "/") {
			t.Fatalf("%s: %s=%s is not an absolute path", envExamplePath, name, path)
		}
		content := []byte("generated-" + strings.ToLower(name) + "-0123456789abcdef\n")
		switch stem := strings.TrimSuffix(name, "_FILE"); {
		case name == "BLOCKD_TOKEN_KEY_FILE":
			key, err := seal.NewKeyText()
			if err != nil {
				t.Fatal(err)
			}
			content = key
		case strings.HasSuffix(stem, "_CA"):
			content = ca.PEM
		case strings.HasSuffix(stem, "_CERT") && active[strings.TrimSuffix(stem, "_CERT")+"_KEY_FILE"] != "":
			certPEM, keyPEM := ca.Client(t, "blockd")
			content = certPEM
			keyName := strings.TrimSuffix(stem, "_CERT") + "_KEY_FILE"
			env[keyName] = testpki.WriteFile(t, "key.pem", keyPEM)
		case strings.HasSuffix(stem, "_KEY") && active[strings.TrimSuffix(stem, "_KEY")+"_CERT_FILE"] != "":
			continue // written with its certificate
		}
		env[name] = testpki.WriteFile(t, strings.ToLower(name), content)
	}
	return env
}

// TestEnvExampleIsAServeConfig: blockd serve accepts the example (with its
// files generated), and refuses it with any required setting removed,
// naming that setting; removing any other active setting is accepted.
func TestEnvExampleIsAServeConfig(t *testing.T) {
	env := exampleWithFiles(t)
	c, err := loadServeConfig(envOf(env), os.ReadFile)
	if err != nil {
		t.Fatalf("blockd serve refuses %s: %v", envExamplePath, err)
	}
	if len(c.KafkaBrokers) == 0 || len(c.Providers) != 3 || c.AdminToken == "" || c.AdminAddr == "off" {
		t.Fatalf("%s: got brokers %v, providers %v, operator listener %s (token set: %v); want brokers, all three providers, the operator listener with its token",
			envExamplePath, c.KafkaBrokers, c.Providers, c.AdminAddr, c.AdminToken != "")
	}
	for _, name := range exampleServeRequired {
		if _, ok := env[name]; !ok {
			t.Errorf("%s does not set %s, which blockd serve requires", envExamplePath, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(env)) {
		required := slices.Contains(exampleServeRequired, name)
		group := coupledWith(name)
		t.Run("without "+name, func(t *testing.T) {
			_, err := loadServeConfig(envOf(with(env, name, "")), os.ReadFile)
			switch {
			case group != nil && err == nil:
				t.Fatalf("blockd serve accepts the example without %s, which goes with %v", name, group)
			case group != nil:
				if !slices.ContainsFunc(group, func(n string) bool { return strings.Contains(err.Error(), n) }) {
					t.Fatalf("without %s: the error names none of %v:\n%v", name, group, err)
				}
			case required && err == nil:
				t.Fatalf("blockd serve accepts the example without %s", name)
			case required:
				if !strings.Contains(err.Error(), name) {
					t.Fatalf("without %s: the error does not name it:\n%v", name, err)
				}
			case err != nil:
				t.Fatalf("without %s, which is not in exampleServeRequired: %v", name, err)
			}
		})
	}
}
