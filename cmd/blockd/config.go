package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/blockd/blockd/store/seal"
)

// config is everything blockd reads from its environment. It is parsed here
// and nowhere else. Empty BLOCKD_KAFKA_BROKERS and BLOCKD_FINNOTECH_URL mean
// "start the embedded, development-only part".
type config struct {
	KafkaBrokers      []string // BLOCKD_KAFKA_BROKERS; empty: embedded kfake broker
	EmbeddedKafkaAddr string   // BLOCKD_EMBEDDED_KAFKA_ADDR, default 127.0.0.1:9092
	DatabaseURL       string   // BLOCKD_DATABASE_URL
	HTTPAddr          string   // BLOCKD_HTTP_ADDR, default 127.0.0.1:8080
	DataDir           string   // BLOCKD_DATA_DIR, default $HOME/.blockd

	// How blockd reaches the brokers; newKafkaSecurity turns these into
	// what every Kafka connection uses. The files are read here: *File is
	// the path, the field without it the content.
	KafkaTLS           bool   // BLOCKD_KAFKA_TLS, default false
	KafkaTLSCAFile     string // BLOCKD_KAFKA_TLS_CA_FILE; empty: the system's trusted roots
	KafkaTLSCA         []byte
	KafkaTLSCertFile   string // BLOCKD_KAFKA_TLS_CERT_FILE, with _KEY_FILE: a client certificate (mutual TLS)
	KafkaTLSCert       []byte
	KafkaTLSKeyFile    string // BLOCKD_KAFKA_TLS_KEY_FILE
	KafkaTLSKey        []byte
	KafkaTLSServerName string // BLOCKD_KAFKA_TLS_SERVER_NAME; empty: each broker's host
	KafkaSASLMechanism string // BLOCKD_KAFKA_SASL_MECHANISM: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty: no SASL
	KafkaSASLUsername  string // BLOCKD_KAFKA_SASL_USERNAME
	KafkaSASLPassword  string // BLOCKD_KAFKA_SASL_PASSWORD (or _FILE)

	FinnotechURL          string // BLOCKD_FINNOTECH_URL; empty: embedded sandbox
	FinnotechClientID     string // BLOCKD_FINNOTECH_CLIENT_ID
	FinnotechClientSecret string // BLOCKD_FINNOTECH_CLIENT_SECRET (or _FILE)
	FinnotechToken        string // BLOCKD_FINNOTECH_TOKEN (or _FILE): authorization-code token of FinnotechClientID
	FinnotechRefreshToken string // BLOCKD_FINNOTECH_REFRESH_TOKEN (or _FILE)
	FinnotechBank         string // BLOCKD_FINNOTECH_BANK: the token's bank code, e.g. 062
	FinnotechNID          string // BLOCKD_FINNOTECH_NID (or _FILE): national code for client-credential tokens

	// Provider tokens are sealed at rest with TokenKey (BLOCKD_TOKEN_KEY_FILE;
	// required with BLOCKD_FINNOTECH_URL; zero: a development key under
	// DataDir); TokenOldKeys (BLOCKD_TOKEN_OLD_KEY_FILES, comma-separated)
	// still open what they sealed, during a rotation.
	TokenKey     seal.Key
	TokenOldKeys []seal.Key

	ArhivaarURL    string // BLOCKD_ARHIVAAR_URL; empty: embedded sandbox
	ArhivaarAccKey string // BLOCKD_ARHIVAAR_ACC_KEY
	ArhivaarSecret string // BLOCKD_ARHIVAAR_SECRET (or _FILE)

	CardURL          string // BLOCKD_CARD_URL; empty: embedded sandbox
	CardClientID     string // BLOCKD_CARD_CLIENT_ID
	CardClientSecret string // BLOCKD_CARD_CLIENT_SECRET (or _FILE)

	// Sandbox settings, for the embedded sandboxes and `blockd sandbox`.
	SandboxFinnotechAddr string        // BLOCKD_SANDBOX_FINNOTECH_ADDR, default 127.0.0.1:8181
	SandboxArhivaarAddr  string        // BLOCKD_SANDBOX_ARHIVAAR_ADDR, default 127.0.0.1:8182
	SandboxCardAddr      string        // BLOCKD_SANDBOX_CARD_ADDR, default 127.0.0.1:8183
	SandboxLatency       time.Duration // BLOCKD_SANDBOX_LATENCY, default 0
	SandboxErrorRate     float64       // BLOCKD_SANDBOX_ERROR_RATE, default 0
	SandboxTimeoutRate   float64       // BLOCKD_SANDBOX_TIMEOUT_RATE, default 0
	SandboxDropRate      float64       // BLOCKD_SANDBOX_DROP_RATE (apply, then drop the answer), default 0

	MaxAttempts     int           // BLOCKD_MAX_ATTEMPTS, default 4
	RetryBudget     time.Duration // BLOCKD_RETRY_BUDGET, default 60s
	ResolveDeadline time.Duration // BLOCKD_RESOLVE_DEADLINE, default 10m
	LandingMargin   time.Duration // BLOCKD_LANDING_MARGIN, default 30s

	// Policies per provider: BLOCKD_<PROVIDER>_RATE_LIMIT (calls/s, 0 none),
	// _BREAKER_FAILURES (default 10), _BREAKER_COOLDOWN (default 10s),
	// _MAX_ATTEMPTS and _RETRY_BUDGET (default: the global ones), with
	// PROVIDER one of FINNOTECH, ARHIVAAR, CARD.
	Policies map[string]providerPolicy

	GroupID         string // BLOCKD_GROUP_ID, default blockd
	TopicBlock      string // BLOCKD_TOPIC_BLOCK
	TopicUnblock    string // BLOCKD_TOPIC_UNBLOCK
	TopicTransfer   string // BLOCKD_TOPIC_TRANSFER
	TopicInquiry    string // BLOCKD_TOPIC_INQUIRY
	TopicResults    string // BLOCKD_TOPIC_RESULTS
	TopicDLQ        string // BLOCKD_TOPIC_DLQ
	CreateTopics    bool   // BLOCKD_CREATE_TOPICS, default true
	TopicPartitions int    // BLOCKD_TOPIC_PARTITIONS, default 6

	DBMaxConns      int           // BLOCKD_DB_MAX_CONNS, default 16
	InstanceID      string        // BLOCKD_INSTANCE_ID, default host-pid
	MaxInFlight     int           // BLOCKD_MAX_IN_FLIGHT, default 256
	Lease           time.Duration // BLOCKD_LEASE, default 30s
	UnblockWait     time.Duration // BLOCKD_UNBLOCK_WAIT, default 30s
	CallTimeout     time.Duration // BLOCKD_CALL_TIMEOUT, default 20s
	ShutdownGrace   time.Duration // BLOCKD_SHUTDOWN_GRACE, default 20s
	MaxMessageBytes int           // BLOCKD_MAX_MESSAGE_BYTES, default 262144
	LogLevel        string        // BLOCKD_LOG_LEVEL, default info
	LogFormat       string        // BLOCKD_LOG_FORMAT: json (default) or console
}

