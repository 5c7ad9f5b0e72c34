package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"

	"github.com/blockd/blockd/cmd/blockd/metrics"
	"github.com/blockd/blockd/cmd/blockd/redact"
	"github.com/blockd/blockd/consumer"
	"github.com/blockd/blockd/consumer/processor"
	"github.com/blockd/blockd/producer"
	"github.com/blockd/blockd/providers/arhivaar"
	"github.com/blockd/blockd/providers/card"
	"github.com/blockd/blockd/providers/finnotech"
	"github.com/blockd/blockd/providers/providerhttp"
	"github.com/blockd/blockd/schemas"
	"github.com/blockd/blockd/store"
	"github.com/blockd/blockd/store/retention"
)

func newLogger(cfg config, w io.Writer) (zerolog.Logger, error) {
	level, err := zerolog.ParseLevel(cfg.LogLevel)
	if err != nil {
		return zerolog.Logger{}, &configError{"BLOCKD_LOG_LEVEL", err}
	}
	// Every line passes the one redaction the operator endpoints use too.
	w = redact.Writer(w)
	if cfg.LogFormat == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Str("instance", cfg.InstanceID).Logger(), nil
}

// serveOptions are what tests inject; production passes the zero value.
type serveOptions struct {
	hooks    processor.Hooks
	onListen func(listening)
}

// listening are the addresses serve's HTTP listeners took.
type listening struct {
	HTTP  string // the probes
	Admin string // the operator endpoints; "" when off
}

// The bounds of both HTTP servers (probes and operator endpoints).
const (
	httpReadHeaderTimeout = 5 * time.Second
	httpReadTimeout       = 10 * time.Second
	httpWriteTimeout      = 30 * time.Second
	httpIdleTimeout       = 60 * time.Second
)

