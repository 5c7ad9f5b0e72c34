package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"github.com/blockd/blockd/providers/providertest/testpki"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/blockd/blockd/consumer/processor"
	"github.com/blockd/blockd/schemas"
	"github.com/blockd/blockd/store/storetest"
)

// The SASL users of the secure test brokers. blockd logs in as kafkaUser
// and holds only the ACLs README.md lists; the test's own clients log in
// as a superuser.
const (
	kafkaUser          = "blockd"
	kafkaPassword      = "blockd-kafka-password"
	kafkaAdmin         = "admin"
	kafkaAdminPassword = "admin-kafka-password"
)

// secureKafka is a kfake broker that takes only TLS connections that log in
// with SASL.
type secureKafka struct {
	brokers []string
	// client is what the test's own clients (the command writer, the
	// result reader) use: the broker's CA, the admin login, and a client
	// certificate when the broker wants one.
	client kafkaSecurity
}

// secureKafkaConfig says how to start a secureKafka.
type secureKafkaConfig struct {
	mechanism string
	serverTLS *tls.Config
	ca        *testpki.CA // signs the broker's certificate; nil: not one the test trusts
	clientCA  *testpki.CA // with mutual TLS: signs the clients' certificates
	acls      []kfake.ACL
	topics    []string // created beforehand
}

func startSecureKafka(t *testing.T, c secureKafkaConfig) *secureKafka {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(0), kfake.TLS(c.serverTLS), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser(c.mechanism, kafkaAdmin, kafkaAdminPassword), kfake.User(c.mechanism, kafkaUser, kafkaPassword, c.acls...)}
	if len(c.topics) > 0 {
		opts = append(opts, kfake.SeedTopics(3, c.topics...))
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("starting kfake with TLS and SASL: %v", err)
	}
	t.Cleanup(cluster.Close)
	k := &secureKafka{brokers: cluster.ListenAddrs()}
	k.client.tls = &tls.Config{MinVersion: tls.VersionTLS12}
	if c.ca != nil {
		k.client.tls.RootCAs = c.ca.Pool()
	}
	if c.clientCA != nil {
		certPEM, keyPEM := c.clientCA.Client(t, kafkaAdmin)
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		k.client.tls.Certificates = []tls.Certificate{cert}
	}
	k.client.sasl = saslLogin(t, c.mechanism, kafkaAdmin, kafkaAdminPassword)
	return k
}

