// Package consumer reads the command topics as a member of a Kafka consumer
// group and hands each message to a Handler: messages with different keys
// concurrently, messages with the same key (on the same topic) in order. It
// commits, per partition, only the offset below which every message is
// finished, so a crash never skips an unfinished message.
//
// Each generation of the group is consumed inside a function started with
// it (kafka-go closes a generation, and its connection to the coordinator,
// as soon as such functions return): when the generation ends (a
// rebalance) or the consumer is stopped, that function stops fetching,
// waits for the generation's messages still running and makes its last
// commit while the generation is open.
package consumer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
)

// Handler processes one message. It returns an error only when the message
// must be tried again later; the consumer then retries it with backoff,
// holding back only the messages that share its key. An error that is a
// Deferrer holds the message back for as long as it says instead.
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
	// MaxInFlight bounds the handler calls running at once: the slots (see
	// dispatcher for their rules). Default 256.
	MaxInFlight int
	// MaxFetched bounds the messages fetched and not yet finished: running,
	// queued behind an earlier message of their key, or held back between
	// tries. Fetching waits beyond it. Default 4 × MaxInFlight.
	MaxFetched int
	// MessageBytes is the size limit of a message (blockd's
	// BLOCKD_MAX_MESSAGE_BYTES). Each partition reader asks the broker for
	// this much per fetch (the broker still returns a larger message, whole)
	// and prefetches one message. Default 256 KiB.
	MessageBytes int
	// MaxFetchedBytes bounds the bytes (keys, values, headers) of the
	// messages fetched and not yet finished; a message larger than it waits
	// until it is the only one. Default MaxInFlight × MessageBytes, at most
	// 64 MiB and at least 4 × MessageBytes.
	MaxFetchedBytes int64
	// CommitInterval is how often finished offsets are committed. Default 200ms.
	CommitInterval time.Duration
	// RetryMin and RetryMax bound the backoff between tries of a message
	// whose handler failed. Defaults 100ms and 5s.
	RetryMin, RetryMax time.Duration
	// Grace bounds how long shutdown waits for handler calls running, from
	// the moment Run's context ends, whatever generation fetched them.
	// Default 20s.
	Grace time.Duration
	// RebalanceDrain bounds how long a revoked generation waits for its
	// handler calls running before its last commit; a shutdown during the
	// drain extends it to the grace period. Default 5s.
	RebalanceDrain time.Duration
	// SessionTimeout and HeartbeatInterval of the group membership.
	// Defaults 10s and 1s.
	SessionTimeout, HeartbeatInterval time.Duration
	// MaxWait is the longest a fetch waits for new messages. Default 250ms.
	MaxWait time.Duration
	// StuckAfter is how long a message may be its key's head (running or
	// held back) before Status reports its key stuck. Default 5m.
	StuckAfter time.Duration
}

