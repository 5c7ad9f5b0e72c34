package main

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/blockd/blockd/cmd/blockd/redact"
	"github.com/blockd/blockd/consumer/processor"
	"github.com/blockd/blockd/providers/providerhttp"
	"github.com/blockd/blockd/store"
	"github.com/blockd/blockd/store/seal"
)

// config is everything blockd reads from its environment. It is parsed here
// and nowhere else. In blockd dev, an empty BLOCKD_KAFKA_BROKERS or provider
// URL means "start the embedded, development-only part"; blockd serve
// requires them instead.
type config struct {
	// Mode is the command's, not the environment's: dev may start embedded
	// parts, serve never does and requires what it would replace.
	Mode mode

	KafkaBrokers      []string // BLOCKD_KAFKA_BROKERS; empty: embedded kfake broker (dev only)
	EmbeddedKafkaAddr string   // BLOCKD_EMBEDDED_KAFKA_ADDR, default 127.0.0.1:9092
	DatabaseURL       string   // BLOCKD_DATABASE_URL (required by serve)
	DatabaseCreate    bool     // BLOCKD_DATABASE_CREATE, default false: serve creates a missing database only when true; dev always does
	HTTPAddr          string   // BLOCKD_HTTP_ADDR, default 127.0.0.1:8080: the probes
	AdminAddr         string   // BLOCKD_ADMIN_ADDR, default 127.0.0.1:8081: the operator endpoints; "off": none
	AdminToken        string   // BLOCKD_ADMIN_TOKEN (or _FILE): their bearer token; required by serve with AdminAddr on
	MetricsToken      string   // BLOCKD_METRICS_TOKEN (or _FILE): a token that reads /metrics and nothing else (for Prometheus)
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
	// Providers are the providers this deployment serves (BLOCKD_PROVIDERS,
	// a comma list of finnotech, arhivaar, card; required by serve, dev
	// default: all three). A command for another is REJECTED
	// PROVIDER_UNSUPPORTED.
	Providers []string
	// Transports say how each provider is reached:
	// BLOCKD_<PROVIDER>_ALLOW_HTTP, _CA_FILE, _CERT_FILE, _KEY_FILE.
	Transports map[string]providerTransport

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
	DBGroupCommit   int           // BLOCKD_DB_GROUP_COMMIT, default 256: the most commands recorded in one transaction
	InstanceID      string        // BLOCKD_INSTANCE_ID, default host-pid
	MaxInFlight     int           // BLOCKD_MAX_IN_FLIGHT, default 1024
	Lease           time.Duration // BLOCKD_LEASE, default 30s
	UnblockWait     time.Duration // BLOCKD_UNBLOCK_WAIT, default 30s
	CallTimeout     time.Duration // BLOCKD_CALL_TIMEOUT, default 20s
	ShutdownGrace   time.Duration // BLOCKD_SHUTDOWN_GRACE, default 20s
	StuckKeyAfter   time.Duration // BLOCKD_STUCK_KEY_AFTER, default 5m: /readyz fails while a key's message is handled longer
	MaxMessageBytes int           // BLOCKD_MAX_MESSAGE_BYTES, default 262144: the largest message read or written
	// Retention is how long finished commands, their provider calls and
	// finished holds are kept (BLOCKD_RETENTION, default 720h, at least
	// 24h): a trackId older than it is a new command.
	Retention       time.Duration
	OutboxRetention time.Duration // BLOCKD_OUTBOX_RETENTION, default 24h: published outbox rows
	RelayStall      time.Duration // BLOCKD_RELAY_STALL, default 1m: the relay failing this long fails /readyz
	LogLevel        string        // BLOCKD_LOG_LEVEL, default info
	LogFormat       string        // BLOCKD_LOG_FORMAT: json (default) or console
	// Tracing is on when OTEL_TRACES_EXPORTER is otlp, or when it is unset
	// and an OTLP endpoint is (OTEL_EXPORTER_OTLP_ENDPOINT or
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT); see tracing.go.
	Tracing bool
}

// mode is how blockd runs: `blockd dev` or `blockd serve`.
type mode string

const (
	modeDev   mode = "dev"
	modeServe mode = "serve"
)

