package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// kafkaSecurity is how blockd talks to Kafka: TLS (whom it trusts, and the
// client certificate it shows) and SASL (who it says it is). It is built
// once from the configuration, and every connection blockd makes to Kafka
// takes it from here: the consumer group and its readers through dialer,
// the relay writer, topic creation and the broker health check through
// transport.
type kafkaSecurity struct {
	tls       *tls.Config    // nil: plaintext
	sasl      sasl.Mechanism // nil: no SASL
	mechanism string         // sasl's name, for messages
	username  string         // for messages; never the password
}

// kafkaTimeout bounds dialling a broker, TLS and SASL included.
const kafkaTimeout = 10 * time.Second

// newKafkaSecurity checks the BLOCKD_KAFKA_TLS* and BLOCKD_KAFKA_SASL*
// settings and builds from them. Every problem is a configError naming its
// variable; no error shows a password or a key.
func newKafkaSecurity(c config) (kafkaSecurity, error) {
	var errs []error
	fail := func(name, format string, args ...any) {
		errs = append(errs, &configError{name, fmt.Errorf(format, args...)})
	}
	s := kafkaSecurity{mechanism: c.KafkaSASLMechanism, username: c.KafkaSASLUsername}

	if !c.KafkaTLS {
		for name, v := range map[string]string{"BLOCKD_KAFKA_TLS_CA_FILE": c.KafkaTLSCAFile, "BLOCKD_KAFKA_TLS_CERT_FILE": c.KafkaTLSCertFile,
			"BLOCKD_KAFKA_TLS_KEY_FILE": c.KafkaTLSKeyFile, "BLOCKD_KAFKA_TLS_SERVER_NAME": c.KafkaTLSServerName} {
			if v != "" {
				fail("BLOCKD_KAFKA_TLS", "is not true, but %s is set: set BLOCKD_KAFKA_TLS=true to use it", name)
			}
		}
	} else {
		s.tls = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.KafkaTLSServerName}
		if c.KafkaTLSCAFile != "" {
			roots, err := certPool(c.KafkaTLSCA)
			if err != nil {
				fail("BLOCKD_KAFKA_TLS_CA_FILE", "%s: %w", c.KafkaTLSCAFile, err)
			}
			s.tls.RootCAs = roots
		}
		switch {
		case c.KafkaTLSCertFile != "" && c.KafkaTLSKeyFile == "":
			fail("BLOCKD_KAFKA_TLS_KEY_FILE", "required with BLOCKD_KAFKA_TLS_CERT_FILE: the client certificate's private key")
		case c.KafkaTLSCertFile == "" && c.KafkaTLSKeyFile != "":
			fail("BLOCKD_KAFKA_TLS_CERT_FILE", "required with BLOCKD_KAFKA_TLS_KEY_FILE: the client certificate of that key")
		case c.KafkaTLSCertFile != "":
			cert, name, err := clientCertificate(c.KafkaTLSCert, c.KafkaTLSKey)
			if err != nil {
				fail(name, "%w", err)
			} else {
				s.tls.Certificates = []tls.Certificate{cert}
			}
		}
	}

	switch c.KafkaSASLMechanism {
	case "":
		if c.KafkaSASLUsername != "" || c.KafkaSASLPassword != "" {
			fail("BLOCKD_KAFKA_SASL_MECHANISM", "is empty, but a SASL username or password is set: say which mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)")
		}
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if c.KafkaSASLUsername == "" {
			fail("BLOCKD_KAFKA_SASL_USERNAME", "required with BLOCKD_KAFKA_SASL_MECHANISM")
		}
		if c.KafkaSASLPassword == "" {
			fail("BLOCKD_KAFKA_SASL_PASSWORD", "required with BLOCKD_KAFKA_SASL_MECHANISM (or BLOCKD_KAFKA_SASL_PASSWORD_FILE)")
		}
		if c.KafkaSASLUsername == "" || c.KafkaSASLPassword == "" {
			break
		}
		if c.KafkaSASLMechanism == "PLAIN" {
			// PLAIN sends the password itself: without TLS anyone on the
			// path reads it. SCRAM never sends it, so it may go without.
			if !c.KafkaTLS {
				fail("BLOCKD_KAFKA_SASL_MECHANISM", "PLAIN sends the password in clear without TLS: set BLOCKD_KAFKA_TLS=true, or use SCRAM-SHA-512")
			}
			s.sasl = plain.Mechanism{Username: c.KafkaSASLUsername, Password: c.KafkaSASLPassword}
			break
		}
		algo := scram.SHA256
		if c.KafkaSASLMechanism == "SCRAM-SHA-512" {
			algo = scram.SHA512
		}
		m, err := scram.Mechanism(algo, c.KafkaSASLUsername, c.KafkaSASLPassword)
		if err != nil {
			// The library's error quotes the text it refused, password
			// included: name the variable only.
			name := "BLOCKD_KAFKA_SASL_PASSWORD"
			if _, err := scram.Mechanism(algo, c.KafkaSASLUsername, ""); err != nil {
				name = "BLOCKD_KAFKA_SASL_USERNAME"
			}
			fail(name, "holds characters SCRAM does not allow (SASLprep: control or unassigned characters)")
		}
		s.sasl = m
	default:
		fail("BLOCKD_KAFKA_SASL_MECHANISM", "%q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.KafkaSASLMechanism)
	}
	if err := errors.Join(errs...); err != nil {
		return kafkaSecurity{}, err
	}
	return s, nil
}