func (c *Config) setDefaults() {
	if c.GroupID == "" {
		c.GroupID = "blockd"
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 256
	}
	if c.MaxFetched == 0 {
		c.MaxFetched = 4 * c.MaxInFlight
	}
	if c.MessageBytes == 0 {
		c.MessageBytes = 256 << 10
	}
	if c.MaxFetchedBytes == 0 {
		c.MaxFetchedBytes = max(min(int64(c.MaxInFlight)*int64(c.MessageBytes), 64<<20), 4*int64(c.MessageBytes))
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
	if c.StuckAfter == 0 {
		c.StuckAfter = 5 * time.Minute
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
	if c.MaxInFlight < 0 || c.MaxFetched < 0 || c.MessageBytes < 0 || c.MaxFetchedBytes < 0 {
		return errors.New("consumer: negative limit")
	}
	return nil
}

// Consumer is one member of the command consumer group.
type Consumer struct {
	cfg      Config
	log      zerolog.Logger
	dispatch *dispatcher
	joined   atomic.Bool

	mu      sync.Mutex
	fetched map[topicPartition]fetching // the partitions being fetched now
}

// fetching is a partition being fetched: its reader, and the offsets
// fetched and not finished.
type fetching struct {
	reader  *kafka.Reader
	tracker *tracker
}

// New returns a Consumer; Run starts it.
func New(cfg Config, h Handler, log zerolog.Logger) (*Consumer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	log = log.With().Str("component", "consumer").Logger()
	return &Consumer{cfg: cfg, log: log, dispatch: newDispatcher(cfg, h, log), fetched: make(map[topicPartition]fetching)}, nil
}

// Joined reports whether the consumer is fetching in a current group
// generation (false while a generation drains).
func (c *Consumer) Joined() bool { return c.joined.Load() }

// Status is what a Consumer is doing, for readiness.
type Status struct {
	Joined bool
	// Running handler calls, out of MaxInFlight.
	Running, MaxInFlight int
	// Fetched messages not yet finished and their bytes, out of MaxFetched
	// and MaxFetchedBytes (each message counts at least MaxFetchedBytes /
	// MaxFetched bytes).
	Fetched, MaxFetched           int
	FetchedBytes, MaxFetchedBytes int64
	// SaturatedFor is how long fetching has been waiting for room among
	// the fetched messages; 0 when it is not.
	SaturatedFor time.Duration
	// Stuck are the keys whose head message has been handled (running or
	// held back) for longer than StuckAfter, oldest first.
	Stuck      []StuckMessage
	StuckAfter time.Duration
	// Partitions are the partitions this member fetches now, with their
	// lag, in topic and partition order.
	Partitions []PartitionLag
}

// PartitionLag is how far a partition's messages are from finished.
type PartitionLag struct {
	Topic     string
	Partition int
	// Lag counts the partition's messages not finished: those after the
	// last one fetched, as of that fetch (the reader's lag: the broker's
	// high watermark then, less the next offset), and those fetched and
	// not yet passed by the offset that may be committed. It is 0 before
	// the first message of the generation is fetched.
	Lag int64
}

// StuckMessage is the head of a stuck key: where it is, not what it says
// (a key is an account).
type StuckMessage struct {
	Topic     string
	Partition int
	Offset    int64
	For       time.Duration
}

// Status reports what the consumer is doing now.
func (c *Consumer) Status() Status {
	d := c.dispatch.status(time.Now())
	return Status{Joined: c.Joined(), Running: d.running, MaxInFlight: c.cfg.MaxInFlight, Fetched: d.fetched, MaxFetched: c.cfg.MaxFetched,
		FetchedBytes: d.fetchedBytes, MaxFetchedBytes: c.cfg.MaxFetchedBytes, SaturatedFor: d.fullFor, Stuck: d.stuck, StuckAfter: c.cfg.StuckAfter,
		Partitions: c.lags()}
}

// lags reports the lag of each partition being fetched.
func (c *Consumer) lags() []PartitionLag {
	c.mu.Lock()
	out := make([]PartitionLag, 0, len(c.fetched))
	for tp, f := range c.fetched {
		out = append(out, PartitionLag{Topic: tp.topic, Partition: tp.partition, Lag: max(f.reader.Lag(), 0) + int64(f.tracker.pending())})
	}
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b PartitionLag) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return out
}

// fetchingStarted and fetchingStopped keep the partitions being fetched,
// for Status.
func (c *Consumer) fetchingStarted(tp topicPartition, f fetching) {
	c.mu.Lock()
	c.fetched[tp] = f
	c.mu.Unlock()
}

func (c *Consumer) fetchingStopped(tp topicPartition, r *kafka.Reader) {
	c.mu.Lock()
	if c.fetched[tp].reader == r {
		delete(c.fetched, tp)
	}
	c.mu.Unlock()
}

// Run consumes until ctx ends, then stops fetching, lets the handler calls
// running finish within the grace period, commits their offsets and leaves
// the group. It waits for every handler call it started, whatever
// generation fetched its message, until the grace period is over.
func (c *Consumer) Run(ctx context.Context) error {
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                c.cfg.GroupID,
		Brokers:           c.cfg.Brokers,
		Topics:            c.cfg.Topics,
		StartOffset:       kafka.FirstOffset,
		SessionTimeout:    c.cfg.SessionTimeout,
		HeartbeatInterval: c.cfg.HeartbeatInterval,
		// A member that drains longer (a shutdown during a rebalance) is
		// left out of the next generation rather than holding up the
		// group; its work still finishes, and what its last commit misses
		// is handled again from the database.
		RebalanceTimeout: c.cfg.RebalanceDrain + 5*time.Second,
		JoinGroupBackoff: 500 * time.Millisecond,
		Dialer:           c.cfg.Dialer,
		RetentionTime:    7 * 24 * time.Hour,
		ErrorLogger:      kafka.LoggerFunc(func(msg string, args ...any) { c.log.Debug().Msgf(msg, args...) }),
	})
	if err != nil {
		return fmt.Errorf("creating consumer group: %w", err)
	}
	defer group.Close()

	// Handlers run on workCtx, which outlives ctx by the grace period so
	// handler calls running can finish.
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	var graceTimer *time.Timer
	var graceMu sync.Mutex
	stopGraceWatch := context.AfterFunc(ctx, func() {
		graceMu.Lock()
		graceTimer = time.AfterFunc(c.cfg.Grace, stopWork)
		graceMu.Unlock()
	})
	defer func() {
		stopGraceWatch()
		graceMu.Lock()
		if graceTimer != nil {
			graceTimer.Stop()
		}
		graceMu.Unlock()
	}()

	for ctx.Err() == nil {
		gen, err := group.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
				break
			}
			c.log.Warn().Err(err).Msg("joining consumer group; retrying")
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		c.log.Info().Int32("generation", gen.ID).Interface("assignments", summarize(gen.Assignments)).Msg("joined consumer group")
		c.runGeneration(ctx, workCtx, gen)
	}
	// Leave the group (this ends the generation kept open for the last
	// commit), then wait for what is still running, of any generation.
	group.Close()
	select {
	case <-c.dispatch.outstanding.idle():
	case <-workCtx.Done():
		c.log.Warn().Msg("grace period over with commands in flight; they resume from the database")
	}
	return nil
}

