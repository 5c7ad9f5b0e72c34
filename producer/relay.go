// Package producer publishes what the outbox holds — result events and dead
// letters — to Kafka. The relay marks rows published only after the broker
// acknowledged them with all in-sync replicas, keeps each key's messages in
// the order they were written, and wakes as soon as new rows commit.
//
// One bad row never stops the others. The broker's verdict is taken per
// message: rows it took are marked published even when others of the same
// pass failed. A row that failed in a way that may pass (the broker or a
// partition unavailable, a timeout) waits out a growing delay and goes
// again; a row refused for good (larger than the limit, invalid, its topic
// missing) is set aside with the reason and never sent again until an
// operator retries it. Either way only the later rows of the same topic and
// key wait behind it; every other key keeps flowing. See classify for which
// errors are which.
package producer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/blockd/blockd/schemas"
)

// Outbox is where the relay takes messages from (store.Store in production).
type Outbox interface {
	PublishPending(ctx context.Context, limit int, publish func(ctx context.Context, rows []schemas.OutboxRow) []schemas.OutboxOutcome) (schemas.OutboxPass, error)
}

// BatchOverhead is what a batch of messages adds, at most, to the sizes
// the relay checks (key, value and headers of each message): the record
// batch framing and each record's. A topic that takes messages of up to
// MaxMessageBytes needs a max.message.bytes of MaxMessageBytes +
// BatchOverhead.
const BatchOverhead = 16 << 10

// writerBatchSize is the most messages the writer puts in one batch for one
// partition; each adds at most a few bytes of framing to BatchOverhead.
// kafka-go allocates room for this many messages for every batch, however
// few it carries: a relay pass spreads its rows over the partitions, so a
// batch rarely holds more than a few dozen, and a larger size made the
// writer the process's largest allocator.
const writerBatchSize = 100

// NewWriter returns a kafka-go Writer set for safety: every write waits for
// all in-sync replicas, keys are hashed to partitions (so one key always
// lands on one partition, in order), a batch waits at most half a
// millisecond for company instead of the default second (the relay hands
// it a pass's rows at once), and a batch
// stays within the broker's limit: maxMessageBytes (the relay's
// MaxMessageBytes) plus BatchOverhead. transport makes its connections, with
// their TLS and SASL; nil is kafka-go's plaintext kafka.DefaultTransport.
// Topics are never created by writing to them.
func NewWriter(brokers []string, transport kafka.RoundTripper, maxMessageBytes int) *kafka.Writer {
	return &kafka.Writer{
		Addr:         kafka.TCP(brokers...),
		Transport:    transport,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 500 * time.Microsecond,
		BatchSize:    writerBatchSize,
		// kafka-go counts each message as its key, value and headers plus
		// 27 bytes at most beyond what rowSize counts: 1 KiB of room lets
		// every row the relay sends through (so kafka-go never refuses
		// one), and the framing of a full batch stays within the rest of
		// BatchOverhead.
		BatchBytes:             int64(maxMessageBytes) + 1<<10,
		MaxAttempts:            3,
		WriteTimeout:           10 * time.Second,
		ReadTimeout:            10 * time.Second,
		AllowAutoTopicCreation: false,
	}
}

// Config tunes a Relay. Zero values get the defaults in the comments.
type Config struct {
	// BatchSize is the most rows taken per pass. Default 500.
	BatchSize int
	// Poll is how often the outbox is checked without a wake-up. Default 1s.
	Poll time.Duration
	// FlushTimeout bounds the final flush at shutdown. Default 10s.
	FlushTimeout time.Duration
	// MaxMessageBytes is the largest row the relay sends, counted by
	// schemas.Outbound.Size (the measure the processor bounds what it
	// writes by); a larger one is set aside unsent. Give the writer the same (NewWriter).
	// Default 262144.
	MaxMessageBytes int
	// TopicGrace is how long a row's topic must go on being missing (or
	// not writable by blockd's Kafka user) before the row is set aside;
	// until then it is retried, as a topic being created or a broker (or
	// the writer's metadata cache) catching up looks the same for a
	// moment. Default 30s.
	TopicGrace time.Duration
	// StallAfter is how long the relay may fail to publish anything that is
	// due before Status says it is stalled. Default 1m.
	StallAfter time.Duration
	// Observer is told what the relay does, for metrics. Default: nothing
	// is observed.
	Observer Observer
}