// certPool holds every certificate of a PEM file, and refuses a file with
// none or with anything else in it.
func certPool(pemData []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	n := 0
	for rest := pemData; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("holds a %s, want only CERTIFICATE blocks", block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing certificate %d: %w", n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, errors.New("holds no PEM certificate")
	}
	return pool, nil
}

// clientCertificate pairs a PEM certificate with its PEM private key; on
// failure it names the variable of the file at fault.
func clientCertificate(certPEM, keyPEM []byte) (tls.Certificate, string, error) {
	if block, _ := pem.Decode(certPEM); block == nil || block.Type != "CERTIFICATE" {
		return tls.Certificate{}, "BLOCKD_KAFKA_TLS_CERT_FILE", errors.New("holds no PEM certificate")
	}
	if block, _ := pem.Decode(keyPEM); block == nil || !strings.HasSuffix(block.Type, "PRIVATE KEY") {
		return tls.Certificate{}, "BLOCKD_KAFKA_TLS_KEY_FILE", errors.New("holds no PEM private key")
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, "BLOCKD_KAFKA_TLS_KEY_FILE", fmt.Errorf("does not go with BLOCKD_KAFKA_TLS_CERT_FILE: %w", err)
	}
	return cert, "", nil
}

// dialer is for the consumer group and its partition readers.
func (s kafkaSecurity) dialer() *kafka.Dialer {
	return &kafka.Dialer{Timeout: kafkaTimeout, DualStack: true, TLS: s.tls, SASLMechanism: s.sasl}
}

// transport is for the relay writer and the admin and health clients.
func (s kafkaSecurity) transport() *kafka.Transport {
	return &kafka.Transport{DialTimeout: kafkaTimeout, TLS: s.tls, SASL: s.sasl}
}

// String says how blockd reaches Kafka, for the log: never a secret.
func (s kafkaSecurity) String() string {
	var parts []string
	if s.tls == nil {
		parts = append(parts, "plaintext (no TLS)")
	} else {
		parts = append(parts, "TLS")
		if len(s.tls.Certificates) > 0 {
			parts = append(parts, "client certificate")
		}
	}
	if s.sasl == nil {
		parts = append(parts, "no SASL")
	} else {
		parts = append(parts, "SASL "+s.mechanism+" as "+s.username)
	}
	return strings.Join(parts, ", ")
}

