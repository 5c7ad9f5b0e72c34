// Package consumer reads the command topics as a member of a Kafka consumer
// group and hands each message to a Handler: messages with different keys
// concurrently, messages with the same key (on the same topic) in order. It
// commits, per partition, only the offset below which every message is
// finished, so a crash never skips an unfinished message.
package consumer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
)

// Handler processes one message. It returns an error only when the message
// must be tried again later; the consumer then retries it with backoff,
// holding back only the messages that share its key.
type Handler interface {
	Handle(ctx context.Context, m kafka.Message) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, m kafka.Message) error

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, m kafka.Message) error { return f(ctx, m) }

// Config tunes a Consumer. Zero values get the defaults in the comments.
type Config struct {
	Brokers []string
	// Dialer makes every connection to the brokers: the group's and its
	// partition readers'. It carries TLS and SASL. Default: kafka-go's
	// plaintext kafka.DefaultDialer.
	Dialer *kafka.Dialer
	// GroupID of the consumer group. Default "blockd".
	GroupID string
	// Topics are the command topics to read.
	Topics []string
	// MaxInFlight bounds the messages fetched and not yet finished by this
	// instance. Default 256.
	MaxInFlight int
	// MaxDeferred bounds the messages held back by their handler (see
	// Deferrer) that gave their in-flight slot away. Default 4 × MaxInFlight.
	MaxDeferred int
	// CommitInterval is how often finished offsets are committed. Default 200ms.
	CommitInterval time.Duration
	// RetryMin and RetryMax bound the backoff between tries of a message
	// whose handler failed. Defaults 100ms and 5s.
	RetryMin, RetryMax time.Duration
	// Grace bounds how long shutdown waits for in-flight messages. Default 20s.
	Grace time.Duration
	// RebalanceDrain bounds how long a revoked generation waits for its
	// in-flight messages before its last commit. Default 5s.
	RebalanceDrain time.Duration
	// SessionTimeout and HeartbeatInterval of the group membership.
	// Defaults 10s and 1s.
	SessionTimeout, HeartbeatInterval time.Duration
	// MaxWait is the longest a fetch waits for new messages. Default 250ms.
	MaxWait time.Duration
}

func (c *Config) setDefaults() {
	if c.GroupID == "" {
		c.GroupID = "blockd"
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 256
	}
	if c.CommitInterval == 0 {
		c.CommitInterval = 200 * time.Millisecond
	}
	if c.RetryMin == 0 {
		c.RetryMin = 100 * time.Millisecond
	}
	if c.RetryMax == 0 {
		c.RetryMax = 5 * time.Second
	}
	if c.Grace == 0 {
		c.Grace = 20 * time.Second
	}
	if c.RebalanceDrain == 0 {
		c.RebalanceDrain = 5 * time.Second
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = 10 * time.Second
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = time.Second
	}
	if c.MaxWait == 0 {
		c.MaxWait = 250 * time.Millisecond
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("consumer: no brokers")
	}
	if len(c.Topics) == 0 {
		return errors.New("consumer: no topics")
	}
	return nil
}

// Consumer is one member of the command consumer group.
type Consumer struct {
	cfg     Config
	handler Handler
	log     zerolog.Logger
	joined  atomic.Bool
}

// New returns a Consumer; Run starts it.
func New(cfg Config, h Handler, log zerolog.Logger) (*Consumer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	return &Consumer{cfg: cfg, handler: h, log: log.With().Str("component", "consumer").Logger()}, nil
}

// Joined reports whether the consumer holds a current group generation.
func (c *Consumer) Joined() bool { return c.joined.Load() }

// Run consumes until ctx ends, then stops fetching, lets in-flight messages
// finish within the grace period, commits their offsets and leaves the group.
func (c *Consumer) Run(ctx context.Context) error {
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                c.cfg.GroupID,
		Brokers:           c.cfg.Brokers,
		Topics:            c.cfg.Topics,
		StartOffset:       kafka.FirstOffset,
		SessionTimeout:    c.cfg.SessionTimeout,
		HeartbeatInterval: c.cfg.HeartbeatInterval,
		RebalanceTimeout:  c.cfg.RebalanceDrain + 5*time.Second,
		JoinGroupBackoff:  500 * time.Millisecond,
		Dialer:            c.cfg.Dialer,
		RetentionTime:     7 * 24 * time.Hour,
		ErrorLogger:       kafka.LoggerFunc(func(msg string, args ...any) { c.log.Debug().Msgf(msg, args...) }),
	})
	if err != nil {
		return fmt.Errorf("creating consumer group: %w", err)
	}
	defer group.Close()

	// Handlers run on workCtx, which outlives ctx by the grace period so
	// in-flight work can finish.
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	d := newDispatcher(c.cfg, c.handler, c.log)
	for {
		gen, err := group.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
				return nil
			}
			c.log.Warn().Err(err).Msg("joining consumer group; retrying")
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
			continue
		}
		c.joined.Store(true)
		c.log.Info().Int32("generation", gen.ID).Interface("assignments", summarize(gen.Assignments)).Msg("joined consumer group")
		stopping := c.runGeneration(ctx, workCtx, gen, d)
		c.joined.Store(false)
		if stopping {
			return nil
		}
	}
}