func (c *Config) setDefaults() {
	if c.BatchSize == 0 {
		c.BatchSize = 500
	}
	if c.Poll == 0 {
		c.Poll = time.Second
	}
	if c.FlushTimeout == 0 {
		c.FlushTimeout = 10 * time.Second
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = 256 << 10
	}
	if c.TopicGrace == 0 {
		c.TopicGrace = 30 * time.Second
	}
	if c.StallAfter == 0 {
		c.StallAfter = time.Minute
	}
	if c.Observer == nil {
		c.Observer = noObserver{}
	}
}

// The bounds of a row's delay after a failure that may pass: it doubles
// with each failed attempt.
const (
	retryMin = 100 * time.Millisecond
	retryMax = 10 * time.Second
)

// maxSolo is how many rows, refused with the rest of their batch, a pass
// sends again alone to learn whether the refusal is theirs.
const maxSolo = 8

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

	mu     sync.Mutex
	status Status
}

// Status is how the relay is doing, for readiness.
type Status struct {
	// FailingSince is when the relay last went from publishing to failing:
	// since then every pass that had rows due failed to publish any of them
	// (or could not read the outbox). Zero while it is healthy.
	FailingSince time.Time
	// LastError is the last failure's text, kept while FailingSince is set.
	LastError string
	// Stalled: failing for longer than StallAfter.
	Stalled bool
}

// NewRelay returns a relay that publishes with w and also wakes whenever
// wake receives (new rows committed).
func NewRelay(cfg Config, o Outbox, w Writer, wake <-chan struct{}, log zerolog.Logger) *Relay {
	cfg.setDefaults()
	return &Relay{cfg: cfg, outbox: o, writer: w, wake: wake, log: log.With().Str("component", "relay").Logger()}
}

// Status reports how the relay is doing.
func (r *Relay) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.status
	s.Stalled = !s.FailingSince.IsZero() && time.Since(s.FailingSince) > r.cfg.StallAfter
	return s
}

// noteFailure records a pass that published nothing while rows were due.
func (r *Relay) noteFailure(reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.status.FailingSince.IsZero() {
		r.status.FailingSince = time.Now()
	}
	r.status.LastError = reason
}

// noteProgress records a pass that published, or found nothing due.
func (r *Relay) noteProgress() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status = Status{}
}