// saslLogin is a login built without newKafkaSecurity, so that the test's
// clients do not depend on the code under test.
func saslLogin(t *testing.T, mechanism, user, password string) sasl.Mechanism {
	t.Helper()
	var algo scram.Algorithm
	switch mechanism {
	case "PLAIN":
		return plain.Mechanism{Username: user, Password: password}
	case "SCRAM-SHA-256":
		algo = scram.SHA256
	case "SCRAM-SHA-512":
		algo = scram.SHA512
	}
	m, err := scram.Mechanism(algo, user, password)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// secureEnv is blockd's environment for k: TLS with caFile, and a SASL
// login, the password in a file. More settings come in pairs.
func secureEnv(t *testing.T, k *secureKafka, mechanism, caFile, password string, more ...string) map[string]string {
	t.Helper()
	env := map[string]string{
		"BLOCKD_KAFKA_BROKERS":            strings.Join(k.brokers, ","),
		"BLOCKD_KAFKA_TLS":                "true",
		"BLOCKD_KAFKA_TLS_CA_FILE":        caFile,
		"BLOCKD_KAFKA_SASL_MECHANISM":     mechanism,
		"BLOCKD_KAFKA_SASL_USERNAME":      kafkaUser,
		"BLOCKD_KAFKA_SASL_PASSWORD_FILE": testpki.WriteFile(t, "kafka-password", []byte(password+"\n")),
		"BLOCKD_DATABASE_URL":             storetest.NewSchema(t),
		"BLOCKD_HTTP_ADDR":                "127.0.0.1:0",
		"BLOCKD_ADMIN_ADDR":               "127.0.0.1:0",
		"BLOCKD_TOPIC_PARTITIONS":         "3",
		"BLOCKD_INSTANCE_ID":              "test-" + uuid.NewString()[:8],
	}
	for i := 0; i+1 < len(more); i += 2 {
		env[more[i]] = more[i+1]
	}
	return env
}

// TestServeOverKafkaTLSAndSASL runs blockd against a broker that takes only
// TLS and SASL, once per mechanism, logged in as a user that holds only the
// ACLs README.md lists: it becomes ready, consumes a block command and
// publishes its DONE result.
func TestServeOverKafkaTLSAndSASL(t *testing.T) {
	tests := []struct {
		mechanism    string
		mutualTLS    bool // the broker also wants a client certificate
		createTopics bool // blockd creates its topics (else they exist, and blockd may not create)
	}{
		{"PLAIN", false, true},
		{"SCRAM-SHA-256", false, false},
		{"SCRAM-SHA-512", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.mechanism, func(t *testing.T) {
			t.Parallel()
			ca := testpki.NewCA(t, "kafka CA")
			bc := secureKafkaConfig{mechanism: tt.mechanism, ca: ca, acls: readmeKafkaACLs(t, tt.createTopics)}
			var more []string
			var clientCAs []*testpki.CA
			if tt.mutualTLS {
				bc.clientCA = testpki.NewCA(t, "kafka clients")
				clientCAs = append(clientCAs, bc.clientCA)
				certPEM, keyPEM := bc.clientCA.Client(t, kafkaUser)
				more = []string{"BLOCKD_KAFKA_TLS_CERT_FILE", testpki.WriteFile(t, "client.pem", certPEM), "BLOCKD_KAFKA_TLS_KEY_FILE", testpki.WriteFile(t, "client-key.pem", keyPEM)}
			}
			bc.serverTLS = serverTLS(t, ca, clientCAs...)
			defaults, err := loadConfig(envOf(nil), os.ReadFile)
			if err != nil {
				t.Fatal(err)
			}
			topics := []string{defaults.TopicBlock, defaults.TopicUnblock, defaults.TopicTransfer, defaults.TopicInquiry, defaults.TopicResults, defaults.TopicDLQ}
			if !tt.createTopics {
				bc.topics = topics
			}
			k := startSecureKafka(t, bc)
			more = append(more, "BLOCKD_CREATE_TOPICS", strconv.FormatBool(tt.createTopics))
			cfg, err := loadConfig(envOf(secureEnv(t, k, tt.mechanism, testpki.WriteFile(t, "kafka-ca.pem", ca.PEM), kafkaPassword, more...)), os.ReadFile)
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}

			h := &harness{t: t}
			h.run(cfg, processor.Hooks{}) // returns once /readyz says 200

			trackID := "tls-" + strings.ToLower(tt.mechanism)
			w := &kafka.Writer{Addr: kafka.TCP(k.brokers...), Transport: k.client.transport(), Balancer: &kafka.Hash{},
				RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
			defer w.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := w.WriteMessages(ctx, kafka.Message{Topic: cfg.TopicBlock, Key: []byte("acct-tls"), Value: []byte(blockJSON(trackID, 1000))}); err != nil {
				t.Fatalf("publishing the command: %v", err)
			}
			r := readResult(ctx, t, k, cfg.TopicResults, trackID)
			if r.Status != schemas.StatusDone || r.TrackID != trackID {
				t.Fatalf("got %s for %s (%+v), want DONE for %s", r.Status, r.TrackID, r.Error, trackID)
			}
		})
	}
}

// readResult reads topic from the start, as the test's admin, until the
// result for trackID comes.
func readResult(ctx context.Context, t *testing.T, k *secureKafka, topic, trackID string) schemas.Result {
	t.Helper()
	rd := kafka.NewReader(kafka.ReaderConfig{Brokers: k.brokers, Topic: topic, GroupID: "test-" + uuid.NewString(), StartOffset: kafka.FirstOffset,
		MaxWait: 50 * time.Millisecond, Dialer: k.client.dialer()})
	defer rd.Close()
	for {
		m, err := rd.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("reading the result of %s: %v", trackID, err)
		}
		if string(m.Key) != trackID {
			continue
		}
		var r schemas.Result
		if err := json.Unmarshal(m.Value, &r); err != nil {
			t.Fatalf("decoding the result of %s: %v", trackID, err)
		}
		return r
	}
}