// knownProviders are the providers blockd knows, in the order it lists them.
func knownProviders() []string { return []string{"finnotech", "arhivaar", "card"} }

// providerTransport is how blockd reaches one provider.
type providerTransport struct {
	AllowHTTP bool   // BLOCKD_<PROVIDER>_ALLOW_HTTP, default false: serve refuses an http:// URL without it
	CA        []byte // the PEM of BLOCKD_<PROVIDER>_CA_FILE: the CAs its server must chain to; empty: the system's roots
	Cert, Key []byte // the PEM of BLOCKD_<PROVIDER>_CERT_FILE and _KEY_FILE: the client pair for mutual TLS
}

// minAdminToken is the shortest operator token accepted.
const minAdminToken = 16

// minAdminTokenDistinct is how many different characters an operator token
// needs at least: "aaaaaaaaaaaaaaaa" and "abababababababab" are long enough
// and guessable; a random hex token of 16 characters has about 10.
const minAdminTokenDistinct = 8

// distinctBytes counts the different bytes of s.
func distinctBytes(s string) int {
	var seen [256]bool
	n := 0
	for i := range len(s) {
		if !seen[s[i]] {
			seen[s[i]], n = true, n+1
		}
	}
	return n
}

// minRetention is the shortest BLOCKD_RETENTION accepted: blockd forgets a
// trackId after it, so it must outlast any redelivery.
const minRetention = 24 * time.Hour

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

// configErrors are every problem of a configuration, reported at once.
type configErrors []error

