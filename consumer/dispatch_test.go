package consumer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
)

func TestTrackerNeverCommitsPastAnUnfinishedOffset(t *testing.T) {
	tr := newTracker()
	if _, changed := tr.toCommit(); changed {
		t.Fatal("a tracker with nothing fetched wants to commit")
	}
	for off := int64(10); off < 15; off++ {
		tr.fetched(off)
	}
	steps := []struct {
		finish     int64
		wantCommit int64
		wantChange bool
	}{
		{12, 10, true},  // 10 unfinished: commit 10 (nothing new is passed)
		{11, 10, false}, // still 10 unfinished
		{10, 13, true},  // 10, 11, 12 done: next to read is 13
		{14, 13, false}, // 13 still unfinished
		{13, 15, true},  // everything done
	}
	for _, s := range steps {
		tr.finished(s.finish)
		got, changed := tr.toCommit()
		if got != s.wantCommit || changed != s.wantChange {
			t.Fatalf("after finishing %d: got commit %d (changed %v), want %d (changed %v)", s.finish, got, changed, s.wantCommit, s.wantChange)
		}
	}
	if tr.pending() != 0 {
		t.Fatalf("pending: got %d, want 0", tr.pending())
	}
	tr.fetched(15)
	tr.unfetched(15)
	if got, _ := tr.toCommit(); got != 15 {
		t.Fatalf("after taking back 15: got commit %d, want 15", got)
	}
}

// recordingHandler records, per key, the order messages were handled in,
// and how many ran at once.
type recordingHandler struct {
	delay     time.Duration
	failFirst map[int64]bool // offsets that fail once
	mu        sync.Mutex
	order     map[string][]int64
	failed    map[int64]bool
	concurrency
}

// concurrency counts the handler calls running and their peak.
type concurrency struct {
	running, maxRunning atomic.Int32
}

// enter counts a call in; the function it returns counts it out.
func (c *concurrency) enter() (leave func()) {
	n := c.running.Add(1)
	for {
		old := c.maxRunning.Load()
		if n <= old || c.maxRunning.CompareAndSwap(old, n) {
			break
		}
	}
	return func() { c.running.Add(-1) }
}

func (h *recordingHandler) Handle(_ context.Context, m kafka.Message) error {
	defer h.enter()()
	time.Sleep(h.delay)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failFirst[m.Offset] && !h.failed[m.Offset] {
		h.failed[m.Offset] = true
		return errors.New("database unreachable")
	}
	h.order[string(m.Key)] = append(h.order[string(m.Key)], m.Offset)
	return nil
}

func TestDispatcherOrdersSameKeyAndRunsKeysConcurrently(t *testing.T) {
	h := &recordingHandler{delay: 5 * time.Millisecond, failFirst: map[int64]bool{3: true}, order: map[string][]int64{}, failed: map[int64]bool{}}
	d := newDispatcher(Config{MaxInFlight: 64, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond}, h, zerolog.Nop())
	ctx := context.Background()
	tr := newTracker()
	const keys, perKey = 8, 6
	var wg sync.WaitGroup
	for off := int64(0); off < keys*perKey; off++ {
		m := kafka.Message{Topic: "t", Partition: 0, Offset: off, Key: []byte(fmt.Sprintf("k%d", off%keys))}
		tr.fetched(off)
		wg.Add(1)
		if err := d.submit(ctx, ctx, d.newLot(), m, func() { tr.finished(m.Offset); wg.Done() }); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	for k := range keys {
		key := fmt.Sprintf("k%d", k)
		got := h.order[key]
		if len(got) != perKey {
			t.Fatalf("key %s: handled %d messages, want %d", key, len(got), perKey)
		}
		for i := 1; i < len(got); i++ {
			if got[i] <= got[i-1] {
				t.Fatalf("key %s handled out of order: %v", key, got)
			}
		}
	}
	if h.maxRunning.Load() < 2 {
		t.Fatalf("at most %d messages ran at once; different keys must run concurrently", h.maxRunning.Load())
	}
	if !h.failed[3] {
		t.Fatal("the failing message was not tried")
	}
	if got, _ := tr.toCommit(); got != keys*perKey {
		t.Fatalf("commit offset: got %d, want %d", got, keys*perKey)
	}
}

// blockedHandler holds every call until release is closed, counting the
// calls running and their peak.
type blockedHandler struct {
	release chan struct{}
	concurrency
}

func (h *blockedHandler) Handle(ctx context.Context, m kafka.Message) error {
	defer h.enter()()
	<-h.release
	return nil
}

func TestDispatcherBoundsWhatItHolds(t *testing.T) {
	cases := []struct {
		name         string
		cfg          Config
		sizes        []int // value bytes of the messages submitted, each with its own key
		wantAccepted int
	}{
		{"MaxFetched counts messages", Config{MaxInFlight: 2, MaxFetched: 3}, []int{1, 1, 1, 1, 1}, 3},
		{"MaxFetchedBytes counts bytes", Config{MaxInFlight: 8, MaxFetched: 100, MaxFetchedBytes: 1000}, []int{400, 400, 400}, 2},
		{"a message larger than the room gets in alone", Config{MaxInFlight: 8, MaxFetched: 100, MaxFetchedBytes: 1000}, []int{5000, 1}, 1},
		{"a message larger than the room waits to be alone", Config{MaxInFlight: 8, MaxFetched: 100, MaxFetchedBytes: 1000}, []int{1, 5000, 1}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := &blockedHandler{release: make(chan struct{})}
			c.cfg.RetryMin, c.cfg.RetryMax = time.Millisecond, time.Millisecond
			d := newDispatcher(c.cfg, h, zerolog.Nop())
			l := d.newLot()
			ctx := context.Background()
			var wg sync.WaitGroup
			accepted := 0
			for i, size := range c.sizes {
				fetchCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
				wg.Add(1)
				err := d.submit(fetchCtx, ctx, l, kafka.Message{Offset: int64(i), Key: []byte{byte(i)}, Value: make([]byte, size)}, wg.Done)
				cancel()
				if err != nil {
					wg.Done()
					break
				}
				accepted++
			}
			if accepted != c.wantAccepted {
				t.Errorf("accepted %d of %d messages, want %d", accepted, len(c.sizes), c.wantAccepted)
			}
			await(t, 5*time.Second, "the handler calls to start", func() bool { return int(h.running.Load()) == min(accepted, c.cfg.MaxInFlight) })
			if got := d.status(time.Now()).running; got != min(accepted, c.cfg.MaxInFlight) {
				t.Errorf("status: got %d running, want %d", got, min(accepted, c.cfg.MaxInFlight))
			}
			close(h.release)
			wg.Wait()
			if got := int(h.maxRunning.Load()); got > c.cfg.MaxInFlight {
				t.Errorf("%d handler calls ran at once, want at most MaxInFlight %d", got, c.cfg.MaxInFlight)
			}
		})
	}
}