// logKafkaSecurity says at start how blockd reaches the brokers, and warns
// when what it sends travels in clear or under no name.
func logKafkaSecurity(log zerolog.Logger, s kafkaSecurity, brokers []string) {
	identified := s.sasl != nil || (s.tls != nil && len(s.tls.Certificates) > 0)
	switch {
	case s.tls == nil:
		log.Warn().Strs("brokers", brokers).Str("kafkaSecurity", s.String()).
			Msg("Kafka WITHOUT TLS: commands and results (national ids, names, deposits, IBANs) travel in clear; set BLOCKD_KAFKA_TLS=true")
	case !identified:
		log.Warn().Strs("brokers", brokers).Str("kafkaSecurity", s.String()).
			Msg("Kafka without SASL or a client certificate: the brokers cannot tell blockd from anyone else, nor ACLs name it; set BLOCKD_KAFKA_SASL_MECHANISM")
	default:
		log.Info().Strs("brokers", brokers).Str("kafkaSecurity", s.String()).Msg("Kafka connection")
	}
}

// checkBrokers connects to the brokers as every Kafka user of blockd will
// (TLS, SASL) and asks one for the cluster's metadata. A refused
// certificate or login fails at once with what to fix; a broker that
// cannot be reached is tried again until ctx ends or about 30s have
// passed.
func (s kafkaSecurity) checkBrokers(ctx context.Context, brokers []string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	d := s.dialer()
	var lastErr error
	for {
		for _, b := range brokers {
			err := s.ask(ctx, d, b)
			if err == nil {
				return nil
			}
			if refusal := s.refusal(b, err); refusal != nil {
				return refusal
			}
			lastErr = fmt.Errorf("%s: %w", b, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("reaching Kafka at %s: %w (a broker that wants TLS or SASL may just close the connection: check BLOCKD_KAFKA_TLS and BLOCKD_KAFKA_SASL_MECHANISM)",
				strings.Join(brokers, ","), lastErr)
		case <-time.After(time.Second):
		}
	}
}

// ask dials broker and reads the cluster's brokers from it.
func (s kafkaSecurity) ask(ctx context.Context, d *kafka.Dialer, broker string) error {
	conn, err := d.DialContext(ctx, "tcp", broker)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }() // only read from: nothing to lose
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	_, err = conn.Brokers()
	return err
}

// refusal explains err when it is the broker refusing blockd, or blockd
// refusing the broker, which no retry mends; otherwise it returns nil.
func (s kafkaSecurity) refusal(broker string, err error) error {
	var (
		verify   *tls.CertificateVerificationError
		hostname x509.HostnameError
		unknown  x509.UnknownAuthorityError
		noRoots  x509.SystemRootsError
		op       *net.OpError
	)
	trusted := "the system's trusted roots (BLOCKD_KAFKA_TLS_CA_FILE is empty)"
	if s.tls != nil && s.tls.RootCAs != nil {
		trusted = "BLOCKD_KAFKA_TLS_CA_FILE"
	}
	switch {
	case errors.Is(err, kafka.SASLAuthenticationFailed):
		return fmt.Errorf("the Kafka broker at %s refused the SASL %s login of user %q: check BLOCKD_KAFKA_SASL_USERNAME and BLOCKD_KAFKA_SASL_PASSWORD, and that the broker knows this user for this mechanism: %w",
			broker, s.mechanism, s.username, err)
	case errors.Is(err, kafka.UnsupportedSASLMechanism):
		return fmt.Errorf("the Kafka broker at %s does not offer SASL %s: check BLOCKD_KAFKA_SASL_MECHANISM: %w", broker, s.mechanism, err)
	case errors.As(err, &hostname):
		return fmt.Errorf("the TLS certificate of the Kafka broker at %s is not for that name: check BLOCKD_KAFKA_BROKERS or BLOCKD_KAFKA_TLS_SERVER_NAME: %w", broker, err)
	case errors.As(err, &unknown) || errors.As(err, &noRoots):
		return fmt.Errorf("the TLS certificate of the Kafka broker at %s is not signed by an authority in %s: %w", broker, trusted, err)
	case errors.As(err, &verify):
		return fmt.Errorf("the TLS certificate of the Kafka broker at %s is refused: %w", broker, err)
	case errors.As(err, &op) && op.Op == "remote error":
		return fmt.Errorf("the Kafka broker at %s refused the TLS handshake (does it want a client certificate it trusts? BLOCKD_KAFKA_TLS_CERT_FILE, BLOCKD_KAFKA_TLS_KEY_FILE): %w", broker, err)
	}
	return nil
}