func (e configErrors) Error() string {
	if len(e) == 1 {
		return e[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "configuration: %d problems:", len(e))
	for _, err := range e {
		var ce *configError
		if errors.As(err, &ce) {
			fmt.Fprintf(&b, "\n  %s: %v", ce.Var, ce.Err)
			continue
		}
		fmt.Fprintf(&b, "\n  %v", err)
	}
	return b.String()
}

func (e configErrors) Unwrap() []error { return e }

// loadConfig reads the configuration of `blockd dev` (and of the
// development tools `blockd broker` and `blockd sandbox`) from getenv;
// readFile reads *_FILE secrets and the providers' TLS files.
func loadConfig(getenv func(string) string, readFile func(string) ([]byte, error)) (config, error) {
	return readConfig(modeDev, getenv, readFile)
}

// loadServeConfig reads the configuration of `blockd serve`: everything
// loadConfig reads, and every part dev would embed is required.
func loadServeConfig(getenv func(string) string, readFile func(string) ([]byte, error)) (config, error) {
	return readConfig(modeServe, getenv, readFile)
}

// readConfig reads the configuration of mode m; its error names every
// variable that is wrong or missing.
func readConfig(m mode, getenv func(string) string, readFile func(string) ([]byte, error)) (config, error) {
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
		Mode:                  m,
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
		DatabaseCreate:        boolean("BLOCKD_DATABASE_CREATE", false),
		HTTPAddr:              str("BLOCKD_HTTP_ADDR", "127.0.0.1:8080"),
		AdminAddr:             str("BLOCKD_ADMIN_ADDR", "127.0.0.1:8081"),
		AdminToken:            secret("BLOCKD_ADMIN_TOKEN"),
		MetricsToken:          secret("BLOCKD_METRICS_TOKEN"),
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
		DBGroupCommit:         integer("BLOCKD_DB_GROUP_COMMIT", store.DefaultGroupCommit, 1, 10000),
		InstanceID:            str("BLOCKD_INSTANCE_ID", fmt.Sprintf("%s-%d", host, os.Getpid())),
		MaxInFlight:           integer("BLOCKD_MAX_IN_FLIGHT", 1024, 1, 100000),
		Lease:                 dur("BLOCKD_LEASE", 30*time.Second),
		UnblockWait:           dur("BLOCKD_UNBLOCK_WAIT", 30*time.Second),
		CallTimeout:           dur("BLOCKD_CALL_TIMEOUT", 20*time.Second),
		ShutdownGrace:         dur("BLOCKD_SHUTDOWN_GRACE", 20*time.Second),
		StuckKeyAfter:         dur("BLOCKD_STUCK_KEY_AFTER", 5*time.Minute),
		MaxMessageBytes:       integer("BLOCKD_MAX_MESSAGE_BYTES", processor.DefaultMaxMessageBytes, 4096, 8<<20),
		Retention:             dur("BLOCKD_RETENTION", 720*time.Hour),
		OutboxRetention:       dur("BLOCKD_OUTBOX_RETENTION", 24*time.Hour),
		RelayStall:            dur("BLOCKD_RELAY_STALL", time.Minute),
		LogLevel:              str("BLOCKD_LOG_LEVEL", "info"),
		LogFormat:             str("BLOCKD_LOG_FORMAT", "json"),
	}
	switch exporter := str("OTEL_TRACES_EXPORTER", ""); exporter {
	case "":
		c.Tracing = str("OTEL_EXPORTER_OTLP_ENDPOINT", "") != "" || str("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "") != ""
	case "otlp":
		c.Tracing = true
	case "none":
	default:
		errs = append(errs, &configError{"OTEL_TRACES_EXPORTER", fmt.Errorf("%q is not otlp or none (blockd exports traces over OTLP only)", exporter)})
	}
	protocol := str("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", str("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"))
	if c.Tracing && protocol != "http/protobuf" {
		errs = append(errs, &configError{"OTEL_EXPORTER_OTLP_PROTOCOL", fmt.Errorf("%q is not http/protobuf, the one protocol blockd's OTLP exporter speaks", protocol)})
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
	for _, p := range knownProviders() {
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
	} else if m == modeServe {
		errs = append(errs, &configError{"BLOCKD_KAFKA_BROKERS", errors.New("required by blockd serve: the comma-separated host:port list of the Kafka brokers (serve never starts the embedded one)")})
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
	if m == modeServe && strings.TrimSpace(getenv("BLOCKD_DATABASE_URL")) == "" {
		errs = append(errs, &configError{"BLOCKD_DATABASE_URL", errors.New("required by blockd serve: the PostgreSQL URL, with its sslmode")})
	} else if !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		errs = append(errs, &configError{"BLOCKD_DATABASE_URL", errors.New("must be a postgres:// URL")})
	}
	if c.Retention < minRetention {
		errs = append(errs, &configError{"BLOCKD_RETENTION", fmt.Errorf("%s is shorter than %s: a trackId older than the retention window is a new command, so a redelivery later than it would be carried out again (a second block)", c.Retention, minRetention)})
	}
	c.Providers, c.Transports = readProviders(m, getenv, readFile, &errs)
	errs = append(errs, c.checkProviders(m, getenv)...)
	errs = append(errs, c.checkAdmin(m)...)
	if tokenKeyFile == "" && slices.Contains(c.Providers, "finnotech") && (m == modeServe || c.FinnotechURL != "") {
		errs = append(errs, &configError{"BLOCKD_TOKEN_KEY_FILE", errors.New("required with a real Finnotech: its tokens are kept encrypted with this key")})
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
	if len(errs) > 0 {
		return c, configErrors(errs)
	}
	return c, nil
}

// checkAdmin checks the operator listener and its token.
func (c *config) checkAdmin(m mode) []error {
	if c.AdminAddr == "off" {
		return nil
	}
	var errs []error
	if _, port, err := net.SplitHostPort(c.AdminAddr); err != nil {
		errs = append(errs, &configError{"BLOCKD_ADMIN_ADDR", fmt.Errorf("%q is not host:port or off", c.AdminAddr)})
	} else if c.AdminAddr == c.HTTPAddr && port != "0" {
		errs = append(errs, &configError{"BLOCKD_ADMIN_ADDR", fmt.Errorf("%s is also BLOCKD_HTTP_ADDR: the operator endpoints get a listener of their own", c.AdminAddr)})
	}
	switch {
	case c.AdminToken == "" && m == modeServe:
		errs = append(errs, &configError{"BLOCKD_ADMIN_TOKEN", errors.New("required by blockd serve while BLOCKD_ADMIN_ADDR is on: the bearer token of the operator endpoints, best in a file (BLOCKD_ADMIN_TOKEN_FILE); or set BLOCKD_ADMIN_ADDR=off")})
	case c.AdminToken != "" && len(c.AdminToken) < minAdminToken:
		errs = append(errs, &configError{"BLOCKD_ADMIN_TOKEN", fmt.Errorf("too short: at least %d characters (e.g. openssl rand -hex 32)", minAdminToken)})
	case c.AdminToken != "" && distinctBytes(c.AdminToken) < minAdminTokenDistinct:
		errs = append(errs, &configError{"BLOCKD_ADMIN_TOKEN", fmt.Errorf("guessable: at least %d different characters (e.g. openssl rand -hex 32)", minAdminTokenDistinct)})
	}
	switch {
	case c.MetricsToken == "":
	case c.AdminToken == "":
		errs = append(errs, &configError{"BLOCKD_METRICS_TOKEN", errors.New("needs BLOCKD_ADMIN_TOKEN: without it the operator endpoints, /metrics included, take no token")})
	case c.MetricsToken == c.AdminToken:
		errs = append(errs, &configError{"BLOCKD_METRICS_TOKEN", errors.New("is the operator token: give Prometheus a token of its own, which reads /metrics and nothing else")})
	case len(c.MetricsToken) < minAdminToken:
		errs = append(errs, &configError{"BLOCKD_METRICS_TOKEN", fmt.Errorf("too short: at least %d characters (e.g. openssl rand -hex 32)", minAdminToken)})
	case distinctBytes(c.MetricsToken) < minAdminTokenDistinct:
		errs = append(errs, &configError{"BLOCKD_METRICS_TOKEN", fmt.Errorf("guessable: at least %d different characters (e.g. openssl rand -hex 32)", minAdminTokenDistinct)})
	}
	return errs
}

// readProviders reads BLOCKD_PROVIDERS and how each provider is reached.
func readProviders(m mode, getenv func(string) string, readFile func(string) ([]byte, error), errs *[]error) ([]string, map[string]providerTransport) {
	var served []string
	if v := strings.TrimSpace(getenv("BLOCKD_PROVIDERS")); v != "" {
		for _, p := range strings.Split(v, ",") {
			p = strings.ToLower(strings.TrimSpace(p))
			switch {
			case p == "" || slices.Contains(served, p):
			case !slices.Contains(knownProviders(), p):
				*errs = append(*errs, &configError{"BLOCKD_PROVIDERS", fmt.Errorf("%q is not a provider: want a comma list of %s", p, strings.Join(knownProviders(), ", "))})
			default:
				served = append(served, p)
			}
		}
		if len(served) == 0 {
			*errs = append(*errs, &configError{"BLOCKD_PROVIDERS", fmt.Errorf("names no provider: want a comma list of %s", strings.Join(knownProviders(), ", "))})
		}
	} else if m == modeServe {
		*errs = append(*errs, &configError{"BLOCKD_PROVIDERS", fmt.Errorf("required by blockd serve: the providers this deployment serves, a comma list of %s", strings.Join(knownProviders(), ", "))})
	} else {
		served = knownProviders()
	}

	transports := make(map[string]providerTransport, 3)
	for _, p := range knownProviders() {
		prefix := "BLOCKD_" + strings.ToUpper(p) + "_"
		var t providerTransport
		if v := getenv(prefix + "ALLOW_HTTP"); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				*errs = append(*errs, &configError{prefix + "ALLOW_HTTP", fmt.Errorf("%q is not true or false", v)})
			}
			t.AllowHTTP = b
		}
		file := func(name string) []byte {
			path := strings.TrimSpace(getenv(name))
			if path == "" {
				return nil
			}
			b, err := readFile(path)
			if err != nil {
				*errs = append(*errs, &configError{name, fmt.Errorf("reading it: %w", err)})
			}
			return b
		}
		t.CA, t.Cert, t.Key = file(prefix+"CA_FILE"), file(prefix+"CERT_FILE"), file(prefix+"KEY_FILE")
		if len(t.CA) > 0 {
			if _, err := providerhttp.ParseCA(t.CA); err != nil {
				*errs = append(*errs, &configError{prefix + "CA_FILE", err})
			}
		}
		switch certSet, keySet := getenv(prefix+"CERT_FILE") != "", getenv(prefix+"KEY_FILE") != ""; {
		case certSet && !keySet:
			*errs = append(*errs, &configError{prefix + "KEY_FILE", errors.New("required with " + prefix + "CERT_FILE: the client certificate's key")})
		case keySet && !certSet:
			*errs = append(*errs, &configError{prefix + "CERT_FILE", errors.New("required with " + prefix + "KEY_FILE: the client certificate")})
		case len(t.Cert) > 0 && len(t.Key) > 0:
			if _, err := providerhttp.ParseClientPair(t.Cert, t.Key); err != nil {
				*errs = append(*errs, &configError{prefix + "CERT_FILE", fmt.Errorf("with %sKEY_FILE: %w", prefix, err)})
			}
		}
		transports[p] = t
	}
	return served, transports
}

// providerSettings are one provider's URL and the credentials a real one
// needs, by variable name.
func (c *config) providerSettings(p string) (url string, required map[string]string) {
	switch p {
	case "finnotech":
		return c.FinnotechURL, map[string]string{"BLOCKD_FINNOTECH_CLIENT_ID": c.FinnotechClientID,
			"BLOCKD_FINNOTECH_CLIENT_SECRET": c.FinnotechClientSecret, "BLOCKD_FINNOTECH_TOKEN": c.FinnotechToken,
			"BLOCKD_FINNOTECH_REFRESH_TOKEN": c.FinnotechRefreshToken, "BLOCKD_FINNOTECH_BANK": c.FinnotechBank,
			"BLOCKD_FINNOTECH_NID": c.FinnotechNID}
	case "arhivaar":
		return c.ArhivaarURL, map[string]string{"BLOCKD_ARHIVAAR_ACC_KEY": c.ArhivaarAccKey, "BLOCKD_ARHIVAAR_SECRET": c.ArhivaarSecret}
	default:
		return c.CardURL, map[string]string{"BLOCKD_CARD_CLIENT_ID": c.CardClientID, "BLOCKD_CARD_CLIENT_SECRET": c.CardClientSecret}
	}
}

// checkProviders checks each served provider that is real (every one in
// serve; in dev, one given a URL): its URL and every credential it needs.
func (c *config) checkProviders(m mode, getenv func(string) string) []error {
	var errs []error
	for _, p := range c.Providers {
		prefix := "BLOCKD_" + strings.ToUpper(p) + "_"
		raw, required := c.providerSettings(p)
		if raw == "" && m == modeDev {
			continue // its embedded sandbox answers
		}
		why := "required for " + p + ", which BLOCKD_PROVIDERS lists"
		if m == modeDev {
			why = "required with " + prefix + "URL (a real " + p + ")"
		}
		u, err := url.Parse(raw)
		shown := redact.String(raw) // never echo a password in the URL
		if err == nil {
			shown = u.Redacted()
		}
		switch {
		case raw == "":
			errs = append(errs, &configError{prefix + "URL", errors.New(why + ": its base URL")})
		case err != nil || u.Host == "" || u.Scheme != "https" && u.Scheme != "http":
			errs = append(errs, &configError{prefix + "URL", fmt.Errorf("%q is not an http(s) URL", shown)})
		case u.Scheme == "http" && m == modeServe && !c.Transports[p].AllowHTTP:
			errs = append(errs, &configError{prefix + "URL", fmt.Errorf("%q is not https: blockd serve calls providers over TLS only; set %sALLOW_HTTP=true to allow it on purpose", shown, prefix)})
		}
		names := slices.Sorted(maps.Keys(required))
		for _, name := range names {
			if required[name] != "" {
				continue
			}
			msg := why
			if getenv(name+"_FILE") == "" && isSecretVar(name) {
				msg += "; set it or " + name + "_FILE"
			}
			if name == "BLOCKD_FINNOTECH_NID" {
				// Without it no client-credentials token can be had, so wages
				// cannot be asked and every unknown outcome would end
				// OUTCOME_UNKNOWN.
				msg += ": the wages call-status inquiry needs a client-credentials token"
			}
			errs = append(errs, &configError{name, errors.New(msg)})
		}
	}
	return errs
}

// isSecretVar says whether a credential variable also has a _FILE form.
func isSecretVar(name string) bool {
	switch name {
	case "BLOCKD_FINNOTECH_CLIENT_ID", "BLOCKD_FINNOTECH_BANK", "BLOCKD_ARHIVAAR_ACC_KEY", "BLOCKD_CARD_CLIENT_ID":
		return false
	}
	return true
}