// serve runs the service until ctx ends, then shuts down in order: stop
// fetching, let in-flight commands finish (bounded), commit offsets, flush
// the outbox, close.
func serve(ctx context.Context, cfg config, log zerolog.Logger, opts serveOptions) error {
	kafkaSec, err := newKafkaSecurity(cfg)
	if err != nil {
		return err
	}
	brokers := cfg.KafkaBrokers
	if len(brokers) == 0 {
		if cfg.Mode != modeDev {
			return &configError{"BLOCKD_KAFKA_BROKERS", errors.New("required by blockd serve, which never starts the embedded broker")}
		}
		cluster, err := startEmbeddedBroker(cfg, log)
		if err != nil {
			return err
		}
		defer cluster.Close()
		brokers = cluster.ListenAddrs()
	} else {
		logKafkaSecurity(log, kafkaSec, brokers)
	}
	if err := kafkaSec.checkBrokers(ctx, brokers); err != nil {
		return err
	}
	kafkaTransport := kafkaSec.transport()
	defer kafkaTransport.CloseIdleConnections()
	if cfg.CreateTopics {
		if err := ensureTopics(ctx, brokers, kafkaTransport, cfg); err != nil {
			return err
		}
	}

	tokenKeys, err := tokenKeyring(cfg, log)
	if err != nil {
		return err
	}
	dbOpts := []store.Option{store.MaxConns(cfg.DBMaxConns), store.GroupCommit(cfg.DBGroupCommit)}
	if tokenKeys != nil {
		dbOpts = append(dbOpts, store.SealTokens(tokenKeys))
	}
	if cfg.Mode == modeDev || cfg.DatabaseCreate {
		dbOpts = append(dbOpts, store.CreateDatabase())
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, dbOpts...)
	if errors.Is(err, store.ErrDatabaseMissing) {
		return &configError{"BLOCKD_DATABASE_URL", fmt.Errorf("%w; create it, or set BLOCKD_DATABASE_CREATE=true to let blockd serve create it", err)}
	}
	if err != nil {
		return fmt.Errorf("opening store: %w", err)
	}
	defer st.Close()
	log.Info().Str("schema", st.Schema()).Msg("database migrated")
	if tokenKeys != nil {
		if err := checkStoredTokens(ctx, st, tokenKeys.KeyID(), log); err != nil {
			return err
		}
	} else if n, err := st.CountTokens(ctx); err != nil {
		return err
	} else if n > 0 {
		return &configError{"BLOCKD_TOKEN_KEY_FILE", fmt.Errorf("provider_tokens holds %d token(s) and no key is set to keep them encrypted: "+
			"set BLOCKD_TOKEN_KEY_FILE (they are encrypted at start), or delete the rows if this deployment no longer serves Finnotech", n)}
	}

	traces, err := newTracing(ctx, cfg)
	if err != nil {
		return err
	}
	defer traces.shutdown(log)
	provs, simulated, closeSandboxes, err := newProviders(ctx, cfg, st, log, traces.tracerProvider())
	if err != nil {
		return err
	}
	defer closeSandboxes()

	validator, err := schemas.NewValidator()
	if err != nil {
		return fmt.Errorf("loading schemas: %w", err)
	}
	topics := map[string]schemas.Kind{cfg.TopicBlock: schemas.KindBlock, cfg.TopicUnblock: schemas.KindUnblock,
		cfg.TopicTransfer: schemas.KindTransfer, cfg.TopicInquiry: schemas.KindInquiry}
	met := metrics.New(slices.Collect(maps.Keys(provs)))
	proc := processor.New(processor.Config{Observer: met, Owner: cfg.InstanceID, Topics: topics, ResultsTopic: cfg.TopicResults,
		DLQTopic: cfg.TopicDLQ, Lease: cfg.Lease, UnblockWait: cfg.UnblockWait, CallTimeout: cfg.CallTimeout,
		MaxMessageBytes: cfg.MaxMessageBytes, MaxAttempts: cfg.MaxAttempts, RetryBudget: cfg.RetryBudget,
		ResolveDeadline: cfg.ResolveDeadline, LandingMargin: cfg.LandingMargin, Policies: policies(cfg), Simulated: simulated,
		Tracer: traces.tracer()}, st, validator, provs, opts.hooks, log)
	cons, err := consumer.New(consumer.Config{Brokers: brokers, GroupID: cfg.GroupID,
		Topics:      []string{cfg.TopicBlock, cfg.TopicUnblock, cfg.TopicTransfer, cfg.TopicInquiry},
		MaxInFlight: cfg.MaxInFlight, MessageBytes: cfg.MaxMessageBytes, Grace: cfg.ShutdownGrace,
		StuckAfter: cfg.StuckKeyAfter, Dialer: kafkaSec.dialer()}, proc, log)
	if err != nil {
		return err
	}

	wake, err := st.ListenOutbox(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	// The relay sends nothing larger than BLOCKD_MAX_MESSAGE_BYTES (a larger
	// row is set aside, never sent), in batches the topics take when their
	// max.message.bytes is at least that plus producer.BatchOverhead. Its
	// final flush at shutdown is bounded by the grace period.
	writer := producer.NewWriter(brokers, kafkaTransport, cfg.MaxMessageBytes)
	defer writer.Close()
	relay := producer.NewRelay(producer.Config{MaxMessageBytes: cfg.MaxMessageBytes, FlushTimeout: cfg.ShutdownGrace,
		StallAfter: cfg.RelayStall, Observer: met}, st, writer, wake, log)
	met.Watch(metrics.Sources{Database: st, Consumer: cons.Status, Breakers: proc.ProviderStates, Relay: relay.Status})
	forget := retention.New(retention.Config{Commands: cfg.Retention, Outbox: cfg.OutboxRetention}, st, log)

	// The relay, the lease keeper and the HTTP servers outlive the
	// consumer: they stop only after it has drained, so its last results
	// are published.
	background, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()
	bg, _ := errgroup.WithContext(background)
	var brokerOK atomic.Bool
	health := &healthServer{store: st, consumer: cons, brokerOK: &brokerOK, providers: proc.ProviderStates, relay: relay.Status, metrics: met.Handler(),
		operatorSettlement: proc.OperatorSettlement, callTimeout: cfg.CallTimeout, landingMargin: cfg.LandingMargin}
	var servers []*http.Server
	var addrs listening
	listen := func(name, addr string, h http.Handler) (string, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return "", &configError{name, err}
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: httpReadHeaderTimeout, ReadTimeout: httpReadTimeout,
			WriteTimeout: httpWriteTimeout, IdleTimeout: httpIdleTimeout}
		servers = append(servers, srv)
		bg.Go(func() error {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("serving HTTP on %s: %w", name, err)
			}
			return nil
		})
		return ln.Addr().String(), nil
	}
	if addrs.HTTP, err = listen("BLOCKD_HTTP_ADDR", cfg.HTTPAddr, health.probes()); err != nil {
		return err
	}
	log.Info().Str("addr", addrs.HTTP).Msg("probes listening: /healthz /readyz")
	if cfg.AdminAddr != "off" {
		if addrs.Admin, err = listen("BLOCKD_ADMIN_ADDR", cfg.AdminAddr, operatorAuth(cfg.AdminToken, cfg.MetricsToken, health.operator())); err != nil {
			for _, srv := range servers {
				srv.Close()
			}
			_ = bg.Wait()
			return err
		}
		const endpoints = "/v1/commands/{trackId} /v1/commands/in-doubt /v1/commands/reconcile /v1/outbox/set-aside /metrics"
		if cfg.AdminToken == "" {
			log.Warn().Str("addr", addrs.Admin).Msg("operator endpoints listening WITHOUT a token (blockd dev without BLOCKD_ADMIN_TOKEN_FILE): " + endpoints)
		} else {
			log.Info().Str("addr", addrs.Admin).Msg("operator endpoints listening, bearer token required: " + endpoints)
		}
	}
	if opts.onListen != nil {
		opts.onListen(addrs)
	}

	g, gctx := errgroup.WithContext(ctx)
	bg.Go(func() error { return relay.Run(background) })
	bg.Go(func() error { return forget.Run(background) })
	bg.Go(func() error { return proc.Run(background) })
	bg.Go(func() error { watchBroker(background, brokers, kafkaTransport, &brokerOK); return nil })
	g.Go(func() error { return cons.Run(gctx) })
	log.Info().Strs("brokers", brokers).Msg("blockd started")

	err = g.Wait()
	log.Info().Msg("consumer stopped; flushing outbox")
	stopBackground()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range servers {
		_ = srv.Shutdown(shutdownCtx)
	}
	if berr := bg.Wait(); berr != nil && err == nil {
		err = berr
	}
	log.Info().Msg("blockd stopped")
	return err
}

