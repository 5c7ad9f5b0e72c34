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
	delay      time.Duration
	failFirst  map[int64]bool // offsets that fail once
	mu         sync.Mutex
	order      map[string][]int64
	failed     map[int64]bool
	running    atomic.Int32
	maxRunning atomic.Int32
}

func (h *recordingHandler) Handle(_ context.Context, m kafka.Message) error {
	n := h.running.Add(1)
	defer h.running.Add(-1)
	for {
		old := h.maxRunning.Load()
		if n <= old || h.maxRunning.CompareAndSwap(old, n) {
			break
		}
	}
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
		if err := d.submit(ctx, ctx, m, func() { tr.finished(m.Offset); wg.Done() }); err != nil {
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

func TestDispatcherBoundsMessagesInFlight(t *testing.T) {
	block := make(chan struct{})
	h := HandlerFunc(func(ctx context.Context, m kafka.Message) error { <-block; return nil })
	d := newDispatcher(Config{MaxInFlight: 2, RetryMin: time.Millisecond, RetryMax: time.Millisecond}, h, zerolog.Nop())
	ctx := context.Background()
	for i := range 2 {
		if err := d.submit(ctx, ctx, kafka.Message{Offset: int64(i), Key: []byte{byte(i)}}, func() {}); err != nil {
			t.Fatal(err)
		}
	}
	fetchCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := d.submit(fetchCtx, ctx, kafka.Message{Offset: 2, Key: []byte{2}}, func() {}); err == nil {
		t.Fatal("a third message was accepted while two were in flight with MaxInFlight 2")
	}
	close(block)
}

type heldBack struct{}

func (heldBack) Error() string           { return "provider down" }
func (heldBack) Deferred() time.Duration { return 30 * time.Millisecond }

func TestDeferredMessageGivesItsSlotToOtherKeys(t *testing.T) {
	var mu sync.Mutex
	var order []string
	tries := 0
	h := HandlerFunc(func(ctx context.Context, m kafka.Message) error {
		mu.Lock()
		defer mu.Unlock()
		if string(m.Key) == "down" && tries < 3 {
			tries++
			return heldBack{}
		}
		order = append(order, string(m.Key))
		return nil
	})
	// One slot: if the held-back message kept it, "up" could not run first.
	d := newDispatcher(Config{MaxInFlight: 1, RetryMin: time.Millisecond, RetryMax: time.Millisecond}, h, zerolog.Nop())
	ctx := context.Background()
	var wg sync.WaitGroup
	for i, key := range []string{"down", "up"} {
		wg.Add(1)
		if err := d.submit(ctx, ctx, kafka.Message{Offset: int64(i), Key: []byte(key)}, wg.Done); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if len(order) != 2 || order[0] != "up" || order[1] != "down" {
		t.Fatalf("handled in order %v, want [up down]: the held-back message must not hold the only slot", order)
	}
}
