package producer_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/blockd/blockd/producer"
	"github.com/blockd/blockd/schemas"
	"github.com/blockd/blockd/store"
	"github.com/blockd/blockd/store/storetest"
)

// A broker whose topics refuse what a real one refuses: "results" takes
// record batches up to maxBytes (the topic's max.message.bytes, as Kafka
// checks it), "dlq" does not exist (BLOCKD_CREATE_TOPICS=false).
func startRefusingBroker(t *testing.T, maxBytes int) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(c.Close)
	if err := c.CreateTopic("results", 3, map[string]string{"max.message.bytes": strconv.Itoa(maxBytes)}); err != nil {
		t.Fatalf("creating topic: %v", err)
	}
	return c
}

type relayUnderTest struct {
	t       *testing.T
	st      *store.Store
	brokers []string
	relay   *producer.Relay
	done    chan error
	stop    context.CancelFunc
	seq     int
}

// startRelay runs a relay over a fresh schema, publishing to brokers.
func startRelay(t *testing.T, brokers []string, cfg producer.Config) *relayUnderTest {
	t.Helper()
	ctx := context.Background()
	dbURL := storetest.NewSchema(t)
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	listenCtx, stopListening := context.WithCancel(ctx)
	t.Cleanup(stopListening)
	wake, err := st.ListenOutbox(listenCtx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	// The writer's metadata cache sees a topic created meanwhile within
	// half a second, not kafka-go's default six.
	w := producer.NewWriter(brokers, &kafka.Transport{MetadataTTL: 500 * time.Millisecond}, 256<<10)
	w.WriteTimeout = 2 * time.Second
	t.Cleanup(func() { w.Close() })
	runCtx, stop := context.WithCancel(ctx)
	r := &relayUnderTest{t: t, st: st, brokers: brokers, done: make(chan error, 1), stop: stop}
	r.relay = producer.NewRelay(cfg, st, w, wake, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel))
	go func() { r.done <- r.relay.Run(runCtx) }()
	t.Cleanup(func() {
		if err := r.shutdown(30 * time.Second); err != nil {
			t.Errorf("relay.Run: %v", err)
		}
	})
	return r
}

// shutdown stops the relay and returns what Run returned.
func (r *relayUnderTest) shutdown(limit time.Duration) error {
	r.stop()
	select {
	case err := <-r.done:
		r.done <- err // for a later call
		return err
	case <-time.After(limit):
		r.t.Fatalf("relay.Run did not return within %s of its context ending", limit)
		return nil
	}
}

type row struct {
	topic, key string
	size       int // the value's length; 0: a short value
}

// enqueue queues rows, each with a value that names it ("<key>#<n>", n
// counting every row this test queued, padded to its size), and returns
// those values in order.
func (r *relayUnderTest) enqueue(rows ...row) []string {
	r.t.Helper()
	var msgs []schemas.Outbound
	var values []string
	for _, x := range rows {
		r.seq++
		v := fmt.Sprintf("%s#%06d", x.key, r.seq)
		if x.size > len(v) {
			v += strings.Repeat("<", x.size-len(v))
		}
		values = append(values, v)
		msgs = append(msgs, schemas.Outbound{Topic: x.topic, Key: []byte(x.key), Value: []byte(v), Headers: map[string]string{"ce_id": strconv.Itoa(len(values))}})
	}
	if err := r.st.Enqueue(context.Background(), msgs); err != nil {
		r.t.Fatal(err)
	}
	return values
}

// published says whether the outbox row holding value was marked published.
func (r *relayUnderTest) published(value string) bool {
	var ok bool
	err := r.st.DB().Get(&ok, `SELECT published_at IS NOT NULL FROM outbox WHERE value = $1`, []byte(value))
	return err == nil && ok
}

func (r *relayUnderTest) allPublished(values []string) func() bool {
	return func() bool {
		for _, v := range values {
			if !r.published(v) {
				return false
			}
		}
		return true
	}
}