type heldBack struct{}

func (heldBack) Error() string           { return "provider down" }
func (heldBack) Deferred() time.Duration { return 30 * time.Millisecond }

// TestHeldBackHeadNeverDeadlocksItsKey is the reproduction of the deadlock:
// with two slots, a held-back head gave its slot away to the third message
// of its own key and then waited forever to take one back, while the slots
// were held by the two messages queued behind it.
func TestHeldBackHeadNeverDeadlocksItsKey(t *testing.T) {
	var handled atomic.Int32
	var heldOnce atomic.Bool
	h := HandlerFunc(func(ctx context.Context, m kafka.Message) error {
		if m.Offset == 0 && heldOnce.CompareAndSwap(false, true) {
			return heldBack{}
		}
		handled.Add(1)
		return nil
	})
	d := newDispatcher(Config{MaxInFlight: 2, RetryMin: time.Millisecond, RetryMax: time.Millisecond}, h, zerolog.Nop())
	l := d.newLot()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // as a partition's fetcher does: each submit waits for room
		for off := range int64(3) {
			if err := d.submit(ctx, ctx, l, kafka.Message{Topic: "t", Offset: off, Key: []byte("acct-1")}, func() {}); err != nil {
				return
			}
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for handled.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := handled.Load(); got != 3 {
		t.Fatalf("handled %d of 3 messages of one key after 5s: the dispatcher deadlocked", got)
	}
}

// TestHeldBackMessageGivesItsSlotToOtherKeys: a message held back between
// tries, because its handler deferred it (a provider's breaker is open) or
// failed (the database is down for it), holds no slot meanwhile: with one
// slot, another key runs first. Only its own key waits.
func TestHeldBackMessageGivesItsSlotToOtherKeys(t *testing.T) {
	cases := []struct {
		name string
		err  error
	}{
		{"deferred", heldBack{}},
		{"failed", errors.New("database unreachable")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var mu sync.Mutex
			var order []string
			tries := 0
			h := HandlerFunc(func(ctx context.Context, m kafka.Message) error {
				mu.Lock()
				defer mu.Unlock()
				if m.Offset == 0 && tries < 3 {
					tries++
					return c.err
				}
				order = append(order, fmt.Sprintf("%s/%d", m.Key, m.Offset))
				return nil
			})
			// One slot, and a backoff long enough for "up" to run while
			// "down" waits, if the slot is free.
			d := newDispatcher(Config{MaxInFlight: 1, RetryMin: 40 * time.Millisecond, RetryMax: 40 * time.Millisecond}, h, zerolog.Nop())
			l := d.newLot()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wg sync.WaitGroup
			wg.Add(3)
			go func() { // as a partition's fetcher does: each submit may wait for room
				for i, key := range []string{"down", "down", "up"} {
					if err := d.submit(ctx, ctx, l, kafka.Message{Offset: int64(i), Key: []byte(key)}, wg.Done); err != nil {
						return
					}
				}
			}()
			wg.Wait()
			want := []string{"up/2", "down/0", "down/1"}
			if fmt.Sprint(order) != fmt.Sprint(want) {
				t.Fatalf("handled in order %v, want %v: a held-back message must not hold the only slot, and its key must wait", order, want)
			}
		})
	}
}

