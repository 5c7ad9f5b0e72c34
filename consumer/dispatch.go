package consumer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/semaphore"
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

// dispatcher runs the messages the partitions' fetchers hand it: messages
// with distinct keys concurrently, messages that share a topic and key one
// after another, in fetch order.
//
// The slot rules, which keep it from deadlocking:
//
//   - A slot is held only by a message whose handler is running: it is taken
//     just before each call of the handler and given back as soon as the
//     call returns, whatever it returned. There are MaxInFlight slots.
//   - A message queued behind an earlier message of its key holds no slot,
//     and neither does a message held back between two tries (its handler
//     deferred it, or failed and it backs off): only its own key waits.
//   - So a message that waits for a slot, a held-back head taking one back
//     included, waits only for running handler calls to return, never for a
//     queued or held-back message.
//   - What bounds fetching, and so memory, is the backlog: the messages
//     fetched and not finished (queued, running or held back), at most
//     MaxFetched of them and MaxFetchedBytes of their bytes. submit waits
//     for room; room is made by messages finishing or being dropped, and
//     neither ever waits for submit.
//   - A message is dropped, unhandled, when the generation that fetched it
//     is revoked (a rebalance or shutdown) before it starts or between its
//     tries: its offset is not committed, so whoever owns its partition next
//     handles it. A running handler call is never interrupted; it runs on
//     the work context, which outlives revocation by the grace period.
type dispatcher struct {
	handler            Handler
	log                zerolog.Logger
	retryMin, retryMax time.Duration
	stuckAfter         time.Duration
	slots              chan struct{}       // one per handler call running
	room               *semaphore.Weighted // the backlog's room, weighed in bytes
	maxFetchedBytes    int64
	minWeight          int64 // the least a message weighs: at most maxFetched fit
	outstanding        *count

	mu        sync.Mutex
	queues    map[string]*keyQueue
	fetched   int   // messages in the backlog
	weight    int64 // their weight (see weigh)
	waiting   int   // submits waiting for room
	fullSince time.Time
}

// keyQueue holds the messages of one topic and key not yet finished.
type keyQueue struct {
	head  *queued   // being handled (running or held back); nil between two
	since time.Time // when head started
	items []*queued // waiting behind head, in fetch order
}

type queued struct {
	msg    kafka.Message
	weight int64
	lot    *lot
	done   func()
}

// lot is what one generation handed to the dispatcher.
type lot struct {
	revoked     chan struct{} // closed when the generation gives its partitions up
	once        sync.Once
	outstanding *count // its messages not finished and not dropped
}

func newDispatcher(cfg Config, h Handler, log zerolog.Logger) *dispatcher {
	cfg.setDefaults()
	return &dispatcher{handler: h, log: log, retryMin: cfg.RetryMin, retryMax: cfg.RetryMax, stuckAfter: cfg.StuckAfter,
		slots: make(chan struct{}, cfg.MaxInFlight), room: semaphore.NewWeighted(cfg.MaxFetchedBytes),
		maxFetchedBytes: cfg.MaxFetchedBytes, minWeight: max(1, cfg.MaxFetchedBytes/int64(cfg.MaxFetched)),
		outstanding: newCount(), queues: make(map[string]*keyQueue)}
}

// newLot starts the dispatcher's record of one generation's messages.
func (d *dispatcher) newLot() *lot {
	return &lot{revoked: make(chan struct{}), outstanding: newCount()}
}

// weigh is what m takes of the backlog's room: its bytes, but at least
// minWeight (so at most MaxFetched messages fit) and at most the whole room
// (so a message larger than it still gets in, alone).
func (d *dispatcher) weigh(m kafka.Message) int64 {
	n := int64(len(m.Key) + len(m.Value))
	for _, h := range m.Headers {
		n += int64(len(h.Key) + len(h.Value))
	}
	return min(max(n, d.minWeight), d.maxFetchedBytes)
}