// setAsideReason is the reason the row holding value was set aside, "" when
// it was not.
func (r *relayUnderTest) setAsideReason(value string) string {
	r.t.Helper()
	var reason *string
	if err := r.st.DB().Get(&reason, `SELECT set_aside_reason FROM outbox WHERE value = $1`, []byte(value)); err != nil {
		r.t.Fatalf("reading the row's set-aside reason: %v", err)
	}
	if reason == nil {
		return ""
	}
	return *reason
}

// readTopic reads everything topic holds, every partition to its end.
func readTopic(t *testing.T, brokers []string, topic string, partitions int) []kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []kafka.Message
	for p := 0; p < partitions; p++ {
		conn, err := kafka.DialLeader(ctx, "tcp", brokers[0], topic, p)
		if err != nil {
			t.Fatalf("dialing %s/%d: %v", topic, p, err)
		}
		last, err := conn.ReadLastOffset()
		_ = conn.Close()
		if err != nil {
			t.Fatalf("reading the end of %s/%d: %v", topic, p, err)
		}
		if last == 0 {
			continue
		}
		rd := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p, MaxWait: 100 * time.Millisecond})
		for {
			m, err := rd.ReadMessage(ctx)
			if err != nil {
				rd.Close()
				t.Fatalf("reading %s/%d: %v", topic, p, err)
			}
			out = append(out, m)
			if m.Offset >= last-1 {
				break
			}
		}
		rd.Close()
	}
	return out
}

// copies counts how often each value was written to the topic.
func copies(msgs []kafka.Message) map[string]int {
	n := map[string]int{}
	for _, m := range msgs {
		n[string(m.Value)]++
	}
	return n
}

// One row the broker refuses (a result of 200 KB to a topic taking 100 KB)
// in the middle of a batch: every other row is published, exactly once; the
// refused row is set aside with its reason, and so holds back only the later
// rows of its own key; rows queued afterwards are published too.
func TestRelayPublishesWhatTheBrokerTakesBesideARefusedRow(t *testing.T) {
	broker := startRefusingBroker(t, 100_000)
	r := startRelay(t, broker.ListenAddrs(), producer.Config{Poll: 100 * time.Millisecond, BatchSize: 50})

	var small []string
	for i := range 10 {
		small = append(small, r.enqueue(row{"results", "track-" + strconv.Itoa(i), 0})...)
		if i == 4 {
			big := r.enqueue(row{"results", "track-big", 200_000}, row{"results", "track-big", 0})
			defer func() {
				waitFor(t, 10*time.Second, "the refused row to be set aside", func() bool { return r.setAsideReason(big[0]) != "" })
				if reason := r.setAsideReason(big[0]); !strings.Contains(reason, "large") {
					t.Errorf("got set-aside reason %q, want one that says the message is too large", reason)
				}
				if r.published(big[0]) || r.published(big[1]) {
					t.Errorf("the refused row or the row after it on its key is marked published")
				}
				if reason := r.setAsideReason(big[1]); reason != "" {
					t.Errorf("the later row of the refused row's key was set aside too (%q); want it held back", reason)
				}
			}()
		}
	}
	waitFor(t, 15*time.Second, "the rows beside the refused one to be published", r.allPublished(small))
	later := r.enqueue(row{"results", "track-later", 0})
	waitFor(t, 10*time.Second, "a row queued later to be published", r.allPublished(later))

	time.Sleep(2 * time.Second) // time enough for re-sends, if there were any
	n := copies(readTopic(t, r.brokers, "results", 3))
	for _, v := range append(small, later...) {
		if n[v] != 1 {
			t.Errorf("row %s was written %d times, want once", v, n[v])
		}
	}
}

// Many small rows of one key fill one partition's batch: the batches the
// writer sends stay under the broker's limit (Kafka's default 1 MiB here),
// so they are taken.
func TestRelayBatchesFitTheBrokersLimit(t *testing.T) {
	broker := startRefusingBroker(t, 1048588)
	r := startRelay(t, broker.ListenAddrs(), producer.Config{Poll: 100 * time.Millisecond})
	var rows []row
	for range 600 {
		rows = append(rows, row{"results", "one-key", 4 << 10})
	}
	values := r.enqueue(rows...)
	waitFor(t, 30*time.Second, "600 rows of 4 KiB on one partition to be published", r.allPublished(values))
}