// Run publishes until ctx ends, then flushes what is due, bounded by
// FlushTimeout. What it could not publish stays in the outbox for the next
// start: Run returns nil whatever the broker or the database did.
func (r *Relay) Run(ctx context.Context) error {
	poll := time.NewTicker(r.cfg.Poll)
	defer poll.Stop()
	backoff := retryMin
	for {
		pass, err := r.pass(ctx)
		if ctx.Err() != nil {
			break
		}
		if err != nil { // the database: wait a little longer each time
			r.log.Warn().Err(err).Dur("retryIn", backoff).Msg("publishing outbox")
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = retryMin
		// Rows that failed wait out their own delays (never re-sent at
		// once), so a full batch means more may be due right now.
		if pass.Published > 0 || pass.SetAside > 0 || pass.Selected == r.cfg.BatchSize {
			continue
		}
		// Nothing (more) due: wait for new rows, the next poll, or the
		// first failed row's next try, whichever comes first.
		retry := pass.NextRetry
		if pass.Failed > 0 {
			retry = retryMin
		}
		var due <-chan time.Time
		if retry > 0 {
			due = time.After(retry)
		}
		select {
		case <-ctx.Done():
		case <-r.wake:
		case <-poll.C:
		case <-due:
		}
	}
	r.flush(ctx)
	return nil
}

// pass publishes one batch of due rows and keeps Status up to date.
func (r *Relay) pass(ctx context.Context) (schemas.OutboxPass, error) {
	var lastFailure string
	pass, err := r.outbox.PublishPending(ctx, r.cfg.BatchSize, func(ctx context.Context, rows []schemas.OutboxRow) []schemas.OutboxOutcome {
		out := r.publish(ctx, rows)
		for _, o := range out {
			if o.Verdict == schemas.OutboxFailed {
				lastFailure = o.Reason
			}
		}
		return out
	})
	switch {
	case err != nil:
		r.noteFailure(err.Error())
	case pass.Busy, pass.NextRetry > 0:
		// Another instance's relay is at it, or the rows that failed are
		// waiting out their delays: nothing learned here.
	case pass.Published > 0 || pass.SetAside > 0 || pass.Selected == 0:
		r.noteProgress()
	case pass.Failed > 0:
		r.noteFailure(lastFailure)
	}
	r.cfg.Observer.Passed(pass, err)
	if pass.Failed > 0 || pass.SetAside > 0 {
		r.log.Warn().Int("published", pass.Published).Int("failed", pass.Failed).Int("setAside", pass.SetAside).
			Str("lastError", lastFailure).Msg("some outbox rows were not published")
	}
	return pass, err
}

// flush publishes what is due at shutdown, within FlushTimeout.
func (r *Relay) flush(ctx context.Context) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.FlushTimeout)
	defer cancel()
	for fctx.Err() == nil {
		pass, err := r.pass(fctx)
		if err != nil || pass.Published+pass.SetAside == 0 {
			break
		}
	}
	if fctx.Err() != nil {
		r.log.Warn().Dur("flushTimeout", r.cfg.FlushTimeout).Msg("outbox flush at shutdown ran out of time; what is left is published at the next start")
	}
}

// publish sends rows and gives the verdict on each, in their order.
func (r *Relay) publish(ctx context.Context, rows []schemas.OutboxRow) []schemas.OutboxOutcome {
	sends := make([]send, len(rows))
	blocked := map[topicKey]bool{} // keys whose earlier row in this pass is set aside unsent
	var byTopic = map[string][]int{}
	var topics []string
	for i, row := range rows {
		s := &sends[i]
		s.row = row
		k := keyOf(row.Outbound)
		switch size := row.Size(); {
		case k.key != "" && blocked[k]:
			s.skipped = true
		case size > r.cfg.MaxMessageBytes:
			s.refusal = fmt.Sprintf("message of %d bytes is larger than the %d-byte limit (BLOCKD_MAX_MESSAGE_BYTES)", size, r.cfg.MaxMessageBytes)
			blocked[k] = k.key != ""
		default:
			if byTopic[row.Topic] == nil {
				topics = append(topics, row.Topic)
			}
			byTopic[row.Topic] = append(byTopic[row.Topic], i)
		}
	}
	for _, topic := range topics {
		r.write(ctx, sends, byTopic[topic])
	}
	return r.settle(sends)
}

// send is one row's way through a pass.
type send struct {
	row     schemas.OutboxRow
	skipped bool   // not sent: an earlier row of its key was set aside unsent
	refusal string // set aside for good, with this reason
	// err is the broker's answer to the write that decided the row (nil:
	// taken); round counts the writes of the pass before it, so that a row
	// taken by a later write than an earlier row of its key is known to
	// have gone out of order.
	err   error
	sent  bool
	round int
	alone bool // the write that decided it carried it alone
}