func startEmbeddedBroker(cfg config, log zerolog.Logger) (*kfake.Cluster, error) {
	_, portStr, _ := net.SplitHostPort(cfg.EmbeddedKafkaAddr)
	port, _ := strconv.Atoi(portStr)
	dir := filepath.Join(cfg.DataDir, "kafka")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, &configError{"BLOCKD_DATA_DIR", err}
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(dir), kfake.SyncWrites())
	if err != nil {
		return nil, fmt.Errorf("starting embedded broker on %s: %w", cfg.EmbeddedKafkaAddr, err)
	}
	log.Warn().Strs("addr", cluster.ListenAddrs()).Str("dataDir", dir).
		Msg("started EMBEDDED Kafka-protocol broker (kfake) - for development only, NOT for production; set BLOCKD_KAFKA_BROKERS")
	return cluster, nil
}

// newProviders builds the adapters of the providers cfg serves. In dev, a
// provider without a configured URL is served by its embedded sandbox, and
// is named in simulated; serve never starts a sandbox.
func newProviders(ctx context.Context, cfg config, st *store.Store, log zerolog.Logger, tp trace.TracerProvider) (map[schemas.Provider]processor.Provider, map[schemas.Provider]bool, func(), error) {
	urls := map[string]string{"finnotech": cfg.FinnotechURL, "arhivaar": cfg.ArhivaarURL, "card": cfg.CardURL}
	embedded := map[string]string{}
	simulated := map[schemas.Provider]bool{}
	for _, name := range cfg.Providers {
		if urls[name] != "" {
			continue
		}
		if cfg.Mode != modeDev {
			return nil, nil, nil, &configError{"BLOCKD_" + strings.ToUpper(name) + "_URL", errors.New("required by blockd serve, which never starts a sandbox")}
		}
		embedded[name] = "127.0.0.1:0"
		simulated[schemas.Provider(name)] = true
	}
	closeFn := func() {}
	fn := finnotech.TokensConfig{ClientID: cfg.FinnotechClientID, ClientSecret: cfg.FinnotechClientSecret, NID: cfg.FinnotechNID}
	seed := schemas.StoredToken{Value: cfg.FinnotechToken, RefreshToken: cfg.FinnotechRefreshToken, Bank: cfg.FinnotechBank}
	accKey, arhivaarSecret, cardClient, cardSecret := cfg.ArhivaarAccKey, cfg.ArhivaarSecret, cfg.CardClientID, cfg.CardClientSecret
	if len(embedded) > 0 {
		sb, err := startSandboxes(cfg, embedded, log)
		if err != nil {
			return nil, nil, nil, err
		}
		closeFn = sb.close
		for name, url := range sb.urls {
			urls[name] = url
		}
		if simulated[schemas.ProviderFinnotech] {
			fn = finnotech.TokensConfig{ClientID: sandboxFinnotechClient, ClientSecret: sandboxFinnotechSecret, NID: sandboxFinnotechNID}
			seed = schemas.StoredToken{Value: sandboxFinnotechToken, RefreshToken: "refresh-" + sandboxFinnotechToken, Bank: "062"}
		}
		if simulated[schemas.ProviderArhivaar] {
			accKey, arhivaarSecret = sandboxArhivaarAccKey, sandboxArhivaarSecret
		}
		if simulated[schemas.ProviderCard] {
			cardClient, cardSecret = sandboxCardClient, sandboxCardSecret
		}
	}
	fail := func(err error) (map[schemas.Provider]processor.Provider, map[schemas.Provider]bool, func(), error) {
		closeFn()
		return nil, nil, nil, err
	}
	provs := map[schemas.Provider]processor.Provider{}
	for _, name := range cfg.Providers {
		httpClient, err := providerClient(cfg, name, simulated[schemas.Provider(name)], tp)
		if err != nil {
			return fail(err)
		}
		switch name {
		case "finnotech":
			if seed.Value != "" {
				if err := st.SeedToken(ctx, string(schemas.ProviderFinnotech), fn.ClientID, seed); err != nil {
					return fail(err)
				}
			}
			fn.Store = finnotechTokenStore{st}
			tokens := finnotech.NewTokens(urls["finnotech"], httpClient, fn)
			fc := finnotech.ClientConfig{BaseURL: urls["finnotech"], HTTPClient: httpClient, Tokens: tokens}
			if err := fc.Validate(); err != nil {
				return fail(fmt.Errorf("configuring provider clients: %w", err))
			}
			provs[schemas.ProviderFinnotech] = finnotech.NewAdapter(finnotech.NewClient(fc))
		case "arhivaar":
			ac := arhivaar.ClientConfig{BaseURL: urls["arhivaar"], AccKey: accKey, Secret: arhivaarSecret, HTTPClient: httpClient}
			if err := ac.Validate(); err != nil {
				return fail(fmt.Errorf("configuring provider clients: %w", err))
			}
			provs[schemas.ProviderArhivaar] = arhivaar.NewAdapter(arhivaar.NewClient(ac))
		case "card":
			cc := card.ClientConfig{BaseURL: urls["card"], ClientID: cardClient, ClientSecret: cardSecret, HTTPClient: httpClient}
			if err := cc.Validate(); err != nil {
				return fail(fmt.Errorf("configuring provider clients: %w", err))
			}
			provs[schemas.ProviderCard] = card.NewAdapter(card.NewClient(cc))
		}
	}
	return provs, simulated, closeFn, nil
}