// TestRevokedGenerationsMessagesAreDroppedNotStarted: when a generation
// gives its partitions up, its messages queued behind their key and those
// held back between tries are dropped (their offsets are not committed, the
// next owner handles them); the one running finishes; another generation's
// messages are untouched.
func TestRevokedGenerationsMessagesAreDroppedNotStarted(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	calls := map[string]int{}
	h := HandlerFunc(func(ctx context.Context, m kafka.Message) error {
		mu.Lock()
		calls[string(m.Value)]++
		mu.Unlock()
		switch string(m.Value) {
		case "running":
			<-release
		case "held":
			return longHold{}
		}
		return nil
	})
	d := newDispatcher(Config{MaxInFlight: 4, RetryMin: time.Millisecond, RetryMax: time.Millisecond}, h, zerolog.Nop())
	old, current := d.newLot(), d.newLot()
	ctx := context.Background()
	finished := map[string]bool{}
	submit := func(l *lot, key, value string) {
		if err := d.submit(ctx, ctx, l, kafka.Message{Key: []byte(key), Value: []byte(value)}, func() {
			mu.Lock()
			finished[value] = true
			mu.Unlock()
		}); err != nil {
			t.Fatal(err)
		}
	}
	submit(old, "k", "running")
	submit(old, "k", "queued")
	submit(old, "j", "held")
	submit(current, "k", "next generation")
	await(t, 5*time.Second, "the first calls", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return calls["running"] == 1 && calls["held"] == 1
	})
	d.revoke(old)
	close(release)
	awaitClosed(t, old.outstanding.idle(), "the revoked generation's messages to be finished or dropped")
	awaitClosed(t, d.outstanding.idle(), "every message to be finished or dropped")
	mu.Lock()
	defer mu.Unlock()
	want := map[string]int{"running": 1, "held": 1, "next generation": 1}
	for value, n := range want {
		if calls[value] != n {
			t.Errorf("%q: handled %d times, want %d", value, calls[value], n)
		}
	}
	if calls["queued"] != 0 {
		t.Errorf(`"queued" was handled after its generation was revoked`)
	}
	if !finished["running"] || !finished["next generation"] || finished["queued"] || finished["held"] {
		t.Errorf("finished: got %v, want only the running message and the next generation's", finished)
	}
	if s := d.status(time.Now()); s.fetched != 0 || s.fetchedBytes != 0 {
		t.Errorf("status after everything left: %d messages and %d bytes held, want none", s.fetched, s.fetchedBytes)
	}
}

type longHold struct{}

func (longHold) Error() string           { return "waiting for the block's outcome" }
func (longHold) Deferred() time.Duration { return time.Hour }

func TestStatusShowsStuckKeysAndSaturation(t *testing.T) {
	release := make(chan struct{})
	h := &blockedHandler{release: release}
	d := newDispatcher(Config{MaxInFlight: 1, MaxFetched: 2, StuckAfter: time.Minute, RetryMin: time.Millisecond, RetryMax: time.Millisecond}, h, zerolog.Nop())
	l := d.newLot()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range 2 {
		if err := d.submit(ctx, ctx, l, kafka.Message{Topic: "t", Partition: 3, Offset: int64(10 + i), Key: []byte{byte(i)}}, func() {}); err != nil {
			t.Fatal(err)
		}
	}
	await(t, 5*time.Second, "the first call", func() bool { return h.running.Load() == 1 })
	now := time.Now()
	if s := d.status(now); len(s.stuck) != 0 || s.fullFor != 0 {
		t.Fatalf("at once: got %d stuck, saturated for %s; want none", len(s.stuck), s.fullFor)
	}
	third := make(chan struct{})
	go func() {
		defer close(third)
		_ = d.submit(ctx, ctx, l, kafka.Message{Topic: "t", Offset: 12, Key: []byte{2}}, func() {})
	}()
	await(t, 5*time.Second, "the third message to wait for room", func() bool { return d.status(time.Now()).fullFor > 0 })
	s := d.status(now.Add(2 * time.Minute))
	if len(s.stuck) != 2 {
		t.Fatalf("two minutes on: got %d stuck keys, want 2 (one running, one waiting for a slot)", len(s.stuck))
	}
	if got := s.stuck[0]; got.Topic != "t" || got.Partition != 3 || got.For < 2*time.Minute-time.Second {
		t.Errorf("stuck: got %+v, want topic t, partition 3, for about 2m", got)
	}
	if s.fullFor < time.Minute || s.fetched != 2 || s.running != 1 {
		t.Errorf("got saturated for %s with %d fetched and %d running, want about 2m, 2 and 1", s.fullFor, s.fetched, s.running)
	}
	close(release)
	awaitClosed(t, third, "the third message to get in")
	awaitClosed(t, d.outstanding.idle(), "every message to finish")
	if s := d.status(time.Now().Add(time.Hour)); len(s.stuck) != 0 || s.fullFor != 0 {
		t.Errorf("after everything finished: got %d stuck, saturated for %s; want none", len(s.stuck), s.fullFor)
	}
}
