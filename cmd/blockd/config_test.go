package main

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/blockd/blockd/store/seal"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadConfigDefaults(t *testing.T) {
	c, err := loadConfig(envOf(nil), os.ReadFile)
	if err != nil {
		t.Fatalf("loadConfig with no environment: %v", err)
	}
	if len(c.KafkaBrokers) != 0 || c.FinnotechURL != "" {
		t.Fatalf("got brokers %v and Finnotech URL %q, want none (embedded parts)", c.KafkaBrokers, c.FinnotechURL)
	}
	if c.EmbeddedKafkaAddr != "127.0.0.1:9092" || c.HTTPAddr != "127.0.0.1:8080" ||
		c.DatabaseURL != "postgres://postgres@127.0.0.1:5432/blockd?sslmode=disable" {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if c.TopicBlock != "blockd.cmd.block" || c.TopicResults != "blockd.results" || c.TopicDLQ != "blockd.dlq" || c.Lease != 30*time.Second {
		t.Fatalf("unexpected topic or lease defaults: %+v", c)
	}
}

func TestLoadConfigNamesTheBadVariable(t *testing.T) {
	tests := []struct {
		env     map[string]string
		wantVar string
	}{
		{map[string]string{"BLOCKD_KAFKA_BROKERS": "localhost"}, "BLOCKD_KAFKA_BROKERS"},
		{map[string]string{"BLOCKD_HTTP_ADDR": "8080"}, "BLOCKD_HTTP_ADDR"},
		{map[string]string{"BLOCKD_DATABASE_URL": "mysql://x"}, "BLOCKD_DATABASE_URL"},
		{map[string]string{"BLOCKD_LEASE": "soon"}, "BLOCKD_LEASE"},
		{map[string]string{"BLOCKD_LEASE": "-1s"}, "BLOCKD_LEASE"},
		{map[string]string{"BLOCKD_LEASE": "0"}, "BLOCKD_LEASE"},
		{map[string]string{"BLOCKD_RETENTION": "12h"}, "BLOCKD_RETENTION"},
		{map[string]string{"BLOCKD_RETENTION": "0"}, "BLOCKD_RETENTION"},
		{map[string]string{"BLOCKD_OUTBOX_RETENTION": "-1h"}, "BLOCKD_OUTBOX_RETENTION"},
		{map[string]string{"BLOCKD_RELAY_STALL": "never"}, "BLOCKD_RELAY_STALL"},
		{map[string]string{"BLOCKD_SANDBOX_LATENCY": "-1s"}, "BLOCKD_SANDBOX_LATENCY"},
		{map[string]string{"BLOCKD_MAX_IN_FLIGHT": "0"}, "BLOCKD_MAX_IN_FLIGHT"},
		{map[string]string{"BLOCKD_CREATE_TOPICS": "maybe"}, "BLOCKD_CREATE_TOPICS"},
		{map[string]string{"BLOCKD_LOG_LEVEL": "loud"}, "BLOCKD_LOG_LEVEL"},
		{map[string]string{"BLOCKD_FINNOTECH_URL": "https://api.example"}, "BLOCKD_FINNOTECH_TOKEN"},
		{map[string]string{"BLOCKD_FINNOTECH_URL": "ftp://x", "BLOCKD_FINNOTECH_TOKEN": "t"}, "BLOCKD_FINNOTECH_URL"},
		{map[string]string{"BLOCKD_TOPIC_DLQ": "blockd.results"}, "BLOCKD_TOPIC_DLQ"},
		{map[string]string{"BLOCKD_FINNOTECH_TOKEN": "a", "BLOCKD_FINNOTECH_TOKEN_FILE": "/x"}, "BLOCKD_FINNOTECH_TOKEN"},
		{map[string]string{"BLOCKD_FINNOTECH_TOKEN_FILE": "/does/not/exist"}, "BLOCKD_FINNOTECH_TOKEN_FILE"},
		{map[string]string{"BLOCKD_FINNOTECH_URL": "https://api.example", "BLOCKD_FINNOTECH_TOKEN": "t"}, "BLOCKD_FINNOTECH_CLIENT_ID"},
		{map[string]string{"BLOCKD_FINNOTECH_URL": "https://api.example", "BLOCKD_FINNOTECH_TOKEN": "t", "BLOCKD_FINNOTECH_CLIENT_ID": "c"}, "BLOCKD_FINNOTECH_NID"},
		{map[string]string{"BLOCKD_ARHIVAAR_URL": "https://api.example"}, "BLOCKD_ARHIVAAR_SECRET"},
		{map[string]string{"BLOCKD_CARD_URL": "https://api.example", "BLOCKD_CARD_CLIENT_ID": "c"}, "BLOCKD_CARD_CLIENT_SECRET"},
		{map[string]string{"BLOCKD_SANDBOX_ERROR_RATE": "1.5"}, "BLOCKD_SANDBOX_ERROR_RATE"},
		{map[string]string{"BLOCKD_CARD_RATE_LIMIT": "-3"}, "BLOCKD_CARD_RATE_LIMIT"},
		{map[string]string{"BLOCKD_FINNOTECH_BREAKER_COOLDOWN": "later"}, "BLOCKD_FINNOTECH_BREAKER_COOLDOWN"},
	}
	for _, tt := range tests {
		t.Run(tt.wantVar, func(t *testing.T) {
			_, err := loadConfig(envOf(tt.env), os.ReadFile)
			var ce *configError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a configError", err)
			}
			if !strings.Contains(err.Error(), tt.wantVar) {
				t.Fatalf("error %q does not name %s", err, tt.wantVar)
			}
		})
	}
}

func TestLoadConfigSecretsFromFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "token")
	if err := os.WriteFile(path, []byte("s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := loadConfig(envOf(map[string]string{"BLOCKD_FINNOTECH_URL": "https://api.example", "BLOCKD_FINNOTECH_CLIENT_ID": "app",
		"BLOCKD_FINNOTECH_CLIENT_SECRET": "s", "BLOCKD_FINNOTECH_REFRESH_TOKEN": "r", "BLOCKD_FINNOTECH_BANK": "062",
		"BLOCKD_FINNOTECH_NID": "0012345678", "BLOCKD_FINNOTECH_TOKEN_FILE": path,
		"BLOCKD_TOKEN_KEY_FILE": writeKeyFile(t, "token.key")}), os.ReadFile)
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	if c.FinnotechToken != "s3cret-token" {
		t.Fatalf("got token %q, want the file's content without the newline", c.FinnotechToken)
	}
}

// writeKeyFile writes a fresh random key, in base64 as openssl rand -base64
// 32 writes it, to a file named name in a test directory, and returns its path.
func writeKeyFile(t *testing.T, name string) string {
	t.Helper()
	text, err := seal.NewKeyText()
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, name, text)
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadConfigTokenKeys(t *testing.T) {
	realFinnotech := map[string]string{"BLOCKD_FINNOTECH_URL": "https://api.example", "BLOCKD_FINNOTECH_CLIENT_ID": "app",
		"BLOCKD_FINNOTECH_NID": "0012345678", "BLOCKD_FINNOTECH_TOKEN": "t", "BLOCKD_FINNOTECH_CLIENT_SECRET": "s",
		"BLOCKD_FINNOTECH_REFRESH_TOKEN": "r", "BLOCKD_FINNOTECH_BANK": "062"}
	with := func(base map[string]string, kv ...string) map[string]string {
		env := maps.Clone(base)
		if env == nil {
			env = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			env[kv[i]] = kv[i+1]
		}
		return env
	}
	current, old1, old2 := writeKeyFile(t, "current.key"), writeKeyFile(t, "old1.key"), writeKeyFile(t, "old2.key")
	const passphrase = "a passphrase of thirty-two chars"
	short := writeFile(t, "short.key", []byte("c2hvcnQ=\n"))
	phrase := writeFile(t, "phrase.key", []byte(passphrase))

	t.Run("accepted", func(t *testing.T) {
		tests := []struct {
			name    string
			env     map[string]string
			wantKey bool
			wantOld int
		}{
			{"no Finnotech, no key: a development key at start", nil, false, 0},
			{"a real Finnotech and its key", with(realFinnotech, "BLOCKD_TOKEN_KEY_FILE", current), true, 0},
			{"a rotation: the new key and two old ones", with(realFinnotech, "BLOCKD_TOKEN_KEY_FILE", current,
				"BLOCKD_TOKEN_OLD_KEY_FILES", old1+" , "+old2+","), true, 2},
			{"a key without a real Finnotech", with(nil, "BLOCKD_TOKEN_KEY_FILE", current), true, 0},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c, err := loadConfig(envOf(tt.env), os.ReadFile)
				if err != nil {
					t.Fatalf("loadConfig: %v", err)
				}
				if c.TokenKey.IsZero() == tt.wantKey || len(c.TokenOldKeys) != tt.wantOld {
					t.Fatalf("got key %v and %d old keys, want a key %v and %d old keys", c.TokenKey, len(c.TokenOldKeys), tt.wantKey, tt.wantOld)
				}
			})
		}
	})

	t.Run("refused", func(t *testing.T) {
		tests := []struct {
			name    string
			env     map[string]string
			wantVar string
		}{
			{"a real Finnotech without a key", realFinnotech, "BLOCKD_TOKEN_KEY_FILE"},
			{"a missing key file", with(realFinnotech, "BLOCKD_TOKEN_KEY_FILE", "/does/not/exist.key"), "BLOCKD_TOKEN_KEY_FILE"},
			{"a key file too short", with(realFinnotech, "BLOCKD_TOKEN_KEY_FILE", short), "BLOCKD_TOKEN_KEY_FILE"},
			{"a passphrase for a key", with(realFinnotech, "BLOCKD_TOKEN_KEY_FILE", phrase), "BLOCKD_TOKEN_KEY_FILE"},
			{"a bad old key", with(realFinnotech, "BLOCKD_TOKEN_KEY_FILE", current, "BLOCKD_TOKEN_OLD_KEY_FILES", old1+","+short), "BLOCKD_TOKEN_OLD_KEY_FILES"},
			{"old keys without a current one", with(nil, "BLOCKD_TOKEN_OLD_KEY_FILES", old1), "BLOCKD_TOKEN_OLD_KEY_FILES"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := loadConfig(envOf(tt.env), os.ReadFile)
				var ce *configError
				if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.wantVar) {
					t.Fatalf("got %v, want a configError naming %s", err, tt.wantVar)
				}
				if strings.Contains(err.Error(), passphrase[:8]) || strings.Contains(err.Error(), "c2hvcnQ") {
					t.Fatalf("error %q echoes a key file's content", err)
				}
			})
		}
	})
}
