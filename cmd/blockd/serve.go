package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"golang.org/x/sync/errgroup"

	"github.com/blockd/blockd/consumer"
	"github.com/blockd/blockd/consumer/processor"
	"github.com/blockd/blockd/producer"
	"github.com/blockd/blockd/providers/arhivaar"
	"github.com/blockd/blockd/providers/card"
	"github.com/blockd/blockd/providers/finnotech"
	"github.com/blockd/blockd/schemas"
	"github.com/blockd/blockd/store"
)

func newLogger(cfg config, w io.Writer) (zerolog.Logger, error) {
	level, err := zerolog.ParseLevel(cfg.LogLevel)
	if err != nil {
		return zerolog.Logger{}, &configError{"BLOCKD_LOG_LEVEL", err}
	}
	if cfg.LogFormat == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Str("instance", cfg.InstanceID).Logger(), nil
}

// serveOptions are what tests inject; production passes the zero value.
type serveOptions struct {
	hooks    processor.Hooks
	onListen func(httpAddr string)
}

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
	st, err := store.Open(ctx, cfg.DatabaseURL, store.MaxConns(cfg.DBMaxConns), store.SealTokens(tokenKeys))
	if err != nil {
		return fmt.Errorf("opening store: %w", err)
	}
	defer st.Close()
	log.Info().Str("schema", st.Schema()).Msg("database migrated")
	if err := checkStoredTokens(ctx, st, tokenKeys.KeyID(), log); err != nil {
		return err
	}

	provs, closeSandboxes, err := newProviders(ctx, cfg, st, log)
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
	proc := processor.New(processor.Config{Owner: cfg.InstanceID, Topics: topics, ResultsTopic: cfg.TopicResults,
		DLQTopic: cfg.TopicDLQ, Lease: cfg.Lease, UnblockWait: cfg.UnblockWait, CallTimeout: cfg.CallTimeout,
		MaxMessageBytes: cfg.MaxMessageBytes, MaxAttempts: cfg.MaxAttempts, RetryBudget: cfg.RetryBudget,
		ResolveDeadline: cfg.ResolveDeadline, LandingMargin: cfg.LandingMargin, Policies: policies(cfg)}, st, validator, provs, opts.hooks, log)
	cons, err := consumer.New(consumer.Config{Brokers: brokers, GroupID: cfg.GroupID,
		Topics:      []string{cfg.TopicBlock, cfg.TopicUnblock, cfg.TopicTransfer, cfg.TopicInquiry},
		MaxInFlight: cfg.MaxInFlight, Grace: cfg.ShutdownGrace, Dialer: kafkaSec.dialer()}, proc, log)
	if err != nil {
		return err
	}

	wake, err := st.ListenOutbox(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	writer := producer.NewWriter(brokers, kafkaTransport)
	defer writer.Close()
	relay := producer.NewRelay(producer.Config{}, st, writer, wake, log)

	var brokerOK atomic.Bool
	health := &healthServer{store: st, consumer: cons, brokerOK: &brokerOK, providers: proc.ProviderStates}
	srv := &http.Server{Addr: cfg.HTTPAddr, Handler: health.routes(), ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return &configError{"BLOCKD_HTTP_ADDR", err}
	}
	log.Info().Str("addr", ln.Addr().String()).Msg("HTTP listening: /healthz /readyz /v1/commands/in-doubt /v1/commands/reconcile")
	if opts.onListen != nil {
		opts.onListen(ln.Addr().String())
	}

	// The relay and the lease keeper outlive the consumer: they stop only
	// after it has drained, so its last results are published.
	background, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()
	g, gctx := errgroup.WithContext(ctx)
	bg, _ := errgroup.WithContext(background)
	bg.Go(func() error { return relay.Run(background) })
	bg.Go(func() error { return proc.Run(background) })
	bg.Go(func() error { watchBroker(background, brokers, kafkaTransport, &brokerOK); return nil })
	bg.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serving HTTP: %w", err)
		}
		return nil
	})
	g.Go(func() error { return cons.Run(gctx) })
	log.Info().Strs("brokers", brokers).Msg("blockd started")

	err = g.Wait()
	log.Info().Msg("consumer stopped; flushing outbox")
	stopBackground()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
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

