// Package producer publishes what the outbox holds — result events and dead
// letters — to Kafka. The relay marks rows published only after the broker
// acknowledged them with all in-sync replicas, keeps each trackId's messages
// in the order they were written, and wakes as soon as new rows commit.
package producer

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/blockd/blockd/schemas"
)

// Outbox is where the relay takes messages from (store.Store in production).
type Outbox interface {
	PublishPending(ctx context.Context, limit int, publish func(ctx context.Context, msgs []schemas.Outbound) error) (int, error)
	PrunePublished(ctx context.Context, keep time.Duration) (int64, error)
}

// NewWriter returns a kafka-go Writer set for safety: every write waits for
// all in-sync replicas, keys are hashed to partitions (so one trackId always
// lands on one partition, in order), and a batch waits at most a few
// milliseconds for company instead of the default second. transport makes
// its connections, with their TLS and SASL; nil is kafka-go's plaintext
// kafka.DefaultTransport.
func NewWriter(brokers []string, transport kafka.RoundTripper) *kafka.Writer {
	return &kafka.Writer{
		Addr:         kafka.TCP(brokers...),
		Transport:    transport,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 2 * time.Millisecond,
		BatchSize:    1000,
		BatchBytes:   16 << 20,
		MaxAttempts:  3,
		WriteTimeout: 10 * time.Second,
		ReadTimeout:  10 * time.Second,
	}
}

// Config tunes a Relay. Zero values get the defaults in the comments.
type Config struct {
	// BatchSize is the most rows published per transaction. Default 500.
	BatchSize int
	// Poll is how often the outbox is checked without a wake-up. Default 1s.
	Poll time.Duration
	// Keep is how long published rows are kept before pruning. Default 24h.
	Keep time.Duration
	// FlushTimeout bounds the final flush at shutdown. Default 10s.
	FlushTimeout time.Duration
}

func (c *Config) setDefaults() {
	if c.BatchSize == 0 {
		c.BatchSize = 500
	}
	if c.Poll == 0 {
		c.Poll = time.Second
	}
	if c.Keep == 0 {
		c.Keep = 24 * time.Hour
	}
	if c.FlushTimeout == 0 {
		c.FlushTimeout = 10 * time.Second
	}
}

// Writer is the part of kafka.Writer the relay uses.
type Writer interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// Relay moves outbox rows to Kafka.
type Relay struct {
	cfg    Config
	outbox Outbox
	writer Writer
	wake   <-chan struct{}
	log    zerolog.Logger
}

// NewRelay returns a relay that publishes with w and also wakes whenever
// wake receives (new rows committed).
func NewRelay(cfg Config, o Outbox, w Writer, wake <-chan struct{}, log zerolog.Logger) *Relay {
	cfg.setDefaults()
	return &Relay{cfg: cfg, outbox: o, writer: w, wake: wake, log: log.With().Str("component", "relay").Logger()}
}

// Run publishes until ctx ends, then flushes what is left, bounded by
// FlushTimeout.
func (r *Relay) Run(ctx context.Context) error {
	poll := time.NewTicker(r.cfg.Poll)
	defer poll.Stop()
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	backoff := 100 * time.Millisecond
	for {
		n, err := r.outbox.PublishPending(ctx, r.cfg.BatchSize, r.publish)
		switch {
		case err != nil && ctx.Err() == nil:
			r.log.Warn().Err(err).Dur("retryIn", backoff).Msg("publishing outbox")
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		case err == nil:
			backoff = 100 * time.Millisecond
		}
		if n > 0 && ctx.Err() == nil {
			continue // there may be more
		}
		select {
		case <-ctx.Done():
			return r.flush(ctx)
		case <-r.wake:
		case <-poll.C:
		case <-prune.C:
			if _, err := r.outbox.PrunePublished(ctx, r.cfg.Keep); err != nil {
				r.log.Warn().Err(err).Msg("pruning published outbox rows")
			}
		}
	}
}

// flush publishes what is left at shutdown.
func (r *Relay) flush(ctx context.Context) error {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.FlushTimeout)
	defer cancel()
	for {
		n, err := r.outbox.PublishPending(fctx, r.cfg.BatchSize, r.publish)
		if err != nil {
			return fmt.Errorf("flushing outbox at shutdown: %w", err)
		}
		if n == 0 {
			return nil
		}
	}
}

func (r *Relay) publish(ctx context.Context, msgs []schemas.Outbound) error {
	out := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		km := kafka.Message{Topic: m.Topic, Key: m.Key, Value: m.Value}
		for _, k := range slices.Sorted(maps.Keys(m.Headers)) {
			km.Headers = append(km.Headers, kafka.Header{Key: k, Value: []byte(m.Headers[k])})
		}
		out[i] = km
	}
	if err := r.writer.WriteMessages(ctx, out...); err != nil {
		return fmt.Errorf("writing %d messages: %w", len(out), err)
	}
	r.log.Debug().Int("count", len(out)).Msg("published outbox rows")
	return nil
}