// providerClient is the HTTP client of provider name. Each provider has its
// own: its CA, its client certificate, its connections; all honour proxies
// from the environment and bound every phase of a call (see providerhttp).
// A sandbox is reached over plain HTTP on loopback.
func providerClient(cfg config, name string, sandbox bool, tp trace.TracerProvider) (*http.Client, error) {
	tr := cfg.Transports[name]
	// Up to MaxInFlight calls may run at once: keep as many connections
	// alive, or each call beyond the idle pool dials (and, in production,
	// shakes hands over TLS) anew.
	httpCfg := providerhttp.Config{CAPEM: tr.CA, CertPEM: tr.Cert, KeyPEM: tr.Key, CallTimeout: cfg.CallTimeout, MaxIdleConnsPerHost: cfg.MaxInFlight}
	if sandbox {
		httpCfg = providerhttp.Config{CallTimeout: cfg.CallTimeout, MaxIdleConnsPerHost: cfg.MaxInFlight}
	}
	httpCfg.TracerProvider = tp
	c, err := providerhttp.New(httpCfg)
	if err != nil {
		return nil, fmt.Errorf("building the %s HTTP client: %w", name, err)
	}
	return c, nil
}

// ensureTopics creates the topics blockd uses when they are missing.
func ensureTopics(ctx context.Context, brokers []string, transport kafka.RoundTripper, cfg config) error {
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: transport}
	var req kafka.CreateTopicsRequest
	for _, t := range []string{cfg.TopicBlock, cfg.TopicUnblock, cfg.TopicTransfer, cfg.TopicInquiry, cfg.TopicResults, cfg.TopicDLQ} {
		req.Topics = append(req.Topics, kafka.TopicConfig{Topic: t, NumPartitions: cfg.TopicPartitions, ReplicationFactor: -1})
	}
	var lastErr error
	for try := 0; try < 10; try++ {
		res, err := client.CreateTopics(ctx, &req)
		if err == nil {
			for topic, terr := range res.Errors {
				if errors.Is(terr, kafka.TopicAuthorizationFailed) || errors.Is(terr, kafka.ClusterAuthorizationFailed) {
					return fmt.Errorf("creating topic %s (blockd's Kafka user needs Create on it, or set BLOCKD_CREATE_TOPICS=false and create the topics beforehand): %w", topic, terr)
				}
				if terr != nil && !errors.Is(terr, kafka.TopicAlreadyExists) {
					return fmt.Errorf("creating topic %s: %w", topic, terr)
				}
			}
			return nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return fmt.Errorf("creating topics (is the broker at %v reachable?): %w", brokers, lastErr)
}

// watchBroker keeps brokerOK true while a broker answers a metadata request.
func watchBroker(ctx context.Context, brokers []string, transport kafka.RoundTripper, ok *atomic.Bool) {
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 3 * time.Second, Transport: transport}
	for {
		_, err := client.Metadata(ctx, &kafka.MetadataRequest{})
		ok.Store(err == nil)
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}

func runBroker(ctx context.Context, cfg config, log zerolog.Logger) error {
	cluster, err := startEmbeddedBroker(cfg, log)
	if err != nil {
		return err
	}
	<-ctx.Done()
	cluster.Close()
	log.Info().Msg("embedded broker stopped")
	return nil
}

type healthServer struct {
	store     *store.Store
	consumer  *consumer.Consumer
	brokerOK  *atomic.Bool
	providers func() map[string]string
	relay     func() producer.Status
	metrics   http.Handler // Prometheus's scrape; nil: none
	// operatorSettlement builds how an operator's verdict ends an IN_DOUBT
	// command (see operator_api.go).
	operatorSettlement func(schemas.CommandDetail, schemas.OperatorVerdict) (schemas.OperatorSettlement, error)
	// callTimeout and landingMargin are BLOCKD_CALL_TIMEOUT and
	// BLOCKD_LANDING_MARGIN: until when an open call can still land, which
	// an operator's "not-applied" must wait for.
	callTimeout, landingMargin time.Duration
}

// policies turns the configuration's provider settings into the processor's.
func policies(cfg config) map[schemas.Provider]processor.Policy {
	out := make(map[schemas.Provider]processor.Policy, len(cfg.Policies))
	for name, p := range cfg.Policies {
		out[schemas.Provider(name)] = processor.Policy{RateLimit: p.RateLimit, BreakerFailures: uint32(p.BreakerFailures),
			BreakerCooldown: p.BreakerCooldown, MaxAttempts: p.MaxAttempts, RetryBudget: p.RetryBudget}
	}
	return out
}

// probes are /healthz and /readyz, for the load balancer or orchestrator.
func (h *healthServer) probes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		cs := h.consumer.Status()
		keysMoving, consumerDetail := consumerReadiness(cs)
		checks := map[string]bool{
			"database":   h.store.Ping(ctx) == nil, // migrations ran before the listener opened
			"broker":     h.brokerOK.Load(),
			"consumer":   cs.Joined,
			"keysMoving": keysMoving,
		}
		status := http.StatusOK
		for _, ok := range checks {
			if !ok {
				status = http.StatusServiceUnavailable
			}
		}
		// A provider whose circuit breaker is open makes its commands wait:
		// the service says so, and is not ready until it closes again.
		providers := h.providers()
		for _, state := range providers {
			if state == "open" {
				status = http.StatusServiceUnavailable
			}
		}
		// The relay failing to publish anything for longer than
		// BLOCKD_RELAY_STALL fails readiness: no result reaches anyone.
		// Rows set aside (refused for good) only show: each holds back its
		// own key, and an operator, not a restart, deals with them.
		relay := h.relayDetail(ctx)
		if stalled, _ := relay["stalled"].(bool); stalled {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, map[string]any{"checks": checks, "providers": providers, "relay": relay, "consumer": consumerDetail})
	})
	return mux
}