// Rows for a topic that does not exist (a DLQ topic nobody created, with
// BLOCKD_CREATE_TOPICS=false), more than one batch of them, do not stop
// the rows of the topics that do exist. Once the topic has been missing for
// TopicGrace its rows are set aside, saying so; an operator who creates it
// puts them back (store.RetrySetAside) and they are published.
func TestRelayMissingTopicStopsOnlyItsOwnRows(t *testing.T) {
	broker := startRefusingBroker(t, 1048588)
	r := startRelay(t, broker.ListenAddrs(), producer.Config{Poll: 100 * time.Millisecond, BatchSize: 50, TopicGrace: 2 * time.Second})
	var dlq []row
	for i := range 120 {
		dlq = append(dlq, row{"dlq", "acct-" + strconv.Itoa(i%7), 0})
	}
	missing := r.enqueue(dlq...)
	results := r.enqueue(row{"results", "track-a", 0}, row{"results", "track-b", 0})
	waitFor(t, 20*time.Second, "the results rows to be published while the DLQ topic is missing", r.allPublished(results))
	for _, v := range missing {
		if r.published(v) {
			t.Fatalf("a row for the missing topic is marked published")
		}
	}
	// Each key's first row is set aside; the later ones wait behind it.
	firsts := map[string]string{}
	for i, v := range missing {
		if k := dlq[i].key; firsts[k] == "" {
			firsts[k] = v
		}
	}
	waitFor(t, 30*time.Second, "the first row of each key on the missing topic to be set aside", func() bool {
		for _, v := range firsts {
			if r.setAsideReason(v) == "" {
				return false
			}
		}
		return true
	})
	for _, v := range firsts {
		if reason := r.setAsideReason(v); !strings.Contains(reason, "topic dlq") {
			t.Fatalf("got set-aside reason %q, want it to name the topic", reason)
		}
	}
	if err := broker.CreateTopic("dlq", 3, nil); err != nil {
		t.Fatal(err)
	}
	n, err := r.st.RetrySetAside(context.Background(), 0)
	if err != nil || n == 0 {
		t.Fatalf("RetrySetAside: got %d, %v; want the set-aside rows put back", n, err)
	}
	waitFor(t, 30*time.Second, "the DLQ rows to be published once the topic exists", r.allPublished(missing))
	msgs := readTopic(t, r.brokers, "dlq", 3)
	last := map[string]string{}
	for _, m := range msgs {
		if prev := last[string(m.Key)]; string(m.Value) < prev {
			t.Errorf("key %s: %s published after %s", m.Key, m.Value, prev)
		}
		last[string(m.Key)] = string(m.Value)
	}
}

// A partition that keeps failing (the broker answers every write to it with
// an error) holds back only the rows of the keys on it: the others are
// published once each, and the failing rows are neither lost nor set aside.
// Once the partition recovers they are published, in order.
func TestRelayFailingPartitionHoldsBackOnlyItsKeys(t *testing.T) {
	broker := startRefusingBroker(t, 1048588)
	fault := broker.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "results", Partitions: []int32{0}, Count: -1})
	r := startRelay(t, broker.ListenAddrs(), producer.Config{Poll: 100 * time.Millisecond, BatchSize: 20})

	onPartition := func(p int) []string {
		var keys []string
		for i := 0; len(keys) < 4; i++ {
			k := "track-" + strconv.Itoa(i)
			if (&kafka.Hash{}).Balance(kafka.Message{Key: []byte(k)}, 0, 1, 2) == p {
				keys = append(keys, k)
			}
		}
		return keys
	}
	var failing, others []string
	for range 3 {
		for _, k := range onPartition(0) {
			failing = append(failing, r.enqueue(row{"results", k, 0})...)
		}
		for _, p := range []int{1, 2} {
			for _, k := range onPartition(p) {
				others = append(others, r.enqueue(row{"results", k, 0})...)
			}
		}
	}
	waitFor(t, 20*time.Second, "the rows of the healthy partitions to be published", r.allPublished(others))
	time.Sleep(2 * time.Second)
	for _, v := range failing {
		if r.published(v) {
			t.Fatalf("row %s on the failing partition is marked published", v)
		}
		if reason := r.setAsideReason(v); reason != "" {
			t.Fatalf("row %s on the failing partition was set aside (%s); a transient failure is retried", v, reason)
		}
	}
	fault.Remove()
	waitFor(t, 30*time.Second, "the held-back rows to be published once the partition recovers", r.allPublished(failing))

	msgs := readTopic(t, r.brokers, "results", 3)
	n := copies(msgs)
	for _, v := range others {
		if n[v] != 1 {
			t.Errorf("row %s was written %d times, want once", v, n[v])
		}
	}
	// Per key, the first copy of each value comes in the order written.
	last := map[string]int{}
	seen := map[string]bool{}
	for _, m := range msgs {
		if seen[string(m.Value)] {
			continue
		}
		seen[string(m.Value)] = true
		_, seq, _ := strings.Cut(strings.TrimRight(string(m.Value), "<"), "#")
		i, _ := strconv.Atoi(seq)
		if prev, ok := last[string(m.Key)]; ok && i < prev {
			t.Errorf("key %s: row %d published before row %d", m.Key, prev, i)
		}
		last[string(m.Key)] = i
	}
}