// readmeKafkaACLs returns the ACLs README.md's "Kafka security" table
// grants blockd, each row's operation on each name in it; the rows that
// apply only with BLOCKD_CREATE_TOPICS=true only when createTopics.
func readmeKafkaACLs(t *testing.T, createTopics bool) []kfake.ACL {
	t.Helper()
	names := regexp.MustCompile("`([^`]+)`")
	var acls []kfake.ACL
	for _, line := range sectionLines(t, readmePath, "### Kafka security") {
		cells := strings.Split(line, "|")
		if len(cells) != 6 || !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| resource") {
			continue
		}
		resource, err := kmsg.ParseACLResourceType(strings.TrimSpace(cells[1]))
		if err != nil {
			t.Fatalf("README's Kafka ACL row %q: %v", line, err)
		}
		if strings.Contains(cells[4], "BLOCKD_CREATE_TOPICS=true") && !createTopics {
			continue
		}
		for _, opName := range strings.Split(cells[3], ",") {
			op, err := kmsg.ParseACLOperation(strings.TrimSpace(opName))
			if err != nil {
				t.Fatalf("README's Kafka ACL row %q: %v", line, err)
			}
			for _, m := range names.FindAllStringSubmatch(cells[2], -1) {
				acls = append(acls, kfake.ACL{Resource: resource, Name: m[1], Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: op, Allow: true})
			}
		}
	}
	if len(acls) < 4 {
		t.Fatalf("found %d ACLs in README.md's Kafka security table (%+v): the table or its parsing is broken", len(acls), acls)
	}
	return acls
}

// TestServeRefusesAnUntrustedBrokerOrAWrongLogin expects serve to stop at
// start, before it listens, with a message that says what is wrong: never
// to wait for a readiness that cannot come.
func TestServeRefusesAnUntrustedBrokerOrAWrongLogin(t *testing.T) {
	const mechanism = "SCRAM-SHA-512"
	ca, other, clients := testpki.NewCA(t, "kafka CA"), testpki.NewCA(t, "another CA"), testpki.NewCA(t, "kafka clients")
	caFile, otherFile := testpki.WriteFile(t, "kafka-ca.pem", ca.PEM), testpki.WriteFile(t, "other-ca.pem", other.PEM)
	trusted := startSecureKafka(t, secureKafkaConfig{mechanism: mechanism, serverTLS: serverTLS(t, ca), ca: ca})
	selfSigned := startSecureKafka(t, secureKafkaConfig{mechanism: mechanism, serverTLS: selfSignedTLS(t)})
	mutual := startSecureKafka(t, secureKafkaConfig{mechanism: mechanism, serverTLS: serverTLS(t, ca, clients), ca: ca, clientCA: clients})
	const wrongPassword = "not-the-kafka-password"
	tests := []struct {
		name     string
		broker   *secureKafka
		caFile   string
		password string
		more     []string
		want     []string // in the error
	}{
		{"wrong password", trusted, caFile, wrongPassword, nil,
			[]string{`refused the SASL SCRAM-SHA-512 login of user "blockd"`, "BLOCKD_KAFKA_SASL_PASSWORD"}},
		{"CA file of another authority", trusted, otherFile, kafkaPassword, nil,
			[]string{"not signed by an authority in BLOCKD_KAFKA_TLS_CA_FILE", "x509"}},
		{"no CA file and a self-signed broker", selfSigned, "", kafkaPassword, nil,
			[]string{"not signed by an authority in the system's trusted roots", "x509"}},
		{"a certificate for another name", trusted, caFile, kafkaPassword, []string{"BLOCKD_KAFKA_TLS_SERVER_NAME", "kafka.example"},
			[]string{"not for that name", "BLOCKD_KAFKA_TLS_SERVER_NAME"}},
		{"no client certificate for a broker that wants one", mutual, caFile, kafkaPassword, nil,
			[]string{"refused the TLS handshake", "BLOCKD_KAFKA_TLS_CERT_FILE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := loadConfig(envOf(secureEnv(t, tt.broker, mechanism, tt.caFile, tt.password, tt.more...)), os.ReadFile)
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			// Well under checkBrokers' 30s of retries: an error that is
			// not recognised as a refusal ends in this deadline instead,
			// and its message fails the test.
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
			err = serve(ctx, cfg, log, serveOptions{onListen: func(listening) { t.Error("serve listened: it got past the Kafka check") }})
			if err == nil {
				t.Fatal("serve started, want it refused")
			}
			if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
				t.Fatalf("serve waited for its deadline (%v), want it refused at once", err)
			}
			t.Logf("refused: %v", err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), tt.password) {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}