// relayDetail is the relay's part of the readiness answer: whether it is
// stalled, since when and why it fails, and what waits in the outbox.
func (h *healthServer) relayDetail(ctx context.Context) map[string]any {
	detail := map[string]any{"stalled": false}
	if h.relay != nil {
		st := h.relay()
		detail["stalled"] = st.Stalled
		if !st.FailingSince.IsZero() {
			detail["failingFor"] = time.Since(st.FailingSince).Round(time.Second).String()
			detail["lastError"] = st.LastError
		}
	}
	if ob, err := h.store.OutboxHealth(ctx); err == nil {
		detail["pending"], detail["setAside"] = ob.Pending, ob.SetAside
		if ob.OldestPending > 0 {
			detail["oldestPending"] = ob.OldestPending.Round(time.Second).String()
		}
	}
	return detail
}

// consumerReadiness is the consumer's part of /readyz: whether every key is
// moving, and the detail. A key whose message has been handled (running or
// held back) longer than BLOCKD_STUCK_KEY_AFTER fails readiness: it pins
// its partition's committed offset and needs someone to look (a rollout
// should stop, an alert fire). Saturation (every slot running, or fetching
// waiting for room among the fetched messages) is load, not a fault: it is
// shown and does not fail readiness; when it comes from keys that do not
// move, they fail it themselves. The detail says where a stuck message is,
// never its key (an account).
func consumerReadiness(s consumer.Status) (keysMoving bool, detail map[string]any) {
	const listed = 10
	stuck := make([]map[string]any, 0, min(len(s.Stuck), listed))
	for _, m := range s.Stuck[:min(len(s.Stuck), listed)] {
		stuck = append(stuck, map[string]any{"topic": m.Topic, "partition": m.Partition, "offset": m.Offset, "for": m.For.Round(time.Second).String()})
	}
	return len(s.Stuck) == 0, map[string]any{
		"running": s.Running, "maxInFlight": s.MaxInFlight,
		"fetched": s.Fetched, "maxFetched": s.MaxFetched, "fetchedBytes": s.FetchedBytes, "maxFetchedBytes": s.MaxFetchedBytes,
		"saturated": s.SaturatedFor > 0 || s.MaxInFlight > 0 && s.Running >= s.MaxInFlight, "saturatedFor": s.SaturatedFor.Round(time.Second).String(),
		"stuckAfter": s.StuckAfter.String(), "stuckKeys": len(s.Stuck), "stuck": stuck,
	}
}

