package consumer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// TestStatusReportsEachPartitionsLag: while messages are fetched and not
// finished, a partition's lag counts them; once they finish it is 0, and
// only the partitions fetched are listed.
func TestStatusReportsEachPartitionsLag(t *testing.T) {
	t.Parallel()
	brokers := newBroker(t, 1)
	const n = 5
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafka.Message{Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte("v")}
	}
	produce(t, brokers, msgs...)
	release := make(chan struct{})
	m := join(t, brokers, "lag", HandlerFunc(func(ctx context.Context, _ kafka.Message) error {
		<-release
		return nil
	}), nil)

	lagIs := func(want int64) bool {
		ps := m.Status().Partitions
		return len(ps) == 1 && ps[0].Topic == testTopic && ps[0].Partition == 0 && ps[0].Lag == want
	}
	waitUntil(t, 30*time.Second, func() bool { return lagIs(n) }, func() string {
		return fmt.Sprintf("lag %d with every message held: got %+v", n, m.Status().Partitions)
	})
	close(release)
	waitUntil(t, 30*time.Second, func() bool { return lagIs(0) }, func() string {
		return fmt.Sprintf("lag 0 once they finished: got %+v", m.Status().Partitions)
	})
	m.stop(t)
	if ps := m.Status().Partitions; len(ps) != 0 {
		t.Fatalf("after stopping: got partitions %+v, want none", ps)
	}
}

func waitUntil(t *testing.T, limit time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for " + what())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
