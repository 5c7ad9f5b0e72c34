package processor_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/blockd/blockd/consumer/processor"
	"github.com/blockd/blockd/providers/sandboxfault"
	"github.com/blockd/blockd/schemas"
)

// recordingObserver keeps what the processor told it, each event as a line.
type recordingObserver struct {
	mu     sync.Mutex
	events []string
}

func (o *recordingObserver) add(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, fmt.Sprintf(format, args...))
}

func (o *recordingObserver) Received(kind schemas.Kind, provider schemas.Provider) {
	o.add("received %s %s", kind, provider)
}

func (o *recordingObserver) Finished(kind schemas.Kind, provider schemas.Provider, status schemas.Status, code string) {
	o.add("finished %s %s %s %s", kind, provider, status, code)
}

func (o *recordingObserver) Call(provider schemas.Provider, operation, outcome string, took time.Duration) {
	if took <= 0 {
		o.add("call %s %s %s took %s", provider, operation, outcome, took)
		return
	}
	o.add("call %s %s %s", provider, operation, outcome)
}

func (o *recordingObserver) Retry(provider schemas.Provider) { o.add("retry %s", provider) }

func (o *recordingObserver) take() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.events
	o.events = nil
	return out
}

// TestObserverSeesEachStage: the observer is told of each message handled,
// each provider call with its outcome and a positive duration, each retry
// and each recorded result, once; a duplicate is received again but not
// finished again.
func TestObserverSeesEachStage(t *testing.T) {
	t.Parallel()
	obs := &recordingObserver{}
	e := newEnv(t, processor.Config{Observer: obs}, "")

	e.card.InjectNext(sandboxfault.FaultRetryable)
	e.handle(blockTopic, cardBlock("o1", "0001000010000000031"))
	want := []string{
		"call card prepare ok",
		"call card block not_applied",
		"retry card",
		"call card prepare ok",
		"call card block ok",
		"finished block card DONE ",
		"received block card",
	}
	if got := obs.take(); !slices.Equal(got, want) {
		t.Fatalf("a block retried once:\n got %q\nwant %q", got, want)
	}

	e.handle(blockTopic, cardBlock("o1", "0001000010000000031"))
	if got, want := obs.take(), []string{"received block card"}; !slices.Equal(got, want) {
		t.Fatalf("its duplicate:\n got %q\nwant %q", got, want)
	}

	e.handle(blockTopic, `{"trackId":"o2","provider":"arhivaar"}`)
	if got, want := obs.take(), []string{"finished block arhivaar REJECTED SCHEMA_INVALID", "received block arhivaar"}; !slices.Equal(got, want) {
		t.Fatalf("an invalid block:\n got %q\nwant %q", got, want)
	}

	e.handle("blockd.cmd.nothing", `{}`)
	if got, want := obs.take(), []string{"finished   REJECTED UNKNOWN_TOPIC", "received  "}; !slices.Equal(got, want) {
		t.Fatalf("a message on an unknown topic:\n got %q\nwant %q", got, want)
	}
}