// operator are the endpoints an operator reconciles with; serve puts them
// on their own listener, behind requireBearer.
func (h *healthServer) operator() http.Handler {
	mux := http.NewServeMux()
	h.commandEndpoints(mux)
	mux.HandleFunc("GET /v1/commands/reconcile", func(w http.ResponseWriter, r *http.Request) {
		list, err := h.store.NeedsReconciliation(r.Context(), 1000)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"commands": list})
	})
	mux.HandleFunc("GET /v1/commands/in-doubt", func(w http.ResponseWriter, r *http.Request) {
		list, err := h.store.InDoubt(r.Context(), 1000)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"commands": list})
	})
	// Outbox rows the relay set aside as refused for good (too large, its
	// topic missing, invalid), without their values; each holds back the
	// later rows of its key. Retrying puts them back in the relay's hands,
	// once the cause is fixed.
	mux.HandleFunc("GET /v1/outbox/set-aside", func(w http.ResponseWriter, r *http.Request) {
		rows, err := h.store.SetAsideOutbox(r.Context(), 1000)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"rows": rows})
	})
	retry := func(w http.ResponseWriter, r *http.Request, id int64) {
		n, err := h.store.RetrySetAside(r.Context(), id)
		switch {
		case errors.Is(err, store.ErrNotSetAside):
			writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
		case err != nil:
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		default:
			writeJSON(w, http.StatusOK, map[string]any{"retried": n})
		}
	}
	mux.HandleFunc("POST /v1/outbox/set-aside/retry", func(w http.ResponseWriter, r *http.Request) { retry(w, r, 0) })
	mux.HandleFunc("POST /v1/outbox/set-aside/{id}/retry", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id <= 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "the id is a positive integer"})
			return
		}
		retry(w, r, id)
	})
	// Prometheus scrapes /metrics here, with the operator token (see
	// cmd/blockd/metrics).
	if h.metrics != nil {
		mux.Handle("GET /metrics", h.metrics)
	}
	// Go's profiles (CPU, heap, goroutines, execution trace), for finding
	// where the time and memory go under load, as the README's throughput
	// section does: `go tool pprof http://…/debug/pprof/profile?seconds=30`.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}