// newProviders builds the provider adapters. A provider without a
// configured URL is served by its embedded sandbox.
func newProviders(ctx context.Context, cfg config, st *store.Store, log zerolog.Logger) (map[schemas.Provider]processor.Provider, func(), error) {
	embedded := map[string]string{}
	for name, url := range map[string]string{"finnotech": cfg.FinnotechURL, "arhivaar": cfg.ArhivaarURL, "card": cfg.CardURL} {
		if url == "" {
			embedded[name] = "127.0.0.1:0"
		}
	}
	closeFn := func() {}
	urls := map[string]string{"finnotech": cfg.FinnotechURL, "arhivaar": cfg.ArhivaarURL, "card": cfg.CardURL}
	fn := finnotech.TokensConfig{ClientID: cfg.FinnotechClientID, ClientSecret: cfg.FinnotechClientSecret, NID: cfg.FinnotechNID}
	seed := schemas.StoredToken{Value: cfg.FinnotechToken, RefreshToken: cfg.FinnotechRefreshToken, Bank: cfg.FinnotechBank}
	accKey, arhivaarSecret, cardClient, cardSecret := cfg.ArhivaarAccKey, cfg.ArhivaarSecret, cfg.CardClientID, cfg.CardClientSecret
	if len(embedded) > 0 {
		sb, err := startSandboxes(cfg, embedded, log)
		if err != nil {
			return nil, nil, err
		}
		closeFn = sb.close
		for name, url := range sb.urls {
			urls[name] = url
		}
		if cfg.FinnotechURL == "" {
			fn = finnotech.TokensConfig{ClientID: sandboxFinnotechClient, ClientSecret: sandboxFinnotechSecret, NID: sandboxFinnotechNID}
			seed = schemas.StoredToken{Value: sandboxFinnotechToken, RefreshToken: "refresh-" + sandboxFinnotechToken, Bank: "062"}
		}
		if cfg.ArhivaarURL == "" {
			accKey, arhivaarSecret = sandboxArhivaarAccKey, sandboxArhivaarSecret
		}
		if cfg.CardURL == "" {
			cardClient, cardSecret = sandboxCardClient, sandboxCardSecret
		}
	}
	if seed.Value != "" {
		if err := st.SeedToken(ctx, string(schemas.ProviderFinnotech), fn.ClientID, seed); err != nil {
			closeFn()
			return nil, nil, err
		}
	}
	fn.Store = finnotechTokenStore{st}
	httpClient := &http.Client{Timeout: cfg.CallTimeout, Transport: &http.Transport{
		MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second, ResponseHeaderTimeout: cfg.CallTimeout}}
	tokens := finnotech.NewTokens(urls["finnotech"], httpClient, fn)
	fc := finnotech.ClientConfig{BaseURL: urls["finnotech"], HTTPClient: httpClient, Tokens: tokens}
	ac := arhivaar.ClientConfig{BaseURL: urls["arhivaar"], AccKey: accKey, Secret: arhivaarSecret, HTTPClient: httpClient}
	cc := card.ClientConfig{BaseURL: urls["card"], ClientID: cardClient, ClientSecret: cardSecret, HTTPClient: httpClient}
	if err := errors.Join(fc.Validate(), ac.Validate(), cc.Validate()); err != nil {
		closeFn()
		return nil, nil, fmt.Errorf("configuring provider clients: %w", err)
	}
	return map[schemas.Provider]processor.Provider{
		schemas.ProviderFinnotech: finnotech.NewAdapter(finnotech.NewClient(fc)),
		schemas.ProviderArhivaar:  arhivaar.NewAdapter(arhivaar.NewClient(ac)),
		schemas.ProviderCard:      card.NewAdapter(card.NewClient(cc)),
	}, closeFn, nil
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

func (h *healthServer) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		checks := map[string]bool{
			"database": h.store.Ping(ctx) == nil, // migrations ran before the listener opened
			"broker":   h.brokerOK.Load(),
			"consumer": h.consumer.Joined(),
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
		writeJSON(w, status, map[string]any{"checks": checks, "providers": providers})
	})
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
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