// providerPolicy is one provider's protection and retry settings.
type providerPolicy struct {
	RateLimit       float64
	BreakerFailures int
	BreakerCooldown time.Duration
	MaxAttempts     int
	RetryBudget     time.Duration
}

// configError names the variable that is wrong.
type configError struct {
	Var string
	Err error
}

func (e *configError) Error() string { return fmt.Sprintf("configuration: %s: %v", e.Var, e.Err) }
func (e *configError) Unwrap() error { return e.Err }

// loadConfig reads the configuration from getenv; readFile reads *_FILE
// secrets.
func loadConfig(getenv func(string) string, readFile func(string) ([]byte, error)) (config, error) {
	var errs []error
	str := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	secret := func(name string) string {
		v := getenv(name)
		path := getenv(name + "_FILE")
		if v != "" && path != "" {
			errs = append(errs, &configError{name, errors.New("set either " + name + " or " + name + "_FILE, not both")})
			return ""
		}
		if path == "" {
			return v
		}
		b, err := readFile(path)
		if err != nil {
			errs = append(errs, &configError{name + "_FILE", fmt.Errorf("reading secret file: %w", err)})
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	dur := func(name string, def time.Duration) time.Duration {
		v := getenv(name)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		// 0 is refused, except where it is the default (none, or "the
		// global one"): setting a variable to its default must work.
		if err != nil || d < 0 || d == 0 && def != 0 {
			errs = append(errs, &configError{name, fmt.Errorf("%q is not a positive duration like 30s", v)})
			return def
		}
		return d
	}
	integer := func(name string, def, lo, hi int) int {
		v := getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			errs = append(errs, &configError{name, fmt.Errorf("%q is not an integer in %d..%d", v, lo, hi)})
			return def
		}
		return n
	}
	boolean := func(name string, def bool) bool {
		v := getenv(name)
		if v == "" {
			return def
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, &configError{name, fmt.Errorf("%q is not true or false", v)})
			return def
		}
		return b
	}
	rate := func(name string) float64 {
		v := getenv(name)
		if v == "" {
			return 0
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1 {
			errs = append(errs, &configError{name, fmt.Errorf("%q is not a rate between 0 and 1", v)})
			return 0
		}
		return f
	}
	key := func(name, path string) seal.Key {
		b, err := readFile(path)
		if err != nil {
			errs = append(errs, &configError{name, fmt.Errorf("reading key file: %w", err)})
			return seal.Key{}
		}
		k, err := seal.ParseKey(b)
		if err != nil {
			errs = append(errs, &configError{name, fmt.Errorf("key file %s: %w", path, err)})
		}
		return k
	}
	hostPort := func(name, v string) {
		if _, _, err := net.SplitHostPort(v); err != nil {
			errs = append(errs, &configError{name, fmt.Errorf("%q is not host:port", v)})
		}
	}

	file := func(name, path string) []byte {
		if path == "" {
			return nil
		}
		b, err := readFile(path)
		if err != nil {
			errs = append(errs, &configError{name, fmt.Errorf("reading file: %w", err)})
		}
		return b
	}

	home, _ := os.UserHomeDir()
	host, _ := os.Hostname()
	c := config{
		EmbeddedKafkaAddr:     str("BLOCKD_EMBEDDED_KAFKA_ADDR", "127.0.0.1:9092"),
		KafkaTLS:              boolean("BLOCKD_KAFKA_TLS", false),
		KafkaTLSCAFile:        str("BLOCKD_KAFKA_TLS_CA_FILE", ""),
		KafkaTLSCertFile:      str("BLOCKD_KAFKA_TLS_CERT_FILE", ""),
		KafkaTLSKeyFile:       str("BLOCKD_KAFKA_TLS_KEY_FILE", ""),
		KafkaTLSServerName:    str("BLOCKD_KAFKA_TLS_SERVER_NAME", ""),
		KafkaSASLMechanism:    strings.ToUpper(str("BLOCKD_KAFKA_SASL_MECHANISM", "")),
		KafkaSASLUsername:     str("BLOCKD_KAFKA_SASL_USERNAME", ""),
		KafkaSASLPassword:     secret("BLOCKD_KAFKA_SASL_PASSWORD"),
		DatabaseURL:           str("BLOCKD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/blockd?sslmode=disable"),
		HTTPAddr:              str("BLOCKD_HTTP_ADDR", "127.0.0.1:8080"),
		DataDir:               str("BLOCKD_DATA_DIR", filepath.Join(home, ".blockd")),
		FinnotechURL:          str("BLOCKD_FINNOTECH_URL", ""),
		FinnotechClientID:     str("BLOCKD_FINNOTECH_CLIENT_ID", ""),
		FinnotechClientSecret: secret("BLOCKD_FINNOTECH_CLIENT_SECRET"),
		FinnotechToken:        secret("BLOCKD_FINNOTECH_TOKEN"),
		FinnotechRefreshToken: secret("BLOCKD_FINNOTECH_REFRESH_TOKEN"),
		FinnotechBank:         str("BLOCKD_FINNOTECH_BANK", ""),
		FinnotechNID:          secret("BLOCKD_FINNOTECH_NID"),
		ArhivaarURL:           str("BLOCKD_ARHIVAAR_URL", ""),
		ArhivaarAccKey:        str("BLOCKD_ARHIVAAR_ACC_KEY", ""),
		ArhivaarSecret:        secret("BLOCKD_ARHIVAAR_SECRET"),
		CardURL:               str("BLOCKD_CARD_URL", ""),
		CardClientID:          str("BLOCKD_CARD_CLIENT_ID", ""),
		CardClientSecret:      secret("BLOCKD_CARD_CLIENT_SECRET"),
		SandboxFinnotechAddr:  str("BLOCKD_SANDBOX_FINNOTECH_ADDR", "127.0.0.1:8181"),
		SandboxArhivaarAddr:   str("BLOCKD_SANDBOX_ARHIVAAR_ADDR", "127.0.0.1:8182"),
		SandboxCardAddr:       str("BLOCKD_SANDBOX_CARD_ADDR", "127.0.0.1:8183"),
		SandboxLatency:        dur("BLOCKD_SANDBOX_LATENCY", 0),
		SandboxErrorRate:      rate("BLOCKD_SANDBOX_ERROR_RATE"),
		SandboxTimeoutRate:    rate("BLOCKD_SANDBOX_TIMEOUT_RATE"),
		SandboxDropRate:       rate("BLOCKD_SANDBOX_DROP_RATE"),
		MaxAttempts:           integer("BLOCKD_MAX_ATTEMPTS", 4, 1, 100),
		RetryBudget:           dur("BLOCKD_RETRY_BUDGET", 60*time.Second),
		ResolveDeadline:       dur("BLOCKD_RESOLVE_DEADLINE", 10*time.Minute),
		LandingMargin:         dur("BLOCKD_LANDING_MARGIN", 30*time.Second),
		GroupID:               str("BLOCKD_GROUP_ID", "blockd"),
		TopicBlock:            str("BLOCKD_TOPIC_BLOCK", "blockd.cmd.block"),
		TopicUnblock:          str("BLOCKD_TOPIC_UNBLOCK", "blockd.cmd.unblock"),
		TopicTransfer:         str("BLOCKD_TOPIC_TRANSFER", "blockd.cmd.transfer"),
		TopicInquiry:          str("BLOCKD_TOPIC_INQUIRY", "blockd.cmd.inquiry"),
		TopicResults:          str("BLOCKD_TOPIC_RESULTS", "blockd.results"),
		TopicDLQ:              str("BLOCKD_TOPIC_DLQ", "blockd.dlq"),
		CreateTopics:          boolean("BLOCKD_CREATE_TOPICS", true),
		TopicPartitions:       integer("BLOCKD_TOPIC_PARTITIONS", 6, 1, 1000),
		DBMaxConns:            integer("BLOCKD_DB_MAX_CONNS", 16, 2, 1000),
		InstanceID:            str("BLOCKD_INSTANCE_ID", fmt.Sprintf("%s-%d", host, os.Getpid())),
		MaxInFlight:           integer("BLOCKD_MAX_IN_FLIGHT", 256, 1, 100000),
		Lease:                 dur("BLOCKD_LEASE", 30*time.Second),
		UnblockWait:           dur("BLOCKD_UNBLOCK_WAIT", 30*time.Second),
		CallTimeout:           dur("BLOCKD_CALL_TIMEOUT", 20*time.Second),
		ShutdownGrace:         dur("BLOCKD_SHUTDOWN_GRACE", 20*time.Second),
		MaxMessageBytes:       integer("BLOCKD_MAX_MESSAGE_BYTES", 256<<10, 1024, 8<<20),
		LogLevel:              str("BLOCKD_LOG_LEVEL", "info"),
		LogFormat:             str("BLOCKD_LOG_FORMAT", "json"),
	}
	tokenKeyFile := str("BLOCKD_TOKEN_KEY_FILE", "")
	if tokenKeyFile != "" {
		c.TokenKey = key("BLOCKD_TOKEN_KEY_FILE", tokenKeyFile)
	}
	if v := str("BLOCKD_TOKEN_OLD_KEY_FILES", ""); v != "" {
		if tokenKeyFile == "" {
			errs = append(errs, &configError{"BLOCKD_TOKEN_OLD_KEY_FILES", errors.New("needs BLOCKD_TOKEN_KEY_FILE, the key that replaces them")})
		}
		for _, path := range strings.Split(v, ",") {
			if path = strings.TrimSpace(path); path != "" {
				c.TokenOldKeys = append(c.TokenOldKeys, key("BLOCKD_TOKEN_OLD_KEY_FILES", path))
			}
		}
	}
	c.Policies = make(map[string]providerPolicy)
	for _, p := range []string{"finnotech", "arhivaar", "card"} {
		prefix := "BLOCKD_" + strings.ToUpper(p) + "_"
		limit := 0.0
		if v := getenv(prefix + "RATE_LIMIT"); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 {
				errs = append(errs, &configError{prefix + "RATE_LIMIT", fmt.Errorf("%q is not a non-negative number of calls per second", v)})
			}
			limit = f
		}
		c.Policies[p] = providerPolicy{
			RateLimit:       limit,
			BreakerFailures: integer(prefix+"BREAKER_FAILURES", 10, 1, 1000000),
			BreakerCooldown: dur(prefix+"BREAKER_COOLDOWN", 10*time.Second),
			MaxAttempts:     integer(prefix+"MAX_ATTEMPTS", 0, 0, 100),
			RetryBudget:     dur(prefix+"RETRY_BUDGET", 0),
		}
	}
	if v := getenv("BLOCKD_KAFKA_BROKERS"); strings.TrimSpace(v) != "" {
		for _, b := range strings.Split(v, ",") {
			b = strings.TrimSpace(b)
			hostPort("BLOCKD_KAFKA_BROKERS", b)
			c.KafkaBrokers = append(c.KafkaBrokers, b)
		}
	} else {
		hostPort("BLOCKD_EMBEDDED_KAFKA_ADDR", c.EmbeddedKafkaAddr)
		if c.KafkaTLS {
			errs = append(errs, &configError{"BLOCKD_KAFKA_TLS", errors.New("the embedded development broker speaks only plaintext: set BLOCKD_KAFKA_BROKERS")})
		}
		if c.KafkaSASLMechanism != "" {
			errs = append(errs, &configError{"BLOCKD_KAFKA_SASL_MECHANISM", errors.New("the embedded development broker takes no SASL: set BLOCKD_KAFKA_BROKERS")})
		}
	}
	before := len(errs)
	c.KafkaTLSCA = file("BLOCKD_KAFKA_TLS_CA_FILE", c.KafkaTLSCAFile)
	c.KafkaTLSCert = file("BLOCKD_KAFKA_TLS_CERT_FILE", c.KafkaTLSCertFile)
	c.KafkaTLSKey = file("BLOCKD_KAFKA_TLS_KEY_FILE", c.KafkaTLSKeyFile)
	if len(errs) == before { // a file that cannot be read is reported once
		if _, err := newKafkaSecurity(c); err != nil {
			errs = append(errs, err)
		}
	}
	hostPort("BLOCKD_HTTP_ADDR", c.HTTPAddr)
	if !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		errs = append(errs, &configError{"BLOCKD_DATABASE_URL", errors.New("must be a postgres:// URL")})
	}
	if c.FinnotechURL != "" {
		if !strings.HasPrefix(c.FinnotechURL, "https://") && !strings.HasPrefix(c.FinnotechURL, "http://") {
			errs = append(errs, &configError{"BLOCKD_FINNOTECH_URL", errors.New("must be an http(s) URL")})
		}
		if c.FinnotechToken == "" {
			errs = append(errs, &configError{"BLOCKD_FINNOTECH_TOKEN", errors.New("required when BLOCKD_FINNOTECH_URL points at a real Finnotech")})
		}
		if c.FinnotechClientID == "" {
			errs = append(errs, &configError{"BLOCKD_FINNOTECH_CLIENT_ID", errors.New("required when BLOCKD_FINNOTECH_URL points at a real Finnotech")})
		}
		if c.FinnotechNID == "" {
			// Without it no client-credentials token can be had, so wages
			// cannot be asked and every unknown outcome would end
			// OUTCOME_UNKNOWN.
			errs = append(errs, &configError{"BLOCKD_FINNOTECH_NID", errors.New("required when BLOCKD_FINNOTECH_URL points at a real Finnotech: the wages call-status inquiry needs a client-credentials token")})
		}
		if tokenKeyFile == "" {
			errs = append(errs, &configError{"BLOCKD_TOKEN_KEY_FILE", errors.New("required when BLOCKD_FINNOTECH_URL points at a real Finnotech: its tokens are kept encrypted with this key")})
		}
	}
	if c.ArhivaarURL != "" && (c.ArhivaarAccKey == "" || c.ArhivaarSecret == "") {
		errs = append(errs, &configError{"BLOCKD_ARHIVAAR_SECRET", errors.New("BLOCKD_ARHIVAAR_ACC_KEY and BLOCKD_ARHIVAAR_SECRET are required with BLOCKD_ARHIVAAR_URL")})
	}
	if c.CardURL != "" && (c.CardClientID == "" || c.CardClientSecret == "") {
		errs = append(errs, &configError{"BLOCKD_CARD_CLIENT_SECRET", errors.New("BLOCKD_CARD_CLIENT_ID and BLOCKD_CARD_CLIENT_SECRET are required with BLOCKD_CARD_URL")})
	}
	for name, v := range map[string]string{"BLOCKD_SANDBOX_FINNOTECH_ADDR": c.SandboxFinnotechAddr, "BLOCKD_SANDBOX_ARHIVAAR_ADDR": c.SandboxArhivaarAddr, "BLOCKD_SANDBOX_CARD_ADDR": c.SandboxCardAddr} {
		hostPort(name, v)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, &configError{"BLOCKD_LOG_LEVEL", fmt.Errorf("%q is not debug, info, warn or error", c.LogLevel)})
	}
	switch c.LogFormat {
	case "json", "console":
	default:
		errs = append(errs, &configError{"BLOCKD_LOG_FORMAT", fmt.Errorf("%q is not json or console", c.LogFormat)})
	}
	seen := map[string]string{}
	for name, t := range map[string]string{"BLOCKD_TOPIC_BLOCK": c.TopicBlock, "BLOCKD_TOPIC_UNBLOCK": c.TopicUnblock,
		"BLOCKD_TOPIC_TRANSFER": c.TopicTransfer, "BLOCKD_TOPIC_INQUIRY": c.TopicInquiry, "BLOCKD_TOPIC_RESULTS": c.TopicResults, "BLOCKD_TOPIC_DLQ": c.TopicDLQ} {
		if other, dup := seen[t]; dup {
			a, b := min(name, other), max(name, other)
			errs = append(errs, &configError{a, fmt.Errorf("topic %q is also %s", t, b)})
		}
		seen[t] = name
	}
	return c, errors.Join(errs...)
}
