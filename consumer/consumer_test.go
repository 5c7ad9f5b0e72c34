package consumer

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

const testTopic = "cmd"

// newBroker starts an in-process broker with one topic of the given
// partitions and returns its addresses.
func newBroker(t testing.TB, partitions int32) []string {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0), kfake.SeedTopics(partitions, testTopic))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	return cluster.ListenAddrs()
}

func produce(t testing.TB, brokers []string, msgs ...kafka.Message) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: testTopic, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
		BatchTimeout: time.Millisecond, BatchBytes: 64 << 20}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("producing: %v", err)
	}
}

// member is one running Consumer of the test group.
type member struct {
	*Consumer
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned
	err    error         // what Run returned
}

// stop cancels the member's context (what SIGTERM does) and waits for Run
// to return. It may be called from any goroutine.
func (m *member) stop(t testing.TB) {
	t.Helper()
	m.cancel()
	select {
	case <-m.done:
		if m.err != nil {
			t.Errorf("Run returned %v", m.err)
		}
	case <-time.After(30 * time.Second):
		t.Error("Run did not return 30s after its context ended")
	}
}

// join runs a member of group "g". clientID orders the members: the range
// assignor gives a one-partition topic to the member whose id (client id
// first) sorts last.
func join(t testing.TB, brokers []string, clientID string, h Handler, tune func(*Config)) *member {
	t.Helper()
	cfg := Config{Brokers: brokers, Dialer: &kafka.Dialer{ClientID: clientID, Timeout: 10 * time.Second}, GroupID: "g",
		Topics: []string{testTopic}, HeartbeatInterval: 100 * time.Millisecond, MaxWait: 50 * time.Millisecond,
		CommitInterval: 50 * time.Millisecond, RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond}
	if tune != nil {
		tune(&cfg)
	}
	c, err := New(cfg, h, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel).With().Str("member", clientID).Logger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &member{Consumer: c, cancel: cancel, done: make(chan struct{})}
	go func() {
		m.err = c.Run(ctx)
		close(m.done)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-m.done:
		case <-time.After(30 * time.Second):
			t.Errorf("member %s: Run did not return 30s after its context ended", clientID)
		}
	})
	return m
}

// gate is a handler that records every message it handles and holds the
// first message whose value is "slow" until released, as a provider call
// in flight would.
type gate struct {
	started  chan struct{} // closed when the slow message started
	release  chan struct{} // closed by the test to let it finish
	finished chan struct{} // closed when it returned

	mu       sync.Mutex
	held     bool
	canceled bool // the held handler's context had ended when it was released
	handled  map[string]int
}

func newGate() *gate {
	return &gate{started: make(chan struct{}), release: make(chan struct{}), finished: make(chan struct{}), handled: map[string]int{}}
}

func (g *gate) Handle(ctx context.Context, m kafka.Message) error {
	g.mu.Lock()
	hold := string(m.Value) == "slow" && !g.held
	if hold {
		g.held = true
	}
	g.mu.Unlock()
	if hold {
		close(g.started)
		select {
		case <-g.release:
		case <-ctx.Done():
		}
		g.mu.Lock()
		g.canceled = ctx.Err() != nil
		g.mu.Unlock()
		defer close(g.finished)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	g.mu.Lock()
	g.handled[string(m.Value)]++
	g.mu.Unlock()
	return nil
}

func (g *gate) count(value string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.handled[value]
}

func (g *gate) wasCanceled() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.canceled
}

func await(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func awaitClosed(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// expectNotRedelivered publishes "after" with the slow message's key and
// lets the member still running handle it: had the slow message's offset not
// been committed, it would be handled again first (one key, one partition,
// in order).
func expectNotRedelivered(t *testing.T, brokers []string, g *gate) {
	t.Helper()
	produce(t, brokers, kafka.Message{Key: []byte("acct-1"), Value: []byte("after")})
	await(t, 30*time.Second, `"after" to be handled`, func() bool { return g.count("after") == 1 })
	if got := g.count("slow"); got != 1 {
		t.Fatalf(`"slow" was handled %d times, want 1: what finished before the commit was redelivered`, got)
	}
}

func TestShutdownCommitsWhatFinishedInTheGracePeriod(t *testing.T) {
	brokers := newBroker(t, 1)
	produce(t, brokers, kafka.Message{Key: []byte("acct-1"), Value: []byte("slow")})
	g := newGate()
	a := join(t, brokers, "a", g, func(c *Config) { c.Grace = 20 * time.Second })
	awaitClosed(t, g.started, "the slow message to start")
	go func() {
		time.Sleep(200 * time.Millisecond)
		close(g.release)
	}()
	a.stop(t)
	if g.wasCanceled() {
		t.Fatal("the message in flight was canceled within the grace period")
	}
	join(t, brokers, "b", g, nil)
	expectNotRedelivered(t, brokers, g)
}

// rebalanceDuringSlowMessage has member "a" alone start the slow message,
// then member "z" join, and returns once the rebalance has ended a's
// generation. "z" sorts after "a": the partition moves to it.
func rebalanceDuringSlowMessage(t *testing.T, tuneA func(*Config)) (brokers []string, g *gate, a *member) {
	t.Helper()
	brokers = newBroker(t, 1)
	produce(t, brokers, kafka.Message{Key: []byte("acct-1"), Value: []byte("slow")})
	g = newGate()
	a = join(t, brokers, "a", g, tuneA)
	awaitClosed(t, g.started, "the slow message to start")
	join(t, brokers, "z", g, nil)
	await(t, 30*time.Second, "the rebalance to end a's generation", func() bool { return !a.Joined() })
	return brokers, g, a
}

func TestRebalanceCommitsWhatFinishedInTheDrain(t *testing.T) {
	brokers, g, _ := rebalanceDuringSlowMessage(t, func(c *Config) { c.RebalanceDrain = 10 * time.Second })
	close(g.release)
	awaitClosed(t, g.finished, "the slow message to finish")
	expectNotRedelivered(t, brokers, g)
}

func TestSIGTERMDuringARebalanceStillGetsTheGracePeriod(t *testing.T) {
	const drain = 300 * time.Millisecond
	brokers, g, a := rebalanceDuringSlowMessage(t, func(c *Config) { c.RebalanceDrain = drain; c.Grace = 20 * time.Second })
	stopWithinGrace(t, a, g, 3*drain)
	expectNotRedelivered(t, brokers, g)
}

func TestShutdownWaitsForWorkLeftFromAnEarlierGeneration(t *testing.T) {
	const drain = 200 * time.Millisecond
	_, g, a := rebalanceDuringSlowMessage(t, func(c *Config) { c.RebalanceDrain = drain; c.Grace = 20 * time.Second })
	// a's drain gives up on the slow message, and a joins the next
	// generation without the partition.
	await(t, 30*time.Second, "a to join the next generation", a.Joined)
	stopWithinGrace(t, a, g, 3*drain)
}

// stopWithinGrace stops m (SIGTERM) while g holds its slow message, lets
// past go by (beyond any rebalance drain, well within the grace period),
// checks Run is still waiting, releases the message and checks it finished
// without its context ending.
func stopWithinGrace(t *testing.T, m *member, g *gate, past time.Duration) {
	t.Helper()
	stopped := make(chan struct{})
	go func() {
		m.stop(t)
		close(stopped)
	}()
	time.Sleep(past)
	select {
	case <-stopped:
		t.Fatal("Run returned with a message in flight, before the grace period was over")
	default:
	}
	close(g.release)
	awaitClosed(t, stopped, "Run to return")
	if g.wasCanceled() {
		t.Fatal("the message in flight was canceled instead of given the grace period")
	}
}
