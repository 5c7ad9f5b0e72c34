package producer_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/blockd/blockd/producer"
	"github.com/blockd/blockd/schemas"
	"github.com/blockd/blockd/store"
	"github.com/blockd/blockd/store/storetest"
)

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func startBroker(t *testing.T, port int, dir string) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(dir), kfake.SyncWrites(), kfake.SeedTopics(3, "results"))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	return c
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRelayPublishesOnlyWhatTheBrokerAcknowledgedInOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("relay against a broker that is down then up: long integration run; run without -short")
	}
	ctx := context.Background()
	dbURL := storetest.NewSchema(t)
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// No broker yet: writes fail until it starts.
	port, dir := freePort(t), t.TempDir()
	addr := "127.0.0.1:" + strconv.Itoa(port)

	wake, err := st.ListenOutbox(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	w := producer.NewWriter([]string{addr}, nil, 256<<10)
	w.MaxAttempts, w.WriteTimeout = 1, time.Second
	defer w.Close()
	// A poll interval of an hour: only the NOTIFY of a commit can wake it.
	relay := producer.NewRelay(producer.Config{Poll: time.Hour, BatchSize: 2}, st, w, wake, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel))
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- relay.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("relay.Run: %v", err)
		}
	}()

	enqueue := func(from, to int) {
		var msgs []schemas.Outbound
		for i := from; i < to; i++ {
			msgs = append(msgs, schemas.Outbound{Topic: "results", Key: []byte("track-1"), Value: []byte(strconv.Itoa(i)), Headers: map[string]string{"ce_id": strconv.Itoa(i)}})
		}
		if err := st.Enqueue(ctx, msgs); err != nil {
			t.Fatal(err)
		}
	}
	pending := func(want int) func() bool {
		return func() bool { n, err := st.PendingOutbox(ctx); return err == nil && n == want }
	}

	enqueue(0, 3)
	time.Sleep(2 * time.Second) // let the relay try against the missing broker
	if n, _ := st.PendingOutbox(ctx); n != 3 {
		t.Fatalf("with no broker, %d rows are unpublished, want 3 (none marked without an ack)", n)
	}
	broker := startBroker(t, port, dir)
	defer broker.Close()
	waitFor(t, 30*time.Second, "the rows to be published once the broker is up", pending(0))
	enqueue(3, 7)
	waitFor(t, 20*time.Second, "new rows to be published on NOTIFY (the poll is an hour)", pending(0))

	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: "results", GroupID: "check", StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	var got []string
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for len(got) < 7 {
		m, err := r.ReadMessage(rctx)
		if err != nil {
			t.Fatalf("reading results after %v: %v", got, err)
		}
		if string(m.Key) != "track-1" {
			t.Fatalf("key %q, want track-1", m.Key)
		}
		got = append(got, string(m.Value))
	}
	// One key, one partition: the order written is the order published
	// (a message re-sent after an unacknowledged write may repeat, never jump ahead).
	seen := -1
	for _, v := range got {
		i, _ := strconv.Atoi(v)
		if i < seen {
			t.Fatalf("published out of order: %v", got)
		}
		seen = max(seen, i)
	}
	if seen != 6 {
		t.Fatalf("published %v, want up to 6", got)
	}
}
