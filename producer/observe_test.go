package producer_test

import (
	"sync"
	"testing"
	"time"

	"github.com/blockd/blockd/producer"
	"github.com/blockd/blockd/schemas"
)

// countingObserver counts what the relay told it.
type countingObserver struct {
	mu                   sync.Mutex
	writeFailed          map[string]int
	published, setAside  int
	passes, failedPasses int
}

func (o *countingObserver) WriteFailed(class string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.writeFailed[class]++
}

func (o *countingObserver) Passed(p schemas.OutboxPass, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.passes++
	o.published += p.Published
	o.setAside += p.SetAside
	if err != nil {
		o.failedPasses++
	}
}

func (o *countingObserver) failures(class string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.writeFailed[class]
}

// TestRelayObserverCountsWriteErrorsByClass: each row the relay could not
// publish is reported with the class of its error, never its text; each
// pass with what it published and set aside.
func TestRelayObserverCountsWriteErrorsByClass(t *testing.T) {
	broker := startRefusingBroker(t, 100_000)
	obs := &countingObserver{writeFailed: map[string]int{}}
	r := startRelay(t, broker.ListenAddrs(), producer.Config{Poll: 100 * time.Millisecond, Observer: obs})
	values := r.enqueue(
		row{"results", "ok", 0},                   // published
		row{"results", "broker-refuses", 200_000}, // over the topic's 100000 bytes: refused with its batch, then alone
		row{"results", "over-limit", 300_000},     // over MaxMessageBytes: never sent
		row{"dlq", "no-topic", 0},                 // the topic does not exist: retried within TopicGrace
	)
	waitFor(t, 20*time.Second, "the rows to be published or set aside, and the missing topic to be met", func() bool {
		return r.published(values[0]) && r.setAsideReason(values[1]) != "" && r.setAsideReason(values[2]) != "" &&
			obs.failures(producer.WriteErrorTopic) > 0
	})
	for _, class := range []string{producer.WriteErrorRefused, producer.WriteErrorTooLarge, producer.WriteErrorTopic} {
		if obs.failures(class) == 0 {
			t.Errorf("no write error of class %s was reported; got %v", class, obs.writeFailed)
		}
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	for class := range obs.writeFailed {
		known := false
		for _, c := range producer.WriteErrorClasses() {
			known = known || c == class
		}
		if !known {
			t.Errorf("class %q is not one of producer.WriteErrorClasses()", class)
		}
	}
	if obs.published < 1 || obs.setAside < 2 || obs.passes == 0 {
		t.Errorf("passes reported %d published and %d set aside over %d passes; want at least 1 and 2", obs.published, obs.setAside, obs.passes)
	}
}