// submit queues m, fetched by l's generation, behind earlier messages with
// its key; done is called once its handler succeeded. It waits for room in
// the backlog until fetchCtx ends; handlers run on workCtx.
func (d *dispatcher) submit(fetchCtx, workCtx context.Context, l *lot, m kafka.Message, done func()) error {
	w := d.weigh(m)
	if !d.room.TryAcquire(w) {
		d.waitingForRoom(1)
		err := d.room.Acquire(fetchCtx, w)
		d.waitingForRoom(-1)
		if err != nil {
			return fmt.Errorf("waiting for room for a fetched message: %w", err)
		}
	}
	it := &queued{msg: m, weight: w, lot: l, done: done}
	l.outstanding.add(1)
	d.outstanding.add(1)
	key := m.Topic + "\x00" + string(m.Key)
	if len(m.Key) == 0 {
		// No key, no order to keep: each such message is its own queue.
		key = fmt.Sprintf("%s\x00#%d/%d", m.Topic, m.Partition, m.Offset)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fetched++
	d.weight += w
	if q, ok := d.queues[key]; ok {
		q.items = append(q.items, it)
		return nil
	}
	q := &keyQueue{items: []*queued{it}}
	d.queues[key] = q
	go d.drain(workCtx, key, q)
	return nil
}

func (d *dispatcher) waitingForRoom(delta int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.waiting == 0 && delta > 0 {
		d.fullSince = time.Now()
	}
	d.waiting += delta
}

// drain handles the messages of one key in order, until none is left.
func (d *dispatcher) drain(ctx context.Context, key string, q *keyQueue) {
	for {
		d.mu.Lock()
		if len(q.items) == 0 {
			q.head = nil
			delete(d.queues, key)
			d.mu.Unlock()
			return
		}
		it := q.items[0]
		q.items[0] = nil
		q.items = q.items[1:]
		q.head, q.since = it, time.Now()
		d.mu.Unlock()
		if d.handle(ctx, it) {
			it.done()
		}
		d.release(it, q)
	}
}

// release takes a finished or dropped message out of the backlog; a
// finished head stops being its key's head in the same step, so that no
// status sees a key stuck on a message that is no longer in the backlog.
func (d *dispatcher) release(it *queued, q *keyQueue) {
	d.mu.Lock()
	if q != nil && q.head == it {
		q.head = nil
	}
	d.fetched--
	d.weight -= it.weight
	d.mu.Unlock()
	d.room.Release(it.weight)
	it.lot.outstanding.add(-1)
	d.outstanding.add(-1)
}

// revoke drops l's messages that are not running, now (those queued) or at
// their next try (those held back), and lets none of them start again.
func (d *dispatcher) revoke(l *lot) {
	l.once.Do(func() { close(l.revoked) })
	var dropped []*queued
	d.mu.Lock()
	for _, q := range d.queues {
		kept := q.items[:0]
		for _, it := range q.items {
			if it.lot == l {
				dropped = append(dropped, it)
			} else {
				kept = append(kept, it)
			}
		}
		clear(q.items[len(kept):])
		q.items = kept
	}
	d.mu.Unlock()
	for _, it := range dropped {
		d.release(it, nil)
	}
}

// Deferrer is an error a Handler returns to hold a message back for a while
// without counting as a failure: the message keeps its place (its key waits)
// and holds no slot meanwhile.
type Deferrer interface {
	error
	Deferred() time.Duration
}

// handle calls the handler until it succeeds, holding a slot during each
// call only. Between tries the message is held back: for what a Deferrer
// asks, or a backoff with jitter after a failure. It reports false when the
// message was dropped: its lot was revoked or ctx ended.
func (d *dispatcher) handle(ctx context.Context, it *queued) bool {
	m := it.msg
	delay := d.retryMin
	for try := 1; ; try++ {
		select {
		case d.slots <- struct{}{}:
		case <-it.lot.revoked:
			return false
		case <-ctx.Done():
			return false
		}
		if it.lot.isRevoked() {
			<-d.slots
			return false
		}
		err := d.handler.Handle(ctx, m)
		<-d.slots
		if err == nil {
			return true
		}
		var wait time.Duration
		var df Deferrer
		if errors.As(err, &df) {
			d.log.Debug().Err(err).Str("topic", m.Topic).Int("partition", m.Partition).Int64("offset", m.Offset).Msg("message held back")
			wait = df.Deferred()
			try--
		} else {
			d.log.Error().Err(err).Str("topic", m.Topic).Int("partition", m.Partition).Int64("offset", m.Offset).
				Int("try", try).Msg("handling message failed; will try again")
			wait = delay/2 + rand.N(delay/2+1)
			delay = min(delay*2, d.retryMax)
		}
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-it.lot.revoked:
			timer.Stop()
			return false
		case <-ctx.Done():
			timer.Stop()
			return false
		}
	}
}

func (l *lot) isRevoked() bool {
	select {
	case <-l.revoked:
		return true
	default:
		return false
	}
}

// dispatchStatus is what the dispatcher holds at one moment.
type dispatchStatus struct {
	running      int
	fetched      int
	fetchedBytes int64
	fullFor      time.Duration // how long fetching has waited for room; 0 when it does not
	stuck        []StuckMessage
}

// status reports the dispatcher's state; stuck lists, oldest first, the
// messages that have been their key's head for longer than stuckAfter.
func (d *dispatcher) status(now time.Time) dispatchStatus {
	s := dispatchStatus{running: len(d.slots)}
	d.mu.Lock()
	defer d.mu.Unlock()
	s.fetched, s.fetchedBytes = d.fetched, d.weight
	if d.waiting > 0 {
		s.fullFor = now.Sub(d.fullSince)
	}
	for _, q := range d.queues {
		if q.head == nil {
			continue
		}
		if age := now.Sub(q.since); age > d.stuckAfter {
			s.stuck = append(s.stuck, StuckMessage{Topic: q.head.msg.Topic, Partition: q.head.msg.Partition, Offset: q.head.msg.Offset, For: age})
		}
	}
	slices.SortFunc(s.stuck, func(a, b StuckMessage) int { return cmp.Compare(b.For, a.For) })
	return s
}

// count is a number of things in progress that can be waited on to reach
// zero.
type count struct {
	mu   sync.Mutex
	n    int
	zero chan struct{} // closed while n is zero
}

func newCount() *count {
	c := &count{zero: make(chan struct{})}
	close(c.zero)
	return c
}

func (c *count) add(delta int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	was := c.n
	c.n += delta
	switch {
	case was == 0 && c.n > 0:
		c.zero = make(chan struct{})
	case was > 0 && c.n == 0:
		close(c.zero)
	}
}

// idle is closed once the count is zero (it may have left zero again).
func (c *count) idle() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.zero
}