// runGeneration fetches the partitions assigned in gen until the generation
// ends (rebalance) or ctx ends (shutdown); it reports whether ctx ended.
func (c *Consumer) runGeneration(ctx, workCtx context.Context, gen *kafka.Generation, d *dispatcher) (stopping bool) {
	trackers := make(map[topicPartition]*tracker)
	for topic, assigned := range gen.Assignments {
		for _, a := range assigned {
			trackers[topicPartition{topic, a.ID}] = newTracker()
		}
	}
	fetchCtx, stopFetching := context.WithCancel(ctx)
	defer stopFetching()
	var fetchers sync.WaitGroup
	genOver := make(chan struct{})
	gen.Start(func(gctx context.Context) {
		<-gctx.Done()
		close(genOver)
	})
	for topic, assigned := range gen.Assignments {
		for _, a := range assigned {
			tp := topicPartition{topic, a.ID}
			fetchers.Add(1)
			gen.Start(func(gctx context.Context) {
				defer fetchers.Done()
				fctx, cancel := context.WithCancel(fetchCtx)
				defer cancel()
				go func() {
					select {
					case <-gctx.Done():
						cancel()
					case <-fctx.Done():
					}
				}()
				c.fetch(fctx, workCtx, tp, a.Offset, trackers[tp], d)
			})
		}
	}
	commit := func() {
		offsets := make(map[string]map[int]int64)
		for tp, t := range trackers {
			if off, changed := t.toCommit(); changed {
				if offsets[tp.topic] == nil {
					offsets[tp.topic] = make(map[int]int64)
				}
				offsets[tp.topic][tp.partition] = off
			}
		}
		if len(offsets) == 0 {
			return
		}
		if err := gen.CommitOffsets(offsets); err != nil {
			c.log.Warn().Err(err).Msg("committing offsets")
			for _, t := range trackers {
				t.commitFailed()
			}
		}
	}
	ticker := time.NewTicker(c.cfg.CommitInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			commit()
		case <-genOver:
			stopFetching()
			fetchers.Wait()
			c.waitIdle(trackers, c.cfg.RebalanceDrain)
			commit()
			c.log.Info().Int32("generation", gen.ID).Msg("consumer group generation ended")
			return ctx.Err() != nil
		case <-ctx.Done():
			stopFetching()
			fetchers.Wait()
			c.log.Info().Msg("stopped fetching; waiting for in-flight commands")
			if !c.waitIdle(trackers, c.cfg.Grace) {
				c.log.Warn().Msg("grace period over with commands in flight; they resume from the database")
			}
			commit()
			return true
		}
	}
}

// waitIdle waits until no fetched message is unfinished, or up to limit.
func (c *Consumer) waitIdle(trackers map[topicPartition]*tracker, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		busy := false
		for _, t := range trackers {
			if t.pending() > 0 {
				busy = true
				break
			}
		}
		if !busy {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func (c *Consumer) fetch(ctx, workCtx context.Context, tp topicPartition, offset int64, t *tracker, d *dispatcher) {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:   c.cfg.Brokers,
		Topic:     tp.topic,
		Partition: tp.partition,
		MinBytes:  1,
		MaxBytes:  10 << 20,
		MaxWait:   c.cfg.MaxWait,
		Dialer:    c.cfg.Dialer,
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			c.log.Debug().Str("topic", tp.topic).Int("partition", tp.partition).Msgf(msg, args...)
		}),
	})
	defer r.Close()
	if err := r.SetOffset(offset); err != nil {
		c.log.Error().Err(err).Str("topic", tp.topic).Int("partition", tp.partition).Msg("setting start offset")
		return
	}
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.log.Warn().Err(err).Str("topic", tp.topic).Int("partition", tp.partition).Msg("fetching")
			}
			return
		}
		t.fetched(m.Offset)
		if err := d.submit(ctx, workCtx, m, func() { t.finished(m.Offset) }); err != nil {
			// Not handed on: nothing at or past this offset is committed,
			// so whoever owns the partition next fetches it again.
			t.unfetched(m.Offset)
			return
		}
	}
}

type topicPartition struct {
	topic     string
	partition int
}

func summarize(a map[string][]kafka.PartitionAssignment) map[string][]int {
	out := make(map[string][]int, len(a))
	for t, ps := range a {
		for _, p := range ps {
			out[t] = append(out[t], p.ID)
		}
	}
	return out
}
