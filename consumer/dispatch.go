package consumer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
)

// tracker follows the offsets of one partition in one generation: which were
// fetched, which are finished, and the offset that may be committed (the
// first unfinished one; Kafka's committed offset is the next to read).
type tracker struct {
	mu        sync.Mutex
	order     []int64 // fetched, not yet passed by the watermark, in offset order
	done      map[int64]bool
	high      int64 // one past the last fetched offset; -1 before any fetch
	committed int64
}

func newTracker() *tracker {
	return &tracker{done: make(map[int64]bool), high: -1, committed: -1}
}

func (t *tracker) fetched(off int64) {
	t.mu.Lock()
	t.order = append(t.order, off)
	t.high = off + 1
	t.mu.Unlock()
}

// unfetched takes back the last fetched offset, which was never handed on.
func (t *tracker) unfetched(off int64) {
	t.mu.Lock()
	if n := len(t.order); n > 0 && t.order[n-1] == off {
		t.order = t.order[:n-1]
	}
	t.high = off
	t.mu.Unlock()
}

func (t *tracker) finished(off int64) {
	t.mu.Lock()
	t.done[off] = true
	for len(t.order) > 0 && t.done[t.order[0]] {
		delete(t.done, t.order[0])
		t.order = t.order[1:]
	}
	t.mu.Unlock()
}

func (t *tracker) pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.order)
}

// toCommit returns the offset to commit and whether it moved since the last
// commit.
func (t *tracker) toCommit() (int64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	off := t.high
	if len(t.order) > 0 {
		off = t.order[0]
	}
	if off < 0 || off == t.committed {
		return off, false
	}
	t.committed = off
	return off, true
}

// commitFailed makes the next toCommit report the offset again.
func (t *tracker) commitFailed() {
	t.mu.Lock()
	t.committed = -1
	t.mu.Unlock()
}

// dispatcher runs messages with distinct keys concurrently and messages that
// share a topic and key one after another, in fetch order. At most
// MaxInFlight messages are held at once; fetching waits beyond that.
type dispatcher struct {
	handler            Handler
	log                zerolog.Logger
	retryMin, retryMax time.Duration
	slots              chan struct{}
	deferred           chan struct{}

	mu     sync.Mutex
	queues map[string]*keyQueue
}

type keyQueue struct {
	items []queued
}

type queued struct {
	msg  kafka.Message
	done func()
}

func newDispatcher(cfg Config, h Handler, log zerolog.Logger) *dispatcher {
	maxDeferred := cfg.MaxDeferred
	if maxDeferred == 0 {
		maxDeferred = 4 * cfg.MaxInFlight
	}
	return &dispatcher{handler: h, log: log, retryMin: cfg.RetryMin, retryMax: cfg.RetryMax,
		slots: make(chan struct{}, cfg.MaxInFlight), deferred: make(chan struct{}, maxDeferred), queues: make(map[string]*keyQueue)}
}

// submit queues m behind earlier messages with its key; done is called once
// the handler succeeded. It waits for a free slot until fetchCtx ends.
func (d *dispatcher) submit(fetchCtx, workCtx context.Context, m kafka.Message, done func()) error {
	select {
	case d.slots <- struct{}{}:
	case <-fetchCtx.Done():
		return fetchCtx.Err()
	}
	key := m.Topic + "\x00" + string(m.Key)
	if len(m.Key) == 0 {
		// No key, no order to keep: each such message is its own queue.
		key = fmt.Sprintf("%s\x00#%d/%d", m.Topic, m.Partition, m.Offset)
	}
	d.mu.Lock()
	if q, ok := d.queues[key]; ok {
		q.items = append(q.items, queued{m, done})
		d.mu.Unlock()
		return nil
	}
	q := &keyQueue{items: []queued{{m, done}}}
	d.queues[key] = q
	d.mu.Unlock()
	go d.drain(workCtx, key, q)
	return nil
}

func (d *dispatcher) drain(ctx context.Context, key string, q *keyQueue) {
	for {
		d.mu.Lock()
		if len(q.items) == 0 {
			delete(d.queues, key)
			d.mu.Unlock()
			return
		}
		it := q.items[0]
		q.items = q.items[1:]
		d.mu.Unlock()
		if d.handle(ctx, it.msg) {
			it.done()
		}
		<-d.slots
	}
}

// Deferrer is an error a Handler returns to hold a message back for a while
// without counting as a failure: the message keeps its place (its key waits)
// but gives its in-flight slot to other messages meanwhile.
type Deferrer interface {
	error
	Deferred() time.Duration
}

// wait holds a deferred message back for delay. It gives its in-flight slot
// back meanwhile when the deferred pool has room (otherwise it waits holding
// it, which slows fetching), and returns holding a slot again. It reports
// false when ctx ended.
func (d *dispatcher) wait(ctx context.Context, delay time.Duration) bool {
	released := false
	select {
	case d.deferred <- struct{}{}:
		<-d.slots
		released = true
	default:
	}
	ok := true
	select {
	case <-ctx.Done():
		ok = false
	case <-time.After(delay):
	}
	if released {
		d.slots <- struct{}{} // other holders release theirs as they finish
		<-d.deferred
	}
	return ok
}

// handle runs the handler until it succeeds or ctx ends, backing off with
// jitter between tries. It returns holding an in-flight slot.
func (d *dispatcher) handle(ctx context.Context, m kafka.Message) bool {
	delay := d.retryMin
	for try := 1; ; try++ {
		err := d.handler.Handle(ctx, m)
		if err == nil {
			return true
		}
		var df Deferrer
		if errors.As(err, &df) {
			d.log.Debug().Err(err).Str("topic", m.Topic).Int64("offset", m.Offset).Msg("message held back")
			if !d.wait(ctx, df.Deferred()) {
				return false
			}
			try--
			continue
		}
		d.log.Error().Err(err).Str("topic", m.Topic).Int("partition", m.Partition).Int64("offset", m.Offset).
			Int("try", try).Msg("handling message failed; will try again")
		wait := delay/2 + rand.N(delay/2+1)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		delay = min(delay*2, d.retryMax)
	}
}
