package main

import (
	"crypto/tls"
	"errors"
	"github.com/blockd/blockd/providers/providertest/testpki"
	"os"
	"strings"
	"testing"
)

// kafkaFiles are the PEM files of a test PKI: a CA, a client certificate
// it signed with its key, and a file that holds no PEM at all.
type kafkaFiles struct {
	ca, cert, key, otherKey, notPEM string
}

func newKafkaFiles(t *testing.T) kafkaFiles {
	t.Helper()
	ca := testpki.NewCA(t, "kafka CA")
	certPEM, keyPEM := ca.Client(t, "blockd")
	_, otherKeyPEM := ca.Client(t, "someone else")
	return kafkaFiles{
		ca:       testpki.WriteFile(t, "ca.pem", ca.PEM),
		cert:     testpki.WriteFile(t, "client.pem", certPEM),
		key:      testpki.WriteFile(t, "client-key.pem", keyPEM),
		otherKey: testpki.WriteFile(t, "other-key.pem", otherKeyPEM),
		notPEM:   testpki.WriteFile(t, "not.pem", []byte("this is no certificate\n")),
	}
}

// withBrokers adds an external broker to env, which TLS and SASL need.
func withBrokers(env map[string]string) map[string]string {
	out := map[string]string{"BLOCKD_KAFKA_BROKERS": "kafka-1:9093"}
	for k, v := range env {
		out[k] = v
	}
	return out
}