// write sends the rows of one topic (by index into sends) and records the
// broker's verdict on each. Rows refused together with others for a reason
// that may be theirs alone (too large, invalid) are sent again alone, a
// few per pass, to learn which.
func (r *Relay) write(ctx context.Context, sends []send, idx []int) {
	msgs := make([]kafka.Message, len(idx))
	for j, i := range idx {
		msgs[j] = message(sends[i].row.Outbound)
	}
	errs := perMessage(r.writer.WriteMessages(ctx, msgs...), msgs)
	solo := 0
	for j, i := range idx {
		s := &sends[i]
		s.sent, s.err, s.alone = true, errs[j], len(msgs) == 1
		if s.err == nil || s.alone || classify(s.err) != refusedAsBatch || solo == maxSolo || ctx.Err() != nil {
			continue
		}
		solo++
		s.round, s.alone = 1, true
		s.err = perMessage(r.writer.WriteMessages(ctx, msgs[j]), msgs[j:j+1])[0]
	}
}

// settle turns what the writes did into verdicts. Per topic and key, rows
// count as published only while every earlier row of the key in this pass
// was taken by the same write or an earlier one: a row taken before an
// earlier row of its key (a retry alone of the earlier one) or after one
// that was not taken goes again, after it.
func (r *Relay) settle(sends []send) []schemas.OutboxOutcome {
	out := make([]schemas.OutboxOutcome, len(sends))
	type keyState struct {
		broken bool // an earlier row of the key was not published
		round  int  // the write that took the latest published row
	}
	keys := map[topicKey]*keyState{}
	for i, s := range sends {
		out[i].ID = s.row.ID
		k := keyOf(s.row.Outbound)
		st := keys[k]
		if st == nil || k.key == "" {
			st = &keyState{}
			keys[k] = st
		}
		switch {
		case s.skipped:
			out[i].Verdict = schemas.OutboxLeft
		case s.refusal != "":
			r.cfg.Observer.WriteFailed(WriteErrorTooLarge)
			out[i].Verdict, out[i].Reason = schemas.OutboxSetAside, s.refusal
		case !s.sent || errors.Is(s.err, errUnsent):
			out[i].Verdict = schemas.OutboxLeft
		case s.err == nil && !st.broken && s.round >= st.round:
			out[i].Verdict = schemas.OutboxPublished
			st.round = s.round
			continue
		case s.err == nil:
			out[i].Verdict = schemas.OutboxLeft // taken, but out of order: goes again after the earlier row
		default:
			c := classify(s.err)
			r.cfg.Observer.WriteFailed(writeErrorClass(c, s.alone))
			switch {
			case c == refused || c == refusedAsBatch && s.alone:
				out[i].Verdict, out[i].Reason = schemas.OutboxSetAside, "refused by the broker: "+s.err.Error()
			case c == topicRefused:
				if s.row.FailingFor >= r.cfg.TopicGrace {
					out[i].Verdict = schemas.OutboxSetAside
					out[i].Reason = fmt.Sprintf("topic %s refused for %s: %v", s.row.Topic, s.row.FailingFor.Round(time.Second), s.err)
				} else {
					out[i].Verdict, out[i].Reason, out[i].RetryIn = schemas.OutboxFailed, s.err.Error(), retryDelay(s.row.Attempts)
				}
			default:
				out[i].Verdict, out[i].Reason, out[i].RetryIn = schemas.OutboxFailed, s.err.Error(), retryDelay(s.row.Attempts)
			}
		}
		st.broken = true
	}
	return out
}

// retryDelay is a row's delay after its attempts-th failure that may pass.
func retryDelay(attempts int) time.Duration {
	d := retryMin
	for range min(attempts, 16) {
		d *= 2
	}
	return min(d, retryMax)
}

// topicKey is the unit of order: a key's rows on one topic. Rows without a
// key are in no order with one another (key "").
type topicKey struct{ topic, key string }

func keyOf(m schemas.Outbound) topicKey { return topicKey{m.Topic, string(m.Key)} }

// message is the Kafka message of an outbox row, its headers in name order.
func message(m schemas.Outbound) kafka.Message {
	km := kafka.Message{Topic: m.Topic, Key: m.Key, Value: m.Value}
	for _, k := range slices.Sorted(maps.Keys(m.Headers)) {
		km.Headers = append(km.Headers, kafka.Header{Key: k, Value: []byte(m.Headers[k])})
	}
	return km
}