// At shutdown, a row the broker refuses, or a broker that is gone, does
// not make Run fail: what is left stays in the outbox for the next start,
// and the final flush ends within its bound.
func TestRelayShutdownNeverFailsOnWhatItCouldNotPublish(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, broker *kfake.Cluster, r *relayUnderTest)
	}{
		{"a row the broker refuses", func(t *testing.T, broker *kfake.Cluster, r *relayUnderTest) {
			r.enqueue(row{"results", "track-big", 200_000})
		}},
		{"the broker gone", func(t *testing.T, broker *kfake.Cluster, r *relayUnderTest) {
			broker.Close()
			r.enqueue(row{"results", "track-1", 0})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			broker := startRefusingBroker(t, 100_000)
			r := startRelay(t, broker.ListenAddrs(), producer.Config{Poll: 100 * time.Millisecond, FlushTimeout: 3 * time.Second})
			ok := r.enqueue(row{"results", "track-ok", 0})
			waitFor(t, 10*time.Second, "a first row to be published", r.allPublished(ok))
			tt.setup(t, broker, r)
			time.Sleep(500 * time.Millisecond)
			start := time.Now()
			if err := r.shutdown(20 * time.Second); err != nil {
				t.Fatalf("relay.Run returned %v at shutdown, want nil", err)
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("shutdown took %s, want it bounded by the 3s flush timeout", took)
			}
		})
	}
}

// A relay that can publish nothing (the broker gone) says it is stalled
// once StallAfter has passed, and goes on saying so while its rows wait
// out ever longer delays between tries; it is healthy again as soon as it
// publishes.
func TestRelayStatusStaysStalledWhileNothingCanBePublished(t *testing.T) {
	broker := startRefusingBroker(t, 1048588)
	r := startRelay(t, broker.ListenAddrs(), producer.Config{Poll: 100 * time.Millisecond, StallAfter: 2 * time.Second})
	r.enqueue(row{"results", "track-1", 0}, row{"results", "track-2", 0})
	waitFor(t, 10*time.Second, "the rows to be published", func() bool { n, _ := r.st.PendingOutbox(context.Background()); return n == 0 })
	if s := r.relay.Status(); s.Stalled || !s.FailingSince.IsZero() {
		t.Fatalf("got status %+v after publishing, want healthy", s)
	}
	broker.Close()
	r.enqueue(row{"results", "track-3", 0})
	waitFor(t, 15*time.Second, "the relay to say it is stalled", func() bool { return r.relay.Status().Stalled })
	// The row's delay grows past the relay's own pauses: passes that find
	// nothing due in between must not make it look healthy.
	for deadline := time.Now().Add(12 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if s := r.relay.Status(); !s.Stalled || s.LastError == "" {
			t.Fatalf("got status %+v while the broker is still gone, want stalled with the last error", s)
		}
	}
}