// operatorAuth guards the operator listener: the operator token opens
// every endpoint; the metrics token, when one is set, opens GET /metrics
// and nothing else, so a Prometheus server holding it can read the
// metrics but never settle a command or retry a row.
func operatorAuth(adminToken, metricsToken string, next http.Handler) http.Handler {
	admin := requireBearer(adminToken, next)
	if metricsToken == "" {
		return admin
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/metrics" && bearerIs(r, metricsToken) {
			next.ServeHTTP(w, r)
			return
		}
		admin.ServeHTTP(w, r)
	})
}

// bearerIs reports whether r carries token as its bearer token, in the
// same time whatever the token given (both are hashed first).
func bearerIs(r *http.Request, token string) bool {
	given, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	got, want := sha256.Sum256([]byte(given)), sha256.Sum256([]byte(token))
	return ok && subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// requireBearer lets through only requests carrying "Authorization: Bearer
// <token>"; others get 401. The comparison takes the same time whatever the
// given token (both are hashed first, so not even the length shows). An
// empty token (blockd dev without one) lets everything through.
func requireBearer(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		given, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		got := sha256.Sum256([]byte(given))
		if !ok || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="blockd operator"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "a valid bearer token is required"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// writeJSON answers v as JSON, passed through the redaction the logs use:
// provider error texts and reasons never show an account number, IBAN,
// national id or token.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, "encoding the answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(redact.Bytes(buf.Bytes()))
}