func TestLoadConfigKafkaSecurityNamesTheBadVariable(t *testing.T) {
	f := newKafkaFiles(t)
	const password = "correct-horse-battery-staple"
	tests := []struct {
		name    string
		env     map[string]string
		wantVar string
	}{
		{"TLS neither true nor false", map[string]string{"BLOCKD_KAFKA_TLS": "yes please"}, "BLOCKD_KAFKA_TLS"},
		{"CA file missing", map[string]string{"BLOCKD_KAFKA_TLS": "true", "BLOCKD_KAFKA_TLS_CA_FILE": "/does/not/exist.pem"}, "BLOCKD_KAFKA_TLS_CA_FILE"},
		{"CA file without PEM", map[string]string{"BLOCKD_KAFKA_TLS": "true", "BLOCKD_KAFKA_TLS_CA_FILE": f.notPEM}, "BLOCKD_KAFKA_TLS_CA_FILE"},
		{"CA file holding a key", map[string]string{"BLOCKD_KAFKA_TLS": "true", "BLOCKD_KAFKA_TLS_CA_FILE": f.key}, "BLOCKD_KAFKA_TLS_CA_FILE"},
		{"certificate without key", map[string]string{"BLOCKD_KAFKA_TLS": "true", "BLOCKD_KAFKA_TLS_CERT_FILE": f.cert}, "BLOCKD_KAFKA_TLS_KEY_FILE"},
		{"key without certificate", map[string]string{"BLOCKD_KAFKA_TLS": "true", "BLOCKD_KAFKA_TLS_KEY_FILE": f.key}, "BLOCKD_KAFKA_TLS_CERT_FILE"},
		{"certificate file missing", map[string]string{"BLOCKD_KAFKA_TLS": "true", "BLOCKD_KAFKA_TLS_CERT_FILE": "/does/not/exist.pem", "BLOCKD_KAFKA_TLS_KEY_FILE": f.key}, "BLOCKD_KAFKA_TLS_CERT_FILE"},
		{"certificate file without PEM", map[string]string{"BLOCKD_KAFKA_TLS": "true", "BLOCKD_KAFKA_TLS_CERT_FILE": f.notPEM, "BLOCKD_KAFKA_TLS_KEY_FILE": f.key}, "BLOCKD_KAFKA_TLS_CERT_FILE"},
		{"key file without PEM", map[string]string{"BLOCKD_KAFKA_TLS": "true", "BLOCKD_KAFKA_TLS_CERT_FILE": f.cert, "BLOCKD_KAFKA_TLS_KEY_FILE": f.notPEM}, "BLOCKD_KAFKA_TLS_KEY_FILE"},
		{"key of another certificate", map[string]string{"BLOCKD_KAFKA_TLS": "true", "BLOCKD_KAFKA_TLS_CERT_FILE": f.cert, "BLOCKD_KAFKA_TLS_KEY_FILE": f.otherKey}, "BLOCKD_KAFKA_TLS_KEY_FILE"},
		{"CA file with TLS off", map[string]string{"BLOCKD_KAFKA_TLS_CA_FILE": f.ca}, "BLOCKD_KAFKA_TLS"},
		{"server name with TLS off", map[string]string{"BLOCKD_KAFKA_TLS_SERVER_NAME": "kafka.internal"}, "BLOCKD_KAFKA_TLS"},
		{"unknown mechanism", map[string]string{"BLOCKD_KAFKA_SASL_MECHANISM": "GSSAPI", "BLOCKD_KAFKA_SASL_USERNAME": "blockd", "BLOCKD_KAFKA_SASL_PASSWORD": password}, "BLOCKD_KAFKA_SASL_MECHANISM"},
		{"mechanism without username", map[string]string{"BLOCKD_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "BLOCKD_KAFKA_SASL_PASSWORD": password}, "BLOCKD_KAFKA_SASL_USERNAME"},
		{"mechanism without password", map[string]string{"BLOCKD_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "BLOCKD_KAFKA_SASL_USERNAME": "blockd"}, "BLOCKD_KAFKA_SASL_PASSWORD"},
		{"password file missing", map[string]string{"BLOCKD_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "BLOCKD_KAFKA_SASL_USERNAME": "blockd", "BLOCKD_KAFKA_SASL_PASSWORD_FILE": "/does/not/exist"}, "BLOCKD_KAFKA_SASL_PASSWORD_FILE"},
		{"username without mechanism", map[string]string{"BLOCKD_KAFKA_SASL_USERNAME": "blockd", "BLOCKD_KAFKA_SASL_PASSWORD": password}, "BLOCKD_KAFKA_SASL_MECHANISM"},
		{"PLAIN without TLS", map[string]string{"BLOCKD_KAFKA_SASL_MECHANISM": "PLAIN", "BLOCKD_KAFKA_SASL_USERNAME": "blockd", "BLOCKD_KAFKA_SASL_PASSWORD": password}, "BLOCKD_KAFKA_SASL_MECHANISM"},
		{"SCRAM password SASLprep refuses", map[string]string{"BLOCKD_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256", "BLOCKD_KAFKA_SASL_USERNAME": "blockd", "BLOCKD_KAFKA_SASL_PASSWORD": password + "\u0007"}, "BLOCKD_KAFKA_SASL_PASSWORD"},
		{"SCRAM username SASLprep refuses", map[string]string{"BLOCKD_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256", "BLOCKD_KAFKA_SASL_USERNAME": "block\u0007d", "BLOCKD_KAFKA_SASL_PASSWORD": password}, "BLOCKD_KAFKA_SASL_USERNAME"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(envOf(withBrokers(tt.env)), os.ReadFile)
			var ce *configError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a configError", err)
			}
			if !strings.Contains(err.Error(), tt.wantVar+":") {
				t.Fatalf("error %q does not name %s", err, tt.wantVar)
			}
			if strings.Contains(err.Error(), password) {
				t.Fatalf("error %q shows the password", err)
			}
		})
	}
}

func TestLoadConfigKafkaSecurityRefusesTheEmbeddedBroker(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantVar string
	}{
		{"TLS", map[string]string{"BLOCKD_KAFKA_TLS": "true"}, "BLOCKD_KAFKA_TLS"},
		{"SASL", map[string]string{"BLOCKD_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "BLOCKD_KAFKA_SASL_USERNAME": "u", "BLOCKD_KAFKA_SASL_PASSWORD": "p"}, "BLOCKD_KAFKA_SASL_MECHANISM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(envOf(tt.env), os.ReadFile)
			if err == nil || !strings.Contains(err.Error(), tt.wantVar+": the embedded development broker") {
				t.Fatalf("got %v, want %s refused for the embedded broker", err, tt.wantVar)
			}
		})
	}
}

func TestNewKafkaSecurity(t *testing.T) {
	f := newKafkaFiles(t)
	passwordFile := testpki.WriteFile(t, "kafka-password", []byte("s3cret\n"))
	tests := []struct {
		name           string
		env            map[string]string
		wantTLS        bool
		wantServerName string
		wantClientCert bool
		wantMechanism  string // "" for no SASL
	}{
		{"plaintext", nil, false, "", false, ""},
		{"TLS with the system's roots", map[string]string{"BLOCKD_KAFKA_TLS": "true"}, true, "", false, ""},
		{"TLS with a CA, a server name and a client certificate", map[string]string{"BLOCKD_KAFKA_TLS": "true", "BLOCKD_KAFKA_TLS_CA_FILE": f.ca,
			"BLOCKD_KAFKA_TLS_SERVER_NAME": "kafka.internal", "BLOCKD_KAFKA_TLS_CERT_FILE": f.cert, "BLOCKD_KAFKA_TLS_KEY_FILE": f.key}, true, "kafka.internal", true, ""},
		{"PLAIN over TLS", map[string]string{"BLOCKD_KAFKA_TLS": "true", "BLOCKD_KAFKA_SASL_MECHANISM": "PLAIN", "BLOCKD_KAFKA_SASL_USERNAME": "blockd", "BLOCKD_KAFKA_SASL_PASSWORD": "p"}, true, "", false, "PLAIN"},
		{"SCRAM-SHA-256 without TLS", map[string]string{"BLOCKD_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256", "BLOCKD_KAFKA_SASL_USERNAME": "blockd", "BLOCKD_KAFKA_SASL_PASSWORD": "p"}, false, "", false, "SCRAM-SHA-256"},
		{"scram-sha-512 in lower case, password from a file", map[string]string{"BLOCKD_KAFKA_TLS": "true", "BLOCKD_KAFKA_SASL_MECHANISM": "scram-sha-512", "BLOCKD_KAFKA_SASL_USERNAME": "blockd", "BLOCKD_KAFKA_SASL_PASSWORD_FILE": passwordFile}, true, "", false, "SCRAM-SHA-512"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadConfig(envOf(withBrokers(tt.env)), os.ReadFile)
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			sec, err := newKafkaSecurity(cfg)
			if err != nil {
				t.Fatalf("newKafkaSecurity: %v", err)
			}
			d, tr := sec.dialer(), sec.transport()
			if got := d.TLS != nil; got != tt.wantTLS {
				t.Fatalf("got TLS %v, want %v", got, tt.wantTLS)
			}
			if d.TLS != tr.TLS || d.SASLMechanism != tr.SASL {
				t.Fatalf("the dialer and the transport differ: %+v vs %+v", d, tr)
			}
			if tt.wantTLS {
				if d.TLS.MinVersion != tls.VersionTLS12 || d.TLS.ServerName != tt.wantServerName || (len(d.TLS.Certificates) == 1) != tt.wantClientCert {
					t.Fatalf("got TLS min version %x, server name %q, %d client certificates; want TLS 1.2, %q, client certificate %v",
						d.TLS.MinVersion, d.TLS.ServerName, len(d.TLS.Certificates), tt.wantServerName, tt.wantClientCert)
				}
				if gotCA := d.TLS.RootCAs != nil; gotCA != (tt.env["BLOCKD_KAFKA_TLS_CA_FILE"] != "") {
					t.Fatalf("got root CAs set %v, want them set only with a CA file", gotCA)
				}
			}
			gotMechanism := ""
			if d.SASLMechanism != nil {
				gotMechanism = d.SASLMechanism.Name()
			}
			if gotMechanism != tt.wantMechanism {
				t.Fatalf("got SASL mechanism %q, want %q", gotMechanism, tt.wantMechanism)
			}
		})
	}
}