// runGeneration consumes gen in a function started with it, and returns
// once that function has made the generation's last commit.
func (c *Consumer) runGeneration(ctx, workCtx context.Context, gen *kafka.Generation) {
	committed := make(chan struct{})
	gen.Start(func(gctx context.Context) {
		c.consume(ctx, gctx, workCtx, gen)
		close(committed)
		if ctx.Err() != nil {
			// Shutting down: returning would end the generation and have
			// kafka-go join the next one. Run closes the group instead,
			// which ends the generation and leaves.
			<-gctx.Done()
		}
	})
	<-committed
}

// consume fetches the partitions assigned in gen, and commits what
// finished, until the generation ends (a rebalance), a fetcher fails or ctx
// ends (shutdown). Then it stops fetching, drops the generation's messages
// not running, waits for those running (up to RebalanceDrain; on shutdown,
// to the end of the grace period) and commits once more. gctx is the
// generation's context: the generation and its coordinator connection stay
// open until consume returns.
func (c *Consumer) consume(ctx, gctx, workCtx context.Context, gen *kafka.Generation) {
	if gctx.Err() != nil {
		return
	}
	trackers := make(map[topicPartition]*tracker)
	for topic, assigned := range gen.Assignments {
		for _, a := range assigned {
			trackers[topicPartition{topic, a.ID}] = newTracker()
		}
	}
	l := c.dispatch.newLot()
	fetchCtx, stopFetching := context.WithCancel(gctx)
	defer stopFetching()
	defer context.AfterFunc(ctx, stopFetching)()
	var fetchers sync.WaitGroup
	for topic, assigned := range gen.Assignments {
		for _, a := range assigned {
			tp := topicPartition{topic, a.ID}
			fetchers.Add(1)
			go func() {
				defer fetchers.Done()
				// A fetcher that stops on its own ends the generation: the
				// group is joined again and the partition fetched anew.
				defer stopFetching()
				c.fetch(fetchCtx, workCtx, tp, a.Offset, trackers[tp], l)
			}()
		}
	}
	c.joined.Store(true)
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
			c.log.Warn().Err(err).Int32("generation", gen.ID).Msg("committing offsets")
			for _, t := range trackers {
				t.commitFailed()
			}
		}
	}
	ticker := time.NewTicker(c.cfg.CommitInterval)
	defer ticker.Stop()
	for fetchCtx.Err() == nil {
		select {
		case <-ticker.C:
			commit()
		case <-fetchCtx.Done():
		}
	}
	rebalancing := ctx.Err() == nil
	c.joined.Store(false)
	fetchers.Wait()
	c.dispatch.revoke(l)

	var drainOver <-chan time.Time
	if rebalancing {
		c.log.Info().Int32("generation", gen.ID).Dur("drain", c.cfg.RebalanceDrain).Msg("consumer group generation ended; waiting for its messages in flight")
		drain := time.NewTimer(c.cfg.RebalanceDrain)
		defer drain.Stop()
		drainOver = drain.C
	} else {
		c.log.Info().Int32("generation", gen.ID).Msg("stopped fetching; waiting for in-flight commands")
	}
	for {
		select {
		case <-l.outstanding.idle():
			commit()
			return
		case <-ticker.C:
			commit()
		case <-drainOver:
			if ctx.Err() != nil {
				drainOver = nil // stopped during the drain: the grace period applies
				continue
			}
			c.log.Warn().Int32("generation", gen.ID).Msg("rebalance drain over with messages in flight; whoever owns their partitions next handles them again")
			commit()
			return
		case <-workCtx.Done():
			commit()
			return
		}
	}
}

// fetch reads one partition from offset and hands its messages to the
// dispatcher until ctx ends or reading fails. The reader asks for at most
// MessageBytes per fetch and prefetches one message: what waits to be
// handled is held by the dispatcher, within its bounds.
func (c *Consumer) fetch(ctx, workCtx context.Context, tp topicPartition, offset int64, t *tracker, l *lot) {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:       c.cfg.Brokers,
		Topic:         tp.topic,
		Partition:     tp.partition,
		MinBytes:      1,
		MaxBytes:      c.cfg.MessageBytes,
		QueueCapacity: 1,
		MaxWait:       c.cfg.MaxWait,
		Dialer:        c.cfg.Dialer,
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			c.log.Debug().Str("topic", tp.topic).Int("partition", tp.partition).Msgf(msg, args...)
		}),
	})
	defer r.Close()
	if err := r.SetOffset(offset); err != nil {
		c.log.Error().Err(err).Str("topic", tp.topic).Int("partition", tp.partition).Msg("setting start offset")
		return
	}
	c.fetchingStarted(tp, fetching{reader: r, tracker: t})
	defer c.fetchingStopped(tp, r)
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.log.Warn().Err(err).Str("topic", tp.topic).Int("partition", tp.partition).Msg("fetching")
			}
			return
		}
		t.fetched(m.Offset)
		if err := c.dispatch.submit(ctx, workCtx, l, m, func() { t.finished(m.Offset) }); err != nil {
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
